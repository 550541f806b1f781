"""Order rows using FetchXml, replayed.

https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/order-rows
(MicrosoftDocs/powerapps-docs, powerapps-docs/developer/data-platform/fetchxml/order-rows.md at
2d5f8da23ede4140732be831e4c71a8bfb726da5).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from crm_ferry.emulator.core import CoreConfig, Emulator
from helpers.webapi import created_id, fetch_xml


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def timed() -> Iterator[tuple[httpx.Client, Clock]]:
    """A tenant whose clock the test moves (rows created on different days)."""
    clock = Clock()
    em = Emulator(CoreConfig(wall_clock=clock))
    with httpx.Client(
        transport=httpx.MockTransport(em.handle),
        base_url="https://contoso.crm.dynamics.com/api/data/v9.2/",
    ) as client:
        yield client, clock
    em.close()


def rows(api: httpx.Client, fetch: str, entity_set: str = "accounts") -> list[dict[str, object]]:
    response = fetch_xml(api, entity_set, fetch)
    assert response.status_code == 200, response.text
    return list(response.json()["value"])


def test_ascending_by_several_columns_and_descending(timed: tuple[httpx.Client, Clock]) -> None:
    api, clock = timed
    for day, name, number in ((2, "B", "2"), (1, "C", "1"), (2, "A", "9"), (2, "A", "1")):
        clock.now = datetime(2026, 1, day, tzinfo=UTC)
        api.post("accounts", json={"name": name, "accountnumber": number})
    fetch = (
        "<fetch><entity name='account'><attribute name='name' /><attribute name='accountnumber' />"
        "<attribute name='createdon' /><order attribute='createdon' /><order attribute='name' />"
        "<order attribute='accountnumber' /></entity></fetch>"
    )
    got = [(r["name"], r["accountnumber"]) for r in rows(api, fetch)]
    assert got == [("C", "1"), ("A", "1"), ("A", "9"), ("B", "2")]
    first = fetch.replace(
        "<order attribute='createdon' /><order attribute='name' />"
        "<order attribute='accountnumber' />",
        "<order attribute='accountnumber' /><order attribute='createdon' />"
        "<order attribute='name' />",
    )
    assert [(r["name"], r["accountnumber"]) for r in rows(api, first)] == [
        ("C", "1"),
        ("A", "1"),
        ("B", "2"),
        ("A", "9"),
    ]
    latest = (
        "<fetch><entity name='account'><attribute name='name' /><attribute name='createdon' />"
        "<order attribute='createdon' descending='true' /></entity></fetch>"
    )
    assert rows(api, latest)[-1]["name"] == "C"


def _parents(api: httpx.Client) -> None:
    zeta = created_id(api.post("accounts", json={"name": "Zeta Parent"}))
    alpha = created_id(api.post("accounts", json={"name": "Alpha Parent"}))
    for name, parent in (("Child", zeta), ("Child", alpha), ("Another", zeta)):
        api.post(
            "accounts", json={"name": name, "parentaccountid@odata.bind": f"/accounts({parent})"}
        )


LINKED = (
    "<fetch><entity name='account'><attribute name='name' /><attribute name='accountnumber' />"
    "<attribute name='createdon' /><link-entity name='account' from='accountid' "
    "to='parentaccountid' link-type='inner' alias='parentaccount'>"
    "<attribute name='name' alias='parentaccount' />{link_order}</link-entity>{entity_order}"
    "</entity></fetch>"
)


def test_link_entity_orders_apply_after_the_entitys(api: httpx.Client) -> None:
    _parents(api)
    fetch = LINKED.format(
        link_order="<order attribute='name' />", entity_order="<order attribute='name' />"
    )
    got = [(r["name"], r["parentaccount"]) for r in rows(api, fetch)]
    assert got == [("Another", "Zeta Parent"), ("Child", "Alpha Parent"), ("Child", "Zeta Parent")]


def test_entityname_puts_a_link_entity_order_first(api: httpx.Client) -> None:
    _parents(api)
    fetch = LINKED.format(
        link_order="",
        entity_order=(
            "<order entityname='parentaccount' attribute='name' /><order attribute='name' />"
        ),
    )
    got = [(r["parentaccount"], r["name"]) for r in rows(api, fetch)]
    assert got == [("Alpha Parent", "Child"), ("Zeta Parent", "Another"), ("Zeta Parent", "Child")]


def test_lookups_sort_by_name_and_choices_by_label_unless_raw(api: httpx.Client) -> None:
    zed = created_id(api.post("accounts", json={"name": "Zed"}))
    abe = created_id(api.post("accounts", json={"name": "Abe"}))
    # a lookup sorts by the name of the row it points to, not by its id
    for name, parent in (("to Zed", zed), ("to Abe", abe)):
        api.post(
            "contacts",
            json={"lastname": name, "parentcustomerid_account@odata.bind": f"/accounts({parent})"},
        )
    by_lookup = (
        "<fetch><entity name='contact'><attribute name='lastname' />"
        "<order attribute='parentcustomerid' /></entity></fetch>"
    )
    assert [r["lastname"] for r in rows(api, by_lookup, "contacts")] == ["to Abe", "to Zed"]
    # customertypecode: 1 Competitor, 8 Prospect, 12 Other
    for name, code in (("Competitor", 1), ("Prospect", 8), ("Other", 12)):
        api.post("accounts", json={"name": name, "customertypecode": code})
    by_choice = (
        "<fetch{raw}><entity name='account'><attribute name='name' /><filter>"
        "<condition attribute='customertypecode' operator='not-null' /></filter>"
        "<order attribute='customertypecode' /></entity></fetch>"
    )
    assert [r["name"] for r in rows(api, by_choice.format(raw=""))] == [
        "Competitor",
        "Other",
        "Prospect",
    ]
    raw = by_choice.format(raw=" useraworderby='true'")
    assert [r["name"] for r in rows(api, raw)] == ["Competitor", "Prospect", "Other"]
