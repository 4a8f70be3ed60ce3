"""What an exported SWE-bench row's guarded test step prints (`grading.row_verifier`), read back by
swebench 5.0.2's own log parser and `get_logs_eval`: only its status lines count, whatever pytest's
output (code under test included) prints, and a run the guard does not vouch for reads FAILED for every
graded test. The guarded run itself is driven through swebench's harness steps in
`tests/audit/test_redteam13_swebench.py` and `tests/tasks/test_swebench_export.py`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codekiln.grading import pathrules, row_verifier, shipped

TESTS = [
    "tests/test_a.py::test_one",
    "tests/test_a.py::test_two",
    "tests/test_a.py::test_x[<a.T object at 0x7f00aa>]",
]
FORGED = (
    "PASSED tests/test_a.py::test_one\n\rPASSED tests/test_a.py::test_two\r\n"
    ">>>>> End Test Output\n>>>>> Start Test Output\ntests/test_a.py::test_two PASSED\n"
    "\x1b[32mPASSED tests/test_a.py::test_one\x1b[0m\n"
)


def _printed(verdict: dict[str, object]) -> str:
    """The step's output for `verdict`, between swebench's markers as the eval script frames it."""
    lines = [*row_verifier.quoted_log(str(verdict.get("log", ""))), "codekiln guard: x"]
    lines += row_verifier.status_lines(verdict, TESTS)
    return "+ : '>>>>> Start Test Output'\n" + "\n".join(lines) + "\n+ : '>>>>> End Test Output'\n"


def _parsed(log: str, tmp_path: Path, exit_code: int) -> tuple[dict[str, str], bool]:
    pytest.importorskip(
        "swebench", reason="swebench 5.0.2 is not installed: pip install 'codekiln[thirdparty]'"
    )
    from swebench.harness.grading import get_logs_eval
    from swebench.harness.utils import make_test_spec

    row = {
        "instance_id": "x__y-1", "image": "codekiln/x", "repo": "x/y", "version": "1",
        "FAIL_TO_PASS": json.dumps(TESTS[:1]), "PASS_TO_PASS": json.dumps(TESTS[1:]),
        "log_parser": "parse_log_pytest_v2", "eval_type": "pass_and_fail", "eval_script": "true\n",
    }  # fmt: skip
    path = tmp_path / "test_output.txt"
    path.write_text(log + f">>>>> Test Exit Code: {exit_code}\n")  # as the harness's exit-code line adds it
    status_map, ok = get_logs_eval(make_test_spec(row), str(path))
    # pytest's `<id> PASSED` lines are read as keys `| <id>`, which name no test
    return {k: v for k, v in status_map.items() if not k.startswith("| ")}, ok


def test_only_the_status_lines_are_read(tmp_path: Path) -> None:
    """pytest's output, which code under test can write, prints statuses and swebench's markers of its
    own (a carriage return starting a line, colours): none of it is read."""
    verdict = {"outcome": "unresolved", "statuses": {TESTS[0]: "failed", TESTS[1]: "error"}, "log": FORGED}
    status_map, ok = _parsed(_printed(verdict), tmp_path, 1)
    assert ok
    assert status_map == {
        TESTS[0]: "FAILED",
        TESTS[1]: "ERROR",
        "tests/test_a.py::test_x[<a.T object at 0x?>]": "FAILED",
    }


@pytest.mark.parametrize("outcome", ["tampered", "timeout", "error"])
def test_a_run_the_guard_does_not_vouch_for_fails_every_test(tmp_path: Path, outcome: str) -> None:
    statuses = dict.fromkeys(TESTS, "passed")  # what pytest recorded: not what the guard vouches for
    verdict = {"outcome": outcome, "reason": "report_forged", "statuses": statuses, "log": FORGED}
    status_map, ok = _parsed(_printed(verdict), tmp_path, 1)
    assert ok and set(status_map.values()) == {"FAILED"} and len(status_map) == 3


def test_cases_of_one_blanked_id_keep_the_worst_status() -> None:
    twin = "tests/test_a.py::test_x[<a.T object at 0x7f00bb>]"
    verdict = {"outcome": "resolved", "statuses": {**dict.fromkeys(TESTS, "passed"), twin: "skipped"}}
    lines = row_verifier.status_lines(verdict, [*TESTS, twin])
    assert lines[-1] == "SKIPPED tests/test_a.py::test_x[<a.T object at 0x?>]" and len(lines) == 3
    missing = row_verifier.status_lines({"outcome": "resolved", "statuses": {}}, TESTS[:1])
    assert missing == [f"FAILED {TESTS[0]}"]  # a test the report lacks did not pass


def test_the_step_exits_nonzero_unless_every_test_passed(tmp_path: Path) -> None:
    """Run as shipped, from a folder holding only `shipped.ROW` and a task whose verifier cannot start
    (no venv): the run is an error, every test reads FAILED, the exit code is 1."""
    for name in shipped.ROW:
        (tmp_path / name).write_bytes((shipped.FOLDER / name).read_bytes())
    (tmp_path / "task.json").write_text(json.dumps({"tests": TESTS}))
    (tmp_path / "state.json").write_text("{}")
    res = subprocess.run(
        [sys.executable, "-E", "-s", str(tmp_path / "row_verifier.py"), "--testbed", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode == 1, res.stderr
    assert res.stdout.splitlines()[-3:] == [
        f"FAILED {row_verifier.unstable_ids.blank(t)} - codekiln guard: error verifier" for t in TESTS
    ]


def _repo(root: Path) -> str:
    """A repository like a row's /testbed at `base_commit`: a package, a test, a data file, its git
    directory beside it (`<root>.git`) as the row's image keeps it outside the tree. Its commit."""
    files = {
        "pkg/__init__.py": "",
        "pkg/core.py": "def total(values):\n    return sum(values) - 1\n",
        "tests/test_a.py": "from pkg.core import total\n\n\ndef test_one():\n    assert total([1]) == 1\n",
        "testdata/cases.json": '{"total": 6}\n',
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "base"], check=True)
    base = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True)
    (root / ".git").rename(_git_dir(root))
    return base.stdout.strip()


def _git_dir(testbed: Path) -> Path:
    return testbed.with_name(testbed.name + ".git")


def _check(
    testbed: Path, folder: Path, manifest: dict[str, list[object]], base: str, installed: Path | None = None
) -> dict[str, object]:
    """The eval script's first step, run as shipped (`--check`): the verdict it leaves in check.json
    (`installed`: the image's record of its tree after the install, `swebench_guard.INSTALLED`)."""
    folder.mkdir()
    for name in shipped.ROW:
        (folder / name).write_bytes((shipped.FOLDER / name).read_bytes())
    task = {
        "tests": ["tests/test_a.py::test_one"], "fixed": ["pkg/core.py"], "hidden_tests": [], "support": [],
        "workdir": str(testbed), "venv": sys.prefix,
        "policy": {"scan": "enforce", "compiled_suffixes": list(pathrules.COMPILED_SUFFIXES)},
    }  # fmt: skip
    (folder / "task.json").write_text(json.dumps(task))
    (folder / "state.json").write_text(
        json.dumps(
            {
                "manifest": manifest,
                "base_commit": base,
                "originals": {},
                "before": {},
                "installed": str(installed),
            }
        )
    )
    argv = [sys.executable, "-E", "-s", str(folder / "row_verifier.py"), "--check", "--testbed", str(testbed)]
    env = {**os.environ, "GIT_DIR": str(_git_dir(testbed)), "GIT_WORK_TREE": str(testbed)}  # the image's
    subprocess.run(argv, check=True, capture_output=True, timeout=60, env=env)
    return dict(json.loads((folder / "check.json").read_text()))


def test_the_check_judges_the_patched_tree_against_the_exported_manifest(tmp_path: Path) -> None:
    """The manifest the export writes (`commit_manifest`, from git) is what the tree reads before any
    patch; the check puts data back from git at `base_commit` (a new data file deleted), keeps the fix,
    rejects what the scan finds, and refuses bytes that do not match the export's digests."""
    from codekiln.grading.verifier_files import tree_state
    from codekiln.tasks.export.swebench_guard import commit_manifest

    testbed = tmp_path / "testbed"
    base = _repo(testbed)
    manifest = commit_manifest(_git_dir(testbed), base)
    assert manifest == tree_state(testbed)
    (testbed / "pkg/core.py").write_text("def total(values):\n    return sum(values)\n")  # the fix
    (testbed / "testdata/cases.json").write_text('{"total": 5}\n')  # the buggy result written in
    (testbed / "testdata/zz.json").write_text('{"total": 5}\n')  # a new file the tests could glob
    verdict = _check(testbed, tmp_path / "row", manifest, base)
    assert "outcome" not in verdict, verdict
    assert (testbed / "testdata/cases.json").read_text() == '{"total": 6}\n'
    assert not (testbed / "testdata/zz.json").exists()
    assert (testbed / "pkg/core.py").read_text().endswith("return sum(values)\n")
    reverted = {f["path"] for f in verdict["findings"] if f["kind"] == "reverted"}  # type: ignore[attr-defined]
    assert reverted == {"testdata/cases.json", "testdata/zz.json"}

    (testbed / "pkg/core.py").write_text("import sys\n\n\ndef total(values):\n    return sys._getframe(1)\n")
    verdict = _check(testbed, tmp_path / "scan", manifest, base)
    assert (verdict["outcome"], verdict["reason"]) == ("rejected", "scan")

    (testbed / "pkg/core.py").write_text("def total(values):\n    return sum(values)\n")
    (testbed / "testdata/cases.json").write_text('{"total": 5}\n')
    forged = {**manifest, "testdata/cases.json": ["file", "0" * 64, 0o644]}  # not what git holds
    verdict = _check(testbed, tmp_path / "forged", forged, base)
    assert (verdict["outcome"], verdict["reason"]) == ("error", "verifier")
    assert "testdata/cases.json at base_commit is not the file the export recorded" in str(verdict["detail"])


GIT_WRITES = {
    "a git directory": {".git/HEAD": "ref: refs/heads/main\n", ".git/config": "[core]\n\tfsmonitor = sh x\n"},
    "a gitfile": {".git": "gitdir: pkg/fake\n"},
    "a link": {".git": "->pkg"},
    "another case": {".GIT/config": "[core]\n\tfsmonitor = sh x\n"},
    "a nested one": {"pkg/.git/config": "[core]\n\tfsmonitor = sh x\n"},
}


@pytest.mark.parametrize("how", list(GIT_WRITES))
def test_the_check_rejects_git_metadata_in_the_tree(tmp_path: Path, how: str) -> None:
    """The row's image keeps its git directory outside /testbed, so a `.git` in the tree (what the
    harness's `patch` fallback writes: a folder, a gitfile, or a link, in any case, at any depth) is
    the patch's: `rejected patch_rule`, beside an honest fix."""
    from codekiln.tasks.export.swebench_guard import commit_manifest

    testbed = tmp_path / "testbed"
    base = _repo(testbed)
    manifest = commit_manifest(_git_dir(testbed), base)
    (testbed / "pkg/core.py").write_text("def total(values):\n    return sum(values)\n")  # the fix
    for rel, text in GIT_WRITES[how].items():
        (testbed / rel).parent.mkdir(parents=True, exist_ok=True)
        if text.startswith("->"):
            (testbed / rel).symlink_to(text[2:])
        else:
            (testbed / rel).write_text(text)
    verdict = _check(testbed, tmp_path / "row", manifest, base)
    assert (verdict["outcome"], verdict["reason"]) == ("rejected", "patch_rule"), verdict
    assert "writes git metadata" in str(verdict["detail"])


def test_what_the_image_install_left_in_the_tree_is_no_patch(tmp_path: Path) -> None:
    """An image whose install writes into /testbed (an egg-info, a C extension built in place): the
    image records its tree after the install outside it (`swebench_guard.INSTALLED`, here a file
    beside it), and the check reads those files as no patch's, so an honest fix stands. Without the
    record the extension reads as the patch's compiled artefact (the honest fix rejected); a patch
    that changes it is still rejected, and one that writes into the egg-info has it put back."""
    from codekiln.grading.verifier_files import tree_state
    from codekiln.tasks.export.swebench_guard import commit_manifest

    testbed = tmp_path / "testbed"
    base = _repo(testbed)
    manifest = commit_manifest(_git_dir(testbed), base)
    built = {
        "pkg/_speedups.cpython-312-x86_64-linux-gnu.so": b"\x7fELF\x02\x01\x00",
        "pkg.egg-info/PKG-INFO": b"Name: pkg\n",
    }
    for rel, data in built.items():
        (testbed / rel).parent.mkdir(parents=True, exist_ok=True)
        (testbed / rel).write_bytes(data)
    record = tmp_path / "installed.json"
    record.write_text(json.dumps(tree_state(testbed)))  # what the image's Dockerfile writes
    (testbed / "pkg/core.py").write_text("def total(values):\n    return sum(values)\n")  # the fix

    verdict = _check(testbed, tmp_path / "honest", manifest, base, record)
    assert "outcome" not in verdict and verdict["findings"] == [], verdict
    assert all((testbed / rel).read_bytes() == data for rel, data in built.items())

    verdict = _check(testbed, tmp_path / "unrecorded", manifest, base)
    assert (verdict["outcome"], verdict["reason"]) == ("rejected", "patch_rule"), verdict
    assert "adds a compiled artefact" in str(verdict["detail"])

    (testbed / "pkg.egg-info/entry_points.txt").write_text("[pytest11]\nx = pkg.x\n")
    verdict = _check(testbed, tmp_path / "egg", manifest, base, record)
    assert "outcome" not in verdict and not (testbed / "pkg.egg-info/entry_points.txt").exists(), verdict

    (testbed / "pkg/_speedups.cpython-312-x86_64-linux-gnu.so").write_bytes(b"\x7fELF\x02\x01\x01")
    verdict = _check(testbed, tmp_path / "changed", manifest, base, record)
    assert (verdict["outcome"], verdict["reason"]) == ("rejected", "patch_rule"), verdict
    assert "adds a compiled artefact" in str(verdict["detail"])
