"""Headless Chromium on a page of the review server, for the browser tests.

Debian's ``chromium`` (``make test`` installs it where apt-get can) driven by the
``playwright`` package, never a browser downloaded by ``playwright install``; where neither
can be had the test is skipped, saying which (and ``make test`` says so too). Screenshots go
to ``test-artifacts/review/`` (ignored by git), for a person to look at.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from helpers.reconcile import CHROMIUM_ARGS, chromium_binary
from helpers.review import ReviewProject

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "review"


@dataclass
class Browser:
    """A page of headless Chromium signed in to a review server (its cookie set)."""

    page: Any
    """A ``playwright.sync_api.Page``."""
    base_url: str
    errors: list[str] = field(default_factory=list)
    """Script errors the page raised (a test ends by asserting there were none)."""

    def open(self, path: str) -> Any:
        """Go to ``path`` of the review server and wait until the page has loaded."""
        return self.page.goto(self.base_url + path, wait_until="load")

    def opened_ms(self) -> float:
        """How long the page now shown took to open, in the browser's own measure: from
        the request to the end of its load event (Navigation Timing)."""
        timing: dict[str, float] = self.page.evaluate(
            "() => performance.getEntriesByType('navigation')[0].toJSON()"
        )
        return timing["loadEventEnd"] - timing["startTime"]

    def screenshot(self, name: str, *, full_page: bool = False) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path


@contextmanager
def chromium(
    tmp_path: Path, *, width: int = 1366, height: int = 900, offline: bool = False
) -> Iterator[Browser]:
    """A page of headless Chromium (a profile of its own under ``tmp_path``), or the test
    skipped saying what is missing; ``offline``: no network at all (a static report)."""
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no chromium binary found (apt-get install chromium; `make test` does it)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is not installed (dev extra)"
    )
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path)
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=binary,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": width, "height": height},
            offline=offline,
        )
        try:
            page = context.new_page()
            page.set_default_timeout(15_000)
            browser = Browser(page, "")
            page.on("pageerror", lambda exc: browser.errors.append(str(exc)))
            yield browser
        finally:
            context.close()


@contextmanager
def browser_on(
    project: ReviewProject, tmp_path: Path, *, width: int = 1366, height: int = 900
) -> Iterator[Browser]:
    """Chromium on ``project``'s review server, having opened the address it prints."""
    server = project.serve()
    with chromium(tmp_path, width=width, height=height) as browser:
        browser.base_url = server.base_url
        browser.page.goto(server.url, wait_until="load")  # sets the cookie, on the overview
        yield browser
