"""The report pages in headless Chromium: a planted difference accepted on the verify page
(then ``verify --check`` passes), a verification of 20,000 compared fields opening in under
2 s, the sample page, and a running run's progress updating live until the run ends."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from crm_ferry import commands
from crm_ferry.errors import CheckFailed
from crm_ferry.journal import Journal
from crm_ferry.model import RecordKey
from crm_ferry.transform.ops import Operation, target_id
from helpers.browser import browser_on
from helpers.review import ReviewProject
from helpers.review_reports import large_verification, verified, verified_template

__all__ = ["verified", "verified_template"]  # fixtures, used by name

OPEN_WITHIN_MS = 2000


def test_accept_a_planted_difference_on_the_verify_page(
    verified: ReviewProject, tmp_path: Path
) -> None:
    with pytest.raises(CheckFailed):
        commands.verify(verified.settings, client=verified.client, full=True, check=True)
    with browser_on(verified, tmp_path) as browser:
        page = browser.page
        browser.open("/verify")
        assert "not accepted yet" in page.locator("#verdict").inner_text()
        # the filter next to the list: the class picked, the page asks the server again
        page.select_option("#difference-filter select[name=class]", "migration difference")
        page.wait_for_url("**class=migration+difference**")
        rows = page.locator("#difference-rows tbody tr[data-row]")
        planted = rows.count()
        assert planted > 0
        first = rows.first.get_attribute("data-id")
        browser.screenshot("verify")
        # one planted difference picked, accepted with a name and a reason
        page.locator(f'input[name=id][value="{first}"]').check()
        page.fill("#accept input[name=by]", "Ada Lovelace")
        page.fill("#accept input[name=reason]", "the service rewrote these names; agreed")
        page.click("#accept button[value=picked]")
        page.wait_for_selector("#accepted-now")
        assert "Accepted 1 difference" in page.locator("#accepted-now").inner_text()
        accepted = page.locator(f'#difference-rows tr[data-id="{first}"]')
        assert accepted.get_attribute("data-status") == "accepted"
        assert "accepted by Ada Lovelace" in accepted.inner_text()
        # the rest: every new one, whatever its class, as the filter shows them
        page.select_option("#difference-filter select[name=class]", "")
        page.select_option("#difference-filter select[name=status]", "new")
        page.wait_for_url("**status=new**")
        page.fill("#accept input[name=by]", "Ada Lovelace")
        page.fill("#accept input[name=reason]", "known defects of the export")
        page.click("#accept-shown")
        page.wait_for_selector("#accepted-now")
        assert "Every difference is accepted" in page.locator("#verdict").inner_text()
        assert page.locator("#no-differences").is_visible()  # none new is left to show
        browser.screenshot("verify-accepted")
        assert browser.errors == []
    assert commands.verify(verified.settings, client=verified.client, full=True, check=True).ok


def test_a_20000_row_verification_opens_in_under_2_s(
    verified: ReviewProject, tmp_path: Path
) -> None:
    recon = large_verification(verified, rows=20_000)
    assert len(recon.proof.rows) == 20_000
    with browser_on(verified, tmp_path) as browser:
        page = browser.page
        browser.open("/verify")  # the first request reads the 20,000 rows' report
        cold = browser.opened_ms()
        assert page.locator("#recon-id").inner_text() == "verify-large"
        assert page.locator('[data-count="differences"]').inner_text() == "2000"
        assert "1–50 of 2,000" in page.locator('[data-shown="page"]').first.inner_text()
        assert "of 20,000" in page.locator('[data-shown="fpage"]').inner_text()
        browser.screenshot("verify-20000")
        browser.open("/verify?ftable=contact&verdict=match&fq=value+1999&fpage=3&per=100")
        filtered = browser.opened_ms()
        assert page.locator("#field-rows tbody tr[data-row]").count() > 0
        assert browser.errors == []
    for opened in (cold, filtered):
        assert opened < OPEN_WITHIN_MS, f"{opened:.0f} ms"


def test_the_sample_page(verified: ReviewProject, tmp_path: Path) -> None:
    with browser_on(verified, tmp_path) as browser:
        browser.open("/sample")
        page = browser.page
        assert page.locator("h1").inner_text() == "Sample migration: reconciliation"
        assert page.locator("#records tr[data-object=clients]").is_visible()
        assert page.locator("#difference-rows tbody tr[data-row]").count() > 0
        browser.screenshot("sample")
        assert browser.errors == []


def _op(i: int) -> Operation:
    return Operation(
        role="contact",
        table="contact",
        id=target_id(uuid.UUID(int=9), "contact", f"cli_{i}"),
        payload={"lastname": f"L{i}"},
        source=RecordKey("clients", f"cli_{i}"),
    )


def test_a_running_run_updates_live_until_it_ends(review: ReviewProject, tmp_path: Path) -> None:
    journal = review.settings.project_dir
    with Journal.for_project(journal) as j:
        run = j.start_run("migrate", note="loading")
        j.add_ops(run, [(_op(i), 1) for i in range(20)], 0)
        j.mark_done(run, j.ops(run)[:5])
    with browser_on(review, tmp_path) as browser:
        page = browser.page
        browser.open("/runs")
        done = page.locator(f'#progress-{run} tr[data-table=contact] [data-measure="done"]')
        assert done.inner_text() == "5"
        browser.screenshot("runs")
        with Journal.for_project(journal) as j:
            j.mark_done(run, j.ops(run, state="pending")[:10])
        page.wait_for_function(
            f"() => document.querySelector('#progress-{run} [data-measure=done]')"
            ".textContent === '15'"
        )
        with Journal.for_project(journal) as j:
            j.mark_done(run, j.ops(run, state="pending"))
            j.finish_run(run, "done", {})
        page.wait_for_selector(f'#progress-{run}[data-stop="1"]')
        assert page.locator(f"#progress-{run}").get_attribute("data-state") == "done"
        assert page.locator(f"#progress-{run} [data-measure=done]").inner_text() == "20"
        assert browser.errors == []
