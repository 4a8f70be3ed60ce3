"""The per-test comparison of bench/envbuild.py on real pytest runs of one small project: the plain side
as the bench runs it (past a module that fails to collect, every report kept by the `envreport`
observer) against codekiln's guarded run of the same project in a real bwrap sandbox. The project has
what makes ids hard to line up: a test inherited from a class of another module, parameter ids with
spaces, brackets and ' - ', a test reported twice (a pass, then an error at teardown), a module that
fails to collect, one skipped at collection, and a test that needs a server outside the sandbox."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from codekiln.envs.recipe import Recipe, host_interpreter
from codekiln.envs.steps import Builder
from codekiln.grading import TestCommand
from codekiln.sandbox.base import SandboxSpec
from codekiln.sandbox.bwrap import BwrapSandbox
from codekiln.testing import make_repo

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import envsample
from envbuild import ROWS, load_rows
from envcompare import compare, plain_counts, table
from envrows import HEADER, row_of, table_lines
from envrun import plain_options
from envtests import (
    Side,
    cause,
    codekiln_side,
    compare_tests,
    differences,
    load_sides,
    plain_side,
    rootdir_prefix,
    save_sides,
)

BENCH = Path(__file__).resolve().parents[2] / "bench"
BASE = """\
class TestBase:
    def test_inherited(self):
        assert self.value() == 1

    def value(self):
        return 1
"""
CHILD = """\
import pytest

from tests.test_base import TestBase


class TestChild(TestBase):
    def value(self):
        return 1


@pytest.mark.parametrize("text", ["a b", "c - d", "e[f]"])
def test_param(text):
    assert text


@pytest.fixture
def breaks_on_teardown():
    yield
    raise RuntimeError("teardown broke")


def test_pass_then_teardown_error(breaks_on_teardown):
    pass


@pytest.mark.xfail
def test_xfail():
    assert False


def test_fails():
    assert 1 == 2
"""
NET = """\
import pathlib
import socket


def test_reaches_the_hosts_server():
    port = int((pathlib.Path(__file__).parent / "port.txt").read_text())
    socket.create_connection(("127.0.0.1", port), timeout=5).close()
"""
PROJECT = {
    "pyproject.toml": "[project]\nname='ids'\nversion='0'\n",
    "tests/__init__.py": "",
    "tests/test_base.py": BASE,
    "tests/test_child.py": CHILD,
    "tests/test_broken.py": "import codekiln_absent_module\n\n\ndef test_never():\n    pass\n",
    "tests/test_modskip.py": "import pytest\n\npytest.skip('no backend', allow_module_level=True)\n",
    "tests/test_envdep.py": "import os\n\nif os.environ.get('IDS_BREAK'):\n    raise ImportError('broken "
    "by IDS_BREAK')\n\n\ndef test_needs_env():\n    pass\n",
    "tests/test_net.py": NET,
}
NET_ID = "tests/test_net.py::test_reaches_the_hosts_server"
C = "tests/test_child.py::"


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    """A listening socket on the host's loopback: the plain run reaches it, the sandbox (its own
    loopback, no network) cannot."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory, server: int) -> Path:
    return make_repo(tmp_path_factory.mktemp("ids"), {**PROJECT, "tests/port.txt": str(server)})


def plain_run(snapshot: Path, tmp: Path, *args: str, **env: str) -> tuple[Side, str]:
    """The bench's plain pytest run on a copy of the project: its per-test side and its output."""
    tree = shutil.copytree(snapshot, tmp / "plain", ignore=shutil.ignore_patterns(".git"), dirs_exist_ok=True)
    reports = tmp / "reports.json"
    reports.unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *plain_options(reports), *args],
        cwd=tree, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": str(BENCH), **env},
    )  # fmt: skip
    assert reports.is_file(), done.stdout + done.stderr
    return plain_side(json.loads(reports.read_text())), done.stdout


def guarded_run(snapshot: Path, tmp: Path, *args: str) -> Side:
    """codekiln's baseline step (past modules that fail to collect, which it leaves out) in bwrap."""
    recipe = Recipe(python=host_interpreter(), test=TestCommand(args=["tests", *args]))
    shutil.rmtree(tmp / "scratch", ignore_errors=True)
    (tmp / "scratch").mkdir()
    with BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=Path(sys.prefix))) as sb:
        run = Builder(recipe, tmp / "scratch").baseline(sb)
    assert run.error is None and not run.evidence, run.log_tail
    return codekiln_side(run.statuses, run.collection_errors, run.collection_skips, run.messages)


def test_the_plain_run_goes_on_past_a_module_that_fails_to_collect(snapshot: Path, tmp_path: Path) -> None:
    plain, out = plain_run(snapshot, tmp_path)
    counts, collect_errors = plain_counts(out)
    assert collect_errors == [
        "tests/test_broken.py: ModuleNotFoundError: No module named 'codekiln_absent_module'"
    ]
    assert (counts["passed"], counts["failed"], counts["errors"], counts["counted_twice"]) == (8, 1, 2, 1)
    assert plain.statuses == {
        "tests/test_base.py::TestBase::test_inherited": "passed",
        C + "TestBase::test_inherited": "passed",  # the base class imported is collected there too
        C + "TestChild::test_inherited": "passed",
        C + "test_param[a b]": "passed",
        C + "test_param[c - d]": "passed",
        C + "test_param[e[f]]": "passed",
        C + "test_pass_then_teardown_error": "error",
        C + "test_xfail": "skipped",
        C + "test_fails": "failed",
        "tests/test_envdep.py::test_needs_env": "passed",
        NET_ID: "passed",
        "tests/test_broken.py": "error",
        "tests/test_modskip.py": "skipped",
    }
    assert plain.messages[C + "test_fails"] == "assert 1 == 2"
    assert (
        plain.messages[C + "test_pass_then_teardown_error"]
        == "failed on teardown: RuntimeError: teardown broke"
    )
    assert (
        plain.messages["tests/test_broken.py"]
        == "ModuleNotFoundError: No module named 'codekiln_absent_module'"
    )


@pytest.mark.root  # a bwrap sandbox
def test_codekiln_and_the_plain_run_are_compared_id_by_id(snapshot: Path, tmp_path: Path) -> None:
    """Every id lines up (inherited, parametrized, reported twice, collection error and skip); the one
    test that needs the host's server is the difference, named with its cause."""
    plain, out = plain_run(snapshot, tmp_path)
    ck = guarded_run(snapshot, tmp_path)
    assert differences(plain, ck) == {"passed -> failed": [NET_ID]}
    verdict, reason = compare_tests(plain, ck)
    assert (verdict, reason) == (
        "tests differ",
        f"1 fail only in codekiln: [codekiln: connection refused; plainly passed] {NET_ID}",
    )
    counts, errors = plain_counts(out)
    row_plain = {"status": "ran", **counts, "collect_errors": errors}
    verdict, reason = compare(row_plain, {"ok": True, "passed": 9}, (plain, ck))
    assert verdict == "tests differ"
    assert reason.endswith("; the plain run had 1 collection error(s): tests/test_broken.py: "
                           "ModuleNotFoundError: No module named 'codekiln_absent_module'")  # fmt: skip

    # Without that test the two runs agree on every id, and codekiln "passes more" only where the
    # plain run lost a module (here to its environment) while every plain pass still passes.
    deselect = ("--deselect", NET_ID)
    plain, _ = plain_run(snapshot, tmp_path, *deselect)
    ck = guarded_run(snapshot, tmp_path, *deselect)
    assert compare_tests(plain, ck) == ("reproduced", "")
    broken, _ = plain_run(snapshot, tmp_path, *deselect, IDS_BREAK="1")
    assert compare_tests(broken, ck) == (
        "better",
        "codekiln passes 1 more: [plain: tests/test_envdep.py failed to collect: ImportError: broken by "
        "IDS_BREAK] tests/test_envdep.py::test_needs_env",
    )
    assert compare_tests(ck, broken)[0] == "tests differ"  # and not the other way round


def test_ids_from_runs_with_different_rootdirs_are_lined_up(snapshot: Path, tmp_path: Path) -> None:
    """pytest picks the rootdir from the arguments where no config file names one: the same tests are
    `test_x.py::t` in one run and `tests/test_x.py::t` in the other."""
    full, _ = plain_run(snapshot, tmp_path)
    short, _ = plain_run(snapshot, tmp_path, "--rootdir=tests", "tests")
    assert C + "test_fails" in full.statuses and "test_child.py::test_fails" in short.statuses
    assert rootdir_prefix(set(short.statuses), set(full.statuses)) == "tests/"
    assert compare_tests(full, short) == ("reproduced", "")


def test_addresses_in_parameter_ids_are_not_differences() -> None:
    a = Side({"t.py::test_x[<object object at 0x7f3a2b1c9d40>]": "passed"})
    b = Side({"t.py::test_x[<object object at 0x7f00aa11bb20>]": "passed"})
    assert compare_tests(a, b) == ("reproduced", "")


def test_a_test_under_a_module_that_failed_to_collect_failed_in_that_run() -> None:
    """pytest counts an uncollected module as one error and never runs its tests: a test that codekiln
    collects there and fails failed on both sides; one it passes is a pass gained; the failure is
    still named in the reason."""
    plain = Side(
        {"t/test_a.py::test_ok": "passed", "t/test_b.py": "error"},
        {"t/test_b.py": "ModuleNotFoundError: No module named 'jwt'"},
    )
    ck = Side(
        {"t/test_a.py::test_ok": "passed", "t/test_b.py::test_x": "passed", "t/test_b.py::test_y": "failed"},
        {"t/test_b.py::test_y": "AssertionError: Warning not raised"},
    )
    assert compare_tests(plain, ck) == (
        "better",
        "codekiln passes 1 more: [plain: t/test_b.py failed to collect: module missing: jwt] "
        "t/test_b.py::test_x; 1 other: [plain: t/test_b.py failed to collect: module missing: jwt; in "
        "codekiln AssertionError: Warning not raised] t/test_b.py::test_y",
    )
    assert differences(plain, ck) == {
        "error -> absent": ["t/test_b.py"],
        "error -> failed": ["t/test_b.py::test_y"],
        "error -> passed": ["t/test_b.py::test_x"],
    }
    # a package's conftest.py or __init__.py that failed to collect covers every test below it
    pkg = Side({"t/test_a.py::test_ok": "passed", "t/sub/conftest.py": "error"})
    deep = Side({"t/test_a.py::test_ok": "passed", "t/sub/deep/test_c.py::test_z": "failed"})
    assert compare_tests(pkg, deep)[0] == "tests differ"  # only "other": failing on both, nothing gained
    assert "fail only in codekiln" not in compare_tests(pkg, deep)[1]
    # the other way round: a test that passed plainly under a module codekiln failed to collect is a
    # failure in codekiln, not only a missing pass
    verdict, reason = compare_tests(ck, plain)
    assert verdict == "tests differ" and reason.startswith("2 fail only in codekiln: [codekiln: module ")
    assert (
        "[codekiln: t/test_b.py failed to collect: module missing: jwt; plainly passed] t/test_b.py::test_x"
        in reason
    )
    # a test in no uncollected module that only codekiln runs, and fails, still fails only in codekiln
    other = Side({**ck.statuses, "t/test_c.py::test_new": "failed"}, ck.messages)
    assert compare_tests(plain, other)[0] == "tests differ"


def test_a_plain_run_that_ran_no_test_is_no_reference() -> None:
    """Every module failed to collect plainly: codekiln's result has nothing to be judged by, and a
    "better" there would be a verdict that no build could fail."""
    plain = Side({"t/test_a.py": "error", "t/test_b.py": "error"}, {"t/test_a.py": "No module named 'pytz'"})
    ck = Side({"t/test_a.py::test_x": "passed", "t/test_b.py::test_y": "failed"})
    assert compare_tests(plain, ck) == (
        "no reference",
        "the plain run ran no test: 2 module(s) failed to collect (t/test_a.py: module missing: pytz); "
        "codekiln 1/1/0 has nothing to be compared with",
    )
    assert compare_tests(plain, Side({"t/test_a.py": "error", "t/test_b.py": "error"})) == ("reproduced", "")
    assert compare_tests(Side(), Side()) == ("no tests", "neither run collected a test")


def test_causes_are_read_from_failure_messages() -> None:
    assert cause("socket.gaierror: [Errno -3] Temporary failure in name resolution") == "name resolution"
    assert (
        cause("urllib3.exceptions.NameResolutionError: Failed to resolve 'example.com'") == "name resolution"
    )
    assert cause("OSError: [Errno 101] Network is unreachable") == "network unreachable"
    assert cause("ConnectionRefusedError: [Errno 111] Connection refused") == "connection refused"
    assert cause("ModuleNotFoundError: No module named 'jwt'") == "module missing: jwt"
    assert cause("assert 1 == 2\nmore") == "assert 1 == 2"


def test_per_test_data_round_trips(tmp_path: Path) -> None:
    plain = Side({"a::t": "failed", "a::u": "passed"}, {"a::t": "boom"})
    ck = Side({"a::t": "passed", "a::u": "passed"})
    save_sides(tmp_path / "lib.json.gz", plain, ck)
    assert load_sides(tmp_path / "lib.json.gz") == (plain, ck)
    assert load_sides(tmp_path / "absent.json.gz") is None


def test_rows_read_back_from_a_printed_table_print_the_same_table() -> None:
    """Rows whose records were lost (`envrows`): the README's table read back prints the same lines."""
    readme = (BENCH.parent / "README.md").read_text()
    lines = table_lines(readme)
    rows = [row_of(line, "README.md at commit x") for line in lines]
    printed = table(rows, 60).splitlines()
    assert printed[2 : 2 + len(lines)] == lines
    assert all(r["reconstructed"]["from"] == "README.md at commit x" for r in rows)  # type: ignore[index]


def test_the_readmes_table_is_the_table_of_the_rows_kept_in_the_repository() -> None:
    """`--table` of bench/results/envbuild_rows.jsonl (each row judged by the rule as it is now, on its
    per-test file) is what the README shows, line for line, its summary line included."""
    rows = load_rows(ROWS)
    order = [str(r["name"]) for r in json.loads(envsample.PINNED.read_text())["chosen"]]
    printed = table([rows[n] for n in order if n in rows], len(order)).splitlines()
    readme = (BENCH.parent / "README.md").read_text().splitlines()
    start = readme.index(HEADER)
    assert readme[start : start + len(printed)] == printed
