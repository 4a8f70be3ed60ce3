"""Honest suites that freeze time grade as honest runs; a class of the tree's own put where pytest holds a
standard-library class is still a change of the test machinery.

freezegun's `freeze_time().start()` (here in an autouse fixture, as itsdangerous's suite does: time stays
frozen while the guard checks the machinery before each test) rebinds every module's `datetime` / `date` to its `FakeDatetime` /
`FakeDate` (and `time`'s functions to its fakes), pytest's modules included (`_pytest.logging.datetime`).
The guard excused replaced functions whose code is read-only code, never a replaced class, so every run
of such a suite was `tampered` ("the test machinery was changed at run time"): itsdangerous 2.2.0's
synthesis rejected 35 of 60 candidates as `gold_failed`. It now excuses a read-only library's stand-in
for a class the machinery merely imports (`grading.guard_plugin_machinery.StandIns`). time-machine
changes the interpreter's clocks in C and rebinds no name, and is here as the other common way.

The fixture library declares freezegun and time-machine as its test extra; codekiln builds its
environment from the package index and synthesizes its tasks; the gold patch grades resolved and the
empty patch unresolved through `codekiln eval`'s predictions and through an agent's episode."""

from __future__ import annotations

import ast
import json
import subprocess
from pathlib import Path

import pytest

from codekiln.envs import load_env
from codekiln.grading import TestCommand, run_tests, shipped
from codekiln.reports.eval import evaluate_predictions
from codekiln.reports.results import read_results
from codekiln.rollouts import RolloutConfig, read_rollouts, run_rollouts
from codekiln.rollouts.controls import apply_command
from codekiln.sandbox.base import SandboxSpec
from codekiln.sandbox.bwrap import BwrapSandbox
from codekiln.tasks.records import TaskRecord
from codekiln.tasks.synth import SynthConfig, read_decisions, synthesize
from codekiln.testing import make_repo
from codekiln.testing.git import write_files

PYPROJECT = """[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"
[project]
name = "clocked"
version = "0.1"
[project.optional-dependencies]
test = ["pytest", "freezegun", "time-machine"]
[tool.setuptools]
packages = ["clocked"]
"""
STAMPS = """import datetime
import time


def stamp():
    return datetime.datetime.now().strftime("%Y-%m-%d %H:%M")


def age(born):
    today = datetime.date.today()
    years = today.year - born.year
    if (today.month, today.day) < (born.month, born.day):
        years -= 1
    return years


def elapsed_days(since):
    return int((time.time() - since) // 86400)
"""
TESTS = """import datetime
import logging

import pytest
import time_machine
from freezegun import freeze_time

from clocked.stamps import age, elapsed_days, stamp


class TestFrozen:
    @pytest.fixture(autouse=True)
    def frozen(self):
        with freeze_time("2024-03-01 12:30") as frozen:
            yield frozen

    def test_stamp(self, frozen):
        assert stamp() == "2024-03-01 12:30"
        frozen.tick(datetime.timedelta(minutes=1))
        assert stamp() == "2024-03-01 12:31"

    def test_age(self):
        logging.getLogger("clocked").warning("logged while time is frozen")
        assert age(datetime.date(2000, 3, 2)) == 23
        assert age(datetime.date(2000, 3, 1)) == 24

    def test_elapsed_days(self):
        assert elapsed_days(datetime.datetime(2024, 2, 20).timestamp()) == 10


@freeze_time("2024-01-11")
def test_elapsed_days_decorated():
    assert elapsed_days(datetime.datetime(2024, 1, 1).timestamp()) == 10


def test_elapsed_days_time_machine():
    utc = datetime.timezone.utc
    with time_machine.travel(datetime.datetime(2024, 1, 21, tzinfo=utc), tick=False):
        assert elapsed_days(datetime.datetime(2024, 1, 1, tzinfo=utc).timestamp()) == 20
"""
# The tree's own class set where pytest holds `datetime`, claiming to be freezegun's (its module, name and
# metaclass, and freezegun's own `now`) and set into freezegun's module too: what it runs when pytest
# asks the time is the tree's code. Spelled so that the patch's static scan lets it through to the run.
IMPERSONATOR = """

import datetime as _datetime
import sys as _sys

import freezegun.api as _api


def _fromtimestamp(cls, t, tz=None):
    return _datetime.datetime.fromtimestamp(0, tz)


_claims = {"__mod" + "ule__": "freezegun.api", "__qualname__": "FakeDatetime"}
_body = {"now": classmethod(_api.FakeDatetime.now.__func__), "fromtimestamp": classmethod(_fromtimestamp)}
FakeDatetime = type(_api.FakeDatetime)("FakeDatetime", (_datetime.datetime,), {**_claims, **_body})
_api.FakeDatetime = FakeDatetime
_held = [m for m in list(_sys.modules.values()) if "LogCaptureHandler" in getattr(m, "__dict__", {})]
for _module in _held:
    if vars(_module).get("datetime") is _datetime.datetime:
        _module.datetime = FakeDatetime
"""
FILES = {"pyproject.toml": PYPROJECT, "clocked/__init__.py": "", "clocked/stamps.py": STAMPS,
         "tests/test_stamps.py": TESTS}  # fmt: skip


@pytest.fixture(scope="module")
def task(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TaskRecord]:
    """A synthesized task whose failing tests run with time frozen by a fixture (the guard checks the
    machinery before each of them), alone in a tasks.jsonl."""
    tmp = tmp_path_factory.mktemp("frozen-time")
    root = write_files(tmp / "clocked", FILES)
    result = synthesize(SynthConfig(spec=str(root), out=tmp / "out", max_tasks=3, workers=1))
    found = [d for d in read_decisions(result.out) if isinstance(d, TaskRecord)]
    assert found and result.funnel.rejected.get("gold_failed", 0) == 0, result.funnel.model_dump_json()
    frozen = [t for t in found if all("::TestFrozen::" in f for f in t.FAIL_TO_PASS)]
    assert frozen, [t.FAIL_TO_PASS for t in found]
    (tmp / "tasks.jsonl").write_text(frozen[0].model_dump_json() + "\n")
    return tmp / "tasks.jsonl", frozen[0]


# Run by the environment's own Python (real freezegun, read-only in its venv): the watch's verdict on
# each way a class of the tree's own can pass for freezegun's. The watch is loaded by path, as shipped.
PROBE = """
import datetime, importlib.util, sys, types
for part in ("standins", "machinery"):
    spec = importlib.util.spec_from_file_location(f"g_{part}", f"{sys.argv[1]}/guard_plugin_{part}.py")
    sys.modules[spec.name] = module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
import _pytest.logging, _pytest.runner
import freezegun, freezegun.api as api

watch = module.Machinery("/nowhere/")
verdicts = {}


def verdict(name, value=None, where=(_pytest.logging, "datetime")):
    was = getattr(*where)
    if value is not None:
        setattr(*where, value)
    verdicts[name] = watch.changes()
    setattr(*where, was)


def copy(**changes):  # freezegun's own parts, put together afresh: they run only its code
    body = {k: v for k, v in vars(api.FakeDatetime).items() if k not in ("__dict__", "__weakref__")}
    bases = (datetime.datetime, api.FakeDate)
    return type(api.FakeDatetime)("FakeDatetime", bases, {**body, **changes})


with freezegun.freeze_time("2024-01-01"):
    verdict("frozen")
verdict("copied", copy())
verdict("own method", copy(now=classmethod(lambda cls, tz=None: None)))
foreign = types.FunctionType(api.FakeDatetime.now.__func__.__code__, {"datetime_to_fakedatetime": print})
verdict("foreign globals", copy(now=classmethod(foreign)))
verdict("own property", copy(hook=property(lambda self: 1)))
verdict("callable data", copy(hook=type("Call", (), {"__call__": lambda self: 1})()))
own = {"now": classmethod(lambda cls, tz=None: None), "__module__": "freezegun.api"}
verdict("own base", type(api.FakeDatetime)("FakeDatetime", (type("Base", (datetime.datetime,), own),), {}))
meta = type("FakeDatetimeMeta", (type,), {"__module__": "freezegun.api", "__call__": lambda *a: None})
verdict("own metaclass", meta("FakeDatetime", (datetime.datetime,), {"__module__": "freezegun.api"}))
api.FakeDatetime.astimezone.__defaults__ = (print,)
verdict("own default", api.FakeDatetime)
api.FakeDatetime.astimezone.__defaults__ = (None,)
verdict("genuine", api.FakeDatetime)
sub = type("CallInfo", (_pytest.runner.CallInfo,), {"__module__": "freezegun.api"})
verdict("pytest's own class", sub, where=(_pytest.runner, "CallInfo"))
print(repr(verdicts))
"""
SUBMIT = "<tool_call>\n<function=submit>\n</function>\n</tool_call>"


def _bash(command: str) -> str:
    return f"<tool_call>\n<function=bash>\n<parameter=command>\n{command}\n</parameter>\n</function>\n</tool_call>"


def _write_preds(path: Path, rows: list[tuple[str, str]], record: TaskRecord) -> Path:
    lines = [{"instance_id": record.instance_id, "model_name_or_path": m, "model_patch": p} for m, p in rows]
    path.write_text("".join(json.dumps(row) + "\n" for row in lines))
    return path


@pytest.mark.root  # synthesis and grading in bwrap sandboxes
def test_predictions_of_a_time_freezing_suite_grade_as_honest_runs(
    task: tuple[Path, TaskRecord], tmp_path: Path
) -> None:
    tasks, record = task
    rows = [("gold", record.patch), ("empty", "")]
    evaluate_predictions(tasks, _write_preds(tmp_path / "preds.jsonl", rows, record), tmp_path / "eval")
    got = {r.model: r for r in read_results(tmp_path / "eval")}
    gold, empty = got["gold"], got["empty"]
    assert gold.resolved and gold.status == "resolved", gold.reason
    assert not empty.resolved and empty.error_class is None and "failed" in empty.FAIL_TO_PASS.values()


def test_only_the_librarys_own_code_passes_for_its_class(task: tuple[Path, TaskRecord]) -> None:
    python = Path(load_env(task[1].environment_id or "").venv) / "bin" / "python"
    here = Path(shipped.FOLDER)
    out = subprocess.run([python, "-c", PROBE, str(here)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    verdicts = ast.literal_eval(out.stdout.strip().splitlines()[-1])
    excused = ("frozen", "copied", "genuine")
    assert {k: v for k, v in verdicts.items() if k in excused} == {k: [] for k in excused}
    changed = {k: v for k, v in verdicts.items() if k not in excused}
    assert len(changed) == 8 and all(v for v in changed.values()), changed
    assert changed["own method"] == ["_pytest.logging.datetime"]
    assert "_pytest.runner.CallInfo" in changed["pytest's own class"]


@pytest.mark.root  # a bwrap sandbox
def test_a_class_of_the_trees_own_claiming_to_be_freezegun_is_a_change(
    task: tuple[Path, TaskRecord], tmp_path: Path
) -> None:
    """Run by the guard itself, in the synthesized environment (real freezegun): the patch's static scan
    would refuse this tree first (it reaches for pytest's modules)."""
    venv = Path(load_env(task[1].environment_id or "").venv)
    tests = [f"tests/test_stamps.py::TestFrozen::{name}" for name in ("test_stamp", "test_age")]
    runs = {}
    for name, init in {"honest": "", "impersonator": IMPERSONATOR}.items():
        files = {**FILES, "clocked/__init__.py": init}
        spec = SandboxSpec(
            snapshot=make_repo(tmp_path / name, {k: v.encode() for k, v in files.items()}), venv=venv
        )
        with BwrapSandbox(spec) as sandbox:
            runs[name] = run_tests(sandbox, TestCommand(args=["tests"]), tests, watch=tests)
    honest, impersonator = runs["honest"], runs["impersonator"]
    assert honest.statuses == dict.fromkeys(tests, "passed") and honest.evidence == [], honest.log_tail
    changed = [e for e in impersonator.evidence if "the test machinery was changed at run time" in e]
    assert changed and "_pytest.logging.datetime" in changed[0], impersonator.evidence


@pytest.mark.root  # rollouts and grading in bwrap sandboxes
def test_an_agent_fixing_a_time_freezing_suite_is_resolved(
    task: tuple[Path, TaskRecord], tmp_path: Path
) -> None:
    tasks, record = task
    episodes = {"fix": [_bash(apply_command(record.patch)), SUBMIT], "none": [SUBMIT]}
    graded = {}
    for name, outputs in episodes.items():
        script = tmp_path / f"{name}.json"
        script.write_text(json.dumps(outputs))
        config = {"tasks": tasks, "out": tmp_path / name, "model": f"scripted:{script}", "limit": 1,
                  "max_turns": len(outputs) + 1}  # fmt: skip
        stats = run_rollouts(RolloutConfig.model_validate(config))
        assert stats.errors == [] and stats.done == 1, stats.errors
        (rollout,) = read_rollouts(tmp_path / name)
        assert rollout.instance_id == record.instance_id and rollout.grade is not None
        graded[name] = (rollout.reward.resolved, rollout.grade.outcome, rollout.grade.reason)
    assert graded["fix"][:2] == (True, "resolved"), graded["fix"]
    assert graded["none"][:2] == (False, "unresolved"), graded["none"]
