"""A 5,000-client practice on the review page, in headless Chromium: once the server has
read the export (in the background, from its start), the map page opens in under 2 s, and
the last client of the export is found and previewed (its speed is measured in
bench/review_pages.py: the preview reads the export up to the record).

The project is built once per test session (generate, invite the coaches, propose): about
15 s. The 20,000-row verify page is measured in ``test_reports_browser.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.browser import browser_on
from helpers.review import ReviewProject, build_proposed, open_copy
from helpers.templates import BUILT, shared_template

CLIENTS = 5000
OPEN_WITHIN_MS = 2000
READ_WITHIN_S = 300


@pytest.fixture(scope="session")
def large_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_template(
        tmp_path_factory,
        "review-large-template",
        lambda base: build_proposed(base, clients=CLIENTS),
    )


@pytest.fixture
def large(large_template: Path, tmp_path: Path) -> Iterator[ReviewProject]:
    project = open_copy(large_template, tmp_path / "large", ignore=(BUILT,))
    yield project
    project.close()


def test_a_5000_client_project_opens_in_under_2_s(large: ReviewProject, tmp_path: Path) -> None:
    with browser_on(large, tmp_path) as browser:
        page = browser.page
        assert large.state.wait_warm(READ_WITHIN_S), "the export was not read in time"
        browser.open("/map")
        opened_map = browser.opened_ms()
        assert "field lines" in page.locator(".card").first.inner_text()
        assert page.locator("h2", has_text="contact").count() > 0

        browser.open("/preview?q=cli_004999")
        found = page.locator('a[href="/preview/clients/cli_004999"]').first
        found.click()
        page.wait_for_url("**/preview/clients/cli_004999")
        assert "upsert" in page.locator("main").inner_text()
        assert browser.errors == []
    assert opened_map < OPEN_WITHIN_MS, f"the map page took {opened_map:.0f} ms"
