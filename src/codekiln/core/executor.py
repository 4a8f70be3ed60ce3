"""Executors map a stage function over many items. `LocalExecutor` uses threads or processes; a Ray
executor can be added with the same `map` contract without touching stage code.

    ex = make_executor(workers=4)
    for outcome in ex.map(validate, candidates, desc="validating"):
        save(outcome)     # results arrive as they finish; save each one at once

Failures are data: an exception in `fn` becomes `Outcome.error` (a record dict), never a crash.
"""

from __future__ import annotations

import concurrent.futures as cf
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal, TypeVar

from codekiln.core.errors import CodekilnError
from codekiln.core.protocols import Executor, Outcome

T = TypeVar("T")
U = TypeVar("U")


def _error_record(err: BaseException) -> dict[str, Any]:
    if isinstance(err, CodekilnError):
        return err.to_record()
    return {
        "type": type(err).__name__,
        "message": str(err),
        "hint": None,
        "infra": True,
        "traceback": traceback.format_exception_only(type(err), err)[-1].strip(),
    }


def _call(fn: Callable[[T], U], item: T) -> tuple[U | None, dict[str, Any] | None, float]:
    start = time.monotonic()
    try:
        return fn(item), None, time.monotonic() - start
    except Exception as err:  # one bad item must not kill the batch
        return None, _error_record(err), time.monotonic() - start


class LocalExecutor(Executor):
    """Threads (default: stage work is mostly waiting on subprocesses) or processes, or inline at 1 worker."""

    def __init__(self, workers: int = 1, kind: Literal["thread", "process"] = "thread") -> None:
        self.workers = max(1, workers)
        self.kind = kind

    def map(self, fn: Callable[[T], U], items: Iterable[T], *, desc: str = "") -> Iterator[Outcome[T, U]]:
        if self.workers == 1:
            for item in items:
                value, error, dur = _call(fn, item)
                yield Outcome(item, value, error, dur)
            return
        pool_cls = cf.ThreadPoolExecutor if self.kind == "thread" else cf.ProcessPoolExecutor
        with pool_cls(max_workers=self.workers) as pool:
            futures = {pool.submit(_call, fn, item): item for item in items}
            try:
                for fut in cf.as_completed(futures):
                    value, error, dur = fut.result()
                    yield Outcome(futures[fut], value, error, dur)
            finally:
                for fut in futures:
                    fut.cancel()


EXECUTORS = {"local": LocalExecutor}


def make_executor(workers: int = 1, kind: str = "local", **options: Any) -> Executor:
    """Build an executor by short name. Only 'local' exists today."""
    if kind not in EXECUTORS:
        raise CodekilnError(f"unknown executor {kind!r}", hint=f"choose one of: {', '.join(EXECUTORS)}")
    return EXECUTORS[kind](workers=workers, **options)
