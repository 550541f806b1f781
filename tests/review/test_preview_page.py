"""The preview page over the served application: search, a record's operations, links
between records, and the search index kept between requests."""

from __future__ import annotations

import json
import re

from crm_ferry import commands
from helpers.review import ReviewProject


def _first_client(review: ReviewProject, kind: str) -> tuple[str, str]:
    found = commands.preview_search(review.settings, "cli_", objects=["clients"], limit=1000)
    entry = next(e for e in found if e.kind == kind)
    return entry.key.id, entry.name


def test_the_search_lists_records_with_links(review: ReviewProject) -> None:
    cid, name = _first_client(review, "individual")
    with review.web() as web:
        empty = web.get("/preview")
        assert empty.status_code == 200
        assert 'id="preview-q"' in empty.text
        assert 'aria-current="page">Preview' in empty.text  # in the header's navigation
        found = web.get("/preview", params={"q": name.split()[-1]})
        assert found.status_code == 200
        assert f'href="/preview/clients/{cid}"' in found.text
        none = web.get("/preview", params={"q": "no such name anywhere"})
        assert "No record" in none.text


def test_the_index_is_built_once(review: ReviewProject) -> None:
    """Searching again reads nothing again (the speed is measured in bench/review.py)."""
    with review.web() as web:
        web.get("/preview", params={"q": "a"})
        kept = review.state._memo["preview.source"]
        for _ in range(3):
            assert web.get("/preview", params={"q": "nelson"}).status_code == 200
        assert review.state._memo["preview.source"] is kept


def test_a_record_page_shows_its_operations_payloads_and_lookups(review: ReviewProject) -> None:
    invoices = commands.preview_search(review.settings, "inv_", objects=["invoices"])
    invoice = invoices[0].key.id
    with review.web() as web:
        shown = web.get(f"/preview/invoices/{invoice}")
        assert shown.status_code == 200
        text = shown.text
        assert "upsert <code>invoice</code>" in text
        payload = re.search(r'<pre class="payload"[^>]*>(.*?)</pre>', text, re.S)
        assert payload is not None
        body = json.loads(payload.group(1).replace("&#34;", '"').replace("&quot;", '"'))
        assert body["new_practiceid"] == invoice
        assert "customerid_account@odata.bind" in body
        link = re.search(r'<a href="(/preview/clients/[^"]+)">', text)
        assert link is not None, "the customer links to its client's preview"
        assert web.get(link.group(1)).status_code == 200
        assert "Not in the tenant yet" in text


def test_an_organization_page_shows_the_account_the_contact_and_the_link(
    review: ReviewProject,
) -> None:
    cid, _ = _first_client(review, "organization")
    with review.web() as web:
        text = web.get(f"/preview/clients/{cid}").text
    assert "upsert <code>account</code>" in text
    assert "upsert <code>contact</code>" in text
    assert "link <code>account</code>" in text
    assert "primarycontactid" in text
    assert 'id="children-sessions"' in text or 'id="children-invoices"' in text


def test_a_rejected_record_says_why(review: ReviewProject) -> None:
    notes = commands.preview_search(review.settings, "note_", objects=["session_notes"])
    with review.web() as web:
        text = web.get(f"/preview/session_notes/{notes[0].key.id}").text
    assert "Rejected: the load would not write it." in text
    assert "was rejected, so this row cannot point to it" in text


def test_an_unknown_record_is_a_404_saying_what_to_do(review: ReviewProject) -> None:
    with review.web() as web:
        missing = web.get("/preview/clients/cli_999999")
    assert missing.status_code == 404
    assert "is not in the export" in missing.text
    assert 'id="error-hint"' in missing.text


def test_a_map_that_cannot_be_read_is_said_so(review: ReviewProject) -> None:
    review.map_path.write_text("targets: [\n", encoding="utf-8")
    with review.web() as web:
        searched = web.get("/preview", params={"q": "nelson"})
        record = web.get("/preview/clients/cli_000001")
    assert searched.status_code == 200
    assert 'id="search-problem"' in searched.text
    assert record.status_code == 400
    assert "map" in record.text
