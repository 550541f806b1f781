"""The sample and verify pages over the served application: a project without runs says
what to run; a verified one shows its summary, its differences and compared fields
filtered and paged on the server, choice values with their labels; differences accepted
from the page are journaled as ``verify accept`` does, and ``verify --check`` passes once
none is left."""

from __future__ import annotations

import html as html_text
import re
from pathlib import Path

import httpx
import pytest

from crm_ferry import commands
from crm_ferry.errors import CheckFailed
from crm_ferry.journal import Journal
from helpers.review import ReviewProject
from helpers.review_reports import CLIENTS, CORRUPT_EVERY, verified, verified_template

__all__ = ["verified", "verified_template"]  # fixtures, used by name

MIGRATION = "migration difference"
SOURCE_DEFECT = "source defect"


def _ids(html: str) -> list[str]:
    """The differences listed on a page (the rows of #difference-rows)."""
    return re.findall(r'<tr data-row data-id="([0-9a-z]+)"', html)


def _count(html: str, name: str) -> int:
    found = re.search(rf'data-count="{name}"[^>]*>([0-9,]+)<', html)
    assert found, name
    return int(found.group(1).replace(",", ""))


def _accept(web: httpx.Client, kind: str, **fields: str | list[str]) -> httpx.Response:
    return web.post(f"/{kind}/accept", data=fields, follow_redirects=False)


def test_pages_without_runs_say_what_to_run(review: ReviewProject) -> None:
    with review.web() as web:
        verify = web.get("/verify")
        sample = web.get("/sample")
        runs = web.get("/runs")
        scoping = web.get("/scoping")
    assert verify.status_code == sample.status_code == runs.status_code == 200
    assert "No verification yet. Run <code>crm-ferry verify</code>" in verify.text
    assert "No sample yet. Run <code>crm-ferry sample</code>" in sample.text
    assert 'id="no-runs"' in runs.text
    assert "No scoping report yet. Run <code>crm-ferry discover</code>" in scoping.text
    for page in (verify, sample, runs, scoping):  # every page in the header
        for name in ("/sample", "/verify", "/runs", "/scoping"):
            assert f'href="{name}"' in page.text


def test_the_verify_page_summary_and_the_filters(verified: ReviewProject) -> None:
    corrupted = CLIENTS // CORRUPT_EVERY  # fewer: some contacts were written by the sample
    with verified.web() as web:
        page = web.get("/verify")
        assert page.status_code == 200
        html = page.text
        total = _count(html, "differences")
        assert _count(html, "new") == total > 4  # four source defects and the corrupted names
        assert 'data-class="migration difference">' in html
        migrations = web.get("/verify", params={"class": MIGRATION}).text
        listed = _ids(migrations)
        assert 0 < len(listed) <= corrupted
        assert all(
            'data-classification="migration difference"' in row
            for row in re.findall(r"<tr data-row data-id=[^>]*>", migrations)
        )
        # the table and column filters, next to the list: contact lastname only
        by_column = web.get("/verify", params={"table": "contact", "column": "lastname"}).text
        assert sorted(_ids(by_column)) == sorted(listed)
        # the column list follows the table chosen
        assert '<option value="lastname" selected>' in by_column
        assert '<option value="totalamount">' not in by_column
        # text: every word found in the row
        one = listed[0]
        assert _ids(web.get("/verify", params={"q": one.upper()}).text) == [one]
        assert _ids(web.get("/verify", params={"q": "no such thing"}).text) == []
        assert "No difference matches the filter." in web.get("/verify", params={"q": "zzz"}).text
        # status: nothing accepted yet
        assert _ids(web.get("/verify", params={"status": "accepted"}).text) == []


def test_compared_fields_are_paged_on_the_server(verified: ReviewProject) -> None:
    with verified.web() as web:
        first = web.get("/verify", params={"ftable": "contact", "per": "10"}).text
        second = web.get("/verify", params={"ftable": "contact", "per": "10", "fpage": "2"}).text
        far = web.get("/verify", params={"ftable": "contact", "per": "10", "fpage": "9999"}).text
        junk = web.get("/verify", params={"fpage": "x", "per": "-3"})
    rows = re.compile(
        r'<tr data-row data-verdict="[a-z]+">\s*<td><code>contact</code></td>\s*'
        r"<td><code>([^<]+)</code></td><td><code>[^<]+</code></td>"
        r"<td><code>([^<]+)</code>"
    )
    page1, page2 = rows.findall(first), rows.findall(second)
    assert len(page1) == len(page2) == 10
    assert not set(page1) & set(page2)
    shown = re.search(r'data-shown="fpage">11–20 of ([0-9,]+)', second)
    assert shown, second[:2000]
    pages = -(-int(shown.group(1).replace(",", "")) // 10)
    assert f"page {pages} of {pages}" in far  # past the end: the last page
    assert 'rel="next"' in first
    assert 'rel="prev"' not in first
    assert junk.status_code == 200  # a page number as typed never fails the page
    # the mismatches only: the corrupted last names, expected against actual
    with verified.web() as web:
        mismatches = web.get("/verify", params={"verdict": "mismatch"}).text
    assert re.findall(r'data-verdict="([a-z]+)"', mismatches)
    assert set(re.findall(r'data-verdict="([a-z]+)"', mismatches)) == {"mismatch"}


def test_choice_values_show_their_tenant_labels(verified: ReviewProject) -> None:
    options = verified.client.metadata.columns("account")["industrycode"].options
    with verified.web() as web:
        html = web.get("/verify", params={"ftable": "account", "fcolumn": "industrycode"}).text
    labels = re.findall(r'<span class="label">(\d+) ([^<]+)</span>', html)
    assert labels
    assert {(int(c), html_text.unescape(label)) for c, label in labels} <= set(options.items())


def test_accepting_from_the_page_then_check_passes(verified: ReviewProject) -> None:
    web = verified.web()
    new = _ids(web.get("/verify", params={"status": "new", "per": "500"}).text)
    recon = re.search(r'name="recon" value="([^"]+)"', web.get("/verify").text)
    assert recon
    # nothing picked, no name, no reason: each refused with what to do, nothing accepted
    nothing = _accept(web, "verify", recon=recon.group(1), by="Ada", reason="known", scope="picked")
    assert nothing.status_code == 400
    assert "no difference was picked" in nothing.text
    nameless = _accept(web, "verify", recon=recon.group(1), reason="r", id=new[0], scope="picked")
    assert nameless.status_code == 400
    assert "needs your name" in nameless.text
    reasonless = _accept(web, "verify", recon=recon.group(1), by="Ada", id=new[0], scope="picked")
    assert reasonless.status_code == 400
    assert "needs a reason" in reasonless.text
    unknown = _accept(web, "verify", recon=recon.group(1), by="A", reason="r", id="q1q1q1q1q1")
    assert unknown.status_code == 400
    assert "q1q1q1q1q1" in unknown.text
    with Journal.for_project(verified.settings.project_dir) as j:
        assert j.accepted_differences("verify") == {}

    # two picked by hand
    done = _accept(
        web,
        "verify",
        recon=recon.group(1),
        by="Ada Lovelace",
        reason="agreed",
        id=new[:2],
        scope="picked",
        status="new",
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/verify?status=new&accepted=2"
    after = web.get(done.headers["location"]).text
    assert 'id="accepted-now"' in after
    assert set(_ids(after)).isdisjoint(new[:2])
    accepted = web.get("/verify", params={"status": "accepted"}).text
    assert sorted(_ids(accepted)) == sorted(new[:2])
    assert "accepted</span> by Ada Lovelace" in accepted
    assert ": agreed" in accepted
    with Journal.for_project(verified.settings.project_dir) as j:
        journaled = j.accepted_differences("verify")
    assert sorted(journaled) == sorted(new[:2])
    assert {(a.accepted_by, a.reason, a.recon_id) for a in journaled.values()} == {
        ("Ada Lovelace", "agreed", recon.group(1))
    }
    with pytest.raises(CheckFailed):
        commands.verify(verified.settings, client=verified.client, full=True, check=True)

    # the rest: every new one the filter shows (the source defects first, then all)
    latest = re.search(r'name="recon" value="([^"]+)"', web.get("/verify").text)
    assert latest  # the verify --check above made a newer verification
    defects = _accept(
        web,
        "verify",
        recon=latest.group(1),
        by="Ada",
        reason="export",
        scope="shown",
        **{"class": SOURCE_DEFECT},
    )
    assert defects.status_code == 303
    left = web.get("/verify").text
    assert _count(left, "new") == len(new) - 2 - 4
    rest = _accept(web, "verify", recon=latest.group(1), by="Ada", reason="moved", scope="shown")
    assert rest.status_code == 303
    final = web.get("/verify").text
    assert _count(final, "new") == 0
    assert 'class="banner ok" id="verdict"' in final
    assert 'id="accept"' not in final  # nothing left to accept
    again = _accept(web, "verify", recon=latest.group(1), by="Ada", reason="x", scope="shown")
    assert again.status_code == 400
    assert "no difference that is not accepted yet" in again.text
    passed = commands.verify(verified.settings, client=verified.client, full=True, check=True)
    assert passed.ok
    web.close()


def test_an_earlier_verification_by_id_accepts_nothing(verified: ReviewProject) -> None:
    with Journal.for_project(verified.settings.project_dir) as j:
        ((first, _),) = j.reconciliation_ids("verify")
    commands.verify(verified.settings, client=verified.client, full=True)
    with verified.web() as web:
        latest = web.get("/verify").text
        earlier = web.get(f"/verify/{first}")
        missing = web.get("/verify/verify-19990101T000000")
        stale = _accept(web, "verify", recon=first, by="Ada", reason="r", scope="shown")
    assert f'href="/verify/{first}"' in latest  # listed among the journal's verifications
    assert earlier.status_code == 200, earlier.text[-1500:]
    assert 'id="not-latest"' in earlier.text
    assert 'id="accept"' not in earlier.text
    assert f'<code id="recon-id">{first}</code>' in earlier.text
    assert 'type="checkbox" name="id"' not in earlier.text
    assert missing.status_code == 400
    assert "verify-19990101T000000" in missing.text
    assert stale.status_code == 400
    assert "is not the latest verify reconciliation" in stale.text


def test_the_sample_page_and_accepting_the_sample(verified: ReviewProject) -> None:
    with verified.web() as web:
        page = web.get("/sample").text
        assert "Sample migration: reconciliation" in page
        recon = re.search(r'name="recon" value="([^"]+)"', page)
        assert recon  # the sample's planted source defects, new
        assert _count(page, "new") == _count(page, "differences") > 0
        done = _accept(web, "sample", recon=recon.group(1), by="Ada", scope="shown")
        assert done.status_code == 303
        assert "gate=open" in done.headers["location"]
        after = web.get(done.headers["location"]).text
    assert "the sample is accepted: <code>crm-ferry migrate</code> may run" in after
    assert _count(after, "new") == 0
    with Journal.for_project(verified.settings.project_dir) as j:
        latest = j.latest_sample()
    assert latest is not None
    assert latest.accepted_by == "Ada"


def test_a_purged_report_says_so(verified: ReviewProject) -> None:
    # a verification of this copy's own: the template's reports are shared by every copy
    commands.verify(verified.settings, client=verified.client)
    with Journal.for_project(verified.settings.project_dir) as j:
        recon = j.latest_reconciliation("verify")
    assert recon is not None
    assert recon.report
    assert Path(recon.report).is_relative_to(verified.settings.project_dir)
    Path(recon.report).with_name("report.json").unlink()
    with verified.web() as web:
        gone = web.get("/verify")
    assert gone.status_code == 400
    assert "the report of" in gone.text
    assert "is gone" in gone.text
