"""The warm test runner: a script that runs *inside* a sandbox, with the environment's Python, to run
many small test jobs from one pytest session instead of one pytest process per run.

It imports nothing from codekiln (only the standard library, pytest and its siblings `codekiln_swap.py`,
which swaps code into live functions, and `pytest_patches.py`, the pytest internals it replaces), so its source can be copied into any environment. The host side is `codekiln.tasks.validation.testexec`.

    python warm_runner.py serve SPOOL -- [pytest options]

The runner collects the test files listed in SPOOL/collect.json once, then serves batches of jobs
until SPOOL/stop appears (or none came for IDLE_LIMIT_S): the host writes batch N as SPOOL/N.json and
publishes it with SPOOL/N.ready; the runner appends a result line per job to SPOOL/N.jsonl and
writes SPOOL/N.done. One session thus serves a whole synthesis run, not one batch. Each job runs in
forked children of that warm session. A job names test ids and, optionally, new contents for source files (an injected bug). The
new files are written to disk (so anything imported later sees them) and, in the child, the changed
functions of already imported modules get their new code (`function.__code__`), so every reference to
them (`from x import f`, decorators, bound methods) runs the new code without re-importing. When a
change cannot be applied that way (a class body, a module-level statement, a default argument, a
function added or removed) or the job says the changed code runs at import time (`reimport`), the
child instead forgets every module of the repository and collects the tests again, importing them
afresh from disk, into the same session (`Session.perform_collect`), or in a whole new pytest session
in the child when the repository has conftest.py files (their fixtures and imports would stay the old
session's); the job's result names why (`reimported`). A job's repeats run in its one child, one after the other, each with a fresh `random`
seed, fresh fixtures and doctests' namespaces given back (a rerun costs the tests' own time, not a fork
or a re-import); they share the child's hash seed and other process state, so a job that must see
another process runs in fresh processes instead (`testexec.Job.fresh`); a child whose
run passes the job's timeout is killed with its whole process group. Failure texts are the last frames
of the native traceback; the terminal reporter's per-test output, which goes to /dev/null in children,
is not formatted at all. Byte-code is not written while jobs run, and a job's files lose the byte-code
the session's collection wrote for them (a bug and the original can have the same size and mtime
second, and Python would then load the original's byte-code for the bug); test
modules' assertion-rewritten code is kept in memory by content, so re-collections skip reading it.
At start-up a test module whose bytes the environment's coverage run rewrote is not rewritten again:
the host hands that code in (SPOOL/given-*.marshal, `pytest_patches.GIVEN`).
"""

from __future__ import annotations

import gc
import json
import os
import random
import select
import signal
import sys
import time
import types
from typing import Any

# siblings in the sandbox: sys.path[0] is this script's folder
import pytest_patches
from codekiln_reports import Recorder, as_requested, blank, selectable, to_rerun
from codekiln_swap import Swapper
from pytest_patches import PYTEST_PATCHES, REWRITTEN, cache_rewritten_tests, patch_internal, quiet_terminal  # noqa: F401 (PYTEST_PATCHES re-exported)

ROOT = os.getcwd()


def _read(path: str) -> str | None:
    """A file's text as patches hold it (surrogateescape: a latin-1 file's bytes), None when absent."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def _put(path: str, text: str | None) -> None:
    """Write `text` to `path` (its folders made), or remove the file when `text` is None. Any byte-code
    cached for `path` goes first: it is keyed on the size and mtime second only, which a bug written in
    the second the original was can match (and a hash-based .pyc may not be checked at all)."""
    _drop_bytecode(path)
    if text is None:
        if os.path.exists(path):
            os.remove(path)
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", errors="surrogateescape") as fh:
        fh.write(text)


def _drop_bytecode(path: str) -> None:
    """Remove the .pyc files cached for the source file `path` (any interpreter or optimization level,
    pytest's assertion-rewritten ones too), where `sys.pycache_prefix` or the file's `__pycache__` puts them."""
    if not path.endswith(".py"):
        return
    folder, name = os.path.split(os.path.abspath(path))
    stem = name[:-3] + "."
    caches = [os.path.join(folder, "__pycache__")]
    if sys.pycache_prefix:
        caches.append(os.path.join(sys.pycache_prefix, folder.lstrip(os.sep)))
    for cache in caches:
        try:
            names = os.listdir(cache)
        except OSError:
            continue
        for entry in names:
            if entry.startswith(stem) and entry.endswith(".pyc"):
                try:
                    os.remove(os.path.join(cache, entry))
                except OSError:
                    pass


def _native_tail(item: Any, call: Any, excinfo: Any) -> str:
    """A failure's text: the last frames of its native traceback (what `--tb=native` shows, without
    formatting every frame of a deep recursion). Only the first MAX_TEXTS failures of a job's first
    run get one (problem statements quote a few); reruns only need statuses."""
    global _TEXTS_LEFT
    if _TEXTS_LEFT <= 0:
        return ""
    _TEXTS_LEFT -= 1
    return pytest_patches.failure_text(excinfo.value, excinfo.tb, MAX_FRAMES)


MAX_FRAMES = 12
MAX_TEXTS = 10
_TEXTS_LEFT = MAX_TEXTS
IDLE_LIMIT_S = 900.0
IDLE_POLL_MAX_S = 0.025  # between looks for the next batch (every 4 ms cost ~8 ms CPU per idle second)


def doctest_namespaces(items: list[Any]) -> dict[int, dict[str, Any]]:
    """A copy of each doctest item's namespace, to give it back before every rerun: `doctest` clears
    a test's globals when it ends (`DocTestRunner.run(clear_globs=True)`) and pytest only adds its
    fixtures to them in `setup`, so a doctest run twice in one process would see none of its module's
    names and fail with NameError (a fresh process collects the doctest, and its globals, anew)."""
    out = {}
    for item in items:
        globs = getattr(getattr(item, "dtest", None), "globs", None)
        if isinstance(globs, dict):
            out[id(item)] = dict(globs)
    return out


# -- serving jobs ---------------------------------------------------------------------------------------
class Server:
    """Runs batches of jobs from the collected session until told to stop (see the module docstring)."""

    def __init__(self, spool: str, options: list[str]) -> None:
        self.spool, self.options = spool, options
        self.recorder = Recorder()
        self.child_cpu_s = 0.0  # the last job's forked child, from its resource usage

    def pytest_runtestloop(self, session: Any) -> bool:
        self.session = session
        self.items = {item.nodeid: item for item in session.items}
        self.items.update(
            {blank(i): item for i, item in self.items.items() if blank(i) != i}
        )  # by address too
        for item in session.items:  # computed once here, not in every child
            getattr(item, "location", None)
        self.swapper = Swapper()
        # the files of the modules this session imported (jobs import nothing here: children do)
        self.live_files = {getattr(m, "__file__", None) for m in list(sys.modules.values())}
        self.conftests = any(
            isinstance(f, str) and f.startswith(ROOT + os.sep) and os.path.basename(f) == "conftest.py"
            for f in self.live_files
        )
        try:
            from _pytest import reports

            if hasattr(reports, "_format_failed_longrepr"):  # pytest >= 8: failure texts made cheaply
                patch_internal(reports, "_format_failed_longrepr", _native_tail)
        except ImportError:
            pass
        sys.dont_write_bytecode = True
        # the test code rewritten at start-up, for the guarded runs (`pytest_patches.export`)
        pytest_patches.export(session.config, self.spool)
        quiet_terminal(session.config)
        gc.collect()
        gc.freeze()  # children then leave the session's objects alone: fewer copy-on-write page faults
        n = 0
        while self.wait_for(n):
            with open(os.path.join(self.spool, f"{n}.json")) as fh:
                batch = json.load(fh)
            signal.alarm(max(1, int(batch["limit_s"])))  # a watchdog: SIGALRM ends a runner that hangs
            with open(os.path.join(self.spool, f"{n}.jsonl"), "a") as out:
                for job in batch["jobs"]:
                    out.write(json.dumps(self.run_job(job)) + "\n")
                    out.flush()
            signal.alarm(0)
            open(os.path.join(self.spool, f"{n}.done"), "w").close()
            n += 1
        return True

    def wait_for(self, n: int) -> bool:
        """Wait until batch `n` is published (True) or the host says stop, or nothing came for
        IDLE_LIMIT_S seconds (False)."""
        ready, stop = os.path.join(self.spool, f"{n}.ready"), os.path.join(self.spool, "stop")
        start, pause = time.monotonic(), 0.0005
        while not os.path.exists(ready):
            if os.path.exists(stop) or time.monotonic() - start > IDLE_LIMIT_S:
                return False
            time.sleep(pause)
            pause = min(pause * 2, IDLE_POLL_MAX_S)
        return True

    def run_job(self, job: dict[str, Any]) -> dict[str, Any]:
        start, cpu = time.monotonic(), time.process_time()
        originals: dict[str, str | None] = {}
        result: dict[str, Any] = {"id": job["id"], "runs": []}
        try:
            swaps: list[tuple[types.FunctionType, types.CodeType]] = []
            for rel, text in job.get("files", {}).items():
                path = os.path.join(ROOT, rel)
                originals[path] = _read(path)
                if text is None or originals[path] is None:  # a file removed or created: no swap
                    result.setdefault(
                        "reimported", f"the bug {'removes' if text is None else 'creates'} {rel}"
                    )
                    _put(path, text)
                    continue
                _put(path, text)
                if not job.get("reimport") and path in self.live_files:
                    plan = self.swapper.plan(path, originals[path], text, job.get("chunks", {}).get(rel))
                    if isinstance(plan, str):
                        result["reimported"] = plan
                    else:
                        swaps += plan
            if job.get("reimport") and "reimported" not in result:
                result["reimported"] = "the changed code runs at import time"
            reimport = "reimported" in result
            repeat = int(job.get("repeat", 1))
            rerun_failing = bool(job.get("rerun_failing"))
            timeout = float(job.get("timeout", 60))
            result["runs"] = self.fork_runs(
                swaps, list(job["tests"]), timeout, reimport, repeat, rerun_failing
            )
            return result
        finally:
            for path, original in originals.items():
                _put(path, original)
            result["duration_s"] = time.monotonic() - start
            result["cpu_s"] = time.process_time() - cpu + self.child_cpu_s

    def forget_repository(self, conftests: bool) -> None:
        """In a child: drop the repository's modules from `sys.modules` (its conftest.py files too when
        `conftests`), so that the next import of each runs its code afresh from disk."""
        for name, module in list(sys.modules.items()):
            path = str(getattr(module, "__file__", None) or "")
            if path.startswith(ROOT + os.sep) and (conftests or os.path.basename(path) != "conftest.py"):
                del sys.modules[name]

    def recollect(self, tests: list[str]) -> list[Any] | None:
        """In a child: forget the repository's modules (conftest plugins stay) and collect the files of
        `tests` again in the warm session, which imports everything afresh from disk. Tests that cannot be collected
        (the code fails to import) are left out; None if the session could not collect at all."""
        self.forget_repository(conftests=False)
        import pytest

        try:
            found = self.session.perform_collect(sorted({t.split("::", 1)[0] for t in tests}))
        except pytest.UsageError:  # "found no collectors": nothing importable, every test fails
            found = []
        except Exception:
            return None
        by_id = {item.nodeid: item for item in found}
        by_id.update({blank(i): item for i, item in by_id.items()})  # a case named by an address
        return [by_id.get(t) or by_id[blank(t)] for t in tests if t in by_id or blank(t) in by_id]

    def fresh_session(self, tests: list[str]) -> None:
        """In a child: a whole new pytest session for `tests` (a re-import in a repository with conftest
        files, or when `recollect` could not collect)."""
        import pytest

        pytest.main([*self.options, *dict.fromkeys(selectable(t) for t in tests)], plugins=[self.recorder])

    def child(self, swaps: list[tuple[types.FunctionType, types.CodeType]], tests: list[str], reimport: bool,
              repeat: int, rerun_failing: bool, out: Any) -> None:  # fmt: skip
        """In the forked child: apply the bug, then run `tests` `repeat` times, a JSON line per run."""
        keys = [t if t in self.items else blank(t) for t in tests]  # a case named by an address: blanked
        run_items: list[Any] | None = [self.items[k] for k in keys if k in self.items]
        if reimport and self.conftests:
            # A conftest's fixtures and what it imported belong to the session that loaded it (pytest
            # >= 9.2 gives its fixtures to the first Directory node only; `from click.testing import
            # CliRunner` keeps the old module's class): a whole new session loads them afresh.
            self.forget_repository(conftests=True)
            run_items = None
        elif reimport:
            run_items = self.recollect(tests)
        else:
            for func, new in swaps:
                func.__code__ = new
        global _TEXTS_LEFT
        namespaces = doctest_namespaces(run_items or [])
        for n in range(repeat):
            random.seed()
            _TEXTS_LEFT = MAX_TEXTS if n == 0 else 0
            self.recorder.reports.clear()
            if run_items is None:
                self.fresh_session(tests)
            for i, item in enumerate(run_items or []):
                pytest_patches.renew_request(item, n > 0)  # the previous run's fixtures are gone
                if n and id(item) in namespaces:
                    item.dtest.globs.clear()
                    item.dtest.globs.update(namespaces[id(item)])
                nxt = run_items[i + 1] if run_items and i + 1 < len(run_items) else None
                item.ihook.pytest_runtest_protocol(item=item, nextitem=nxt)
            statuses, messages = as_requested(*self.recorder.results(), tests)
            run: dict[str, Any] = {"statuses": statuses, "messages": messages if n == 0 else {}}
            run["missing"] = [t for t in tests if t not in statuses]
            out.write(json.dumps(run).encode() + b"\n")
            out.flush()
            if rerun_failing:  # reruns are about the tests that failed
                tests = to_rerun(tests, statuses)  # with the rest of a plugin file's items
                left = {blank(t) for t in tests}
                run_items = None if run_items is None else [x for x in run_items if blank(x.nodeid) in left]
                if not tests:
                    break
        out.write(b'{"done": true}\n')
        out.flush()

    def fork_runs(self, swaps: list[tuple[types.FunctionType, types.CodeType]], tests: list[str], timeout: float,
                  reimport: bool, repeat: int, rerun_failing: bool) -> list[dict[str, Any]]:  # fmt: skip
        """Runs of one job in one forked child (see `child`); each run may take `timeout` seconds."""
        self.child_cpu_s = 0.0
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 0
            try:
                os.close(rfd)
                os.setpgid(0, 0)
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                gc.disable()
                with os.fdopen(wfd, "wb") as out:
                    self.child(swaps, tests, reimport, repeat, rerun_failing, out)
            except BaseException:
                code = 3
            os._exit(code)
        os.close(wfd)
        runs: list[dict[str, Any]] = []
        buf, done, timed_out = b"", False, False
        last = time.monotonic()
        while not done:
            left = last + timeout - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([rfd], [], [], left)
            if not ready:
                continue
            chunk = os.read(rfd, 1 << 16)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf and not done:
                line, buf = buf.split(b"\n", 1)
                data = json.loads(line)
                done = bool(data.get("done"))
                if not done:
                    now = time.monotonic()
                    runs.append({**data, "duration_s": now - last})
                    last = now
        os.close(rfd)
        if timed_out:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _, wstatus, usage = os.wait4(pid, 0)
        self.child_cpu_s = usage.ru_utime + usage.ru_stime
        if not done:
            run: dict[str, Any] = {"statuses": {}, "messages": {}, "missing": []}
            run["duration_s"] = time.monotonic() - last
            if timed_out:
                run["timed_out"] = True
            else:
                run["crashed"] = f"the test process died (wait status {wstatus})"
            runs.append(run)
        return runs


def main(argv: list[str]) -> int:
    sys.path[0] = ROOT  # what `python -m pytest` puts first: the working directory
    spool, pytest_args = argv[1], argv[argv.index("--") + 1 :]
    import pytest

    pytest_patches.load_given(spool)  # the coverage run's rewritten test code, if the host has it
    cache_rewritten_tests()
    with open(os.path.join(spool, "collect.json")) as fh:
        collect = json.load(fh)
    server = Server(spool, pytest_args)
    code = pytest.main([*pytest_args, *collect], plugins=[server, server.recorder])
    return 0 if code in (0, 1) else int(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
