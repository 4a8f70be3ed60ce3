"""Executors map a stage function over many items. `LocalExecutor` uses threads or processes;
`RayExecutor` (`core.ray_executor`, the `ray` extra) runs the same units on a Ray cluster.

    ex = make_executor(workers=4)                        # or make_executor(kind="ray", address="HOST:PORT")
    for outcome in ex.map(validate, candidates, desc="validating", resources=Resources(cpus=1)):
        save(outcome)     # results arrive as they finish; save each one at once, in the driver

Failures are data: an exception in `fn` becomes `Outcome.error` (a record dict), never a crash.

Units may run in other processes, so what a unit reuses across items (a sandbox, a warm test session)
is kept where it runs: `borrowed(key, make)` lends this process's idle object for `key`, making one
when none is idle; `release(key)` closes this process's objects for `key` (a Ray worker's are closed
when the worker exits).
"""

from __future__ import annotations

import atexit
import concurrent.futures as cf
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field

from codekiln.core import pyast  # noqa: F401  (its import makes `ast.parse` safe in these threads)
from codekiln.core.errors import CodekilnError
from codekiln.core.protocols import Executor, Outcome, Resources
from codekiln.core.registry import Registry

T = TypeVar("T")
U = TypeVar("U")
R = TypeVar("R")


def error_record(err: BaseException) -> dict[str, Any]:
    """An exception as the record an `Outcome.error` holds (infrastructure unless it is a codekiln error)."""
    if isinstance(err, CodekilnError):
        return err.to_record()
    return {
        "type": type(err).__name__,
        "message": str(err),
        "hint": None,
        "infra": True,
        "traceback": traceback.format_exception_only(type(err), err)[-1].strip(),
    }


def call_unit(fn: Callable[[T], U], item: T) -> tuple[U | None, dict[str, Any] | None, float]:
    """`fn(item)` as (value, error record, seconds): what every executor runs for one unit."""
    start = time.monotonic()
    try:
        return fn(item), None, time.monotonic() - start
    except Exception as err:  # one bad item must not kill the batch
        return None, error_record(err), time.monotonic() - start


class LocalExecutor(Executor):
    """Threads (default: stage work is mostly waiting on subprocesses) or processes, or inline at 1 worker.
    `workers` is the cap on units at once; `resources` are not checked against the machine."""

    def __init__(self, workers: int = 1, kind: Literal["thread", "process"] = "thread") -> None:
        self.workers = max(1, workers)
        self.kind = kind

    def map(
        self,
        fn: Callable[[T], U],
        items: Iterable[T],
        *,
        desc: str = "",
        resources: Resources | None = None,
    ) -> Iterator[Outcome[T, U]]:
        if self.workers == 1:
            for item in items:
                value, error, dur = call_unit(fn, item)
                yield Outcome(item, value, error, dur)
            return
        pool_cls = cf.ThreadPoolExecutor if self.kind == "thread" else cf.ProcessPoolExecutor
        with pool_cls(max_workers=self.workers) as pool:
            futures = {pool.submit(call_unit, fn, item): item for item in items}
            try:
                for fut in cf.as_completed(futures):
                    value, error, dur = fut.result()
                    yield Outcome(futures[fut], value, error, dur)
            finally:
                for fut in futures:
                    fut.cancel()


EXECUTORS = Registry(
    "executor",
    {"local": "codekiln.core.executor:LocalExecutor", "ray": "codekiln.core.ray_executor:RayExecutor"},
)


def make_executor(workers: int = 1, kind: str = "local", **options: Any) -> Executor:
    """Build an executor by short name ('local' or 'ray'; options go to its constructor, e.g. the
    Ray cluster's `address`)."""
    cls = EXECUTORS.load(kind)
    executor: Executor = cls(workers=workers, **options)
    return executor


class ExecutorConfig(BaseModel):
    """Where a stage's units run (never part of a stage's manifest: a run started on one executor
    resumes on another)."""

    kind: str = Field(default="local", description="local (this machine) or ray (a Ray cluster)")
    address: str | None = Field(
        default=None, description="the Ray cluster's HOST:PORT (None: start Ray on this machine)"
    )

    def make(self, workers: int) -> Executor:
        """The executor; `workers` caps the units at once (0: one per CPU core here, or as many as the
        Ray cluster's resources admit)."""
        if self.kind == "local":
            return make_executor(workers or os.cpu_count() or 1)
        if self.address is not None:
            return make_executor(workers, self.kind, address=self.address)
        return make_executor(workers, self.kind)


# -- state a unit reuses, kept in the process that runs it ------------------------------------------
_lock = threading.Lock()
_idle: dict[str, list[Any]] = {}
_made: dict[str, list[Any]] = {}
_lent: dict[int, Any] = {}
"""Objects a borrower holds (by id): `release` leaves them to their borrower, who closes them when done."""
_released: set[int] = set()
"""Ids of lent objects whose key was released while they were held: closed when given back."""


@contextmanager
def borrowed(key: str, make: Callable[[], R]) -> Iterator[R]:
    """An object for `key` that no other thread of this process holds: an idle one, or a new `make()`.
    It goes back to the idle ones afterwards (closed by `release(key)` or when the process exits)."""
    with _lock:
        idle = _idle.setdefault(key, [])
        obj = idle.pop() if idle else None
    if obj is None:
        obj = make()
        with _lock:
            _made.setdefault(key, []).append(obj)
    with _lock:
        _lent[id(obj)] = obj
    try:
        yield obj
    finally:
        with _lock:
            del _lent[id(obj)]
            closing = id(obj) in _released
            _released.discard(id(obj))
            if not closing:
                _idle.setdefault(key, []).append(obj)
        if closing:
            _close(obj)


def release(key: str) -> None:
    """Close (when they have `close`) and forget this process's objects for `key`. One a unit still
    holds is closed when the unit gives it back, never under it: a driver that stops as soon as it has
    enough (synth at `max_tasks`) releases while batches it no longer needs still run, and a grade
    whose sandbox was torn down mid-run read its results file as gone (`tampered` on an honest gold
    patch: jaraco.functools 4.6.0)."""
    with _lock:
        made = _made.pop(key, [])
        _idle.pop(key, None)
        held = [obj for obj in made if id(obj) in _lent]
        _released.update(id(obj) for obj in held)
    for obj in made:
        if not any(obj is h for h in held):
            _close(obj)


def _close(obj: Any) -> None:
    close = getattr(obj, "close", None)
    if callable(close):
        close()


@atexit.register
def _release_all() -> None:
    for key in list(_made):
        try:
            release(key)
        except Exception:  # the process is ending; an object that fails to close must not stop the others
            continue
