"""The map page in headless Chromium: a consultant opens it, changes a value map entry and
an owner by picking from lists, sees the check update, confirms with the low-confidence
acknowledgement; then ``map check``, ``map show`` and ``crm-ferry map show --json`` agree
with what the page did, and mapping.yaml kept its comments. Screenshots go to
test-artifacts/review/ (``map.png``, the top of the page, is the README's).
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from crm_ferry import commands
from crm_ferry.cli import cli
from helpers.browser import browser_on
from helpers.review import ReviewProject
from helpers.review_map import ALEX, DOUBTFUL, ROBIN, raise_threshold

NOTE = "# Dana, 3 March: verticals checked with the client's office manager"


def _prepare(review: ReviewProject) -> None:
    """A cautious threshold (the custom properties at 0.9 deserve a look) and a comment of
    the person's own, which every edit must keep."""
    raise_threshold(review)
    text = review.map_path.read_text()
    review.map_path.write_text(text.replace("  vertical:\n", f"  {NOTE}\n  vertical:\n", 1))


def test_review_edit_and_confirm_the_map_in_a_browser(
    review: ReviewProject, tmp_path: Path
) -> None:
    _prepare(review)
    with browser_on(review, tmp_path) as browser:
        page = browser.page
        browser.open("/map")
        assert page.locator("#map-errors").inner_text() == "3"
        assert page.locator("#map-doubtful").inner_text() == str(DOUBTFUL)
        browser.screenshot("map")

        # a value map entry: no option, the check says so next to it; then a label
        row = page.locator("#at-value_maps-vertical-values-accounting")
        row.locator("select").select_option(label="— no option yet —")
        page.wait_for_selector("#map-errors:text-is('4')")
        row = page.locator("#at-value_maps-vertical-values-accounting")
        assert "has no option value yet" in row.inner_text()
        row.locator("select").select_option(label="Financial (16)")
        page.wait_for_selector("#map-errors:text-is('3')")
        row = page.locator("#at-value_maps-vertical-values-accounting")
        assert "has no option" not in row.inner_text()
        assert "saved, re-checked" in row.inner_text()
        row.scroll_into_view_if_needed()
        browser.screenshot("map-value-map")

        # owners: a coach picked from the tenant's users, then the fallback
        owner = page.locator("#at-owners-coaches-usr_0005 select")
        owner.focus()  # the list gets the tenant's users when the person reaches for it
        owner.select_option(label=f"Robin Mentor <{ROBIN}> · enabled")
        page.wait_for_selector("#map-errors:text-is('2')")
        assert "has no usable owner" not in page.locator("#at-owners-coaches-usr_0005").inner_text()
        fallback = page.locator("select[aria-label='Fallback owner']")
        fallback.focus()
        fallback.select_option(label=f"Alex Admin <{ALEX}> · enabled")
        page.wait_for_selector("#map-errors:text-is('0')")
        page.locator("#owners").scroll_into_view_if_needed()
        browser.screenshot("map-owners")

        # confirm: refused without the acknowledgements, accepted with them
        page.locator("input[name=by]").fill("Dana Reviewer")
        page.locator("#confirm button[type=submit]").click()
        page.wait_for_selector("#confirm-answer")
        assert "are not acknowledged" in page.locator("#confirm-answer").inner_text()
        page.locator("input[name=by]").fill("Dana Reviewer")
        boxes = page.locator("input[name=ack]")
        assert boxes.count() == DOUBTFUL
        for i in range(boxes.count()):
            boxes.nth(i).check()
        page.locator("#confirm button[type=submit]").click()
        page.wait_for_selector("#confirm-answer:has-text('Confirmed by Dana Reviewer')")
        assert "Confirmed by Dana Reviewer" in page.locator("#map-status").inner_text()
        page.locator("#confirm").scroll_into_view_if_needed()
        browser.screenshot("map-confirmed")
        assert browser.errors == []

    checked = commands.map_check(review.settings, client=review.client)
    assert checked.ok, checked.problems
    assert checked.status == "confirmed"
    shown = commands.map_show(review.settings)
    assert (shown.status, shown.confirmed_by) == ("confirmed", "Dana Reviewer")
    assert shown.owners["usr_0005"]["user"] == ROBIN
    assert shown.owners["usr_0005"]["status"] == "explicit"
    assert shown.fallback == ALEX
    cli_shown = CliRunner().invoke(
        cli, ["map", "show", "--json", "-C", str(review.settings.project_dir)]
    )
    assert cli_shown.exit_code == 0, cli_shown.output
    as_json = json.loads(cli_shown.output)
    assert as_json == json.loads(json.dumps(shown.as_dict()))
    assert as_json["owners"]["usr_0005"]["user"] == ROBIN
    text = review.map_path.read_text()
    assert f"  {NOTE}\n  vertical:\n" in text
    assert "      accounting: 16\n" in text
    assert text.startswith("# crm-ferry map: how each record of the export becomes")
