"""The preview page in headless Chromium: a consultant searches a client by name, opens
its preview and sees its payload; the same for an organization client (screenshots under
test-artifacts/review/)."""

from __future__ import annotations

from pathlib import Path

from crm_ferry import commands
from helpers.browser import Browser, browser_on
from helpers.review import ReviewProject


def _client(review: ReviewProject, kind: str) -> tuple[str, str]:
    found = commands.preview_search(review.settings, "cli_", objects=["clients"], limit=1000)
    entry = next(e for e in found if e.kind == kind and len(e.name.split()) >= 2)
    return entry.key.id, entry.name


def _search_and_open(browser: Browser, text: str, cid: str) -> None:
    page = browser.page
    browser.open("/")
    page.get_by_role("link", name="Preview").click()
    page.fill("#preview-q", text)
    page.click("#preview-search button[type=submit]")
    page.wait_for_selector("#search-results")
    page.locator(f'#search-results a[href="/preview/clients/{cid}"]').first.click()
    page.wait_for_selector("#record-title")


def test_a_person_client_is_found_by_name_and_its_payload_shown(
    review: ReviewProject, tmp_path: Path
) -> None:
    cid, name = _client(review, "individual")
    with browser_on(review, tmp_path) as browser:
        _search_and_open(browser, name, cid)
        page = browser.page
        assert cid in page.locator("#record-title").inner_text()
        assert "Becomes 1 operation(s)" in page.locator("#record-status").inner_text()
        heading = page.locator("#op-1-heading").inner_text()
        assert heading.startswith("1. upsert contact")
        payload = page.locator("#op-1 pre.payload").inner_text()
        assert f'"new_practiceid": "{cid}"' in payload
        assert '"lastname"' in payload
        assert page.locator("#op-1 table.lookups").is_visible()
        browser.screenshot("preview-person")
        assert browser.errors == []


def test_an_organization_client_shows_its_account_and_contact(
    review: ReviewProject, tmp_path: Path
) -> None:
    cid, name = _client(review, "organization")
    with browser_on(review, tmp_path) as browser:
        _search_and_open(browser, name.split(" (")[0], cid)
        page = browser.page
        assert page.locator("#op-1-heading").inner_text().startswith("1. upsert account")
        assert page.locator("#op-2-heading").inner_text().startswith("2. upsert contact")
        assert page.locator("#op-3-heading").inner_text().startswith("3. link account")
        account = page.locator("#op-1 pre.payload").inner_text()
        assert f'"new_practiceid": "{cid}"' in account
        assert '"name"' in account
        # the contact's parent customer links back to this client's preview
        back = page.locator(f'#op-2 table.lookups a[href="/preview/clients/{cid}"]')
        assert back.count() == 1
        browser.screenshot("preview-organization", full_page=True)
        back.click()
        page.wait_for_selector("#record-title")
        assert cid in page.locator("#record-title").inner_text()
        assert browser.errors == []
