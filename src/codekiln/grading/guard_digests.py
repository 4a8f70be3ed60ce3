"""The grader's digests of the guard's trusted test files, taken on the host before the test process
starts (`grading.guard` hands them to the guard plugin in its settings).

Python's start-up and pytest's imports run before the guard plugin and its hooks exist; a module they
probe from the tree (`org`, `msvcrt`: `grading.guard_main` holds the tree off until the plugin, and
`grading.pathrules` puts such a new module back) could otherwise rewrite the hidden tests on disk
before the guard reads the sources it compiles them from. The plugin compares the bytes it reads with
these digests (`guard_plugin_report.changed_since`): a difference is a finding, the run `tampered`.
"""

from __future__ import annotations

from collections.abc import Iterable

from codekiln.core.errors import CodekilnError
from codekiln.core.protocols import Sandbox
from codekiln.grading.guard_files import _raise_if_closed


def trusted_digests(sandbox: Sandbox, paths: Iterable[str]) -> dict[str, str]:
    """The sha256 (hex) of each of the guard's trusted test files (repo-relative `paths`) as the grader
    left them, by their path in the sandbox, taken on the host before the test process starts: the guard
    plugin compares what it reads with them (`guard_plugin_report.changed_since`), so a file changed
    in between (code the process's start-up ran before the plugin) makes the run `tampered`. A file
    that cannot be read is left out (the guard cannot read it either)."""
    digests: dict[str, str] = {}
    for rel in paths:
        try:
            digests[f"{sandbox.workdir}/{rel}"] = sandbox.file_digest(rel, follow=False)
        except (OSError, ValueError, CodekilnError) as err:
            _raise_if_closed(sandbox, err)
    return digests
