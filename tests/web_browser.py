"""A real browser for the page's tests: Debian's chromium, headless, driven by Playwright through its
executable_path (Playwright's own browser download cannot run here), with axe-core's accessibility
check and screenshots to look at. Only loopback addresses are ever opened."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SHOTS = Path(os.environ.get("ASSISTANT_WEB_SHOTS", "/tmp/assistant-web-shots"))
PHONE = {"width": 390, "height": 844}  # a phone-sized viewport, in CSS pixels


def chromium_path() -> str:
    """Debian's chromium, which .ci/run installs; a test fails (never skips) without it."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "chromium is not installed: apt-get install chromium (.ci/run does)"
    return found


@contextmanager
def browser() -> Iterator[object]:
    """A headless chromium, closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    result = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in result.response["violations"] if v["impact"] in ("serious", "critical")]


def screenshot(page, name: str) -> Path:
    """Save the page's screenshot under SHOTS, to be looked at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_until(page, expression: str, timeout_s: float = 10.0) -> None:
    """Wait until the JavaScript `expression` is true on the page. Playwright's wait_for_function
    compiles its predicate with eval each time it polls, which the page's Content-Security-Policy
    forbids (no 'unsafe-eval'); page.evaluate is the browser's own evaluation, which it allows."""
    import time

    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {timeout_s:g} s: {expression}"
        page.wait_for_timeout(50)
