"""The held test files a guarded run empties (at the guard plugin's load), read before the run and put back after it
from outside the sandbox (the host's side of `grading.guard_plugin_hide`).

    saved = take(sandbox, session)     # held path -> bytes, read on the host before the run
    ...the guarded run...              # the plugin empties them at its load
    replaced = put_back(sandbox, saved)  # always, a run killed at its limit included; the held
                                         # paths the run turned into something no file (evidence)

A child process of the test process can open any path of the sandbox: the tests' Python source must
be gone from the tree while code under test runs, and the later runs on the same tree (a rerun for
missing ids, the gate's runs on one snapshot) need it back. The bytes come from the tree itself just
before the run (the grader's canaries appended to a test module included), so what is put back is
exactly what was there, whatever a run wrote to those paths meanwhile.
"""

from __future__ import annotations

from codekiln.core.protocols import Sandbox
from codekiln.grading.guard import GuardSession
from codekiln.grading.guard_plugin_reads import held_files


def take(sandbox: Sandbox, session: GuardSession) -> dict[str, bytes]:
    """The bytes of each held file (`guard_plugin_reads.held_files`) the run will empty."""
    workdir = session.workdir.rstrip("/")
    trusted = [f"{workdir}/{rel}" for rel in session.iso.trusted]
    support = [f"{workdir}/{rel}" for rel in session.iso.support]
    saved: dict[str, bytes] = {}
    for path in held_files(workdir, trusted, support):
        try:
            saved[path] = sandbox.read_file(path, follow=False)
        except OSError:
            continue
    return saved


def put_back(sandbox: Sandbox, saved: dict[str, bytes]) -> list[str]:
    """Write each saved file back where it was. A path the run turned into something that is no file
    (a directory, a FIFO, a link into nowhere) is cleared first and listed: the tests' process made it
    so (the guard left an empty file there), and a grade that took the harness's failure to write it
    back for its own would be masked as an `error` instead of scored (twenty-second red team, part B)."""
    replaced = []
    for path, data in saved.items():
        try:
            sandbox.write_file(path, data)
        except OSError:
            replaced.append(path)
    if replaced:
        sandbox.exec(["rm", "-rf", "--", *replaced], timeout=60)
        for path in replaced:
            sandbox.write_file(path, saved[path])
    return replaced


def replaced_evidence(replaced: list[str]) -> list[str]:
    """The findings for held files a run turned into something that is no file."""
    return [
        f"a held test file was replaced during the run by something that is no file: {p}" for p in replaced
    ]
