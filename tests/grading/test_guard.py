"""The guarded test run (grading.guard + guard_plugin) on small real projects in a real bwrap sandbox:
test ids are pytest's own node ids (inherited, imported and data-driven tests stay distinct and rerun
exactly), what a tree adds to start-up is not loaded, and forged reports leave evidence. The sandbox's
venv is codekiln's own (it has pytest and the plugins this suite uses)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from codekiln.grading import TestCommand, run_tests
from codekiln.grading.guard import Isolation, find_config, make_canaries, venv_plugins
from codekiln.sandbox.base import SandboxSpec
from codekiln.sandbox.bwrap import BwrapSandbox
from codekiln.testing import make_repo

VENV = Path(sys.prefix)
CMD = TestCommand(args=["tests"])

MIXIN = "class ClearMixin:\n    def test_clear(self):\n        assert self.value() == 0\n"
PROJECT = {
    "pyproject.toml": b"[project]\nname='demo'\nversion='0'\n[tool.pytest.ini_options]\nmarkers=['slow']\n",
    "demo/__init__.py": b"def zero():\n    return 0\n",
    "tests/__init__.py": MIXIN.encode(),
    "tests/test_a.py": b"from demo import zero\nfrom tests import ClearMixin\n\n\n"
    b"class TestA(ClearMixin):\n    def value(self):\n        return zero()\n",
    "tests/test_b.py": b"from tests import ClearMixin\n\n\nclass TestB(ClearMixin):\n    def value(self):\n"
    b"        return 1\n",
    "tests/test_c.py": b"from tests.test_a import TestA  # imported: pytest collects it here too\n\n\n"
    b"def test_plain():\n    pass\n",
    "tests/test_e.py": b"def test_sum():\n    assert 1 + 1 == 2\n",
    "tests/conftest.py": b"import pytest\n\n\ndef pytest_collect_file(parent, file_path):\n"
    b"    if file_path.suffix == '.case':\n        return CaseFile.from_parent(parent, path=file_path)\n\n\n"
    b"class CaseFile(pytest.File):\n    def collect(self):\n        for line in self.path.read_text().split():\n"
    b"            yield CaseItem.from_parent(self, name=line)\n\n\n"
    b"class CaseItem(pytest.Item):\n    def runtest(self):\n        assert not self.name.startswith('bad')\n",
    "tests/data/one.case": b"good1 bad1\n",
    "tests/data/two.case": b"good2\n",
}


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("guarded"), {k: v for k, v in PROJECT.items()})


@pytest.fixture()
def sb(snapshot: Path):
    with BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=VENV)) as sandbox:
        yield sandbox


@pytest.mark.root  # a bwrap sandbox
def test_ids_are_pytests_node_ids(sb: BwrapSandbox) -> None:
    run = run_tests(sb, CMD)
    assert run.error is None and not run.evidence, run.log_tail
    assert run.statuses == {
        "tests/test_a.py::TestA::test_clear": "passed",
        "tests/test_b.py::TestB::test_clear": "failed",
        "tests/test_c.py::TestA::test_clear": "passed",
        "tests/test_c.py::test_plain": "passed",
        "tests/test_e.py::test_sum": "passed",
        "tests/data/one.case::good1": "passed",
        "tests/data/one.case::bad1": "failed",
        "tests/data/two.case::good2": "passed",
    }
    assert "2 failed, 6 passed" in run.log_tail_full  # pytest's own summary line


@pytest.mark.root  # a bwrap sandbox
def test_every_recorded_id_reruns_exactly_that_test(sb: BwrapSandbox) -> None:
    for test_id, status in run_tests(sb, CMD).statuses.items():
        again = run_tests(sb, CMD, [test_id])
        assert again.statuses == {test_id: status} and not again.missing, test_id


@pytest.mark.root  # a bwrap sandbox
def test_a_rerun_in_the_same_tree_compiles_the_trusted_tests_again(sb: BwrapSandbox) -> None:
    # pytest caches rewritten test modules in __pycache__: a second guarded run in the same tree (the
    # rerun after ids that are gone) must not run that cache, which no run of its own compiled.
    for _ in range(2):
        run = run_tests(sb, CMD, ["tests/test_e.py::test_sum", "tests/test_e.py::test_gone"])
        assert run.statuses == {"tests/test_e.py::test_sum": "passed"} and not run.evidence, run.evidence
        assert run.missing == ["tests/test_e.py::test_gone"]
    listing = sb.exec(["find", "tests", "-name", "*pytest*.pyc"]).stdout
    assert listing == "", listing  # nothing written that a later run could read back


@pytest.mark.root  # a bwrap sandbox
def test_a_trace_function_left_by_code_under_test_is_evidence_and_coverage_is_not(sb: BwrapSandbox) -> None:
    # a trace function can turn a failed assertion's local into a pass; coverage.py's C tracer cannot
    tests = ["tests/test_e.py::test_sum"]
    sb.write_file(
        "demo/__init__.py",
        "import coverage\ncoverage.Coverage(data_file=None).start()\n\n\ndef zero():\n    return 0\n",
    )
    sb.write_file("tests/test_e.py", "import demo\n\n\ndef test_sum():\n    assert 1 + 1 == 2\n")
    covered = run_tests(sb, CMD, tests)
    assert covered.statuses == {tests[0]: "passed"}, covered.log_tail
    # coverage's Collector reads the source lines of the stack (`inspect.stack`), the test module's
    # among them, from library code: that read is evidence (`guard_plugin_reads`), its tracer is not
    assert [e for e in covered.evidence if "read the tests' source" not in e] == [], covered.evidence
    sb.write_file("demo/__init__.py", "def zero():\n    return 0\n")
    started = "import coverage\ncoverage.Coverage(data_file=None).start()\n"
    sb.write_file("tests/test_e.py", started + "\n\ndef test_sum():\n    assert 1 + 1 == 2\n")
    covered = run_tests(sb, CMD, tests)  # started by the tests' own code, as pytest-cov's plugin does
    assert covered.statuses == {tests[0]: "passed"} and not covered.evidence, covered.evidence
    sb.write_file("tests/test_e.py", "import demo\n\n\ndef test_sum():\n    assert 1 + 1 == 2\n")
    sb.write_file(
        "demo/__init__.py", "import sys\nsys.setprofile(lambda *a: None)\n\n\ndef zero():\n    return 0\n"
    )
    traced = run_tests(sb, CMD, tests)
    assert any("a profile function was installed" in e for e in traced.evidence), traced.evidence


@pytest.mark.root  # a bwrap sandbox
def test_a_trace_set_and_removed_inside_a_test_is_evidence_even_through_coverage(sb: BwrapSandbox) -> None:
    # gone before any check; set through coverage's Python tracer, whose start() installs a method a
    # subclass replaces (coverage's collector starting its C tracer stays excused, test above)
    tests = ["tests/test_e.py::test_sum"]
    demo = (
        "from coverage.pytracer import PyTracer\n\n\nclass T(PyTracer):\n"
        "    def _trace(self, frame, event, arg):\n        return None\n\n\n"
        "def zero():\n    t = T()\n    t.start()\n    t.stop()\n    return 0\n"
    )
    sb.write_file("demo/__init__.py", demo)
    sb.write_file("tests/test_e.py", "import demo\n\n\ndef test_sum():\n    assert demo.zero() == 0\n")
    run = run_tests(sb, CMD, tests)
    assert any(
        "code under test set a trace or profile function: sys.settrace from" in e for e in run.evidence
    ), run.evidence


PROFILE_EVENTS = """import sys


def callback():
    return 1


def test_profile_events():
    events = []
    old = sys.setprofile(lambda frame, event, arg: events.append((event, frame.f_code.co_name)))
    callback()
    sys.setprofile(old)  # what it returned put back, as greenlet's tracer does: None
    assert events == [("call", "callback"), ("return", "callback"), ("c_call", "test_profile_events")]
    assert old is None and sys.getprofile() is None
"""


@pytest.mark.root  # a bwrap sandbox
def test_a_tracer_a_test_sets_sees_the_events_it_would_see_unguarded(sb: BwrapSandbox) -> None:
    # greenlet's tracing tests compare such lists: the guard's watch on sys.setprofile (and settrace)
    # runs no frame that the profile function it installs or removes could see
    sb.write_file("tests/test_e.py", PROFILE_EVENTS)
    run = run_tests(sb, CMD, ["tests/test_e.py::test_profile_events"])
    assert run.statuses == {"tests/test_e.py::test_profile_events": "passed"}, run.log_tail


TRANSIENT_SKIP = """import sys


def zero():
    cls = sys.modules["_pytest.reports"].TestReport
    original = vars(cls)["from_item_and_call"]

    def forged(klass, item, call):
        cls.from_item_and_call = original  # put back by its first use: no check ever sees it
        report = original.__func__(klass, item, call)
        if call.when == "call":
            report.outcome, report.longrepr = "passed", None
        return report

    cls.from_item_and_call = classmethod(forged)
    import pytest
    pytest.skip("a skip is not a failure, and its report is flipped to a pass")
"""


@pytest.mark.root  # a bwrap sandbox
def test_a_pass_reported_for_a_call_that_raised_is_evidence(sb: BwrapSandbox) -> None:
    tests = ["tests/test_e.py::test_sum"]
    sb.write_file("demo/__init__.py", TRANSIENT_SKIP)
    sb.write_file("tests/test_e.py", "import demo\n\n\ndef test_sum():\n    assert demo.zero() == 0\n")
    run = run_tests(sb, CMD, tests)
    assert run.statuses == {tests[0]: "passed"}, run.statuses  # the forgery itself worked
    assert any("test_sum: reported passed, but its call raised or never ran" in e for e in run.evidence), (
        run.evidence
    )


@pytest.mark.root  # a bwrap sandbox
def test_files_a_tree_adds_to_startup_are_not_loaded(sb: BwrapSandbox) -> None:
    fake = "import os\nopen('/tmp/RAN', 'w').write('x')\nos._exit(0)\n"
    plugin = "def pytest_configure(config):\n    open('/tmp/RAN', 'w').write('plugin')\n"
    sb.write_file("pytest.py", fake)
    sb.write_file("_pytest/__init__.py", fake)
    sb.write_file(".pytest.ini", "[pytest]\naddopts = -p evilplug\n")
    sb.write_file("pytest.toml", "[pytest]\naddopts = ['-p', 'evilplug']\n")
    sb.write_file("evilplug.py", plugin)
    sb.write_file("demo.egg-info/entry_points.txt", "[pytest11]\nevil = evilplug\n")
    sb.write_file("demo.egg-info/PKG-INFO", "Metadata-Version: 2.1\nName: demo\nVersion: 0\n")
    run = run_tests(sb, CMD, ["tests/test_c.py::test_plain"])
    assert run.statuses == {"tests/test_c.py::test_plain": "passed"} and run.error is None, run.log_tail
    assert sb.exec(["test", "-e", "/tmp/RAN"]).exit_code == 1


def test_config_is_the_one_pytest_picks_in_the_snapshot(snapshot: Path, tmp_path: Path) -> None:
    assert find_config(snapshot, ["tests/test_a.py::TestA::test_clear"]) == "pyproject.toml"
    other = make_repo(tmp_path / "r", {"setup.cfg": b"[metadata]\nname=x\n", "tox.ini": b"[pytest]\n",
                                        "sub/pytest.ini": b"[pytest]\n", "sub/t.py": b""})  # fmt: skip
    assert find_config(other, ["sub/t.py::test"]) == "sub/pytest.ini"
    assert find_config(other, ["t.py::test"]) == "tox.ini"  # setup.cfg has no [tool:pytest]
    assert "timeout" in venv_plugins(VENV)  # pytest-timeout, which this suite uses


FLIP = (
    "import pytest\n\n\n@pytest.hookimpl(hookwrapper=True)\ndef pytest_runtest_makereport(item, call):\n"
    "    outcome = yield\n    rep = outcome.get_result()\n    rep.outcome, rep.longrepr = 'passed', None\n"
)


@pytest.mark.root  # a bwrap sandbox
def test_canaries_catch_reports_rewritten_in_process(sb: BwrapSandbox, snapshot: Path) -> None:
    iso = Isolation.for_environment(snapshot, VENV, ["tests/test_b.py"])
    b_source = PROJECT["tests/test_b.py"].decode()
    honest = run_tests(
        sb, CMD, ["tests/test_b.py::TestB::test_clear"], isolation=iso,
        canaries=make_canaries("tests/test_b.py", b_source),
    )  # fmt: skip
    assert honest.statuses == {"tests/test_b.py::TestB::test_clear": "failed"} and not honest.evidence
    sb.write_file("demo/__init__.py", "def zero():\n    return 0\n\n\nexec(" + repr(FLIP) + ")\n" +
                  "import _pytest.reports as r\nimport sys\nsys.modules['tests.conftest'] = None\n")  # fmt: skip
    sb.write_file("tests/conftest.py", FLIP)  # the grader restores conftests; here the run itself is probed
    run = run_tests(
        sb, CMD, ["tests/test_b.py::TestB::test_clear"], isolation=iso,
        canaries=make_canaries("tests/test_b.py", b_source),
    )  # fmt: skip
    assert any("built to fail but was reported passed" in e for e in run.evidence), run.evidence
    assert any("built to error but was reported passed" in e for e in run.evidence), run.evidence


@pytest.mark.root  # a bwrap sandbox
def test_forged_exit_and_rewritten_files_leave_evidence(sb: BwrapSandbox) -> None:
    test = "tests/test_c.py::test_plain"
    sb.write_file("tests/conftest.py", "import os\n\n\ndef pytest_unconfigure(config):\n    os._exit(0)\n")
    sb.write_file("tests/test_c.py", "def test_plain():\n    assert False\n")
    run = run_tests(sb, CMD, [test])
    assert any("exit status 1 but the process exited 0" in e for e in run.evidence), run.evidence
    rewrite = (
        "import atexit, glob\n\n\ndef _rewrite():\n    for p in glob.glob('/tmp/codekiln-grader/*/results.json'):\n"
        "        open(p, 'a').write(' ')\n    for p in glob.glob('/tmp/codekiln-grader/*/junit.xml'):\n"
        "        open(p, 'a').write(' ')\n\n\n"
        "atexit.register(_rewrite)\n"
    )
    sb.write_file("tests/conftest.py", rewrite)
    run = run_tests(sb, CMD, [test])
    assert "the results file was changed after the session ended" in run.evidence
    assert "the JUnit report was changed after the session ended" in run.evidence


@pytest.mark.root  # a bwrap sandbox
def test_a_fake_report_without_the_session_is_evidence_and_a_crash_is_not(sb: BwrapSandbox) -> None:
    fake = (
        "import glob, os\nfor d in glob.glob('/tmp/codekiln-grader/*/'):\n"
        "    open(d + 'junit.xml', 'w').write('<testsuites><testsuite/></testsuites>')\nos._exit(0)\n"
    )
    sb.write_file("demo/__init__.py", fake)
    run = run_tests(sb, CMD, ["tests/test_c.py::test_plain"])
    assert run.evidence and "never reached the guard's end-of-session marker" in run.evidence[0]
    sb.write_file("demo/__init__.py", "import os\nos._exit(0)\n")
    run = run_tests(sb, CMD, ["tests/test_c.py::test_plain"])
    assert not run.evidence and run.error and run.error.startswith("no test report")


MID_RUN = """import colorsys
import _pytest.pathlib as machinery


def test_1():
    machinery.symlink_or_skip = colorsys.rgb_to_hls  # stdlib code: excused, as an installed plugin's


def test_2():
    {body}


def test_3():
    pass
"""


@pytest.mark.root  # a bwrap sandbox
def test_machinery_changed_after_a_clean_check_is_caught_before_the_next_watched_test(
    sb: BwrapSandbox,
) -> None:
    # A check after a clean one compares with the state that one saw (guard_plugin_machinery._Snapshot): a
    # replacement made since, and an excused replacement whose code has since moved into the workspace,
    # are both named by the check before the next watched test.
    tests = ["tests/test_e.py::test_1", "tests/test_e.py::test_2", "tests/test_e.py::test_3"]
    for body, named in (
        ("machinery.make_numbered_dir_with_cleanup = len", "_pytest.pathlib.make_numbered_dir_with_cleanup"),
        ("colorsys.rgb_to_hls.__code__ = (lambda r, g, b: (r, g, b)).__code__", "_pytest.pathlib.symlink_or_skip"),
    ):  # fmt: skip
        sb.write_file("tests/test_e.py", MID_RUN.format(body=body))
        run = run_tests(sb, CMD, tests, watch=tests)
        assert run.statuses == dict.fromkeys(tests, "passed"), run.log_tail
        assert run.evidence == [
            f"a test was replaced: the test machinery was changed at run time (before {tests[2]}): {named}"
        ]
