"""One candidate that codekiln cannot validate never stops a synthesis run: a real library built and
validated for real, where one candidate writes a lone surrogate into a source file (a model's JSON
reply can hold a "\\ud800" escape), which no encoding can write: the validator's parse raises a
UnicodeEncodeError it does not expect. (A Latin-1 source file was this example until sources in any encoding became valid:
tests/tasks/test_encodings.py.) Its batch is validated again one candidate at a time:
the bad one is rejected as `validation_error` naming the error, every other candidate gets the
decision it gets in a run without the bad one, and the funnel counts the rejection like any other.
The retry lives in the unit of work, so a run on a real local Ray cluster decides the same."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from codekiln.core.diffs import diff_hash, make_diff
from codekiln.core.errors import ConfigError, ContextTooLongError, GradingError, SandboxError, TaskError
from codekiln.core.executor import ExecutorConfig
from codekiln.core.stage import open_stage
from codekiln.envs import build_env
from codekiln.tasks.frontend.candidates import Candidate
from codekiln.tasks.records import RejectedCandidate, TaskRecord
from codekiln.tasks.synth import (
    LAYOUT,
    REJECTED,
    Funnel,
    SynthConfig,
    SynthProgress,
    prepare,
    read_decisions,
    validate_plans,
)
from codekiln.tasks.synth_unit import infrastructure
from codekiln.tasks.synth_why import no_task_error
from codekiln.tasks.validation.validate import Decision, ValidateConfig

pytestmark = pytest.mark.root  # the environment and validation run in bwrap sandboxes

PYPROJECT = """[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"
[project]
name = "calc"
version = "0.1"
[tool.setuptools]
packages = ["calc"]
"""

OPS = """def add(a, b):
    return a + b


def mul(a, b):
    return a * b


def clamp(x, low, high):
    if x < low:
        return low
    if x > high:
        return high
    return x
"""

LEGACY = '''# -*- coding: latin-1 -*-
"""Arithmetic of the café's till."""


def halve(x):
    return x / 2
'''

TESTS = """from calc.legacy import halve
from calc.ops import add, clamp, mul


def test_add():
    assert add(2, 3) == 5


def test_mul():
    assert mul(4, 5) == 20


def test_clamp():
    assert [clamp(x, 1, 3) for x in range(5)] == [1, 1, 2, 3, 3]


def test_halve():
    assert halve(9) == 4.5
"""


def write_library(root: Path) -> Path:
    files = {
        "calc/__init__.py": "",
        "calc/ops.py": OPS,
        "tests/test_calc.py": TESTS,
        "pyproject.toml": PYPROJECT,
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    (root / "calc/legacy.py").write_bytes(LEGACY.encode("latin-1"))
    return root


def surrogate_bug() -> Candidate:
    """A bug in calc/ops.py with a lone surrogate in a comment, as a model's JSON could write one."""
    patch = make_diff("calc/ops.py", OPS, OPS.replace("return a * b", "return a + b  # \ud800"))
    return Candidate(
        id=diff_hash(patch)[:16], patch=patch, mutators=["handwritten"], entities=[],
        files=["calc/ops.py"], seed=0,
    )  # fmt: skip


Decided = tuple[object, ...]


def decided(decisions: list[Decision]) -> list[Decided]:
    """What the run decided of each candidate: a task and its failing tests, or the reason."""
    return sorted(
        (d.candidate_id, "task", tuple(d.FAIL_TO_PASS))
        if isinstance(d, TaskRecord)
        else (d.candidate_id, str(d.reason), d.detail if d.reason == "validation_error" else "")
        for d in decisions
    )


def run(
    root: Path, out: Path, extra: Candidate | None, executor: ExecutorConfig | None = None
) -> list[Decision]:
    """Plan the run as synthesis does, put `extra` second in the first batch, validate every batch: the
    decisions written (the funnel's rejections by reason checked against them)."""
    config = SynthConfig(
        spec=str(root), out=str(out), max_tasks=20, max_candidates=4, batch_size=8, workers=1,
        validation=ValidateConfig(gate="fast"), executor=executor or ExecutorConfig(),
    )  # fmt: skip
    with open_stage(out, LAYOUT) as stage:
        env = build_env(config.spec, backend=config.backend)
        plan = prepare(stage, config, env)
        assert len(plan.batches) == 1 and len(plan.batches[0]) >= 3  # one batch holds them all
        if extra is not None:
            plan.batches[0].insert(1, extra)
        validate_plans([plan], config, SynthProgress("validating", funnel=plan.funnel), lambda _: None)
    decisions = list(read_decisions(out))
    reasons = Counter(str(d.reason) for d in decisions if isinstance(d, RejectedCandidate))
    assert plan.funnel.rejected == dict(reasons)  # counted like any other reason
    return decisions


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Decision], list[Decision]]:
    """The library, and its local runs with and without the bad candidate."""
    tmp = tmp_path_factory.mktemp("unvalidatable")
    root = write_library(tmp / "calc")
    return root, run(root, tmp / "with-bad", surrogate_bug()), run(root, tmp / "without", None)


def test_a_candidate_that_cannot_be_validated_is_rejected_and_the_run_goes_on(
    local: tuple[Path, list[Decision], list[Decision]],
) -> None:
    _, with_bad, without = local
    bad = surrogate_bug()
    by_id = {d.candidate_id: d for d in with_bad}
    rejection = by_id.pop(bad.id)
    assert isinstance(rejection, RejectedCandidate)
    assert rejection.reason == "validation_error"
    assert rejection.detail.startswith("validating it raised UnicodeEncodeError in "), rejection.detail
    assert "surrogates not allowed" in rejection.detail
    assert decided(list(by_id.values())) == decided(without)  # the others, as without the bad one
    assert any(isinstance(d, TaskRecord) for d in without)


def test_a_run_left_with_only_such_rejections_says_it_is_a_bug_of_codekiln(
    local: tuple[Path, list[Decision], list[Decision]], tmp_path: Path
) -> None:
    (rejection,) = [
        d for d in local[1] if isinstance(d, RejectedCandidate) and d.reason == "validation_error"
    ]
    (tmp_path / REJECTED).write_text(rejection.model_dump_json() + "\n")
    err = no_task_error(Funnel(tried=1, rejected={"validation_error": 1}), tmp_path, "calc", 0)
    assert err is not None
    assert err.message.startswith(
        "no task: 1 of 1 candidates were rejected as validation_error (validating it raised UnicodeEncodeError"
    )
    assert err.hint is not None and "a bug of codekiln's" in err.hint and "--redo" in err.hint


def test_on_ray_the_unit_rejects_it_the_same_way(
    local: tuple[Path, list[Decision], list[Decision]], ray_cluster_starting: Any, tmp_path: Path
) -> None:
    root, with_bad, _ = local
    cluster = ray_cluster_starting.ready()
    on_ray = run(root, tmp_path / "ray", surrogate_bug(), ExecutorConfig(kind="ray", address=cluster.address))
    assert decided(on_ray) == decided(with_bad)


def test_errors_of_the_machinery_or_the_setup_still_stop_the_run() -> None:
    stops = [SandboxError("bwrap failed"), GradingError("no report"), OSError(28, "No space left on device"),
             MemoryError(), ConfigError("bad option")]  # fmt: skip
    rejects = [TaskError("cannot apply"), TypeError("bad call"), UnicodeDecodeError("utf-8", b"\xe9", 0, 1, "bad"),
               ContextTooLongError("too long")]  # fmt: skip
    assert [infrastructure(e) for e in stops] == [True] * len(stops)
    assert [infrastructure(e) for e in rejects] == [False] * len(rejects)
