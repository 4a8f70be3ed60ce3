"""Test-wide settings: one CODEKILN_HOME for the whole run (kept in .codekiln/test-home so a second
`make test` reuses snapshots and environments), and tiers by marker, each skipped with its reason
printed when it cannot run here (see `codekiln.testing.tiers`):

- `root` (and `podman`): skipped unless running as root. As root (CI, `make test`) they always run,
  so a broken bwrap fails them there.
- `network`: skipped when the package index cannot be reached (tests using `NETWORK_FIXTURES` get it
  here).
- `slow`: opt in with --run-slow.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codekiln.testing.tiers import ROOT_MARKERS, network_problem, root_problem

ROOT = Path(__file__).resolve().parent.parent
TEST_HOME = Path(os.environ.get("CODEKILN_TEST_HOME", ROOT / ".codekiln" / "test-home"))
os.environ["CODEKILN_HOME"] = str(TEST_HOME)
TEST_HOME.mkdir(parents=True, exist_ok=True)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="also run tests marked slow")


# Fixtures that download from the package index: every test that uses one (directly or through another
# fixture) is marked `network` here, so a new test cannot forget it.
NETWORK_FIXTURES = {"toolz_src", "toolz_snapshot"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if NETWORK_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.network)
    # Each probe runs once, and only when a collected test carries its marker.
    tiers = {
        "slow": lambda: None if config.getoption("--run-slow") else "opt in with --run-slow (make test-slow)",
        "root": root_problem,
        "network": network_problem,
    }
    reasons: dict[str, str | None] = {}
    for item in items:
        for tier, problem in tiers.items():
            names = ROOT_MARKERS if tier == "root" else (tier,)
            if not any(item.get_closest_marker(name) for name in names):
                continue
            if tier not in reasons:
                reasons[tier] = problem()
            if reasons[tier]:
                item.add_marker(pytest.mark.skip(reason=f"{tier} tier: {reasons[tier]}"))
                break


# -- one real Ray cluster for every test that runs work on Ray --------------------------------------
RAY_FIXTURE = "ray_cluster_starting"
_ray_clusters: list[Any] = []


@pytest.fixture(scope="session")
def ray_cluster_starting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A head and a second node (one CPU each) of a real local Ray cluster (`LocalRayCluster`), started
    in the background when a module first asks, so its local reference runs go on meanwhile; its
    tests wait with `.ready()`. Shared by the Ray tests of synth, rollout and mine, and torn down by
    pid right after the last test that uses it (see `pytest_runtest_teardown`), never `ray stop`."""
    pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'codekiln[ray]')")
    from codekiln.testing.ray_cluster import LocalRayCluster

    cluster = LocalRayCluster(tmp_path_factory.mktemp("ray")).start_in_background()
    _ray_clusters.append(cluster)
    try:
        yield cluster
    finally:
        _stop_ray()


def _stop_ray() -> None:
    import ray

    ray.shutdown()
    while _ray_clusters:
        _ray_clusters.pop().stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    yield
    if not _ray_clusters:
        return
    items = item.session.items
    later = items[items.index(item) + 1 :] if item in items else []
    if not any(RAY_FIXTURE in getattr(other, "fixturenames", ()) for other in later):
        _stop_ray()  # no test left needs the cluster: free its processes for the rest of the run
