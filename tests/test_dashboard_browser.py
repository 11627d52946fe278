"""The dashboard end to end, in a real headless browser: load, step ten weeks, change the
strategy, reset. Skips (saying why) where there is no Chromium or Playwright."""

from __future__ import annotations

import pytest

pytest.importorskip("solara", reason="the dashboard extra is not installed")

from simulation.dashboard import browser  # noqa: E402

REASON = browser.why_no_browser()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"no browser test: {REASON}")


def image_sources(page) -> list[str]:
    return page.locator("img").evaluate_all("images => images.map(i => i.src)")


def test_load_step_ten_weeks_change_strategy_and_reset():
    from playwright.sync_api import sync_playwright

    with browser.serve("baseline") as server, sync_playwright() as p:
        chromium = browser.launch(p)
        try:
            page = chromium.new_page(viewport={"width": 1500, "height": 1150})
            failed = []
            page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
            page.goto(server.url, timeout=120_000)
            page.get_by_role("button", name="Step").wait_for(timeout=120_000)
            browser.wait_for_step(page, 0)
            weeks = page.locator(".cxsim-weeks")
            assert weeks.inner_text() == "Weeks 0–0 shown: 1 weekly values per plot."
            before = image_sources(page)

            for week in range(1, 11):
                page.get_by_role("button", name="Step").click()
                browser.wait_for_step(page, week)
            page.get_by_text("Weeks 0–10 shown: 11 weekly values per plot.").wait_for(
                timeout=30_000)
            after = image_sources(page)
            assert len(after) == len(before) >= 2  # the journey map and the live plots
            assert all(a != b for a, b in zip(after, before))  # every drawing was redrawn
            settings = page.locator(".cxsim-settings")
            assert settings.inner_text().startswith("This run: balanced strategy")

            page.get_by_role("button", name="balanced").click()  # the strategy menu
            page.get_by_role("option", name="proactive").click()
            page.get_by_role("button", name="Reset").click()
            browser.wait_for_step(page, 0)
            page.get_by_text("This run: proactive strategy").wait_for(timeout=30_000)
            assert weeks.inner_text() == "Weeks 0–0 shown: 1 weekly values per plot."
            assert failed == []  # every script and style came from the local server
        finally:
            chromium.close()
