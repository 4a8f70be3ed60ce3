"""Test modules' assertion-rewritten code, kept between the guarded runs of one environment.

The guard plugin makes pytest rewrite every test module from the trusted source in each run (a
`__pycache__` left in the tree is never read: it could hold anything). Rewriting is most of a fresh
run's start-up (on toolz 1.2.0, 0.6 of the 1.15 CPU seconds a plain full-suite run takes), and the
same sources are rewritten again in every run of an environment. So a run on the clean snapshot, which
the host trusts (the engine's clean-side reruns: `testexec.fresh_runs`; before them, the warm session
of validation, which compiles the modules it rewrote once more with their tests wrapped as the guard
wraps them: `tasks.in_sandbox.pytest_patches.guard_entries`), exports the code it made; later runs of
the same environment are given it, and the plugin uses an entry only for a trusted source whose bytes
hash as the entry says, with the same `enable_assertion_pass_hook`, its tests wrapped for the same
`python_functions` patterns: exactly the code rewriting those bytes makes. A grade's canaries are appended to one test module, so its bytes are new each run:
there the entry's functions and classes are reused for the module's own part, the rest rewritten
(`guard_plugin_speedups.appended_code`). Runs that grade a patch never export; what they are given comes from the host, and
is read and deleted before any conftest or test module runs, like the guard's settings. The coverage
run, the environment's first run on the clean snapshot, exports it first (and the same code unwrapped,
`PLAIN`): validation's warm session takes both instead of rewriting and wrapping the modules again.
"""

from __future__ import annotations

import threading


class RewriteCache:
    """The latest export of rewritten test code per environment (venv) and workspace path."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            return self._blobs.get(key) if key else None

    def keep(self, key: str, blob: bytes) -> None:
        """Keep a trusted run's export (the plugin merges what it was given into it: a superset)."""
        if key and blob:
            with self._lock:
                self._blobs[key] = blob


REWRITES = RewriteCache()
"""One per process: every grader and validator of an environment shares it."""
PLAIN = RewriteCache()
"""The same code before the guard's wrapping, as pytest alone rewrites it, from the environment's
coverage run: validation's warm session starts from it (`tasks.in_sandbox.pytest_patches.GIVEN`)."""


def rewrite_key(venv: str, workdir: str) -> str:
    """Rewritten code depends on the interpreter and pytest (the venv) and on the paths (workdir)."""
    return f"{venv}\0{workdir}" if venv else ""
