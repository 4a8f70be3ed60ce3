"""The guard's report files as code under test can leave them: a symlink to /dev/zero or a FIFO at
`junit.xml` or `results.json` is never read or written through (a reader of /dev/zero never ends, an
open of a FIFO nobody writes blocks), and is named as evidence; and a thread left running does not
keep the test process alive once pytest's main has returned. The guard's own functions on real files
and a real process (`grading.guard_plugin_report`, the Harbor verifier's `grading.verifier_files`);
the whole path is `tests/audit/test_redteam14_hangs.py`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from codekiln.grading import guard_plugin_report as report
from codekiln.grading import verifier_files


@pytest.fixture(params=["symlink", "fifo"])
def planted(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    path = tmp_path / "junit.xml"
    if request.param == "symlink":
        path.symlink_to("/dev/zero")
    else:
        os.mkfifo(path)
    return path


def test_the_guard_neither_reads_nor_writes_through_what_was_planted(planted: Path) -> None:
    assert report.file_digest(str(planted)) == "-"  # was: /dev/zero read forever, or a blocked open
    with pytest.raises(OSError):
        report.write_file(str(planted), b"{}")
    assert verifier_files.read(planted) is None
    assert verifier_files.digest(planted) is None
    (evidence,) = verifier_files.not_regular(planted, "JUnit report")
    assert "code under test put it there" in evidence


def test_what_was_planted_is_removed_and_named(planted: Path, tmp_path: Path) -> None:
    regular = tmp_path / "results.json"
    regular.write_text("{}")
    report.CLEARED.clear()
    (evidence,) = report.clear_paths([str(planted), str(regular), str(tmp_path / "absent"), None])
    assert str(planted) in evidence
    assert not os.path.lexists(planted)
    assert regular.read_text() == "{}"
    report.write_file(str(planted), b"{}")  # the path is free for the guard's own write
    assert report.file_digest(str(planted)) == report.sha256_hex(b"{}")
    report.CLEARED.clear()


def test_a_regular_report_reads_as_before(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    report.write_file(str(path), b'{"a": 1}')
    assert report.file_digest(str(path)) == report.sha256_hex(b'{"a": 1}')
    assert verifier_files.read(path) == b'{"a": 1}'
    assert verifier_files.not_regular(path, "results file") == []
    assert verifier_files.not_regular(tmp_path / "absent", "results file") == []


STRAY = """
import sys, threading, time
from codekiln.grading import guard_plugin_report as report
threading.Thread(target=time.sleep, args=(1_000_000,)).start()
if sys.argv[1] == "guarded":
    report.end_with(lambda: 3)
print("printed before the end")
raise SystemExit(3)
"""


def test_a_stray_thread_does_not_keep_the_process_alive() -> None:
    """The process ends with the status it would have exited with, its output flushed. Without the
    guard's hook the same process is still alive when the check gives up on it."""
    done = subprocess.run(
        [sys.executable, "-c", STRAY, "guarded"], capture_output=True, text=True, timeout=120
    )
    assert (done.returncode, done.stdout) == (3, "printed before the end\n")
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run([sys.executable, "-c", STRAY, "plain"], capture_output=True, timeout=5)
