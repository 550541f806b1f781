"""The review page in headless Chromium: the printed address lets the browser in and the
overview says where the project stands; the scripts raise no error."""

from __future__ import annotations

from pathlib import Path

from helpers.browser import browser_on
from helpers.review import ReviewProject


def test_the_printed_address_opens_the_overview(review: ReviewProject, tmp_path: Path) -> None:
    with browser_on(review, tmp_path) as browser:
        page = browser.page
        assert page.url == browser.base_url + "/"  # the token left the address bar
        assert "Proposed: not confirmed yet" in page.locator("#map-status").inner_text()
        assert page.locator("text=No run yet.").is_visible()
        browser.screenshot("overview")
        assert browser.errors == []
