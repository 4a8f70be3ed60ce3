"""The decision rules of bench/envbuild.py (pure functions): pytest's summary read back, the verdict,
the plain side's reading of tox's test env, the sample bound and the word match that keeps libraries our tests name out of the sample."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from envcompare import STEP_LIMITS, compare, plain_counts, step_limits
from envplain import applies, envlist, plain_targets, tox_pytest_command, uv_groups
from envrun import as_non_root, plain_test_env
from envsample import judge_archive, named_in

COLLECTION_FAILED = """\
______________ ERROR collecting tests/test_b.py ______________
=================== short test summary info ===================
ERROR tests/test_b.py - ModuleNotFoundError: No module named 'zzz'
FAILED tests/test_a.py::test_x - assert 1 == 2
======= 1 failed, 3 passed, 2 skipped, 1 xfailed, 1 xpassed, 1 error in 0.52s =======
"""


def ck(passed: int, failed: int, skipped: int, **more: object) -> dict[str, object]:
    return {"ok": True, "passed": passed, "failed": failed, "error": 0, "skipped": skipped, **more}


def test_counts_come_from_pytests_summary_line() -> None:
    counts, errors = plain_counts(COLLECTION_FAILED)
    assert (counts["passed"], counts["failed"], counts["errors"]) == (3, 1, 1)
    assert (counts["skipped"], counts["xfailed"], counts["xpassed"], counts["summary_found"]) == (2, 1, 1, 1)
    assert errors == ["tests/test_b.py: ModuleNotFoundError: No module named 'zzz'"]
    assert plain_counts("collected 0 items\n")[0]["summary_found"] == 0


def test_tests_that_pytest_counts_twice_are_counted_once() -> None:
    """Per-test lines (PLAIN_REPORT) find tests reported twice; parameter ids with spaces stay apart."""
    out = """\
PASSED tests/t.py::test_a[Only start URL is invalid]
PASSED tests/t.py::test_a[Only sso_region is invalid]
PASSED tests/t.py::test_b[x-[profile a]\\nrole = b - c]
PASSED tests/t.py::test_c
ERROR tests/t.py::test_b[x-[profile a]\\nrole = b - c] - RuntimeError: te...
FAILED tests/t.py::test_d - assert 1 == 2
ERROR tests/t.py::test_d - RuntimeError: teardown
ERROR tests/t.py::test_e
ERROR tests/t.py::test_e - ResourceWarning
= 1 failed, 4 passed, 4 errors in 0.1s =
"""
    counts, _ = plain_counts(out)
    assert (counts["passed"], counts["failed"], counts["errors"], counts["counted_twice"]) == (3, 0, 3, 3)


def test_verdicts() -> None:
    counts, errors = plain_counts(COLLECTION_FAILED)
    plain = {"status": "ran", **counts, "collect_errors": errors}  # 4 passed, 2 failed, 3 skipped
    assert compare(plain, ck(4, 2, 3)) == ("reproduced", "")
    assert compare(plain, ck(3, 1, 3))[0] == "count mismatch"  # fewer passes is never better
    assert compare({**plain, "collect_errors": []}, ck(6, 1, 3))[0] == "count mismatch"
    better = compare(plain, ck(6, 1, 3))
    assert better[0] == "better" and "No module named 'zzz'" in better[1]
    assert compare(plain, ck(6, 1, 3, collection_errors=1))[0] == "count mismatch"
    assert compare(plain, {"ok": False, "status": "timeout (build)"})[0] == "timeout"
    assert compare(plain, {"ok": False, "status": "build failed", "step": "install"})[1].startswith(
        "build failed at install"
    )
    assert compare({"status": "install failed", "log": "x\nno wheel"}, ck(1, 0, 0)) == (
        "plain failed",
        "install failed: no wheel",
    )
    stopped = {"status": "ran", "summary_found": 0, "exit_code": 4,
               "log": "ImportError while loading conftest 'c'.\nE   ModuleNotFoundError: No module named 'q'"}  # fmt: skip
    # stopped at its conftest or configuration: no test outcome to judge codekiln's by, either way
    assert compare(stopped, ck(5, 0, 0)) == (
        "no reference",
        "pytest exited 4 with no summary line: E   ModuleNotFoundError: No module named 'q'; "
        "codekiln 5/0/0 has nothing to be compared with",
    )
    assert compare(stopped, ck(5, 2, 0))[0] == "no reference"
    assert compare(stopped, {"ok": False, "status": "build failed"})[0] == "plain failed"
    # pytest stopped at collection before any test: nothing to reproduce, whatever codekiln did
    interrupted = {"status": "ran", "summary_found": 1, "errors": 2, "skipped": 1,
                   "collect_errors": ["tests/test_a.py: ModuleNotFoundError: No module named 'hpack'", "b"]}  # fmt: skip
    verdict, reason = compare(interrupted, {"ok": False, "status": "build failed", "step": "baseline"})
    assert verdict == "plain failed" and reason.startswith("no test ran in the plain run: 2 module(s)")
    assert compare(interrupted, ck(0, 0, 0, collection_errors=2))[0] == "plain failed"  # same failure
    assert compare(interrupted, ck(0, 0, 0, collection_errors=1, collection_skips=1))[0] == "plain failed"
    assert compare(interrupted, ck(0, 1, 0, collection_errors=1))[0] == "no reference"  # a test failed
    # codekiln collected and ran the suite: "better" than nothing would be a verdict no build can fail
    assert compare(interrupted, ck(40, 0, 1))[0] == "no reference"
    assert compare({**interrupted, "passed": 1}, ck(0, 1, 0, collection_errors=1))[0] == "count mismatch"


def test_sample_bound() -> None:
    tests = ["pkg/tests/test_a.py"]
    assert judge_archive(1000, ["pkg/a.py", *tests]) == ""
    assert judge_archive(3 * 2**20, tests).startswith("sdist too large")
    assert judge_archive(1000, ["pkg/Cargo.toml", *tests]) == "Rust extension"
    assert judge_archive(1000, [f"m{i}.py" for i in range(401)] + tests).startswith("too many modules")
    assert judge_archive(1000, ["pkg/a.py", "pkg/testing.py"]) == "no tests in sdist"
    assert judge_archive(1000, ["pkg/a_test.py"]) == ""


def test_named_in_matches_words_in_any_spelling() -> None:
    text = "pypi:foo-bar==1.0 and zope_thing.sub"
    assert named_in("foo-bar", text) and named_in("Foo_Bar", text) and named_in("zope.thing", text)
    assert not named_in("foo", "foobar food") and not named_in("bar", "foo_bar")


PYJWT_TOX = """\
[tox]
envlist =
    lint
    py{39,310,311,312}-{crypto,nocrypto}
    py{39,310,311}{,-crypto}-mypy

[testenv]
dependency_groups =
    tests
extras =
    crypto: crypto
    !nocrypto-py39: speedups
commands = {envpython} -b -m coverage run -m pytest {posargs}

[testenv:py312-nocrypto]
extras = slow
"""


def test_the_plain_side_installs_what_toxs_env_for_this_python_installs(tmp_path: Path) -> None:
    """pyjwt 2.15.1: tox runs py311-crypto, whose `crypto` extra its tests need (189 of them skipped
    without it in the plain run, none in codekiln's, which reads the same tox.ini)."""
    (tmp_path / "tox.ini").write_text(PYJWT_TOX)
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "pyjwt"\n[project.optional-dependencies]\ncrypto = ["cryptography"]\n'
        '[dependency-groups]\ntests = ["pytest"]\n'
    )
    assert plain_targets(tmp_path, "3.11") == (["crypto"], ["tests"], [], "tox env py311-crypto")
    assert plain_targets(tmp_path, "3.9")[0] == ["crypto", "speedups"]  # py39-crypto: not nocrypto, py39
    assert plain_targets(tmp_path, "3.12")[0] == ["crypto"]  # the first py312 env: py312-crypto
    assert plain_targets(tmp_path, "3.13") == (
        [],
        ["tests"],
        [],
        "tox env py313",
    )  # no env: unconditional only
    (tmp_path / "tox.ini").write_text(
        PYJWT_TOX.replace("py{39,310,311,312}-{crypto,nocrypto}", "py312-nocrypto")
    )
    assert plain_targets(tmp_path, "3.12") == (
        ["slow"],
        ["tests"],
        [],
        "tox env py312-nocrypto",
    )  # its own section
    (tmp_path / "tox.ini").write_text(PYJWT_TOX.replace("envlist", "env_list"))  # tox 4's spelling
    assert plain_targets(tmp_path, "3.11") == (["crypto"], ["tests"], [], "tox env py311-crypto")
    assert envlist("py{39,310}-{a,b}, lint") == ["py39-a", "py39-b", "py310-a", "py310-b", "lint"]
    assert applies("a,b", {"b"}) and applies("a-b", {"a", "b"}) and not applies("a-b", {"a"})
    (tmp_path / "tox.ini").unlink()
    assert plain_targets(tmp_path, "3.11") == ([], ["tests"], [], "")  # the declared group alone


def test_the_plain_side_installs_toxs_deps_requirement_files_included(tmp_path: Path) -> None:
    """aiosignal 1.4.0: its pytest config loads `-p pytest_cov`, which only tox's deps file names."""
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "ci-wheel.txt").write_text("pytest-cov==6.2.1\n")
    (tmp_path / "tox.ini").write_text(
        "[tox]\nenvlist = py3{10,11}\n[testenv]\ndeps =\n    -rrequirements{/}ci-wheel.txt\n"
        "    -r {toxinidir}/requirements/absent.txt\n    pytest >= 6, != 8.1.*\n    py310: old-thing\n"
        "    {[base]deps}\n    -e .\n"
    )
    ci = str(tmp_path / "requirements" / "ci-wheel.txt")
    assert plain_targets(tmp_path, "3.11") == ([], [], ["-r", ci, "pytest >= 6, != 8.1.*"], "tox env py311")


def test_the_plain_side_installs_a_test_requirements_file_less_the_project_itself(tmp_path: Path) -> None:
    """sniffio 1.3.1 declares curio only in test-requirements.txt, which its CI installs (plain 3/1/0
    without it, codekiln 4/0/0); referencing 0.37.0's names the project (`referencing @ file:.`), which
    pip refuses next to `.`."""
    (tmp_path / "test-requirements.txt").write_text(
        "pytest\npytest-cov  # coverage\ncurio\n-r more.txt\nreferencing @ file:.\n-e .\n"
        "attrs==25.4.0 \\\n    --hash=sha256:abc\n"
    )
    (tmp_path / "more.txt").write_text("# a comment\npytest-subtests==0.14.2\n")
    assert plain_targets(tmp_path, "3.11") == (
        [],
        [],
        ["pytest", "pytest-cov", "curio", "pytest-subtests==0.14.2", "attrs==25.4.0"],
        "test-requirements.txt",
    )
    (tmp_path / "tox.ini").write_text("[tox]\nenvlist = py311\n[testenv]\ndeps = pytest-xdist\n")
    assert plain_targets(tmp_path, "3.11") == ([], [], ["pytest-xdist"], "tox env py311")  # tox's env first


def test_a_collection_error_without_a_reason_in_the_summary_takes_its_sections_error_line() -> None:
    """requests-oauthlib 2.0.0: pytest's summary says `ERROR tests/examples/test_x.py` alone for an
    ImportError at collection; the row's reason was empty."""
    out = """\
_____ ERROR collecting tests/examples/test_x.py _____
ImportError while importing test module '/src/tests/examples/test_x.py'.
tests/examples/base.py:6: in <module>
    from selenium import webdriver
E   ModuleNotFoundError: No module named 'selenium'
_____ ERROR collecting tests/test_y.py _____
E   ImportError: first
E   ModuleNotFoundError: No module named 'requests_mock'
=================== short test summary info ===================
ERROR tests/examples/test_x.py
ERROR tests/test_y.py
!!!!!!!!!!!!!!!!!!!! Interrupted: 2 errors during collection !!!!!!!!!!!!!!!!!!!!
============================== 2 errors in 0.73s ===============================
"""
    assert plain_counts(out)[1] == [
        "tests/examples/test_x.py: ModuleNotFoundError: No module named 'selenium'",
        "tests/test_y.py: ModuleNotFoundError: No module named 'requests_mock'",
    ]


def test_the_plain_side_installs_the_hatch_env_that_runs_the_tests(tmp_path: Path) -> None:
    """soupsieve 4.1.1: beautifulsoup4, which every test module imports, is only in hatch env `dev`."""
    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname = 'soupsieve'\n[tool.hatch.envs.docs]\ndependencies = ['mkdocs']\n"
        "[tool.hatch.envs.dev]\ndependencies = ['pytest', 'beautifulsoup4']\n"
        "[tool.hatch.envs.dev.scripts]\ntests = 'pytest tests'\n"
    )
    assert plain_targets(tmp_path, "3.11") == ([], [], ["pytest", "beautifulsoup4"], "hatch env dev")


def test_the_plain_side_runs_pytest_with_the_arguments_of_toxs_command(tmp_path: Path) -> None:
    """requests-toolbelt 1.0.0: tox runs `pytest -W error::DeprecationWarning {posargs}`, under which two
    x509 tests fail on pyOpenSSL's deprecation; the plain run without it passed them (158/6/5), codekiln,
    which runs the same tox command, failed them (156/8/5)."""
    (tmp_path / "tox.ini").write_text(
        "[tox]\nenvlist = py{39,311},lint\n[testenv]\ndeps = pytest\ncommands =\n"
        "    python -c 'print(1)'\n    pytest -W error::DeprecationWarning {posargs} && echo done\n"
        "[testenv:py39]\ncommands = coverage run -m pytest --basetemp={envtmpdir} {posargs:tests -x}\n"
        "[testenv:lint]\ncommands = flake8 src\n"
    )
    assert tox_pytest_command(tmp_path, "3.11") == ["-W", "error::DeprecationWarning"]
    assert tox_pytest_command(tmp_path, "3.9") == ["tests", "-x"]  # its own section; {envtmpdir} left out
    (tmp_path / "tox.ini").write_text("[tox]\nenvlist = py311\n[testenv]\ncommands = pytest {posargs}\n")
    assert tox_pytest_command(tmp_path, "3.11") == []  # a pytest command, with no arguments
    (tmp_path / "tox.ini").write_text("[tox]\nenvlist = py311\n[testenv]\ncommands = python -m unittest\n")
    assert tox_pytest_command(tmp_path, "3.11") is None  # no pytest command: the next source decides
    (tmp_path / "tox.ini").unlink()
    assert tox_pytest_command(tmp_path, "3.11") is None


def test_the_plain_side_installs_the_groups_uv_installs_where_the_project_runs_through_uv(
    tmp_path: Path,
) -> None:
    """tenacity 9.2.1: its CI runs `uv run poe check`; uv installs the `dev` group by default, whose trio
    one test skips without (plain 184/0/1, codekiln, which installs what the tests import, 185/0/0)."""
    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname = 'tenacity'\n[project.optional-dependencies]\ntest = ['pytest']\n"
        "[dependency-groups]\ndev = ['pytest', 'trio']\ndocs = ['sphinx']\n"
    )
    assert plain_targets(tmp_path, "3.11") == (["test"], [], [], "")  # uv not used: no group
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yaml").write_text("jobs:\n  t:\n    steps:\n      - run: uv run --no-dev pytest\n")
    assert uv_groups(tmp_path) == []
    (workflows / "ci.yaml").write_text("jobs:\n  t:\n    steps:\n      - run: uv run poe check\n")
    assert plain_targets(tmp_path, "3.11") == (["test"], ["dev"], [], "uv's default groups")
    with (tmp_path / "pyproject.toml").open("a") as f:
        f.write("[tool.uv]\ndefault-groups = ['docs', 'absent']\n")
    assert uv_groups(tmp_path) == ["docs"]
    (workflows / "ci.yaml").unlink()
    (tmp_path / "uv.lock").write_text("version = 1\n")
    assert uv_groups(tmp_path) == ["docs"]


def test_step_limits_are_raised_by_name_and_bad_ones_are_refused() -> None:
    limits = step_limits(["plain_test=900", "build=1200"])
    assert limits == {**STEP_LIMITS, "plain_test": 900, "build": 1200}
    assert STEP_LIMITS["plain_test"] == 300  # the defaults stay as they were
    for bad, says in [("plain=900", "STEP one of plain_install"), ("plain_test", "STEP=SECONDS"),
                      ("plain_test=0", "positive"), ("plain_test=1.5", "positive")]:  # fmt: skip
        with pytest.raises(ValueError, match=says):
            step_limits([bad])


ROOT_SENSITIVE = """\
import os, sys, pytest

@pytest.mark.skipif(os.geteuid() == 0, reason="root can read files with 000 permissions")
def test_unreadable_file_raises(tmp_path):
    path = tmp_path / "f"
    path.write_text("x")
    path.chmod(0o000)
    with pytest.raises(PermissionError):
        path.read_text()

def test_the_interpreter_and_this_tree_stay_usable():
    assert os.access(sys.executable, os.X_OK) and os.access(__file__, os.W_OK)

def test_a_child_may_switch_to_its_own_uid():
    import subprocess
    done = subprocess.run([sys.executable, "-c", "pass"], user=os.getuid(), group=os.getgid())
    assert done.returncode == 0
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="the plain side drops root only where it runs as root")
def test_the_plain_suite_runs_as_a_non_root_user_as_the_projects_ci_does(tmp_path: Path) -> None:
    """A test that skips as root (python-dotenv's chmod-000 test) runs under the prefix, while the
    interpreter (root's, as the bench's venvs are) and the root-owned source tree stay usable, and a
    child may still run as the suite's own uid (anyio)."""
    (tmp_path / "test_root.py").write_text(ROOT_SENSITIVE)
    prefix = as_non_root()
    assert prefix[:2] == ["unshare", "--user"]
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", str(tmp_path)]
    env = plain_test_env(Path(sys.prefix), tmp_path / "scratch")  # its own TMPDIR: pytest-of-nobody
    as_root = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, env=env, check=False)
    assert "2 passed, 1 skipped" in as_root.stdout, as_root.stdout
    dropped = subprocess.run(
        [*prefix, *argv], capture_output=True, text=True, cwd=tmp_path, env=env, check=False
    )
    assert "3 passed" in dropped.stdout, dropped.stdout + dropped.stderr


def test_items_that_share_an_id_are_told_apart_from_a_test_counted_twice() -> None:
    """docopt-ng 0.9.0: a conftest names several text cases alike; pytest counts every item, codekiln
    each id once (its items' worst status): the row reproduces, and says why pytest's count was larger."""
    out = """\
PASSED tests/testcases.docopt::testcases(6)
PASSED tests/testcases.docopt::testcases(6)
PASSED tests/testcases.docopt::testcases(6)
PASSED tests/test_docopt.py::test_a
ERROR tests/test_docopt.py::test_a - RuntimeError: teardown
= 4 passed, 1 error in 0.1s =
"""
    counts, _ = plain_counts(out)
    assert (counts["passed"], counts["errors"], counts["shared_ids"], counts["counted_twice"]) == (1, 1, 2, 1)
    plain = {"status": "ran", "summary_found": 1, **counts}
    assert compare(plain, ck(1, 1, 0)) == (
        "reproduced",
        "pytest counted 2 more item(s) under ids several items share",
    )
