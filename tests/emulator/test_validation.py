"""Validation errors: status, error code and message as Dataverse answers them."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from crm_ferry.emulator import tenant
from crm_ferry.emulator.core import CoreConfig, Emulator

ERRORS = "https://learn.microsoft.com/power-apps/developer/data-platform/webapi/compose-http-requests-handle-errors"
BATCH = "https://learn.microsoft.com/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api"
CREATE = (
    "https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-entity-web-api"
)
DATES = "https://learn.microsoft.com/power-apps/developer/data-platform/behavior-format-date-time-attribute"
NOTES = "https://learn.microsoft.com/power-apps/developer/data-platform/attachment-annotation-files"
SECURITY = "https://learn.microsoft.com/power-apps/developer/data-platform/security-roles"
PRIVS = "https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/retrieveuserprivileges"
STATE = "https://learn.microsoft.com/power-apps/developer/data-platform/webapi/update-delete-entities-using-web-api"

USD = f"/transactioncurrencies({tenant.BASE_CURRENCY_ID})"
PRICE = f"/pricelevels({tenant.DEFAULT_PRICE_LEVEL_ID})"


def error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    return dict(body["error"])


def new_id(response: httpx.Response) -> str:
    url = response.headers["OData-EntityId"]
    return url[url.rindex("(") + 1 : -1]


def test_unknown_column(api: httpx.Client) -> None:
    # ERRORS (OData: "Could not find a property named ...")
    r = api.post("contacts", json={"lastname": "Ng", "bogus": 1})
    assert r.status_code == 400
    assert error(r)["message"] == (
        "Could not find a property named 'bogus' on type 'Microsoft.Dynamics.CRM.contact'."
    )
    # property names are case-sensitive
    assert api.post("contacts", json={"LastName": "Ng"}).status_code == 400


def test_wrongly_cased_or_unknown_bind(api: httpx.Client) -> None:
    # CREATE "Associate table rows on create": the navigation property name, case-sensitive
    acc = new_id(api.post("accounts", json={"name": "A"}))
    for name in ("ParentCustomerId_Account", "parentcustomerid", "nosuchnav"):
        r = api.post("contacts", json={f"{name}@odata.bind": f"/accounts({acc})"})
        assert r.status_code == 400, name
        e = error(r)
        assert e["code"] == "0x80048d19"
        assert (
            f"An undeclared property '{name}' which only has property annotations" in e["message"]
        )


def test_bind_to_wrong_table(api: httpx.Client) -> None:
    # CREATE: parentcustomerid_account must reference an account
    cid = new_id(api.post("contacts", json={"lastname": "A"}))
    r = api.post("contacts", json={"parentcustomerid_account@odata.bind": f"/contacts({cid})"})
    assert r.status_code == 400


def test_lookup_given_as_plain_value(api: httpx.Client) -> None:
    # CREATE: lookups are set through <nav>@odata.bind, not as a primitive property
    r = api.post("invoicedetails", json={"invoiceid": str(uuid.uuid4()), "quantity": 1})
    assert r.status_code == 400
    assert error(r)["code"] == "0x80048d19"


def test_lookup_to_missing_row(api: httpx.Client) -> None:
    # ERRORS: ObjectDoesNotExist "<table> With Ids = <id> Do Not Exist"
    missing = str(uuid.uuid4())
    r = api.post("contacts", json={"parentcustomerid_account@odata.bind": f"/accounts({missing})"})
    assert r.status_code == 404
    assert error(r) == {
        "code": "0x80040217",
        "message": f"account With Ids = {missing} Do Not Exist",
    }


@pytest.mark.parametrize(
    ("table", "column", "value", "edm"),
    [
        ("accounts", "numberofemployees", "12", "Edm.Int32"),
        ("accounts", "numberofemployees", 1.5, "Edm.Int32"),
        ("accounts", "name", 12, "Edm.String"),
        ("accounts", "revenue", "100.00", "Edm.Decimal"),
        ("contacts", "donotphone", 1, "Edm.Boolean"),
        ("contacts", "gendercode", "1", "Edm.Int32"),
    ],
)
def test_wrong_value_type(api: httpx.Client, table: str, column: str, value: Any, edm: str) -> None:
    # ERRORS: OData payload conversion errors
    r = api.post(table, json={column: value})
    assert r.status_code == 400
    assert error(r)["message"].endswith(f"to the expected type '{edm}'.")


def test_string_too_long_exact_text(api: httpx.Client) -> None:
    # BATCH (failing inner part): 0x80044331 with the exact message shape (two spaces)
    r = api.post("contacts", json={"firstname": "x" * 51})
    assert r.status_code == 400
    assert error(r) == {
        "code": "0x80044331",
        "message": "A validation error occurred.  The length of the 'firstname' attribute of the "
        "'contact' entity exceeded the maximum allowed length of '50'.",
    }


def test_option_outside_the_set(api: httpx.Client) -> None:
    # ERRORS: PicklistValueOutOfRange 0x8004431A
    r = api.post("accounts", json={"name": "A", "industrycode": 99})
    assert r.status_code == 400
    e = error(r)
    assert e["code"] == "0x8004431A"
    assert e["message"].startswith(
        "A validation error occurred. The value 99 of 'industrycode' on record of type 'account' "
        "is outside the valid range. Accepted Values: 1,2,3,"
    )
    assert api.post("contacts", json={"gendercode": 3}).status_code == 400
    assert api.post("contacts", json={"gendercode": 2}).status_code == 204


def test_missing_required_columns() -> None:
    # the Sales reference: an invoice's name, customer and price list and a line's quantity are
    # ApplicationRequired (refused when missing only where the tenant enforces it)
    em = Emulator(CoreConfig(enforce_application_required=True))
    api = httpx.Client(
        transport=httpx.MockTransport(em.handle),
        base_url="https://contoso.crm.dynamics.com/api/data/v9.2/",
    )
    customer = new_id(api.post("contacts", json={"lastname": "C"}))
    full = {
        "name": "INV-1",
        "customerid_contact@odata.bind": f"/contacts({customer})",
        "pricelevelid@odata.bind": PRICE,
        "transactioncurrencyid@odata.bind": USD,
    }
    for missing in ("name", "customerid_contact@odata.bind", "pricelevelid@odata.bind"):
        body = {k: v for k, v in full.items() if k != missing}
        r = api.post("invoices", json=body)
        assert r.status_code == 400, missing
        assert error(r)["code"] == "0x80040203"
    # the currency defaults to the organization's base currency (records with money columns)
    no_currency = {k: v for k, v in full.items() if not k.startswith("transactioncurrencyid")}
    defaulted = api.post("invoices", json=no_currency, headers={"Prefer": "return=representation"})
    assert defaulted.json()["_transactioncurrencyid_value"] == tenant.BASE_CURRENCY_ID
    invoice = new_id(api.post("invoices", json=full))
    write_in = {
        "invoiceid@odata.bind": f"/invoices({invoice})",
        "isproductoverridden": True,
        "productdescription": "Session",
        "invoicedetailname": "Session",
    }
    line = api.post("invoicedetails", json=write_in)
    assert line.status_code == 400
    assert "quantity" in error(line)["message"]
    # products are not priced here: a line must be a write-in product with a description
    no_product = api.post(
        "invoicedetails", json={**write_in, "isproductoverridden": False, "quantity": 1}
    )
    assert no_product.status_code == 400
    assert api.post("invoicedetails", json={**write_in, "quantity": 1}).status_code == 204
    # a required column can't be set to null on update (update-delete-entities-using-web-api)
    assert api.patch(f"invoices({invoice})", json={"name": None}).status_code == 400
    api.close()
    em.close()


def test_required_columns_the_platform_fills(api: httpx.Client) -> None:
    # by default only SystemRequired columns the caller must give are enforced; an invoice
    # with no name is accepted (ApplicationRequired), and so is a line with no product type
    # (SystemRequired, a choice the platform defaults)
    r = api.post("invoices", json={"pricelevelid@odata.bind": PRICE})
    assert r.status_code == 204, r.text


def test_application_required_only_when_configured() -> None:
    # ERRORS; reference §7.3 (ApplicationRequired is form-level): account.name
    for enforce, status in ((False, 204), (True, 400)):
        em = Emulator(CoreConfig(enforce_application_required=enforce))
        response = em.handle(
            httpx.Request(
                "POST", "https://x.example/api/data/v9.2/accounts", json={"telephone1": "1"}
            )
        )
        assert response.status_code == status
        em.close()


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("birthdate", "1990-01-02T00:00:00Z"),
        ("birthdate", "1700-01-01"),
        ("overriddencreatedon", "1699-12-31T00:00:00Z"),
        ("overriddencreatedon", "yesterday"),
    ],
)
def test_bad_dates(api: httpx.Client, column: str, value: str) -> None:
    # DATES: DateOnly is Edm.Date (no time); the earliest date is 1753-01-01
    r = api.post("contacts", json={column: value})
    assert r.status_code == 400


def test_good_dates_are_normalised(api: httpx.Client) -> None:
    # DATES: UserLocal values without an offset are taken as UTC
    r = api.post(
        "phonecalls",
        json={
            "subject": "s",
            "actualstart": "2024-03-05T10:00:00+02:00",
            "actualend": "2024-03-05T09:00",
        },
        headers={"Prefer": "return=representation"},
    )
    body = r.json()
    assert body["actualstart"] == "2024-03-05T08:00:00Z"
    assert body["actualend"] == "2024-03-05T09:00:00Z"
    c = api.post(
        "contacts", json={"birthdate": "1990-01-02"}, headers={"Prefer": "return=representation"}
    )
    assert c.json()["birthdate"] == "1990-01-02"


def test_invalid_state_status_pair(api: httpx.Client) -> None:
    # STATE ("When you change statecode, send a matching statuscode"); 0x80048408
    cid = new_id(api.post("contacts", json={"lastname": "N"}))
    r = api.patch(f"contacts({cid})", json={"statecode": 1, "statuscode": 1})
    assert r.status_code == 400
    assert error(r) == {
        "code": "0x80048408",
        "message": f"1 is not a valid status code for state code ContactState.Inactive on "
        f"contact with Id {cid}.",
    }
    ok = api.patch(
        f"contacts({cid})", json={"statecode": 1}, headers={"Prefer": "return=representation"}
    )
    assert ok.json()["statuscode"] == 2


def test_state_on_create_is_rejected_by_default(api: httpx.Client) -> None:
    # reference §7.7 (UNCERTAIN; the two-step path is the safe one): configurable
    r = api.post("phonecalls", json={"subject": "s", "statecode": 1, "statuscode": 2})
    assert r.status_code == 400
    em = Emulator(CoreConfig(state_on_create="allow"))
    ok = em.handle(
        httpx.Request(
            "POST",
            "https://x.example/api/data/v9.2/phonecalls",
            json={"subject": "s", "statecode": 1, "statuscode": 2},
        )
    )
    assert ok.status_code == 204
    em.close()


def test_opportunity_state_cannot_be_patched(api: httpx.Client) -> None:
    # https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/winopportunity
    opp = new_id(api.post("opportunities", json={"name": "Deal"}))
    r = api.patch(f"opportunities({opp})", json={"statecode": 1, "statuscode": 3})
    assert r.status_code == 400
    assert error(r)["code"] == "0x80100005"


def test_disabled_user_cannot_own_records(api: httpx.Client) -> None:
    # SECURITY (a disabled user has no access; records can't be assigned to one)
    former = next(u for u in tenant.SEED_USERS if u.isdisabled)
    r = api.post(
        "contacts", json={"lastname": "N", "ownerid@odata.bind": f"/systemusers({former.id})"}
    )
    assert r.status_code == 400
    assert former.id in error(r)["message"]


def test_note_document_size_and_blocked_extension(api: httpx.Client) -> None:
    # NOTES: size measured on the Base64 text against maxuploadfilesize; blocked extensions
    cid = new_id(api.post("contacts", json={"lastname": "N"}))
    target = f"/contacts({cid})"
    ok_body = base64.b64encode(b"hello").decode()
    ok = api.post(
        "annotations",
        json={"objectid_contact@odata.bind": target, "filename": "a.txt", "documentbody": ok_body},
        headers={"Prefer": "return=representation"},
    )
    assert ok.status_code == 201
    assert ok.json()["filesize"] == 5
    assert ok.json()["isdocument"] is True
    assert ok.json()["objecttypecode"] == "contact"
    big = "A" * (tenant.MAX_UPLOAD_FILE_SIZE + 4)
    r = api.post("annotations", json={"objectid_contact@odata.bind": target, "documentbody": big})
    assert r.status_code == 400
    assert error(r) == {"code": "0x80044a02", "message": "Attachment file size is too big."}
    blocked = api.post(
        "annotations",
        json={
            "objectid_contact@odata.bind": target,
            "filename": "run.EXE",
            "documentbody": ok_body,
        },
    )
    assert blocked.status_code == 400
    assert error(blocked)["code"] == "0x80043e09"


def test_read_only_columns_are_rejected(api: httpx.Client) -> None:
    # ERRORS: createdon/modifiedby are set by the platform
    assert api.post("contacts", json={"createdon": "2020-01-01T00:00:00Z"}).status_code == 400
    assert api.post("contacts", json={"fullname": "x"}).status_code == 400


# -- privileges ----------------------------------------------------------------------------

APP = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def restricted() -> Iterator[tuple[Emulator, str]]:
    em = Emulator(
        CoreConfig(
            privileges_removed={APP: frozenset({"prvCreateContact", "prvDeleteAccount"})},
            wall_clock=lambda: datetime(2026, 1, 1, tzinfo=UTC),
        )
    )
    user = em.register_application_user(APP, "loader")
    yield em, user
    em.close()


def test_missing_privilege_is_403(restricted: tuple[Emulator, str]) -> None:
    # ERRORS (403 PrivilegeDenied for privilege errors); SECURITY
    em, user = restricted
    request = httpx.Request(
        "POST",
        "https://x.example/api/data/v9.2/contacts",
        json={"lastname": "N"},
        extensions={"crm_ferry.caller": user},
    )
    r = em.handle(request)
    assert r.status_code == 403
    e = error(r)
    assert e["code"] == "0x80040220"
    assert e["message"].startswith(f"Principal user (Id={user}, type=8,")
    assert "is missing prvCreateContact privilege" in e["message"]
    allowed = em.handle(
        httpx.Request(
            "POST",
            "https://x.example/api/data/v9.2/accounts",
            json={"name": "A"},
            extensions={"crm_ferry.caller": user},
        )
    )
    assert allowed.status_code == 204


def test_retrieve_user_privileges(restricted: tuple[Emulator, str]) -> None:
    # PRIVS: RolePrivileges with Depth, PrivilegeId, BusinessUnitId, PrivilegeName
    em, user = restricted
    r = em.handle(
        httpx.Request(
            "GET",
            f"https://x.example/api/data/v9.2/systemusers({user})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()",
        )
    )
    assert r.status_code == 200
    privileges = r.json()["RolePrivileges"]
    names = {p["PrivilegeName"] for p in privileges}
    assert "prvWriteContact" in names
    assert "prvCreateContact" not in names
    assert set(privileges[0]) == {"Depth", "PrivilegeId", "BusinessUnitId", "PrivilegeName"}


def test_organization_maxuploadfilesize_is_honoured(api: httpx.Client) -> None:
    # NOTES: the limit is the organization's maxuploadfilesize (default 5 MB, up to 128 MB)
    org = f"organizations({tenant.ORGANIZATION_ID})"
    assert api.patch(org, json={"maxuploadfilesize": 8}).status_code == 204
    cid = new_id(api.post("contacts", json={"lastname": "N"}))
    body = base64.b64encode(b"123456789").decode()  # 12 Base64 characters > 8
    r = api.post(
        "annotations",
        json={"objectid_contact@odata.bind": f"/contacts({cid})", "documentbody": body},
    )
    assert r.status_code == 400
    assert error(r)["code"] == "0x80044a02"
    assert api.patch(org, json={"maxuploadfilesize": 131_072_001}).status_code == 400


def test_odata_type_must_match_the_entity_set(api: httpx.Client) -> None:
    # CREATE: the body is an entity of the set's type (bulk Targets carry @odata.type too)
    ok = api.post(
        "contacts", json={"@odata.type": "Microsoft.Dynamics.CRM.contact", "lastname": "N"}
    )
    assert ok.status_code == 204
    hashed = api.post("contacts", json={"@odata.type": "#Microsoft.Dynamics.CRM.contact"})
    assert hashed.status_code == 204
    wrong = api.post(
        "contacts", json={"@odata.type": "Microsoft.Dynamics.CRM.account", "name": "A"}
    )
    assert wrong.status_code == 400
