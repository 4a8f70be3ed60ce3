"""The tenth red team: the guard's failure announcements silenced before they left the process.

The ninth red team's fix announces each failed report on file descriptor 1, and the grader holds the
results to those lines. Code under test silenced them three ways, each with the walk forgery, each
resolved on the toolz and markupsafe audit tasks, both paths (`audit.announcements`): a pipe put on
the copy of descriptor 1 that pytest's capture restores it from, relayed to the real file by a thread
minus the guard's lines; the announcer's nonce set to None; the report module's `failure_line`
rebound to a no-op.

Here: a line leaves by the file descriptor 1 held at import (found by device and inode wherever it is
now, `guard_plugin_report.print_line`), and the announcer holds nothing a walk can rewrite unseen (its
settings and functions are its hook's keyword defaults, guarded by an audit hook).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from codekiln.audit import announcements, walks
from codekiln.core.protocols import Sandbox
from codekiln.grading import TestCommand, guard_check, run_tests
from codekiln.grading import guard_plugin_report as report
from codekiln.grading.guard_check import nodeid_key

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_redteam9_walk import RUN, TEST

GRADING = Path(__file__).resolve().parents[2] / "src" / "codekiln" / "grading"


def _python(code: str) -> subprocess.CompletedProcess[bytes]:
    """`code` run with the report module importable by its bare name, as the guard ships it."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=GRADING,
        capture_output=True,
        timeout=60,
        check=False,
    )


def test_a_line_reaches_the_file_descriptor_1_held_at_import_wherever_it_is_now() -> None:
    """Descriptor 1 and its other copies re-pointed at a pipe nobody reads, the real file kept only
    on a descriptor of the code's own choosing: the line still reaches the real file."""
    done = _python("""
        import os
        import guard_plugin_report as report
        kept = os.dup(1)
        r, w = os.pipe()
        os.dup2(w, 1)
        report.print_line("to the grader\\n")
        os.write(kept, b"kept " + str(kept).encode() + b"\\n")
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"to the grader\n"), done.stdout


def test_with_descriptor_1_as_it_was_a_line_goes_there_and_with_the_file_gone_the_process_ends() -> None:
    """The relay run by another process leaves the guard nothing to write to: the process ends with a
    status the grader reads outside it, before the line goes anywhere else."""
    done = _python("""
        import os
        import guard_plugin_report as report
        report.print_line("one\\n")
        r, w = os.pipe()
        os.dup2(w, 1)  # descriptor 1 is now this pipe, and no descriptor holds the real file
        report.print_line("two\\n")
        os.write(2, b"not reached")
    """)
    assert (done.returncode, done.stdout, done.stderr) == (report.CHANNEL_LOST, b"one\n", b"")
    assert guard_check.CHANNEL_LOST == report.CHANNEL_LOST
    evidence = guard_check.check_run("", report.CHANNEL_LOST, "n", None, None)[1]
    assert evidence and "found no descriptor holding the output" in evidence[0]


@pytest.mark.parametrize("target", ["__kwdefaults__", "__code__", "__defaults__"])
def test_the_announcers_hook_cannot_be_rebound(target: str) -> None:
    done = _python(f"""
        import guard_plugin_report as report
        plugin = report.announcer("n")
        hook = type(plugin).pytest_runtest_logreport
        for victim in (hook, report.print_line, report.nodeid_key, report.status):
            try:
                setattr(victim, {target!r}, (lambda *a, **k: None).{target})
            except RuntimeError as e:
                print("refused", victim.__name__)
        try:
            plugin.__class__ = report.Announcer
        except RuntimeError:
            print("refused class")
    """)
    assert done.returncode == 0, done.stderr
    refused = ["pytest_runtest_logreport", "print_line", "nodeid_key", "status", "class"]
    assert done.stdout.decode().split("\n")[:-1] == [f"refused {name}" for name in refused]


def test_a_run_without_results_has_an_announcer_with_no_hook() -> None:
    done = _python("""
        import guard_plugin_report as report
        print(hasattr(report.announcer(None), "pytest_runtest_logreport"))
    """)
    assert done.stdout == b"False\n", done.stderr


@pytest.mark.root  # a bwrap sandbox
@pytest.mark.parametrize("silence", ["RELAY", "MUTE_NONCE", "MUTE_LINE", "CHILD_RELAY"])
def test_the_forgery_with_its_announcements_silenced_is_evidence(walk_sandbox: Sandbox, silence: str) -> None:
    """The corpus attacks, as the red team wrote them: the rewrite works (the statuses say passed,
    pytest exits 0), and the failure's announcement still reaches the grader; a relay in a child
    process leaves the guard no file to write to, and the test process ends with its own status."""
    module = walks.FORGE % ([TEST], walks.PLAIN) + getattr(announcements, silence)
    walk_sandbox.write_file("demo/_ck_walk.py", module)
    walk_sandbox.write_file("demo/__init__.py", "from . import _ck_walk\n\n\ndef zero():\n    return 1\n")
    run = run_tests(walk_sandbox, TestCommand(args=["tests"]), RUN)
    if silence == "CHILD_RELAY":
        assert (run.exit_code, run.statuses) == (report.CHANNEL_LOST, {}), run.log_tail
        assert any("found no descriptor holding the output" in e for e in run.evidence), run.evidence
        return
    assert run.statuses == dict.fromkeys(RUN, "passed"), run.log_tail
    assert f" failed {nodeid_key(TEST)}\n" in run.log_tail_full
    assert any("the guard's records were rewritten during the run" in e for e in run.evidence), run.evidence
