"""Takes ``docs/dashboard.png``: the dashboard on the baseline after a year of play, with the
band panel run, in the system's headless Chromium.

    .venv/bin/python docs/make_dashboard_screenshot.py [--weeks 52] [--seeds 100]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from simulation.dashboard import browser

OUT = Path(__file__).resolve().parent / "dashboard.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--seeds", type=int, default=100)
    args = parser.parse_args()
    reason = browser.why_no_browser()
    if reason:
        raise SystemExit(f"make_dashboard_screenshot: {reason}")
    from playwright.sync_api import sync_playwright

    with browser.serve("baseline") as server, sync_playwright() as p:
        chromium = browser.launch(p)
        try:
            page = browser.open_page(chromium, server.url)
            page.get_by_role("button", name="▶").click()
            while browser.shown_step(page) < args.weeks:
                page.wait_for_timeout(100)
            page.get_by_role("button", name="❚❚").click()
            page.get_by_role("button", name="Step").wait_for(timeout=30_000)
            page.get_by_role("slider").last.focus()  # the seeds slider, by arrow keys
            for _ in range((args.seeds - 100) // 10):
                page.keyboard.press("ArrowRight")
            page.get_by_role("button", name=f"Run {args.seeds} seeds").click()
            page.locator("img").nth(2).wait_for(timeout=300_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(OUT), full_page=True)
        finally:
            chromium.close()
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
