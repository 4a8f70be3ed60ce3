"""Coverage of the Python processes a test starts: `cover_runner.py` copies this file as
`sitecustomize.py` into a folder of its own, puts that folder first on PYTHONPATH for the processes the
tests start, and names the running test in CODEKILN_COVER_TEST. Python imports `sitecustomize` at
start-up (`site`), so a child Python process started during a test (`python -m pkg`, a console script
of the environment, a child of a child) measures the repository's lines under that test's id, as
coverage.py's own `COVERAGE_PROCESS_START` hook does, and writes its data beside the parent's (one file
a process: CODEKILN_COVER_CHILDREN/child.sqlite.HOST.PID.RANDOM), which the host side merges into the
map (`codekiln.tasks.validation.coverage_map`).

It then takes its folder off sys.path again and imports the `sitecustomize` it shadowed, if any, so the
process sees its usual path and start-up. Nothing here may fail a process: a Python without coverage.py
(another interpreter a test starts) runs unmeasured. coverage.py's warnings are off (a test may read
its child's stderr). A process that ends by `os._exit` or a signal saves nothing (as with coverage.py).
"""

from __future__ import annotations

import atexit
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
WARNINGS = [  # coverage.py's warning slugs: none may reach the child's stderr
    "already-imported",
    "couldnt-parse",
    "dynamic-conflict",
    "include-ignored",
    "module-not-imported",
    "module-not-measured",
    "module-not-python",
    "no-ctracer",
    "no-data-collected",
    "no-sysmon",
    "trace-changed",
]


def _start() -> None:
    test, folder = os.environ.get("CODEKILN_COVER_TEST"), os.environ.get("CODEKILN_COVER_CHILDREN")
    root = os.environ.get("CODEKILN_COVER_ROOT")
    if not (test and folder and root):
        return  # started outside a test (collection, a fixture of the session): no test to credit
    try:
        import coverage
    except ImportError:
        lent = os.environ.get("CODEKILN_COVER_LENT")
        if not lent:
            return
        sys.path.append(lent)
        try:
            import coverage
        except ImportError:
            return
    cov = coverage.Coverage(
        data_file=os.path.join(folder, "child.sqlite"),
        data_suffix=True,
        include=[root + os.sep + "*"],
        config_file=False,
        context=test,
    )
    cov.set_option("run:disable_warnings", WARNINGS)
    cov.start()

    def save() -> None:
        cov.stop()
        cov.save()

    atexit.register(save)


def _shadowed() -> None:
    """Import the `sitecustomize` this file stands in front of, from the rest of sys.path."""
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE]
    me = sys.modules.pop("sitecustomize", None)
    try:
        import sitecustomize  # noqa: F401
    except ImportError as err:
        if err.name != "sitecustomize":
            raise
        if me is not None:
            sys.modules["sitecustomize"] = me


if __name__ == "sitecustomize":  # only as the copy Python's start-up imports, never imported by its own name
    try:
        _start()
    except Exception:  # measuring must not fail the process (see the module docstring)
        pass
    _shadowed()
