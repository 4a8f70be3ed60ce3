"""Executors without a cluster: the local executor's outcomes, what a unit's `Resources` ask of Ray,
the check that some node can hold a unit, the objects a process keeps for later units, and the
`--repos` list. The Ray executor on a real cluster is driven by tests/tasks/test_synth_ray.py."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from codekiln.core.errors import ConfigError
from codekiln.core.executor import ExecutorConfig, LocalExecutor, borrowed, make_executor, release
from codekiln.core.protocols import Executor, Resources
from codekiln.core.ray_executor import RayExecutor, check_fits, check_reachable, task_options
from codekiln.tasks.synth_repos import read_repo_list

GIB = 2**30


def test_local_outcomes_carry_values_errors_and_the_node() -> None:
    outcomes = {o.item: o for o in LocalExecutor(2).map(lambda x: 10 // x, [1, 0, 5])}
    assert outcomes[1].value == 10 and outcomes[5].value == 2
    assert outcomes[0].error is not None and outcomes[0].error["type"] == "ZeroDivisionError"
    assert outcomes[0].error["infra"] is True
    assert {o.node for o in outcomes.values()} == {"local"}


def test_executors_by_name() -> None:
    assert isinstance(make_executor(3), LocalExecutor)
    ray_executor = ExecutorConfig(kind="ray", address="127.0.0.1:1").make(0)
    assert isinstance(ray_executor, RayExecutor) and isinstance(ray_executor, Executor)
    assert ray_executor.address == "127.0.0.1:1"
    with pytest.raises(ConfigError, match="unknown executor 'dask'"):
        make_executor(1, "dask")


def test_a_units_resources_are_its_ray_task_options() -> None:
    assert task_options(Resources(cpus=2, memory_mb=512), 3) == {
        "num_cpus": 2, "memory": 512 * 2**20, "max_retries": 3, "retry_exceptions": False,
    }  # fmt: skip
    assert "memory" not in task_options(None, 0)


def test_a_unit_no_node_can_hold_is_refused_before_it_is_submitted() -> None:
    nodes = [
        {"Alive": True, "Resources": {"CPU": 2.0, "memory": 3 * GIB}},
        {"Alive": False, "Resources": {"CPU": 16.0, "memory": 64 * GIB}},  # dead: holds nothing
    ]
    check_fits(nodes, Resources(cpus=2, memory_mb=3 * 1024))
    with pytest.raises(ConfigError, match=r"needs 1 CPU and 4096 MB; the largest node has 2 CPU and 3072 MB"):
        check_fits(nodes, Resources(cpus=1, memory_mb=4096))
    with pytest.raises(ConfigError, match="needs 4 CPU"):
        check_fits(nodes, Resources(cpus=4))


class Slot:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_borrowed_objects_are_reused_one_holder_at_a_time_and_closed_on_release() -> None:
    key = "test-executor-slots"
    with borrowed(key, Slot) as first, borrowed(key, Slot) as second:
        assert first is not second  # held: a second borrower gets its own
    with borrowed(key, Slot) as again:
        assert again in (first, second)
    release(key)
    assert first.closed and second.closed
    with borrowed(key, Slot) as fresh:
        assert fresh not in (first, second)
    release(key)


def test_the_repository_list(tmp_path: Path) -> None:
    path = tmp_path / "repos.txt"
    path.write_text("# libraries\npypi:toolz==1.2.0\n\n  ./local/lib  # mine\n")
    assert read_repo_list(path) == ["pypi:toolz==1.2.0", "./local/lib"]
    path.write_text("# nothing\n")
    with pytest.raises(ConfigError, match="lists no repository"):
        read_repo_list(path)
    path.write_text("pypi:a==1\npypi:a==1\n")
    with pytest.raises(ConfigError, match="more than once"):
        read_repo_list(path)


def test_an_address_where_no_cluster_listens_fails_at_once_with_the_fix() -> None:
    with socket.socket() as s:  # a port nothing listens on: bound, never listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        with pytest.raises(ConfigError, match=f"no Ray cluster answers at 127.0.0.1:{port}") as err:
            check_reachable(f"127.0.0.1:{port}", timeout=2)
    assert "ray start --head" in (err.value.hint or "")


def test_an_object_a_unit_still_holds_is_closed_when_given_back_not_under_it() -> None:
    """A driver that stops once it has enough releases while units it no longer needs still run (synth
    at `max_tasks`): closing their sandbox under them made a grade read its results file as gone."""
    key = "test-executor-held"
    holding, done = threading.Event(), threading.Event()
    seen: list[bool] = []

    def unit() -> None:
        with borrowed(key, Slot) as slot:
            holding.set()
            done.wait(timeout=60)
            seen.append(slot.closed)  # what the unit sees while it still holds the object

    worker = threading.Thread(target=unit)
    worker.start()
    assert holding.wait(timeout=60)
    with borrowed(key, Slot) as idle_one:
        pass
    release(key)
    assert idle_one.closed  # idle: closed at once
    done.set()
    worker.join(timeout=60)
    assert seen == [False]
    with borrowed(key, Slot) as fresh:
        assert fresh is not idle_one and not fresh.closed  # the released ones are never lent again
    release(key)
    assert fresh.closed
