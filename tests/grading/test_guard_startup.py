"""How the guard plugin reaches the test process, and its speed-ups (grading.guard, guard_plugin):
shipped compiled or as source it gives the same verdicts and reports (compiled, nothing of it is
compiled in the run), and what it changes in pytest for speed writes the same bytes pytest would.
Real bwrap sandboxes, codekiln's venv."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from codekiln.grading import TestCommand, run_tests
from codekiln.grading.guard import Isolation, make_canaries, same_bytecode
from codekiln.grading.shipped import GUARD_PLUGIN
from codekiln.sandbox.base import SandboxSpec
from codekiln.sandbox.bwrap import BwrapSandbox
from codekiln.testing import make_repo

VENV = Path(sys.prefix)
CMD = TestCommand(args=["tests"])
TEST = (
    "def test_ok():\n    assert 1 + 1 == 2\n\n\n"
    "def test_bad():\n    text = 'caf\\u00e9 \\x07 bell'\n    assert text == 'plain'\n\n\n"
    "def test_also_bad():\n    assert [1, 2] == [1, 3]\n"
)
PROJECT = {"pyproject.toml": b"[project]\nname='demo'\nversion='0'\n", "tests/test_x.py": TEST.encode()}
IDS = ["tests/test_x.py::test_ok", "tests/test_x.py::test_bad", "tests/test_x.py::test_also_bad"]


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("startup"), dict(PROJECT))


def _run(snapshot: Path, iso: Isolation) -> tuple[dict[str, str], list[str], str, str]:
    """Statuses, evidence, the guard directory's listing and the run's output of one guarded run."""
    with BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=VENV)) as sb:
        canaries = make_canaries("tests/test_x.py", TEST)
        run = run_tests(sb, CMD, IDS, isolation=iso, canaries=canaries)
        listing = sb.exec(["sh", "-c", "cd /tmp/codekiln-grader && find . | sort"], timeout=30).stdout
    return run.statuses, run.evidence, listing, run.log_tail_full


@pytest.mark.root  # a bwrap sandbox
def test_compiled_and_source_plugin_judge_alike_and_pytest_compiles_neither(snapshot: Path) -> None:
    iso = Isolation.for_environment(snapshot, VENV, IDS)
    assert iso.bytecode  # this venv runs the interpreter running these tests
    compiled = _run(snapshot, iso)
    source = _run(snapshot, replace(iso, bytecode=False))
    want = {IDS[0]: "passed", IDS[1]: "failed", IDS[2]: "failed"}
    for statuses, evidence, _, log in (compiled, source):
        assert statuses == want and evidence == []
        # failures are still drawn from the test's source (the trees pytest parses are shared)
        assert ">       assert text == 'plain'" in log and ">       assert [1, 2] == [1, 3]" in log
    # compiled: shipped as bytecode; no guarded run writes bytecode (PYTHONDONTWRITEBYTECODE: one run per tree)
    assert ".pyc" in compiled[2] and "codekiln_guard_" in compiled[2]
    assert compiled[2].count(".pyc") == len(GUARD_PLUGIN)  # the plugin and its parts (`grading.shipped`)
    assert ".pyc" not in source[2] and "__pycache__" not in compiled[2] + source[2]


def test_bytecode_only_for_the_same_cpython_minor_version(tmp_path: Path) -> None:
    assert same_bytecode(VENV)
    ours = f"{sys.version_info.major}.{sys.version_info.minor}"
    for version, expected in ((f"{ours}.99", True), ("3.8.10", False), ("", False)):
        venv = tmp_path / f"venv{version or 'none'}"
        (venv / "lib" / f"python{ours}" / "site-packages").mkdir(parents=True)
        (venv / "pyvenv.cfg").write_text(
            f"home = /usr/bin\nversion = {version}\n" if version else "home = /x\n"
        )
        assert same_bytecode(venv) is expected, version
    assert not same_bytecode(tmp_path / "missing")


ESCAPE_CHECK = r"""
import random
from _pytest import junitxml
original = junitxml.bin_xml_escape
import codekiln.grading.guard_plugin  # no settings: it only sets itself up
assert junitxml.bin_xml_escape is not original
rnd = random.Random(7)
texts = ['plain', 'tab\there\nnew\rline', 'bell\x07', '\x00\x1f\x7f', 'caf\u00e9', '\ud800', '\ufffe', '\U0001f600', '']
texts += [''.join(chr(rnd.choice((rnd.randrange(128), rnd.randrange(0x110000)))) for _ in range(rnd.randrange(12)))
          for _ in range(5000)]
bad = [t for t in texts + [3, None] if junitxml.bin_xml_escape(t) != original(t)]
print(len(texts), bad[:3])
"""


def test_the_junit_escape_fast_path_writes_what_pytest_writes() -> None:
    # In a fresh interpreter: importing the plugin changes pytest there, not in this test process.
    src = str(Path(__file__).resolve().parents[2] / "src")
    res = subprocess.run(
        [sys.executable, "-c", ESCAPE_CHECK], capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["5009", "[]"]


CUT_CHECK = r"""
import os
from _pytest._code import ExceptionInfo
from _pytest._code.code import Traceback
original = Traceback.cut
import codekiln.grading.guard_plugin  # no settings: it only sets itself up
assert Traceback.cut is not original
gone = {}
exec(compile("def ghost(f):\n    f()\n", "/no/such/file.py", "exec"), gone)  # Code.path is then a str
rel = {"ghost": gone["ghost"]}
with open("near.py", "w") as fh:  # a relative name of a file that exists: Code.path makes it absolute
    fh.write("def near(f):\n    ghost(f)\n")
exec(compile("def near(f):\n    ghost(f)\n", "near.py", "exec"), rel)


def deep(n, f):
    return deep(n - 1, f) if n else rel["near"](f)


def boom():
    raise ValueError("x")


def twin():  # the same first line as no other, the same file as deep
    deep(3, boom)


try:
    twin()
except ValueError:
    tb = ExceptionInfo.from_current().traceback
asks = [(None, None, None, None), (__file__, None, None, os.path.dirname(__file__)), ("nowhere.py", None, 1, None)]
for entry in tb:
    code = entry.frame.code
    for path in (code.path, str(code.path), code.raw.co_filename, __file__):
        for first in (None, code.firstlineno, code.firstlineno + 1):
            for line in (None, entry.lineno):
                asks.append((path, line, first, None))
bad = []
for path, line, first, exclude in asks:
    new, old = tb.cut(path, line, first, exclude), original(tb, path, line, first, exclude)
    if (new is tb) != (old is tb) or [e._rawentry for e in new] != [e._rawentry for e in old]:
        bad.append((path, line, first))
print(len(asks), bad[:3])
"""


def test_the_traceback_cut_fast_path_cuts_where_pytest_cuts(tmp_path: Path) -> None:
    # pytest cuts a failure's traceback at the test (path, first line): every kind of frame, asked
    # every way, must be cut at the same entry (or not at all) with and without the guard's shortcut.
    src = str(Path(__file__).resolve().parents[2] / "src")
    (tmp_path / "check_cut.py").write_text(CUT_CHECK)
    res = subprocess.run(
        [sys.executable, "check_cut.py"], capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"}, cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    count, bad = res.stdout.split(" ", 1)
    assert int(count) > 100 and bad.strip() == "[]", res.stdout
