"""The same snapshot and seed give the same tasks in the same order whatever the machine: a small
library synthesized twice, each time into a fresh CODEKILN_HOME, under conditions that must not matter
(another hash seed, another home path, the library's source at another path, one worker or two, and
coverage-run durations of its sub-second tests measured otherwise, as another machine measures them), ends with the same task
ids in the same order and the same rejections. CI once got other tasks than a developer's machine for
the same seed, because synthesis ordered its first candidates by measured seconds (see
`validation.selection`). Real environments, coverage runs and validation in bwrap sandboxes, through
`codekiln synth` in child processes (a hash seed is fixed when a process starts)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from codekiln.envs import build_env
from codekiln.tasks.validation.coverage_map import coverage_map
from codekiln.testing.git import write_files

pytestmark = pytest.mark.root  # environments, coverage and validation in bwrap sandboxes

FILES = {
    "pyproject.toml": """
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"
[project]
name = "samesame"
version = "0.1"
[tool.setuptools]
packages = ["samesame"]
""",
    "samesame/__init__.py": """
def clamp(x, low, high):
    if x < low:
        return low
    if x > high:
        return high
    return x


def mean(values):
    if not values:
        return 0
    return sum(values) / len(values)


def words(text):
    return [w for w in text.split(" ") if w]


class Counter:
    def __init__(self):
        self.n = 0

    def add(self, k=1):
        self.n = self.n + k
        return self.n
""",
    "tests/test_numbers.py": """
from samesame import clamp, mean


def test_clamp_low():
    assert clamp(-5, 0, 10) == 0


def test_clamp_high():
    assert clamp(50, 0, 10) == 10


def test_clamp_inside():
    assert clamp(5, 0, 10) == 5


def test_mean():
    assert mean([1, 2, 3]) == 2
    assert mean([]) == 0
""",
    "tests/test_text.py": """
from samesame import Counter, words


def test_words():
    assert words("a  b c") == ["a", "b", "c"]


def test_counter():
    c = Counter()
    assert c.add() == 1
    assert c.add(2) == 3
""",
}
MAX_TASKS = 3


def child_env(home: Path, hash_seed: str) -> dict[str, str]:
    """A child's environment: its own CODEKILN_HOME and hash seed. pip's cache and the venv templates
    stay the test run's: they decide nothing, and fresh ones cost a download and an ensurepip."""
    templates = home / "venv-templates"
    if not templates.exists():
        home.mkdir(parents=True, exist_ok=True)
        outer = Path(os.environ["CODEKILN_HOME"]) / "venv-templates"
        outer.mkdir(parents=True, exist_ok=True)
        templates.symlink_to(outer, target_is_directory=True)
    pip_cache = os.environ.get("CODEKILN_PIP_CACHE") or str(Path(os.environ["CODEKILN_HOME"]) / "pip-cache")
    return {
        **os.environ, "CODEKILN_HOME": str(home), "PYTHONHASHSEED": hash_seed, "CODEKILN_PIP_CACHE": pip_cache,
    }  # fmt: skip


def codekiln(home: Path, *args: str, hash_seed: str) -> None:
    """`codekiln ARGS` in a child process (`child_env`)."""
    env = child_env(home, hash_seed)
    done = subprocess.run(
        [sys.executable, "-m", "codekiln", *args], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"codekiln {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}"


def prepare_map(home: Path, spec: str, hash_seed: str) -> Path:
    """Build `spec`'s environment and coverage map in `home`; the map's cache file."""
    code = (
        "import sys\n"
        "from codekiln.envs import build_env\n"
        "from codekiln.tasks.validation.coverage_map import _cache_path, coverage_map\n"
        "env = build_env(sys.argv[1])\n"
        "coverage_map(env)\n"
        "print(_cache_path(env))\n"
    )
    env = child_env(home, hash_seed)
    done = subprocess.run(
        [sys.executable, "-c", code, spec], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return Path(done.stdout.strip().splitlines()[-1])


def decisions(out: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """The task ids in order, and every rejection's candidate and reason, in order."""
    tasks = [json.loads(line)["instance_id"] for line in (out / "tasks.jsonl").read_text().splitlines()]
    rejected_path = out / "rejected.jsonl"
    rows = rejected_path.read_text().splitlines() if rejected_path.exists() else []
    rejected = [(r["candidate_id"], r["reason"]) for r in map(json.loads, rows)]
    return tasks, rejected


def test_a_fresh_home_on_another_machine_makes_the_same_tasks_in_the_same_order(tmp_path: Path) -> None:
    here = write_files(tmp_path / "a" / "samesame", FILES)
    there = write_files(tmp_path / "elsewhere" / "checkouts" / "samesame", FILES)
    common = ["--max-tasks", str(MAX_TASKS), "--seed", "0", "--batch-size", "4"]

    home_a = tmp_path / "home-a"
    codekiln(
        home_a, "synth", str(here), "--out", str(tmp_path / "out-a"), "--workers", "1", *common, hash_seed="0"
    )

    # another machine: a longer home path, another hash seed, two workers, and a coverage run that
    # measured the tests otherwise: the test file that cost least here costs most there (every test still
    # under a second), which reorders the first candidates wherever raw seconds order them
    home_b = tmp_path / "another" / "machine's" / "home"
    cache = prepare_map(home_b, str(there), hash_seed="4242")
    cmap = json.loads(cache.read_text())
    durations: dict[str, float] = cmap["durations"]
    assert durations and max(durations.values()) < 0.2, durations
    per_file: dict[str, float] = {}
    for test, seconds in durations.items():
        per_file[test.split("::")[0]] = per_file.get(test.split("::")[0], 0.0) + seconds
    cheapest = min(per_file, key=per_file.__getitem__)
    jitter = random.Random(7)
    cmap["durations"] = {
        t: min(0.9, d * (40.0 if t.startswith(cheapest + "::") else 0.02) * jitter.uniform(0.8, 1.25))
        for t, d in durations.items()
    }
    cache.write_text(json.dumps(cmap))
    codekiln(
        home_b,
        "synth",
        str(there),
        "--out",
        str(tmp_path / "out-b"),
        "--workers",
        "2",
        *common,
        hash_seed="4242",
    )

    tasks_a, rejected_a = decisions(tmp_path / "out-a")
    tasks_b, rejected_b = decisions(tmp_path / "out-b")
    assert len(tasks_a) == MAX_TASKS, f"the library gave {len(tasks_a)} tasks, the test needs {MAX_TASKS}"
    assert tasks_b == tasks_a
    assert rejected_b == rejected_a


WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
HASHED = {
    "pyproject.toml": FILES["pyproject.toml"].replace("samesame", "hashorder"),
    "hashorder/__init__.py": "def first(words):\n    w = next(iter(set(words)))\n"
    + "".join(f"    if w == {w!r}:\n        return {i}\n" for i, w in enumerate(WORDS))
    + "    return -1\n",
    "tests/test_first.py": f"from hashorder import first\n\n\ndef test_first():\n    assert first({WORDS!r}) >= 0\n",
}


def test_the_coverage_map_does_not_hang_on_the_hash_seed(tmp_path: Path) -> None:
    """Which of `first`'s branches the test runs depends on the string hash seed; each mapping ran with
    a random one (a sandbox's processes get their own), so each rebuilt map, on any machine, could
    select other tests. With 8 branches, three random mappings agree 1 time in 64."""
    env = build_env(str(write_files(tmp_path / "hashorder", HASHED)))
    mapped = [coverage_map(env, redo=True).lines["hashorder/__init__.py"] for _ in range(3)]
    returns = [n for n in mapped[0] if n > 2 and n % 2 == 0]  # `return i` lines: 4, 6, ...
    assert len(returns) == 1, mapped[0]
    assert mapped[1] == mapped[0] and mapped[2] == mapped[0]
