"""The thirteenth red team: files a patch adds, under an exported SWE-bench row. The row's eval script
put back what the grader puts back by checking files out of `base_commit`, which deletes nothing new:
a new root `conftest.py` flipping failed reports, or a new `pytest.py` that `python -m pytest` found
first on `sys.path` (the working directory) and that ran the real one with such a plugin, or a new
`*.dist-info` whose `pytest11` entry point pytest's autoload found there, left the bug in place and
resolved under swebench's own harness steps. The script now deletes every untracked file
`is_protected` names (`pathrules.protected_globs`) and runs `python -P`, as the grader does.

The row ran no guard, so code under test that rewrote the tests' objects in the process (the twelfth
red team's helpers rebound at import) resolved there (a strict xfail). Now its eval script runs the
graded tests under the Harbor verifier's guard (`tasks.export.swebench_guard`, `grading.row_verifier`)
and the log swebench's parser reads says PASSED only where the guard vouches for it: that attack and a
builtin shadowed in the helpers' module (`test_guard_support.py`'s) read FAILED for every graded test.
Since the eval script also runs the Harbor verifier's patch rules and scan first
(`test_redteam14_row_rules.py`), the module swapped for a copy is `rejected scan` (every test FAILED)
and a new package hiding the helpers' module is put back, as the grader does (the failing tests fail)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tasks"))

from test_redteam12_support import _helpers_rebound, mean_task
from test_redteam13_packages import QUIET

from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.grading.pathrules import is_protected, protected_globs
from codekiln.tasks.records import TaskRecord

FLIP = (
    "import pytest\n\n\n@pytest.hookimpl(hookwrapper=True)\ndef pytest_runtest_makereport(item, call):\n"
    "    out = yield\n    report = out.get_result()\n    if report.failed:\n"
    "        report.outcome, report.longrepr = 'passed', None\n"
)
SHIM = (
    "import sys\n\nsys.path[:] = [p for p in sys.path if p not in ('', '/testbed')]\n"
    "sys.modules.pop('pytest', None)\nimport pytest as real\n\n"
    "sys.path.insert(0, '/testbed/.flip')\nsys.argv[1:1] = ['-p', 'flipper']\n"
    "raise SystemExit(real.console_main())\n"
)


@pytest.fixture(scope="module")
def row(tmp_path_factory: pytest.TempPathFactory) -> tuple[TaskRecord, EnvRecord, dict, Path]:
    pytest.importorskip(
        "swebench", reason="swebench 5.0.2 is not installed: pip install 'codekiln[thirdparty]'"
    )
    from codekiln.tasks.export.swebench import export_swebench_bundle, read_rows

    # a bug in `mean`: the rebound helpers make its failing tests pass where no guard runs (the xfail)
    task, env = mean_task()
    bundle = export_swebench_bundle([task], tmp_path_factory.mktemp("swebench") / "swebench").parent
    (found,) = read_rows(bundle / "swebench.jsonl")
    return task, env, found, bundle


def _attacks(task: TaskRecord, env: EnvRecord) -> dict[str, str]:
    target = Target.of(task, Path(env.snapshot_path))
    return {
        "conftest": target.new("conftest.py", FLIP),
        "pytest-shim": target.new("pytest.py", SHIM) + target.new(".flip/flipper.py", FLIP),
        # a plugin entry point that pytest's autoload found through the working directory on sys.path
        "entry-point": target.new(
            "zz_flip-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: zz-flip\nVersion: 1.0\n"
        )
        + target.new("zz_flip-1.0.dist-info/entry_points.txt", "[pytest11]\nzzflip = zz_flipmod\n")
        + target.new("zz_flipmod.py", FLIP),
    }


@pytest.mark.root  # synthesis in bwrap sandboxes; the harness steps run in one
def test_new_files_do_not_resolve_an_exported_row(
    row: tuple[TaskRecord, EnvRecord, dict, Path], tmp_path: Path
) -> None:
    from swebench_support import run_instance

    task, env, found, bundle = row
    assert run_instance(found, bundle, env, task.patch, tmp_path / "gold")["resolved"]
    for name, patch in _attacks(task, env).items():
        report = run_instance(found, bundle, env, patch, tmp_path / name)
        assert report["patch_successfully_applied"], name
        assert not report["resolved"], (name, report["tests_status"])  # all three resolved
        # the grader: the conftest put back, the shim a module hiding pytest
        assert grade_patch(task, env, patch, timeout=30.0).outcome in {"unresolved", "rejected"}, name


# The package's `__init__.py` at import, as `tests/grading/test_guard_support.py`'s `shadowed` and
# `swapped` do it: a builtin the helper reads shadowed in its module, or the module swapped in
# `sys.modules` for a copy that reads such a builtin (the scan refuses the copy's `exec` and its
# `sys.modules` write, now that the row runs it).
SHADOWED = "\n\nfrom unitlib import _checks as _c\n\n_c.abs = lambda x: 0\n"
SWAPPED = (
    "\n\nimport sys as _s\nimport types as _t\n\nfrom unitlib import _checks as _c\n\n"
    "_f = _t.ModuleType(_c.__name__)\n_f.__file__ = _c.__file__\n"
    "exec(compile(open(_c.__file__).read(), _c.__file__, 'exec'), vars(_f))\n"
    "_f.abs = lambda x: 0\n_s.modules[_c.__name__] = _f\n"
)


def _in_process(task: TaskRecord, env: EnvRecord) -> dict[str, str]:
    """Code under test rewriting the tests' objects in pytest's process, from the twelfth red team; each
    left the bug in place and resolved under the row before it ran the guard."""
    target = Target.of(task, Path(env.snapshot_path))
    return {
        "helpers-rebound": _helpers_rebound(task, env),
        "builtin-shadowed": target.append(target.init, SHADOWED),
        "module-swapped": target.append(target.init, SWAPPED),
        # a new package the row does not delete, hiding the helpers' module it resets (the grader puts
        # it back: `test_redteam13_packages.py`); the guard finds another module in `sys.modules`
        "package-hides-helpers": target.new("unitlib/_checks/__init__.py", QUIET),
    }


# What the row's log says of each: the verifier's check (run first since `test_redteam14_row_rules.py`)
# refused the patch or put the hiding package back; the guard's own verdict on the first two, with the
# scan advisory, is in `test_redteam12_support.py` and `tests/grading/test_guard_support.py`.
VERDICTS = {
    # both import the tests' own helpers: the scan's test-import finding (`grading.scan_reach`) first
    "helpers-rebound": "codekiln guard: rejected scan",
    "builtin-shadowed": "codekiln guard: rejected scan",
    "module-swapped": "codekiln guard: rejected scan",
    "package-hides-helpers": "| codekiln finding: reverted unitlib/_checks/__init__.py",
}


@pytest.mark.root
def test_in_process_rewrites_under_an_exported_row_are_tampered(
    row: tuple[TaskRecord, EnvRecord, dict, Path], tmp_path: Path
) -> None:
    """The row's eval script runs the Harbor verifier's guard, and its log says FAILED for every graded
    test when the guard's checks fail or the verifier's check rejects the patch. All four resolved under
    the row before (the helpers rebound was a strict xfail). The package hiding the helpers is put back
    before the run now, as the grader puts it back: the bug stays, and the failing tests fail."""
    from swebench_support import run_instance

    task, env, found, bundle = row
    for name, patch in _in_process(task, env).items():
        report = run_instance(found, bundle, env, patch, tmp_path / name)
        assert report["patch_successfully_applied"], name
        assert not report["resolved"], (name, report["tests_status"])
        assert VERDICTS[name] in report["log"], (name, report["log"][-3000:])
        tests = report["tests_status"]
        assert tests["FAIL_TO_PASS"]["failure"] == task.FAIL_TO_PASS, name
        if name == "package-hides-helpers":
            assert tests["PASS_TO_PASS"]["failure"] == [], name
            continue
        assert tests["PASS_TO_PASS"]["failure"] == task.PASS_TO_PASS, name  # every graded test
        assert {report["status_map"][t] for t in task.tests} == {"FAILED"}, name


def test_the_globs_delete_what_is_protected(tmp_path: Path) -> None:
    """`protected_globs` as git reads them names exactly the untracked files `is_protected` names."""
    paths = [
        "conftest.py", "pkg/conftest.py", "pytest.ini", "sub/tox.ini", "setup.cfg", "pyproject.toml",
        "sitecustomize.py", "a/usercustomize.py", "x.pth", "pkg/y.pth", "evil-1.0.dist-info/entry_points.txt",
        "src/p.egg-info/PKG-INFO", "pytest.py", "pytest/__main__.py", "pkg/_pytest/x.py", "pluggy.py",
        "tests/helpers.py", "pkg/tests/data.json", "testing/util.py", "test/x.txt", "test_a.py", "pkg/b_test.py",
        "pkg/tests.py", "test.py", "pkg/core.py", "pkg/new.py", "debug.bin", "docs/conf.py",
        "pkg/testsuite.py", "contest.py", "pkg/pytester.py", "mytests/x.py",
    ]  # fmt: skip
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    for rel in paths:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x\n")
    (tmp_path / ".gitignore").write_text("conftest.py\n*.pth\ntests/\n")  # a patch's ignore file hides none
    listed = subprocess.run(
        ["git", "-C", str(tmp_path), "ls-files", "-z", "--others", "--", *protected_globs()],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert set(filter(None, listed.split("\0"))) == {rel for rel in paths if is_protected(rel)}
