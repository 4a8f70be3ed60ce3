"""The coverage runner: a script that runs *inside* a sandbox, with the environment's Python, beside
`warm_runner.py` (whose `ROOT` it uses; `Recorder` is `codekiln_reports.py`'s). The host side is `codekiln.tasks.validation.coverage_map`.

    python cover_runner.py DATA.json [--lent DIR] [--only IDS.json] -- [pytest args of the full suite]

It runs the whole suite once (or, with --only, the tests of the suite whose ids IDS.json lists:
the others are deselected after collection), recording which lines of the repository each test executes (coverage.py
dynamic contexts when coverage is installed, or lent in DIR (appended to sys.path only when the
environment has none), `sys.settrace` otherwise), each test's status and
duration, and writes them as JSON (the coverage data itself beside it, in DATA.json.sqlite).

The tracer is switched off while pytest rewrites a test module's assertions (`untraced_rewrites`):
that runs only pytest's and the standard library's code, of which the tracer records nothing, and
under coverage.py's tracer it cost ~0.5 of the run's ~3 CPU seconds on toolz 1.2.0.

The test code pytest rewrote (assertions) is written beside DATA.json once the tracer has stopped
(`pytest_patches.export`: as pytest rewrote it, and the modules rewritten while collecting wrapped
for the guard): the host hands it to validation's warm session, which then need not rewrite it.

Under coverage.py, the Python processes a test starts are measured too, under the test's id
(`cover_child.py`, installed as their `sitecustomize`): a suite that runs its package only as
`python -m pkg` or a console script covers it there. Their data files are listed in the JSON
(`children`) for the host to merge. With `sys.settrace` they are not measured.

A project's own coverage (pytest-cov, from `--cov` in its addopts or turned on by pytest-enabler) is
switched off for this run (`no_project_coverage`): its tracer would stand in for this one's for the
whole session (coverage.py pauses the running collector while another is started), leaving the map
without a single line (zipp 4.1.2, aiohappyeyeballs 2.7.1), and every candidate then selects the
whole suite.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import sys
import time
from typing import Any

import pytest_patches
from codekiln_reports import Recorder, blank  # siblings in the sandbox: sys.path[0] is this script's folder
from pytest_patches import patch_internal
from warm_runner import ROOT


class Tracer:
    """Per-test line coverage of the repository's files through sys.settrace (when coverage is absent)."""

    def __init__(self) -> None:
        self.context = ""
        self.lines: dict[str, dict[int, set[str]]] = {}

    def global_trace(self, frame: Any, event: str, arg: Any) -> Any:
        if not frame.f_code.co_filename.startswith(ROOT + os.sep):
            return None
        return self.local_trace

    def local_trace(self, frame: Any, event: str, arg: Any) -> Any:
        if event == "line":
            self.lines.setdefault(frame.f_code.co_filename, {}).setdefault(frame.f_lineno, set()).add(
                self.context
            )
        return self.local_trace


class Coverer:
    """Switches the coverage context to each test's id while it runs; records statuses and durations."""

    def __init__(self, cov: Any, tracer: Tracer | None) -> None:
        self.cov, self.tracer = cov, tracer
        self.recorder = Recorder()
        self.durations: dict[str, float] = {}

    def start(self, nodeid: str) -> None:
        if self.cov is not None:
            self.cov.switch_context(nodeid)
            os.environ["CODEKILN_COVER_TEST"] = nodeid  # the processes the test starts (cover_child.py)
        if self.tracer is not None:
            self.tracer.context = nodeid

    def stop(self) -> None:
        if self.cov is not None:
            self.cov.switch_context("")
            os.environ.pop("CODEKILN_COVER_TEST", None)
        if self.tracer is not None:
            self.tracer.context = ""


def _protocol_wrapper(coverer: Coverer) -> Any:
    import pytest

    class Wrapper:
        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_protocol(self, item: Any, nextitem: Any) -> Any:
            start = time.monotonic()
            coverer.start(item.nodeid)
            yield
            coverer.stop()
            coverer.durations[item.nodeid] = time.monotonic() - start

    return Wrapper()


def _only(ids: set[str]) -> Any:
    """A plugin that deselects every collected test whose id is not in `ids` (last, after other
    plugins' changes to the collection)."""
    import pytest

    class Only:
        @pytest.hookimpl(trylast=True)
        def pytest_collection_modifyitems(self, config: Any, items: list[Any]) -> None:
            # a case whose id holds an object's address is named anew here: matched with it blanked
            wanted = ids | {blank(i) for i in ids}
            kept = [item for item in items if item.nodeid in ids or blank(item.nodeid) in wanted]
            if len(kept) < len(items):
                chosen = {id(item) for item in kept}
                config.hook.pytest_deselected(items=[item for item in items if id(item) not in chosen])
                items[:] = kept

    return Only()


class Rewrites:
    """Keeps the session's config; the trees of the modules rewritten while collecting are held
    pickled through the suite (`pytest_patches.pack_trees`) and later ones are not kept, as in the
    warm session, which exports at the end of its collection."""

    config: Any = None

    def pytest_configure(self, config: Any) -> None:
        self.config = config

    def pytest_collection_finish(self, session: Any) -> None:
        pytest_patches.pack_trees()

    def export(self, folder: str) -> None:
        """`pytest_patches.export` into `folder`, once the suite has run (the tests are over: no
        garbage collection while it compiles); nothing when it fails (the warm session rewrites)."""
        gc.disable()
        try:
            if self.config is not None:
                pytest_patches.export(self.config, folder)
        except Exception:
            for name in pytest_patches.EXPORTS:
                try:
                    os.remove(os.path.join(folder, name))
                except OSError:
                    pass


def untraced_rewrites() -> None:
    """Switch the running tracer off while pytest rewrites a test module's assertions (read the
    source, rewrite its tree, compile it: no code of the module runs there), and back on after:
    the same tracer, so its stack of the frames it saw called stays as it was. Left alone when
    pytest's own code is the repository's (testing pytest itself): the tracer records it there."""
    try:
        from _pytest.assertion import rewrite
    except ImportError:
        return
    inner = getattr(rewrite, "_rewrite_test", None)
    if inner is None or os.path.abspath(rewrite.__file__).startswith(ROOT + os.sep):
        return

    def untraced(*args: Any, **kwargs: Any) -> Any:
        tracer = sys.gettrace()
        sys.settrace(None)
        try:
            return inner(*args, **kwargs)
        finally:
            sys.settrace(tracer)

    patch_internal(rewrite, "_rewrite_test", untraced)


def no_project_coverage() -> Any:
    """A plugin that sets pytest-cov's `--no-cov` before pytest-cov reads it (see the module docstring):
    a project whose pytest-cov is not installed or not loaded is left as it is (no `--no-cov` argument,
    which pytest would then refuse)."""
    import pytest

    class NoProjectCoverage:
        @pytest.hookimpl(hookwrapper=True)
        def pytest_load_initial_conftests(self, early_config: Any, parser: Any, args: Any) -> Any:
            if hasattr(early_config.known_args_namespace, "no_cov"):
                early_config.known_args_namespace.no_cov = True
            yield

    return NoProjectCoverage()


def _import_coverage(lent: str | None) -> Any:
    """The environment's coverage.py, else the lent copy (last on sys.path: it shadows nothing)."""
    try:
        import coverage
    except ImportError:
        if not lent:
            raise
        sys.path.append(lent)
        import coverage
    return coverage


def follow_children(data_path: str, lent: str | None) -> str:
    """Make the Python processes that tests start measure themselves (see the module docstring): a
    folder holding `cover_child.py` as sitecustomize.py first on their PYTHONPATH, and the variables
    it reads. Returns the (emptied) folder their data files go to."""
    base = os.path.dirname(os.path.abspath(data_path))
    site, children = os.path.join(base, "cover-site"), os.path.join(base, "cover-children")
    for folder in (site, children):
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
    here = os.path.dirname(os.path.abspath(__file__))
    shutil.copyfile(os.path.join(here, "cover_child.py"), os.path.join(site, "sitecustomize.py"))
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (site, os.environ.get("PYTHONPATH")) if p)
    os.environ.update(CODEKILN_COVER_CHILDREN=children, CODEKILN_COVER_ROOT=ROOT)
    if lent:
        os.environ["CODEKILN_COVER_LENT"] = lent
    return children


def cover(data_path: str, args: list[str], lent: str | None = None, only: str | None = None) -> int:
    import pytest

    rewrites = Rewrites()
    plugins: list[Any] = [no_project_coverage(), rewrites]
    pytest_patches.cache_rewritten_tests()
    untraced_rewrites()
    if only:
        with open(only) as fh:
            plugins.append(_only(set(json.load(fh))))

    try:
        coverage = _import_coverage(lent)

        cov: Any = coverage.Coverage(
            data_file=data_path + ".sqlite", include=[ROOT + os.sep + "*"], config_file=False
        )
        tracer = None
    except ImportError:
        cov, tracer = None, Tracer()
    coverer = Coverer(cov, tracer)
    children = follow_children(data_path, lent) if cov is not None else None
    if cov is not None:
        cov.start()
    else:
        sys.settrace(tracer.global_trace)  # type: ignore[union-attr]
    try:
        code = pytest.main(args, plugins=[coverer.recorder, _protocol_wrapper(coverer), *plugins])
    finally:
        sys.settrace(None)
        if cov is not None:
            cov.stop()
            cov.save()
    rewrites.export(os.path.dirname(os.path.abspath(data_path)))  # the tracer stopped: half the cost
    statuses, _ = coverer.recorder.results()
    out: dict[str, Any] = {
        "exit_code": int(code),
        "statuses": statuses,
        "durations": coverer.durations,
        "engine": "coverage",
    }
    if children is not None:
        out["children"] = sorted(os.path.join(children, name) for name in os.listdir(children))
    if tracer is not None:
        out["engine"] = "settrace"
        out["lines"] = {f: {str(n): sorted(c) for n, c in lines.items()} for f, lines in tracer.lines.items()}
    with open(data_path, "w") as fh:
        json.dump(out, fh)
    return 0


def main(argv: list[str]) -> int:
    sys.path[0] = ROOT  # what `python -m pytest` puts first (the working directory), not this folder
    split = argv.index("--")
    own = argv[1:split]
    lent = own[own.index("--lent") + 1] if "--lent" in own else None
    only = own[own.index("--only") + 1] if "--only" in own else None
    return cover(argv[0], argv[split + 1 :], lent, only)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
