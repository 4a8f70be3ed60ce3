"""The project's own coverage switched off in every guarded run (`grading.guard_plugin`; it runs inside
the sandbox).

    pytest_load_initial_conftests  # a hook wrapper: pytest-cov's `--no-cov`, set before pytest-cov reads it

A project whose pytest config turns pytest-cov on (`addopts = --cov`, zipp 4.1.2's through
pytest-enabler) gets a coverage report at the session's end, and coverage.py reads every measured file
to make it: with `--cov` over the tests, the held test files too (`tests/__init__.py`), from a generator
that its caller steps through rather than calls by name. The reads watch's callers rule
(`_callers`, `_reads`) rightly refuses such a read and notes it, so the clean snapshot's run was
`tampered` and no task came from such a project. Coverage changes no test's status (`--cov-fail-under`
changes the exit code alone), so the guarded run does not measure at all: the plugin that the grader,
validation and the exported verifiers load sets the option pytest-cov's `--no-cov` sets, on pytest's
early namespace, around every `pytest_load_initial_conftests` implementation (pytest-cov's own, marked
`tryfirst`, reads it there to decide whether to start). No tracer starts, no report is written or read,
and pytest-cov prints no warning (it warns only for a `--no-cov` given on the command line). A project
without pytest-cov, or whose pytest-cov is not loaded, is left as it is. The synthesis coverage map does
the same for its own run (`tasks.in_sandbox.cover_runner`).

Still watched: code of the tree (a conftest that starts coverage.py itself) is the tree's, and any read
it makes of the held files is judged by the callers rule as before.

Shipped beside the plugin as `<plugin module>_coverage` (`grading.shipped`), registered by the plugin
as soon as it registers, before any conftest; it imports nothing from codekiln.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> Generator[None, Any, None]:
    if hasattr(early_config.known_args_namespace, "no_cov"):  # pytest-cov's option, parsed early
        early_config.known_args_namespace.no_cov = True
    yield
