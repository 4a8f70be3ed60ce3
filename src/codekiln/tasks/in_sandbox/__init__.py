"""Scripts that run inside a sandbox, with the environment's Python: copied there by file path.

They import nothing from codekiln (the standard library, pytest, and each other by bare name, as
siblings in one folder; an import-linter contract keeps it so), so the same source runs in any
environment. The host sides are `codekiln.tasks.validation.testexec` and `coverage_map`.

- `warm_runner.py`: one pytest session serving many test jobs, each in a forked child.
- `codekiln_swap.py`: swaps changed functions' code into live objects (used by the warm runner).
- `cover_runner.py`: the coverage map's run: which test executes which lines.
- `cover_child.py`: the `sitecustomize` that measures the Python processes a test starts (cover_runner's).
- `codekiln_reports.py`: one status per test from its reports (`Recorder`, used by both runners).

The pytest internals they patch are listed, with why, in `pytest_patches.PYTEST_PATCHES` (re-exported by `warm_runner`).
"""

from pathlib import Path

FOLDER = Path(__file__).parent
SCRIPTS = tuple(
    FOLDER / name
    for name in (
        "warm_runner.py",
        "codekiln_swap.py",
        "codekiln_reports.py",
        "cover_runner.py",
        "cover_child.py",
        "pytest_patches.py",
    )
)
"""What `testexec.install_runners` copies into a sandbox, side by side."""
BESIDE = (FOLDER.parent.parent / "grading" / "guard_plugin_bodies.py",)
"""Copied beside them, from the grader: the guard's wrap of test functions, with which the warm runner
exports test code the guard can run as is (`pytest_patches.guard_entries`)."""
