"""Actions and functions, state changes, and what the platform computes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from crm_ferry.emulator import tenant

WHOAMI = "https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/whoami"
WIN = (
    "https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/winopportunity"
)
LOSE = "https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/loseopportunity"
PUBLISH = (
    "https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/publishxml"
)
INVOICE = "https://learn.microsoft.com/dynamics365/sales/developer/entities/invoice"
INVOICE_DETAIL = "https://learn.microsoft.com/dynamics365/sales/developer/entities/invoicedetail"
STATE = "https://learn.microsoft.com/power-apps/developer/data-platform/webapi/update-delete-entities-using-web-api"
CURRENCY = "https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/transactioncurrency"

REP = {"Prefer": "return=representation"}
USD = f"/transactioncurrencies({tenant.BASE_CURRENCY_ID})"
EUR = f"/transactioncurrencies({tenant.seed_id('transactioncurrency', 'EUR')})"
PRICE = f"/pricelevels({tenant.DEFAULT_PRICE_LEVEL_ID})"


def _id(response: httpx.Response) -> str:
    assert response.status_code == 204, response.text
    url = response.headers["OData-EntityId"]
    return url[url.rindex("(") + 1 : -1]


@pytest.mark.parametrize("path", ["WhoAmI", "WhoAmI()"])
def test_who_am_i(api: httpx.Client, path: str) -> None:
    # WHOAMI: UserId, BusinessUnitId, OrganizationId
    r = api.get(path)
    assert r.status_code == 200
    body = r.json()
    assert body["UserId"] == tenant.DEFAULT_APP_USER_ID
    assert body["BusinessUnitId"] == tenant.ROOT_BUSINESS_UNIT_ID
    assert body["OrganizationId"] == tenant.ORGANIZATION_ID
    assert body["@odata.context"].endswith("$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse")


def _opportunity(api: httpx.Client, **body: Any) -> str:
    customer = _id(api.post("contacts", json={"lastname": "Client"}))
    return _id(
        api.post(
            "opportunities",
            json={
                "name": "Package",
                "customerid_contact@odata.bind": f"/contacts({customer})",
                **body,
            },
        )
    )


def test_win_opportunity_creates_completed_opportunityclose(api: httpx.Client) -> None:
    # WIN: Status + OpportunityClose; the platform creates the opportunityclose activity
    opp = _opportunity(api, estimatedvalue=900)
    r = api.post(
        "WinOpportunity",
        json={
            "Status": 3,
            "OpportunityClose": {
                "subject": "Won: package",
                "opportunityid@odata.bind": f"/opportunities({opp})",
                "actualrevenue": 1200,
                "actualend": "2024-06-30T00:00:00Z",
            },
        },
    )
    assert r.status_code == 204, r.text
    row = api.get(f"opportunities({opp})").json()
    assert (row["statecode"], row["statuscode"]) == (1, 3)
    assert row["actualvalue"] == 1200
    assert row["actualclosedate"] == "2024-06-30"
    closes = api.get(
        "opportunitycloses", params={"$filter": f"_opportunityid_value eq {opp}"}
    ).json()
    assert len(closes["value"]) == 1
    close = closes["value"][0]
    assert (close["statecode"], close["statuscode"]) == (1, 2)
    assert close["subject"] == "Won: package"
    # already closed → 0x80040515
    again = api.post(
        "WinOpportunity",
        json={
            "Status": 3,
            "OpportunityClose": {"opportunityid@odata.bind": f"/opportunities({opp})"},
        },
    )
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "0x80040515"
    # reopening by update is allowed (statecode 0), then it can be lost
    assert (
        api.patch(f"opportunities({opp})", json={"statecode": 0, "statuscode": 1}).status_code
        == 204
    )


def test_lose_opportunity_and_status_check(api: httpx.Client) -> None:
    # LOSE: Status must be a Lost status (4 Canceled, 5 Out-Sold)
    opp = _opportunity(api)
    close = {"subject": "Lost", "opportunityid@odata.bind": f"/opportunities({opp})"}
    wrong = api.post("LoseOpportunity", json={"Status": 3, "OpportunityClose": close})
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "0x80048408"
    assert (
        api.post("LoseOpportunity", json={"Status": 5, "OpportunityClose": close}).status_code
        == 204
    )
    row = api.get(f"opportunities({opp})?$select=statecode,statuscode").json()
    assert (row["statecode"], row["statuscode"]) == (2, 5)


def test_publish_xml(api: httpx.Client) -> None:
    # PUBLISH: ParameterXml must be an importexportxml document
    good = "<importexportxml><entities><entity>contact</entity></entities></importexportxml>"
    assert api.post("PublishXml", json={"ParameterXml": good}).status_code == 204
    assert api.post("PublishXml", json={"ParameterXml": "<importexportxml>"}).status_code == 400
    assert api.post("PublishXml", json={"ParameterXml": "<entities/>"}).status_code == 400
    assert api.post("PublishXml", json={}).status_code == 400
    assert api.post("PublishAllXml").status_code == 204


def _invoice(api: httpx.Client, currency: str = USD) -> str:
    customer = _id(api.post("contacts", json={"lastname": "Client"}))
    return _id(
        api.post(
            "invoices",
            json={
                "name": "INV-0001",
                "customerid_contact@odata.bind": f"/contacts({customer})",
                "pricelevelid@odata.bind": PRICE,
                "transactioncurrencyid@odata.bind": currency,
            },
        )
    )


def _line(api: httpx.Client, invoice: str, **body: Any) -> httpx.Response:
    return api.post(
        "invoicedetails",
        json={
            "invoiceid@odata.bind": f"/invoices({invoice})",
            "isproductoverridden": True,
            "productdescription": "Coaching session",
            **body,
        },
    )


def test_invoice_totals_from_write_in_lines(api: httpx.Client) -> None:
    # INVOICE / INVOICE_DETAIL: totals are computed from the lines
    inv = _invoice(api)
    first = _id(_line(api, inv, quantity=2, priceperunit=150))
    _id(_line(api, inv, quantity=1, priceperunit=100, manualdiscountamount=10, tax=5))
    line = api.get(f"invoicedetails({first})").json()
    assert line["baseamount"] == 300
    assert line["extendedamount"] == 300
    row = api.get(f"invoices({inv})").json()
    assert row["totallineitemamount"] == 390
    assert row["totaltax"] == 5
    assert row["totalamountlessfreight"] == 390
    assert row["totalamount"] == 395
    assert row["invoicenumber"]
    api.delete(f"invoicedetails({first})")
    assert api.get(f"invoices({inv})").json()["totalamount"] == 95
    # totals are computed: not writable
    # totalamount is valid for update (Sales reference), and the platform works it out again
    assert api.patch(f"invoices({inv})", json={"totalamount": 1}).status_code == 204
    assert api.get(f"invoices({inv})").json()["totalamount"] == 95


def test_money_base_uses_exchange_rate(api: httpx.Client) -> None:
    # CURRENCY: <money>_base = value / exchangerate (1.0 for the base currency)
    inv = _invoice(api, EUR)
    _line(api, inv, quantity=1, priceperunit=92)
    row = api.get(f"invoices({inv})").json()
    assert row["totalamount"] == 92
    assert row["totalamount_base"] == 100
    usd = _opportunity(api, estimatedvalue=10)
    assert api.get(f"opportunities({usd})").json()["estimatedvalue_base"] == 10


def test_paid_invoice_is_read_only(api: httpx.Client) -> None:
    # INVOICE (Paid / Canceled invoices are read-only; change state last)
    inv = _invoice(api)
    line = _id(_line(api, inv, quantity=1, priceperunit=10))
    paid = api.patch(f"invoices({inv})", json={"statecode": 2, "statuscode": 100001})
    assert paid.status_code == 204, paid.text
    for response in (
        api.patch(f"invoices({inv})", json={"name": "changed"}),
        api.patch(f"invoicedetails({line})", json={"quantity": 3}),
        _line(api, inv, quantity=1, priceperunit=1),
        api.delete(f"invoicedetails({line})"),
    ):
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "0x80043b0b"
    assert api.get(f"invoices({inv})").json()["totalamount"] == 10


def test_invoice_state_pairs(api: httpx.Client) -> None:
    # INVOICE statuscode: Paid → 100001 Complete / 100002 Partial; Canceled → 100003
    inv = _invoice(api)
    bad = api.patch(f"invoices({inv})", json={"statecode": 2, "statuscode": 100003})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "0x80048408"
    ok = api.patch(f"invoices({inv})", json={"statecode": 3, "statuscode": 100003})
    assert ok.status_code == 204


def test_activity_completed_by_update(api: httpx.Client) -> None:
    # STATE: create open, then close with a matching status (phonecall 1/2 Made or 1/4 Received)
    call = _id(api.post("phonecalls", json={"subject": "Call", "directioncode": True}))
    done = api.patch(f"phonecalls({call})", json={"statecode": 1, "statuscode": 4}, headers=REP)
    assert done.status_code == 200
    assert (done.json()["statecode"], done.json()["statuscode"]) == (1, 4)
    bad = api.patch(f"phonecalls({call})", json={"statecode": 1, "statuscode": 3})
    assert bad.status_code == 400
    # closed: read-only until reopened
    closed = api.patch(f"phonecalls({call})", json={"subject": "changed"})
    assert closed.status_code == 400
    assert closed.json()["error"]["code"] == "0x80043b0b"
    assert api.patch(f"phonecalls({call})", json={"statecode": 0}).status_code == 204
    assert api.patch(f"phonecalls({call})", json={"subject": "changed"}).status_code == 204
