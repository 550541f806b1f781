"""Invoice totals as the platform computes them from write-in lines with tax, discounts and
freight (the Invoice and InvoiceDetail table references)."""

from __future__ import annotations

from typing import Any

import httpx

from crm_ferry.emulator import tenant

INVOICE = "https://learn.microsoft.com/dynamics365/sales/developer/entities/invoice"
INVOICE_DETAIL = "https://learn.microsoft.com/dynamics365/sales/developer/entities/invoicedetail"

USD = f"/transactioncurrencies({tenant.BASE_CURRENCY_ID})"
PRICE = f"/pricelevels({tenant.DEFAULT_PRICE_LEVEL_ID})"


def _id(response: httpx.Response) -> str:
    assert response.status_code == 204, response.text
    url = response.headers["OData-EntityId"]
    return url[url.rindex("(") + 1 : -1]


def _invoice(api: httpx.Client, **body: Any) -> str:
    customer = _id(api.post("contacts", json={"lastname": "Client"}))
    return _id(
        api.post(
            "invoices",
            json={
                "name": "INV-0001",
                "customerid_contact@odata.bind": f"/contacts({customer})",
                "pricelevelid@odata.bind": PRICE,
                "transactioncurrencyid@odata.bind": USD,
                **body,
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
            "quantity": 1,
            **body,
        },
    )


def test_line_tax_adds_to_the_line_and_to_the_invoice(api: httpx.Client) -> None:
    # INVOICE_DETAIL: extendedamount = baseamount - manualdiscountamount + tax
    # INVOICE: totaltax = the lines' tax; totalamount = lines - discount + freight + tax
    inv = _invoice(api, discountamount=20, freightamount=7)
    first = _id(_line(api, inv, priceperunit=150, tax=19.5))
    _id(_line(api, inv, quantity=2, priceperunit=75, manualdiscountamount=10, tax=18.2))
    line = api.get(f"invoicedetails({first})").json()
    assert (line["baseamount"], line["extendedamount"]) == (150, 169.5)
    row = api.get(f"invoices({inv})").json()
    assert row["totallineitemamount"] == 290  # 150 + (150 - 10): without the tax
    assert row["totallineitemdiscountamount"] == 10
    assert row["totaldiscountamount"] == 20
    assert row["totalamountlessfreight"] == 270
    assert row["totaltax"] == 37.7
    assert row["totalamount"] == 314.7  # 270 + 7 + 37.7


def test_a_line_of_tax_only_carries_it_into_the_totals(api: httpx.Client) -> None:
    inv = _invoice(api)
    _id(_line(api, inv, productdescription="Tax", priceperunit=0, tax=5))
    row = api.get(f"invoices({inv})").json()
    assert (row["totallineitemamount"], row["totaltax"], row["totalamount"]) == (0, 5, 5)


def test_computed_totals_and_out_of_range_amounts_are_refused(api: httpx.Client) -> None:
    inv = _invoice(api)
    # INVOICE: TotalTax and TotalAmount are not valid for create
    customer = _id(api.post("contacts", json={"lastname": "Other"}))
    refused = api.post(
        "invoices",
        json={
            "name": "INV-0002",
            "customerid_contact@odata.bind": f"/contacts({customer})",
            "pricelevelid@odata.bind": PRICE,
            "transactioncurrencyid@odata.bind": USD,
            "totaltax": 5,
        },
    )
    assert refused.status_code == 400
    # INVOICE_DETAIL: ManualDiscountAmount from 0, Tax within ±1,000,000,000,000
    assert _line(api, inv, priceperunit=10, manualdiscountamount=-1).status_code == 400
    assert _line(api, inv, priceperunit=10, tax=2_000_000_000_000).status_code == 400
    assert _line(api, inv, priceperunit=10, tax=-1).status_code == 204  # a tax credit
