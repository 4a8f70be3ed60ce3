"""The report in a real browser: Playwright driving Debian's headless Chromium (`/usr/bin/chromium`,
installed by scripts/setup.sh; no browser download) opens a report made from real rollouts, filters,
opens trajectories, steps through one, checks what is shown, and finds no console errors. It prints the
first-render time (not asserted) and saves a screenshot. Skipped, with the reason, without Chromium or
the playwright package."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codekiln.reports.html import build_report

pytestmark = pytest.mark.root  # reports on real rollouts: environments and grading in bwrap sandboxes

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="pip install playwright (scripts/setup.sh does)"
    )
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed: apt-get install chromium (scripts/setup.sh does)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def test_viewer_in_headless_chromium(
    browser: Any, tasks_dir: Path, rollout_dirs: dict[str, Path], tmp_path: Path
) -> None:
    report = tmp_path / "report.html"
    build_report([tasks_dir, *rollout_dirs.values()], report)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "request",
        lambda r: None if r.url.startswith(("file:", "data:")) else problems.append(f"request {r.url}"),
    )
    page.goto(report.as_uri())
    page.wait_for_selector("body[data-ready]")
    ready_ms = page.evaluate("window.__codekilnReady")
    print(
        f"\nfirst render: {ready_ms:.0f} ms after navigation start ({len(page.locator('[data-testid=rollout-row]').all())} rollouts)"
    )

    assert page.locator("svg[data-testid=chart-funnel] rect").count() == 4
    assert page.locator("svg[data-testid=chart-rate-scaffold]").is_visible()
    rows = page.locator("[data-testid=rollout-row]")
    assert rows.count() == 15 and "15 of 15" in page.get_by_test_id("row-count").inner_text()

    page.get_by_test_id("filter-resolved").click()
    assert rows.count() == 6 and {r.get_attribute("data-status") for r in rows.all()} == {"resolved"}
    page.get_by_test_id("filter-error").click()
    assert rows.count() >= 1 and {r.get_attribute("data-status") for r in rows.all()} == {"error"}
    rows.first.click()
    assert page.get_by_test_id("error-class").inner_text() == "collection_error"
    assert "+raise ImportError(1)" in page.get_by_test_id("diff-agent").inner_text()

    # The scripted trajectory: a format error, then a call with a long output, then submit.
    page.get_by_test_id("filter-failed").click()
    page.locator("[data-testid=rollout-row]", has_text="hermes").first.click()
    counter, view = page.get_by_test_id("step-counter"), page.get_by_test_id("step-view")
    assert counter.inner_text() == "step 1 / 3"
    assert "format error" in page.get_by_test_id("format-error").inner_text()
    assert "format-error" in (view.get_attribute("class") or "")
    assert page.get_by_test_id("step-prev").is_disabled()
    page.get_by_test_id("step-next").click()
    assert counter.inner_text() == "step 2 / 3" and page.get_by_test_id("format-error").count() == 0
    assert "seq 1 300" in page.get_by_test_id("tool-call").inner_text()
    fold = page.get_by_test_id("folded")
    assert fold.count() == 1 and fold.get_attribute("open") is None  # long output starts folded
    text = page.get_by_test_id("observation-text")
    assert not text.is_visible()
    fold.locator("summary").click()
    assert text.is_visible() and "<script>alert(1)</script>" in text.inner_text()
    assert page.locator("#detail script").count() == 0  # shown as text, never as markup
    page.keyboard.press("ArrowRight")
    assert counter.inner_text() == "step 3 / 3" and page.get_by_test_id("step-next").is_disabled()
    assert "submit" in page.get_by_test_id("tool-call").inner_text()
    page.get_by_test_id("step-prev").click()
    page.keyboard.press("k")
    assert counter.inner_text() == "step 1 / 3"
    assert page.get_by_test_id("diff-agent").inner_text().strip() == "(empty patch)"
    assert page.get_by_test_id("diff-gold").inner_text().startswith("diff --git")
    failing = page.get_by_test_id("test-results").locator("tr[data-status]", has_text="FAIL_TO_PASS")
    assert failing.count() >= 1 and "passed" not in {r.get_attribute("data-status") for r in failing.all()}
    assert page.get_by_test_id("reward").inner_text() == "0"

    # An oracle trajectory: resolved, reward 1, its diff equals the gold patch, every graded test passed.
    page.get_by_test_id("filter-resolved").click()
    rows.first.click()
    assert page.get_by_test_id("verdict-status").inner_text() == "resolved"
    assert page.get_by_test_id("reward").inner_text() == "1"
    assert page.get_by_test_id("diff-agent").inner_text() == page.get_by_test_id("diff-gold").inner_text()
    results = page.get_by_test_id("test-results").locator("tr[data-status]")
    assert results.count() >= 1 and {r.get_attribute("data-status") for r in results.all()} == {"passed"}

    shot = tmp_path / "viewer.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 10_000
    assert problems == []
    page.close()
