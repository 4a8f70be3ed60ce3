"""Test-wide settings: one CODEKILN_HOME for the whole run (kept in .codekiln/test-home so a second
`make test` reuses snapshots and environments), and tiers by marker, each skipped with its reason
printed when it cannot run here (see `codekiln.testing.tiers`):

- `root` (and `podman`): skipped unless running as root. As root (CI, `make test`) they always run,
  so a broken bwrap fails them there.
- `network`: skipped when the package index cannot be reached (tests using `NETWORK_FIXTURES` get it
  here).
- `slow`: opt in with --run-slow; `@pytest.mark.slow(covered_by=...)` names, in the skip reason, the
  default tests that check what the slow one does.
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
RAY_FIXTURE = "ray_cluster_starting"  # the shared Ray cluster (below)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Modules with tests on the shared Ray cluster run last, each whole and in order: the cluster (two
    # nodes of Ray processes, ~800 MB) then lives only while they run, not idle through the rest.
    ray_files = {item.path for item in items if RAY_FIXTURE in getattr(item, "fixturenames", ())}
    items[:] = [i for i in items if i.path not in ray_files] + [i for i in items if i.path in ray_files]
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
                why = f"{tier} tier: {reasons[tier]}"
                mark = item.get_closest_marker(tier)
                if mark is not None and mark.kwargs.get("covered_by"):  # the default tests that cover it
                    why += f"; by default: {mark.kwargs['covered_by']}"
                item.add_marker(pytest.mark.skip(reason=why))
                break


# -- one real Ray cluster for every test that runs work on Ray --------------------------------------
@pytest.fixture(scope="session")
def ray_cluster_starting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A head and a second node (one CPU each) of a real local Ray cluster (`LocalRayCluster`), started
    in the background when a module first asks, so its local reference runs go on meanwhile; its
    tests wait with `.ready()`. Shared by the Ray tests of synth, rollout and mine (their modules run
    last, together: see `pytest_collection_modifyitems`), torn down by pid, never `ray stop`."""
    pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'codekiln[ray]')")
    from codekiln.testing.ray_cluster import LocalRayCluster

    cluster = LocalRayCluster(tmp_path_factory.mktemp("ray")).start_in_background()
    try:
        yield cluster
    finally:
        import ray

        ray.shutdown()
        cluster.stop()
