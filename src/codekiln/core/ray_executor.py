"""`RayExecutor`: the `Executor` contract on a Ray cluster (the `ray` extra: `pip install 'codekiln[ray]'`).

    ex = RayExecutor(address="10.0.0.1:6379")     # None: start a Ray instance on this machine
    for outcome in ex.map(fn, items, desc="validating", resources=Resources(cpus=1, memory_mb=4096)):
        save(outcome)                               # in the driver, as each unit finishes

Each item is one Ray task. `resources` become the task's `num_cpus` and `memory`, so Ray never starts
more units on a node than its CPUs and memory hold; a unit no node can hold is a `ConfigError` before
anything is submitted (Ray itself would wait forever). `fn` is pickled once (cloudpickle: closures
travel by value) and shared by all tasks through the object store.

Faults: a task whose worker process or node dies is resubmitted by Ray (`max_retries` times), on any
node that can hold it; only a unit whose every try was lost comes back as an `Outcome.error`
(`infra: true`). Units compute, the driver writes: stages append each outcome to their resumable
output in the driver, so a retried unit is never written twice and a lost one never half-written.

Nodes see the driver's `CODEKILN_HOME` (passed in the job's runtime environment): environments and
snapshots are built and cached there, so on a real cluster it must be a directory every node mounts at
the same path. Worker processes must import the same codekiln as the driver.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from codekiln.core.errors import ConfigError
from codekiln.core.executor import call_unit, error_record
from codekiln.core.protocols import Executor, Outcome, Resources

T = TypeVar("T")
U = TypeVar("U")

INSTALL_HINT = "install the ray extra: pip install 'codekiln[ray]' (ray==2.60.0)"
FORWARDED_ENV = ("CODEKILN_HOME",)
"""Driver environment variables every worker gets (the job's runtime environment)."""


def _ray() -> Any:
    try:
        import ray
    except ImportError as err:
        raise ConfigError("the ray executor needs Ray, which is not installed", hint=INSTALL_HINT) from err
    return ray


CONNECT_HINT = (
    "start one with `ray start --head --port PORT` and pass --ray-address HOST:PORT, "
    "or leave --ray-address out to start Ray on this machine"
)


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Raise ConfigError unless something listens at HOST:PORT (Ray itself would retry for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return  # "auto", "ray://...": left to Ray
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as err:
        raise ConfigError(f"no Ray cluster answers at {address}: {err}", hint=CONNECT_HINT) from err


def connect(address: str | None = None, *, num_cpus: int | None = None) -> Any:
    """The `ray` module, connected to the cluster at `address` (or a new local instance when None).
    A process already connected stays on its cluster."""
    ray = _ray()
    if ray.is_initialized():
        return ray
    env_vars = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
    kwargs: dict[str, Any] = {
        "runtime_env": {"env_vars": env_vars},
        "logging_level": "ERROR",
        "log_to_driver": False,
    }
    if address is None:
        kwargs.update(include_dashboard=False, num_cpus=num_cpus)
    else:
        check_reachable(address)
    try:
        ray.init(address=address, **kwargs)
    except (ConnectionError, TimeoutError, RuntimeError) as err:
        raise ConfigError(
            f"cannot connect to the Ray cluster at {address}: {err}", hint=CONNECT_HINT
        ) from err
    return ray


def task_options(resources: Resources | None, max_retries: int) -> dict[str, Any]:
    """The Ray task options a unit's `Resources` stand for."""
    res = resources or Resources()
    options: dict[str, Any] = {"num_cpus": res.cpus, "max_retries": max_retries, "retry_exceptions": False}
    if res.memory_mb:
        options["memory"] = res.memory_mb * 2**20
    return options


def check_fits(nodes: list[dict[str, Any]], resources: Resources | None) -> None:
    """Raise ConfigError unless some alive node can hold one unit."""
    res = resources or Resources()
    need = {"CPU": res.cpus, "memory": (res.memory_mb or 0) * 2**20}
    alive = [n.get("Resources", {}) for n in nodes if n.get("Alive")]
    if any(all(held.get(k, 0.0) >= v for k, v in need.items()) for held in alive):
        return
    biggest: dict[str, float] = max(alive, key=lambda held: held.get("CPU", 0.0), default={})
    raise ConfigError(
        f"no node of the Ray cluster can hold one unit: it needs {res.cpus:g} CPU and "
        f"{res.memory_mb or 0} MB; the largest node has {biggest.get('CPU', 0):g} CPU and "
        f"{int(biggest.get('memory', 0)) >> 20} MB ({len(alive)} nodes alive)",
        hint="add a node with more `ray start --num-cpus N --memory BYTES`, or lower the unit's "
        "memory (the sandbox memory limit)",
    )


def _unit(fn: Callable[[Any], Any], item: Any) -> tuple[Any, dict[str, Any] | None, float, str]:
    import ray

    value, error, dur = call_unit(fn, item)
    return value, error, dur, ray.get_runtime_context().get_node_id()


class RayExecutor(Executor):
    """Runs each unit as a Ray task. `workers` caps the units in flight (0: as many as the cluster's
    resources admit); `address` is the cluster's (`HOST:PORT`, or None for a local Ray instance)."""

    def __init__(self, workers: int = 0, address: str | None = None, max_retries: int = 3) -> None:
        self.workers = max(0, workers)
        self.address = address
        self.max_retries = max_retries

    def map(
        self,
        fn: Callable[[T], U],
        items: Iterable[T],
        *,
        desc: str = "",
        resources: Resources | None = None,
    ) -> Iterator[Outcome[T, U]]:
        ray = connect(self.address, num_cpus=self.workers or None)
        check_fits(ray.nodes(), resources)
        remote = ray.remote(_unit).options(
            name=f"codekiln:{desc or 'unit'}", **task_options(resources, self.max_retries)
        )
        fn_ref = ray.put(fn)
        todo = iter(items)
        pending: dict[Any, T] = {}

        def submit() -> None:
            for item in todo:
                pending[remote.remote(fn_ref, item)] = item
                if self.workers and len(pending) >= self.workers:
                    return

        submit()
        try:
            while pending:
                (ref,), _ = ray.wait(list(pending), num_returns=1)
                item = pending.pop(ref)
                try:
                    value, error, dur, node = ray.get(ref)
                    yield Outcome(item, value, error, dur, node=node[:12])
                except ray.exceptions.RayError as err:  # every try of the unit was lost
                    yield Outcome(item, None, error_record(err), 0.0, node="lost")
                submit()
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
