"""The map page over the served application: what it shows, each edit (the YAML changed as
asked and nothing else, comments kept, the check's answer next to the line), confirming
refused and accepted, and the inputs read once, not per request.

The generated proposed map has no line under the threshold 0.8 (its least sure lines are the
custom properties at 0.9), so the tests that need doubtful lines raise ``confirm_threshold``
to 0.95 in the project's mapping.yaml, as a cautious consultant would.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from crm_ferry import commands
from crm_ferry.mapping.edits import CHOSEN
from crm_ferry.mapping.spec import MapDocument
from crm_ferry.review import map_page
from helpers.review import ReviewProject
from helpers.review_map import ALEX, DOUBTFUL, ROBIN, raise_threshold

FRAGMENT = {"accept": "text/html; fragment=1"}


class _Element(HTMLParser):
    """The text inside the element with a given id."""

    def __init__(self, wanted: str) -> None:
        super().__init__()
        self.wanted = wanted
        self.depth = 0
        self.parts: list[str] = []
        self.found = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth:
            if tag not in ("input", "br", "option", "link", "meta"):
                self.depth += 1
        elif dict(attrs).get("id") == self.wanted:
            self.depth, self.found = 1, True

    def handle_endtag(self, tag: str) -> None:
        if self.depth and tag not in ("input", "br", "option", "link", "meta"):
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.parts.append(data)


def text_of(html: str, element_id: str) -> str:
    parser = _Element(element_id)
    parser.feed(html)
    assert parser.found, f"no element #{element_id}"
    return " ".join(" ".join(parser.parts).split())


def count(html: str, element_id: str) -> int:
    return int(text_of(html, element_id))


def send(web: httpx.Client, path: str, **form: Any) -> str:
    answer = web.post(path, data=form, headers=FRAGMENT)
    assert answer.status_code == 200, answer.text
    assert answer.text.lstrip().startswith(f'<div id="{map_page.REGION}"')
    return answer.text


def changed_lines(before: str, after: str) -> list[str]:
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [ln for ln in diff if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]


@pytest.fixture
def web(review: ReviewProject) -> Iterator[httpx.Client]:
    with review.web() as client:
        yield client


# ---------------------------------------------------------------------------
# What the page shows


def test_the_page_shows_every_target_with_profile_and_tenant_column(
    review: ReviewProject, web: httpx.Client
) -> None:
    html = web.get("/map").text
    assert "<h1>The map</h1>" in html
    for role in ("contact", "account", "session", "invoice", "attachment"):
        assert f'id="at-targets-{role}"' in html
    city = text_of(html, "at-targets-contact-fields-city")
    assert "Address 1: City" in city  # the tenant column's display label
    assert "String · max 80" in city
    assert "% empty" in city  # the source profile
    assert "distinct" in city
    email = text_of(html, "at-targets-contact-fields-email")
    assert "@" in email  # a sample value
    # a column the map creates is shown with its label, marked
    assert "(created by provision)" in text_of(html, "at-targets-contact-fields-status")
    # the tenant's columns to pick from, by label
    columns = r'<template data-columns="cols-contact">.*label="Address 1: City · String"'
    assert re.search(columns, html)
    # the unmapped source fields are there too
    assert "source field(s) of clients this target's map does not list" in html
    assert count(html, "map-errors") == 3  # coaches usr_0004, usr_0005, usr_x_00001
    assert count(html, "map-doubtful") == 0


def test_doubtful_and_wrong_lines_come_first_and_are_listed_at_the_top(
    review: ReviewProject, web: httpx.Client
) -> None:
    raise_threshold(review)
    html = web.get("/map").text
    assert count(html, "map-doubtful") == DOUBTFUL
    contact = html[html.index('id="at-targets-contact"') :]
    rows = re.findall(r'<tr id="at-targets-contact-fields-([^"]+)" class="line([^"]*)"', contact)
    flags = [cls for _, cls in rows]
    first_plain = flags.index("")
    assert all("doubtful" in f or "has-" in f for f in flags[:first_plain])
    assert not any("doubtful" in f for f in flags[first_plain:])
    look = text_of(html, "needs-look")
    assert "contact.custom:coaching_goals" in look
    assert 'href="#at-targets-contact-fields-custom-coaching_goals"' in html
    assert "coach usr_0005" in look


# ---------------------------------------------------------------------------
# Edits


def test_a_column_picked_by_label_is_written_with_comments_kept(
    review: ReviewProject, web: httpx.Client
) -> None:
    before = review.map_path.read_text()
    html = send(web, "/map/column", role="contact", field="mobile", column="Pager")
    after = review.map_path.read_text()
    (removed, added) = changed_lines(before, after)
    assert removed.strip().startswith("-      mobile: {column: mobilephone")
    assert added == (
        f"+      mobile: {{column: pager, type: String, confidence: 1.0, reason: {CHOSEN}}}"
    )
    assert after.startswith("# crm-ferry map: how each record of the export becomes")
    assert "Saved targets.contact.fields.mobile.column: mobilephone → pager" in text_of(
        html, "map-note"
    )
    assert "saved, re-checked" in text_of(html, "at-targets-contact-fields-mobile")
    shown = {ln.source: ln for ln in commands.map_show(review.settings).lines}
    assert shown["clients.mobile"].column == "pager"


def test_no_column_means_not_migrated(review: ReviewProject, web: httpx.Client) -> None:
    send(web, "/map/column", role="contact", field="mobile", column="")
    fields = MapDocument.load(review.map_path).data["targets"]["contact"]["fields"]
    assert fields["mobile"]["column"] is None
    assert "type" not in fields["mobile"]


def test_a_column_the_table_lacks_is_refused_and_nothing_is_written(
    review: ReviewProject, web: httpx.Client
) -> None:
    before = review.map_path.read_text()
    html = send(web, "/map/column", role="contact", field="mobile", column="Shoe Size")
    assert "contact has no column 'Shoe Size'" in text_of(html, "map-note")
    assert 'class="map-bar refused"' in html
    assert review.map_path.read_text() == before


def test_a_value_map_entry_is_checked_at_once_next_to_its_value(
    review: ReviewProject, web: httpx.Client
) -> None:
    before = review.map_path.read_text()
    html = send(web, "/map/value", value_map="vertical", value="accounting", option="")
    assert changed_lines(before, review.map_path.read_text()) == [
        "-      accounting: 1",
        "+      accounting:",
    ]
    row = text_of(html, "at-value_maps-vertical-values-accounting")
    assert "has no option value yet; pick one of account.industrycode: 1 Accounting" in row
    assert count(html, "map-errors") == 4
    html = send(web, "/map/value", value_map="vertical", value="accounting", option="2")
    assert "      accounting: 2\n" in review.map_path.read_text()
    assert "has no option" not in text_of(html, "at-value_maps-vertical-values-accounting")
    assert count(html, "map-errors") == 3
    assert text_of(html, "map-note").startswith("Saved value_maps.vertical.values.accounting")


def test_the_options_to_pick_are_the_tenants_by_label(
    review: ReviewProject, web: httpx.Client
) -> None:
    html = web.get("/map").text
    row = html[html.index('id="at-value_maps-vertical-values-accounting"') :]
    row = row[: row.index("</tr>")]
    assert '<option value="1" selected>Accounting (1)</option>' in row
    assert ">Agriculture and Non-petrol Natural Resource Extraction (2)</option>" in row
    gender = html[html.index('id="at-value_maps-gender-values-female"') :]
    assert '<option value="2" selected>Female (2)</option>' in gender[: gender.index("</tr>")]


def test_a_policy_is_picked_with_its_default(review: ReviewProject, web: httpx.Client) -> None:
    html = send(web, "/map/policy", value_map="vertical", policy="default")
    vm = text_of(html, "at-value_maps-vertical")
    assert "policy `default` needs a default value" in vm
    assert 'aria-label="Default option of vertical"' in html
    send(web, "/map/policy", value_map="vertical", policy="default", default="16")
    node = MapDocument.load(review.map_path).data["value_maps"]["vertical"]
    assert (node["policy"], node["default"]) == ("default", 16)
    html = send(web, "/map/policy", value_map="gender", policy="keep_text", text_column="")
    assert "policy `keep_text` needs a text_column" in text_of(html, "at-value_maps-gender")
    html = send(web, "/map/policy", value_map="vertical", policy="sometimes")
    assert "unknown policy 'sometimes'" in text_of(html, "map-note")


def test_an_owner_picked_from_the_users_resolves_and_clears_its_problem(
    review: ReviewProject, web: httpx.Client
) -> None:
    html = web.get("/map").text
    assert "has no usable owner" in text_of(html, "at-owners-coaches-usr_0005")
    users = text_of(html, "user-options")  # sent once, copied into each list by map.js
    assert f"Robin Mentor <{ROBIN}> · enabled" in users
    assert "Aaron Jones <aaron.jones.4@practice.example.com> · disabled" in users
    assert "· application user" in users
    assert '<option value="aaron.jones.4@practice.example.com" disabled>' in html
    html = send(web, "/map/owner", coach="usr_0005", user=ROBIN)
    coach = MapDocument.load(review.map_path).data["owners"]["coaches"]["usr_0005"]
    assert (coach["user"], coach["status"]) == (ROBIN, "explicit")
    assert coach["systemuserid"]  # resolved against the tenant's users, in the file
    assert "has no usable owner" not in text_of(html, "at-owners-coaches-usr_0005")
    assert count(html, "map-errors") == 2
    html = send(web, "/map/owner", coach="usr_0005", user="former.coach@crmferry.onmicrosoft.com")
    assert "is a disabled user" in text_of(html, "at-owners-coaches-usr_0005")
    html = send(web, "/map/owner", coach="usr_0005", user="")
    coach = MapDocument.load(review.map_path).data["owners"]["coaches"]["usr_0005"]
    assert (coach["user"], coach["status"]) == (None, "unmatched")


def test_a_fallback_owner_covers_the_coaches_without_a_user(
    review: ReviewProject, web: httpx.Client
) -> None:
    html = send(web, "/map/fallback", user=ALEX)
    owners = MapDocument.load(review.map_path).data["owners"]
    assert owners["fallback"] == ALEX
    assert owners["fallback_id"]
    assert count(html, "map-errors") == 0
    assert "will be owned by the fallback" in text_of(html, "owners")
    assert commands.map_check(review.settings, client=review.client).ok


# ---------------------------------------------------------------------------
# Confirm


def _acks(html: str) -> list[str]:
    return re.findall(r'<input type="checkbox" name="ack" value="([^"]+)"', html)


def test_confirm_is_refused_while_problems_remain(review: ReviewProject, web: httpx.Client) -> None:
    before = review.map_path.read_text()
    html = send(web, "/map/confirm", by="Dana Reviewer")
    answer = text_of(html, "confirm-answer")
    assert answer.startswith("Not confirmed: the map cannot be confirmed: 3 problem(s) remain")
    assert review.map_path.read_text() == before


def test_confirm_is_refused_until_every_doubtful_line_is_acknowledged(
    review: ReviewProject, web: httpx.Client
) -> None:
    raise_threshold(review)
    html = send(web, "/map/fallback", user=ALEX)
    acks = _acks(html)
    assert len(acks) == DOUBTFUL
    before = review.map_path.read_text()
    html = send(web, "/map/confirm", by="Dana Reviewer", ack=acks[:-1])
    answer = text_of(html, "confirm-answer")
    assert "1 line(s) under the confirm threshold are not acknowledged" in answer
    missing = acks[-1].split(".")[-1]
    assert missing in answer
    assert review.map_path.read_text() == before
    html = send(web, "/map/confirm", by=" ", ack=acks)
    assert "confirm needs the name of the person confirming" in text_of(html, "confirm-answer")
    assert review.map_path.read_text() == before


def test_confirm_with_every_line_acknowledged(review: ReviewProject, web: httpx.Client) -> None:
    raise_threshold(review)
    acks = _acks(send(web, "/map/fallback", user=ALEX))
    html = send(web, "/map/confirm", by="Dana Reviewer", ack=acks)
    answer = text_of(html, "confirm-answer")
    assert answer.startswith("Confirmed by Dana Reviewer at ")
    assert f"{DOUBTFUL} low-confidence line(s) acknowledged" in answer
    assert "Confirmed by Dana Reviewer" in text_of(html, "map-status")
    shown = commands.map_show(review.settings)
    assert (shown.status, shown.confirmed_by) == ("confirmed", "Dana Reviewer")
    # an edit afterwards is of another map: proposed again
    html = send(web, "/map/value", value_map="vertical", value="accounting", option="2")
    assert "it is proposed again" in text_of(html, "map-note")
    assert commands.map_show(review.settings).status == "proposed"


# ---------------------------------------------------------------------------
# Read once


def test_the_source_and_the_users_are_read_once_not_per_request(
    review: ReviewProject, web: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    web.get("/map")  # read (by the server's warm-up, or by this first request)
    reads = {"source": 0, "users": 0}
    real_source, real_users = map_page.read_source, map_page.fetch_system_users

    def source(*args: Any, **kwargs: Any) -> Any:
        reads["source"] += 1
        return real_source(*args, **kwargs)

    def users(*args: Any, **kwargs: Any) -> Any:
        reads["users"] += 1
        return real_users(*args, **kwargs)

    monkeypatch.setattr(map_page, "read_source", source)
    monkeypatch.setattr(map_page, "fetch_system_users", users)
    send(web, "/map/value", value_map="vertical", value="accounting", option="2")
    send(web, "/map/owner", coach="usr_0005", user=ROBIN)
    web.get("/map")
    assert reads == {"source": 0, "users": 0}
    html = send(web, "/map/refresh")
    assert "Read the tenant's users and metadata and the export again" in text_of(html, "map-note")
    assert reads == {"source": 1, "users": 1}
    web.get("/map")
    assert reads == {"source": 1, "users": 1}
    # a changed export is read again without being asked
    clients = review.bundle / "clients.csv"
    clients.write_text(clients.read_text() + "\n")
    web.get("/map")
    assert reads["source"] == 2


def test_a_form_sent_without_script_comes_back_to_the_page(
    review: ReviewProject, web: httpx.Client
) -> None:
    answer = web.post(
        "/map/value",
        data={"value_map": "vertical", "value": "accounting", "option": "2"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/map"
