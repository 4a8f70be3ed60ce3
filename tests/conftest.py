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
from pathlib import Path

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
