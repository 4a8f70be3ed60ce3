"""Synthesis on suites far from toolz's shape, each a real library built and synthesized for real:
a test function with hundreds of parametrized cases (packaging 26.3 has two with 25,392 each) is
mapped and selected through a sample of its cases (the grader still grades every case); a suite that never
runs the package's code, or a package with no function, makes no task and says why, exit status 1.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from codekiln.envs import build_env
from codekiln.grading import grade_patch
from codekiln.grading.cases import CASES_PER_TEST, function_of, sample_cases
from codekiln.tasks.records import TaskRecord
from codekiln.tasks.synth import SynthConfig, read_decisions, synthesize
from codekiln.tasks.validation.coverage_map import coverage_map, lean_suite
from codekiln.testing.git import write_files

PYPROJECT = """
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"
[project]
name = "{name}"
version = "0.1"
[tool.setuptools]
packages = ["{name}"]
"""

MANY = {
    "manycases/__init__.py": """
def clamp(x, low, high):
    if x < low:
        return low
    if x > high:
        return high
    return x


def scale(x, factor):
    return x * factor
""",
    "tests/test_clamp.py": """
import pytest

from manycases import clamp, scale


@pytest.mark.parametrize("x", range(400))
def test_clamp_cases(x):
    assert clamp(x, 100, 300) == min(max(x, 100), 300)


def test_scale():
    assert scale(3, 2) == 6
""",
    "tests/test_scale.py": """
import pytest

from manycases import scale


@pytest.mark.parametrize("n", range(50))
def test_scale_cases(n):
    assert scale(n, 3) == 3 * n
""",
}

pytestmark = pytest.mark.root  # environments, coverage and validation in bwrap sandboxes


def test_a_test_function_of_hundreds_of_cases_is_mapped_selected_and_graded_through_its_sample(
    tmp_path: Path,
) -> None:
    root = write_files(
        tmp_path / "manycases-src", {**MANY, "pyproject.toml": PYPROJECT.format(name="manycases")}
    )
    env = build_env(str(root))
    passing = [t for t, s in env.baseline.items() if s == "passed"]
    assert len(passing) == 451, env.baseline
    sample = set(sample_cases(passing))
    assert len(sample) == 2 * CASES_PER_TEST + 1

    cmap = coverage_map(env)
    # the coverage run ran the sample only: 65 tests, not the suite's 451
    assert cmap.cases_per_test == CASES_PER_TEST and set(cmap.statuses) == sample

    result = synthesize(
        SynthConfig(spec=str(root), out=tmp_path / "out", max_tasks=1, workers=1, batch_size=8)
    )
    tasks = [d for d in read_decisions(result.out) if isinstance(d, TaskRecord)]
    assert result.tasks == 1 == len(tasks) and not result.funnel.no_tasks
    for decision in read_decisions(result.out):
        assert decision.validation is None or decision.validation.selected <= len(sample)
    task = tasks[0]
    assert set(task.tests) <= sample  # the record's selection and hidden-file tests: sampled cases only
    assert max(Counter(function_of(t) for t in task.tests).values()) <= CASES_PER_TEST
    # the grader agents face holds the fix to EVERY case of the hidden files, not the sample: a fix
    # that broke an unsampled case must not score resolved
    hidden = {t.split("::", 1)[0] for t in task.FAIL_TO_PASS}
    every_case = {t for t in passing if t.split("::", 1)[0] in hidden}
    assert len(every_case - sample) > 0
    gold = grade_patch(task, env, task.patch)
    assert gold.resolved, gold.detail
    assert every_case <= set(gold.statuses)
    assert not grade_patch(task, env, "").resolved


TWOIMPLS = {
    # multidict's shape: each test body runs over two implementations and two key kinds (fixture params)
    "twoimpls/__init__.py": "from twoimpls.pure import PureTable\nfrom twoimpls.fast import FastTable\n",
    "twoimpls/pure.py": """
class PureTable:
    def __init__(self, fold):
        self.fold = fold
        self.items = []

    def key(self, k):
        return k.lower() if self.fold else k

    def add(self, k, v):
        self.items.append((self.key(k), v))

    def get(self, k, default=None):
        for key, v in self.items:
            if key == self.key(k):
                return v
        return default

    def count(self, k):
        return sum(1 for key, _ in self.items if key == self.key(k))
""",
    "twoimpls/fast.py": """
class FastTable:
    def __init__(self, fold):
        self.fold = fold
        self.index = {}

    def key(self, k):
        return k.casefold() if self.fold else k

    def add(self, k, v):
        self.index.setdefault(self.key(k), []).append(v)

    def get(self, k, default=None):
        found = self.index.get(self.key(k))
        return found[0] if found else default

    def count(self, k):
        return len(self.index.get(self.key(k), ()))
""",
    "tests/conftest.py": """
import pytest

from twoimpls import FastTable, PureTable


@pytest.fixture(params=["ci", "cs"])
def kind(request):
    return request.param


@pytest.fixture(params=["fast", "pure"])
def table(request, kind):
    return {"fast": FastTable, "pure": PureTable}[request.param](kind == "ci")
""",
    "tests/test_table.py": """
def test_get(table):
    table.add("Key", 1)
    assert table.get("Key") == 1 and table.get("nope", 0) == 0


def test_count(table):
    table.add("a", 1)
    table.add("a", 2)
    assert table.count("a") == 2 and table.count("b") == 0


def test_first_wins(table):
    table.add("x", 1)
    table.add("x", 2)
    assert table.get("x") == 1
""",
}


def test_a_slow_suite_is_mapped_on_its_lean_sample_and_its_tasks_still_grade(tmp_path: Path) -> None:
    root = write_files(
        tmp_path / "twoimpls-src", {**TWOIMPLS, "pyproject.toml": PYPROJECT.format(name="twoimpls")}
    )
    env = build_env(str(root))
    passing = [t for t, s in env.baseline.items() if s == "passed"]
    assert len(passing) == 12 == len(sample_cases(passing)), env.baseline  # the capped sample bites on none
    lean = set(sample_cases(passing, lean=True))
    assert len(lean) == 6  # per function [ci-fast] and [cs-pure]: both kinds, both implementations
    # a suite slower than the threshold (here any suite: 0 s) is mapped on its lean sample ...
    assert not lean_suite(env) and lean_suite(env, lean_after_s=0.0)
    cmap = coverage_map(env, lean_after_s=0.0)
    assert cmap.lean and set(cmap.statuses) == lean
    for impl in ("twoimpls/pure.py", "twoimpls/fast.py"):  # ... which still runs both implementations
        assert cmap.tests_for({impl: range(1, 30)}), impl

    # synthesis on that map (cached), the real path: selections from the lean sample, the grader on all
    result = synthesize(
        SynthConfig(spec=str(root), out=tmp_path / "out", max_tasks=2, workers=1, batch_size=8)
    )
    tasks = [d for d in read_decisions(result.out) if isinstance(d, TaskRecord)]
    assert result.tasks == 2 == len(tasks), result.funnel
    for decision in read_decisions(result.out):
        assert decision.validation is None or decision.validation.selected <= len(lean)
    for task in tasks:
        assert set(task.FAIL_TO_PASS) <= lean
        gold = grade_patch(task, env, task.patch)
        assert gold.resolved, gold.detail
        assert not grade_patch(task, env, "").resolved


def _synth_cli(spec: Path, out: Path) -> subprocess.CompletedProcess[str]:
    cmd = [
        sys.executable,
        "-c",
        "from codekiln.cli import main; main()",
        "synth",
        str(spec),
        "--out",
        str(out),
    ]
    cmd += ["--max-tasks", "3", "--batch-size", "8", "--workers", "1"]
    env = {**os.environ, "COLUMNS": "250"}
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)


def test_a_suite_that_never_runs_the_package_makes_no_task_and_says_why(tmp_path: Path) -> None:
    root = write_files(
        tmp_path / "lookuponly-src",
        {
            "pyproject.toml": PYPROJECT.format(name="lookuponly"),
            "lookuponly/__init__.py": "def greet(name):\n    if not name:\n        return 'hello'\n    return 'hello ' + name\n",
            # the shape of opentelemetry-proto's one test: the package is looked up, never imported
            "tests/test_lookup.py": "from importlib.util import find_spec\n\n\ndef test_installed():\n"
            "    assert find_spec('lookuponly') is not None\n",
        },
    )
    done = _synth_cli(root, tmp_path / "out")
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "Traceback" not in out and "0 tasks" in out
    assert "error: no task came out of" in out and "no passing test executes any code of the package" in out
    assert "  hint: synthesis needs tests that call the package's functions" in out
    # off a terminal (this pipe) each step is logged as a plain line, before the summary
    logged = [ln for ln in done.stdout.splitlines() if ln.startswith(f"codekiln synth {root}: ")]
    assert any(": coverage mapping which tests run which lines" in ln for ln in logged), done.stdout
    assert any(
        re.search(r": validating \| tried \d+/\d+, tasks 0/3, \d+(\.\d)? candidates/min$", ln)
        for ln in logged
    )
    assert done.stdout.index(logged[-1]) < done.stdout.index("0 tasks in")
    funnel = json.loads((tmp_path / "out" / "funnel.json").read_text())
    assert funnel["validated"] == 0 and funnel["candidates"] > 0 and funnel["tried"] == funnel["candidates"]
    assert funnel["no_tasks"].startswith("no passing test executes any code of the package")
    stats = subprocess.run(
        [sys.executable, "-c", "from codekiln.cli import main; main()", "tasks", "stats", str(tmp_path / "out")],
        env={**os.environ, "COLUMNS": "250"}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert stats.returncode == 0 and "no task: no passing test executes any code" in stats.stdout, (
        stats.stdout
    )


def test_a_package_with_no_function_makes_no_task_and_says_why(tmp_path: Path) -> None:
    root = write_files(
        tmp_path / "onlydata-src",
        {
            "pyproject.toml": PYPROJECT.format(name="onlydata"),
            # metadata only (a table the tests read would be a data entity: test_synth_data.py)
            "onlydata/__init__.py": '__version__ = "0.1"\n__all__ = ["VERSION"]\nVERSION = __version__\n',
            "tests/test_data.py": "import onlydata\n\n\ndef test_names():\n    assert onlydata.VERSION == '0.1'\n",
        },
    )
    done = _synth_cli(root, tmp_path / "out")
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    # stopped before the coverage run, with the fix for a package of data and constants
    assert "error: no function, method, class or data table to put a bug in: 1 Python source files" in out
    assert "hint: synth puts bugs in the functions, methods, tables and constants the tests reach" in out
