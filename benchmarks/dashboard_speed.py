"""How live the dashboard stays: weeks per second while playing the baseline (2,000
customers), in a real headless browser, every week drawn (render interval 1).

    .venv/bin/python benchmarks/dashboard_speed.py [--seconds 20] [--scenario baseline]

The target (issue 17): at least 5 weeks a second. The page is served by ``cxsim dashboard``
and driven in the system's Chromium (see ``simulation/dashboard/browser.py``); the count
of weeks is the page's own "Step: N" readout, read after pressing pause.
"""

from __future__ import annotations

import argparse
import os
import time

from simulation.dashboard import browser

TARGET_WEEKS_PER_SECOND = 5.0


def play(scenario: str, seconds: float) -> tuple[int, float, float]:
    """(weeks played, wall seconds, server CPU seconds) of pressing play for ``seconds``."""
    from playwright.sync_api import sync_playwright

    with browser.serve(scenario) as server, sync_playwright() as p:
        chromium = browser.launch(p)
        try:
            page = browser.open_page(chromium, server.url)
            page.get_by_role("button", name="Step").click()  # a first week: warm caches
            browser.wait_for_step(page, 1)
            cpu = browser.cpu_seconds(server)
            started = time.monotonic()
            page.get_by_role("button", name="▶").click()
            page.wait_for_timeout(seconds * 1000)
            page.get_by_role("button", name="❚❚").click()
            elapsed = time.monotonic() - started
            cpu = browser.cpu_seconds(server) - cpu
            page.get_by_role("button", name="Step").wait_for(state="visible", timeout=30_000)
            page.wait_for_timeout(1000)  # the last frame reaches the page
            weeks = browser.shown_step(page) - 1
        finally:
            chromium.close()
    return weeks, elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--scenario", default="baseline")
    args = parser.parse_args()
    reason = browser.why_no_browser()
    if reason:
        raise SystemExit(f"dashboard_speed: {reason}")
    weeks, elapsed, cpu = play(args.scenario, args.seconds)
    rate = weeks / elapsed
    print(f"playing {args.scenario}: {weeks} weeks in {elapsed:.1f} s = {rate:.1f} weeks/s "
          f"(every week drawn)")
    print(f"server CPU: {1000 * cpu / weeks:.0f} ms a week (step, drawings, page updates): "
          f"{weeks / cpu:.1f} weeks/s where the server has a core to itself")
    print(f"machine load (1-minute average, {os.cpu_count()} cores): {os.getloadavg()[0]:.1f}")
    verdict = "met" if rate >= TARGET_WEEKS_PER_SECOND else "NOT met"
    print(f"target: at least {TARGET_WEEKS_PER_SECOND:g} weeks/s: {verdict}")


if __name__ == "__main__":
    main()
