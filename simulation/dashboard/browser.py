"""Serving the page and opening it in a headless Chromium, for the browser test, the
speed benchmark and the screenshot in docs/.

The browser is the system's Chromium (Debian: ``apt-get install chromium``), driven by
Playwright through ``executable_path``; nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = os.environ.get("CXSIM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def why_no_browser() -> str | None:
    """None when the page can be driven here, else the reason it cannot."""
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return (f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium; or set "
                "CXSIM_CHROMIUM to its path)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install 'cxsim[test]')"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(scenario: str = "baseline", port: int | None = None, timeout: float = 120.0):
    """``cxsim dashboard SCENARIO`` on a free localhost port; yields the server process
    (its address as ``.url``) and stops it, and everything it started, on exit."""
    port = port or free_port()
    cxsim = Path(sys.executable).parent / "cxsim"
    server = subprocess.Popen([str(cxsim), "dashboard", scenario, "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              start_new_session=True)
    url = f"http://localhost:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"the dashboard server exited ({server.returncode}): "
                                   + server.stderr.read().decode(errors="replace")[-2000:])
            try:
                with urllib.request.urlopen(url, timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the dashboard did not answer at {url} "
                                       f"within {timeout:.0f} s") from None
                time.sleep(0.5)
        server.url = url
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        server.stderr.close()


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def open_page(browser, url: str, timeout_ms: int = 120_000):
    """The dashboard loaded and ready (its Step button shown)."""
    page = browser.new_page(viewport={"width": 1500, "height": 1150})
    page.goto(url, timeout=timeout_ms)
    page.get_by_role("button", name="Step").wait_for(timeout=timeout_ms)
    return page


def wait_for_step(page, step: int, timeout_ms: int = 60_000) -> None:
    """Until the page's information card shows ``Step: step``."""
    page.get_by_text(f"Step: {step}", exact=True).wait_for(timeout=timeout_ms)


def shown_step(page) -> int:
    return int(page.get_by_text("Step: ").first.inner_text().split(":")[1])


def cpu_seconds(server) -> float:
    """CPU time used so far by the server and the processes it started."""
    import psutil

    root = psutil.Process(server.pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        times = process.cpu_times()
        total += times.user + times.system
    return total
