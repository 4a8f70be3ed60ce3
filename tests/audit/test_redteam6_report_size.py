"""The sixth red team (2026-12-06): the grader read the guard's results file and the JUnit report whole
into its own memory, and both lie in the sandbox, where code under test writes them any size it likes
after the session (a thread waiting for the interpreter's shutdown; since a thread left running no
longer outlives pytest's main, `grading.guard_plugin_report.end_with`, an `atexit` function here). A sparse file costs the sandbox's
disk nothing: two of 1 GiB each were 2 GiB in the grader per graded run, and a results file of JSON
objects (`[{},{},...]`) took ~24 times its size once parsed (a 1 GiB one, the file-size limit, ~24 GiB:
the host's memory, not the sandbox's). Now the JUnit report is only hashed, in chunks, and a results
file over `RESULTS_LIMIT` is evidence, never read; one whose hash is not the marker's is not parsed.

Driven through the real path: a real pytest session in a real bwrap sandbox, read back by
`run_tests`, with the grader's Python allocations traced."""

from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

import pytest

from codekiln.grading import TestCommand, run_tests
from codekiln.grading.guard import RESULTS_LIMIT
from codekiln.sandbox.base import SandboxSpec
from codekiln.sandbox.bwrap import BwrapSandbox
from codekiln.testing import make_repo

# After the session: the results file and the JUnit report made sparse files of `SIZE` bytes, or the
# results file rewritten as JSON objects just over the grader's limit.
GROW = """
import atexit, os

def _grow():
    for d, _, names in os.walk("/tmp"):
        for name in names:
            path = os.path.join(d, name)
            if name.endswith(".xml") or (name.endswith(".json") and MODE == "sparse"):
                os.truncate(path, SIZE)
            elif name.endswith(".json"):
                with open(path, "w") as fh:
                    fh.write("[" + "{}," * (SIZE // 3) + "{}]")

atexit.register(_grow)
"""
SPARSE = 512 << 20


def _project(mode: str, size: int) -> dict[str, bytes]:
    grow = f"MODE, SIZE = {mode!r}, {size}\n" + GROW
    return {
        "pyproject.toml": b"[project]\nname='demo'\nversion='0'\n",
        "demo/__init__.py": grow.encode(),
        "tests/__init__.py": b"",
        "tests/test_a.py": b"import demo\n\n\ndef test_one():\n    assert True\n",
    }


@pytest.mark.root  # a bwrap sandbox
@pytest.mark.parametrize(("mode", "size"), [("sparse", SPARSE), ("objects", RESULTS_LIMIT + (4 << 20))])
def test_report_files_any_size_cost_the_grader_no_memory(tmp_path: Path, mode: str, size: int) -> None:
    snapshot = make_repo(tmp_path / "repo", _project(mode, size))
    with BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=Path(sys.prefix))) as sb:
        tracemalloc.start()
        try:
            run = run_tests(sb, TestCommand(args=["tests"]), ["tests/test_a.py::test_one"])
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 16 << 20, f"the grader held {peak / 2**20:.0f} MiB reading back one test's run"
    assert run.evidence and not run.statuses, (run.evidence, run.error)
