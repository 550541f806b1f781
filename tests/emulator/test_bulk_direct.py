"""The bulk messages' direct write path gives what the inner-request path and single requests give.

CreateMultiple / UpdateMultiple / UpsertMultiple write each target through the single-record
path's own functions (``bulk._Direct``) instead of one ``httpx.Request`` per target. Each test
runs the same input twice on two identical tenants — once through the direct path and once
with it switched off (every target an inner request through ``Emulator.dispatch``, the
reference) — and requires the same status, the same body (the same error code and message),
the same record count and the same stored rows afterwards. For invalid rows it also requires
the error a single POST / PATCH of that row answers.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_ferry.emulator import bulk, tenant
from crm_ferry.emulator.core import CoreConfig, Emulator
from crm_ferry.emulator.schema import AttributeDef, KeyDef

API = "https://contoso.crm.dynamics.com/api/data/v9.2/"
FIXED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ACCOUNT = "aaaaaaaa-0000-4000-8000-000000000001"
EXISTING = "cccccccc-0000-4000-8000-000000000001"
MISSING = "dddddddd-0000-4000-8000-0000000000ff"

Outcome = tuple[int, Any, int, dict[str, Any]]


def ctype(**values: Any) -> dict[str, Any]:
    return {"@odata.type": "Microsoft.Dynamics.CRM.contact", **values}


def new_id() -> str:
    return str(uuid.uuid4())


def make_tenant(**config: Any) -> Emulator:
    """A tenant with an account, a contact, an Active alternate key on ``new_practiceid`` and
    a SystemRequired custom column on account (``new_region``); ``config`` applies after."""
    em = Emulator(CoreConfig(wall_clock=lambda: FIXED))
    contact = em.schema.entity("contact")
    account = em.schema.entity("account")
    assert contact is not None
    assert account is not None
    contact.attributes["new_practiceid"] = AttributeDef(
        "new_practiceid", "new_PracticeId", "String", max_length=100, is_custom=True
    )
    key = KeyDef("new_practice_key", "new_practice_key", "contact", ("new_practiceid",))
    key.status = "Active"
    contact.keys[key.logical_name] = key
    for status, body in (
        (204, {"accountid": ACCOUNT, "name": "Acme"}),
        (204, {"contactid": EXISTING, "lastname": "Known", "new_practiceid": "P-1"}),
    ):
        table = "accounts" if "accountid" in body else "contacts"
        response = call(em, "POST", table, body)
        assert response.status_code == status, response.text
    account.attributes["new_region"] = AttributeDef(
        "new_region", "new_Region", "String", max_length=20, required="SystemRequired"
    )
    em.config = dataclasses.replace(em.config, **config)
    return em


def call(em: Emulator, method: str, path: str, body: Any) -> httpx.Response:
    response = em.handle(httpx.Request(method, f"{API}{path}", json=body))
    response.read()
    return response


@contextmanager
def reference_path() -> Iterator[None]:
    """Switch the direct path off: every target goes through an inner request."""
    with mock.patch.object(bulk._Direct, "of", return_value=None):
        yield


@contextmanager
def numbered_ids() -> Iterator[None]:
    """New record ids 1, 2, 3... (as version-4 GUIDs), so two runs create the same ids."""
    numbered = (uuid.UUID(int=n, version=4) for n in range(1, 1_000_000))
    with mock.patch.object(uuid, "uuid4", side_effect=numbered):
        yield


def run(
    em: Emulator, message: str, targets: Any, *, direct: bool, table: str = "contacts"
) -> Outcome:
    with nullcontext() if direct else reference_path(), numbered_ids():
        path = f"{table}/Microsoft.Dynamics.CRM.{message}"
        response = call(em, "POST", path, {"Targets": targets})
    body = response.json() if response.content else None
    return (
        response.status_code,
        body,
        response.extensions["crm_ferry.records"],
        em.dump()["records"],
    )


def both(message: str, targets: Any, *, table: str = "contacts", **config: Any) -> Outcome:
    """The outcome of the direct path, asserted equal to the reference path's."""
    direct_em, reference_em = make_tenant(**config), make_tenant(**config)
    try:
        direct = run(direct_em, message, targets, direct=True, table=table)
        reference = run(reference_em, message, targets, direct=False, table=table)
    finally:
        direct_em.close()
        reference_em.close()
    assert direct[:3] == reference[:3]
    assert direct[3] == reference[3]
    return direct


def single(method: str, path: str, body: dict[str, Any], **config: Any) -> httpx.Response:
    em = make_tenant(**config)
    try:
        return call(em, method, path, body)
    finally:
        em.close()


def test_the_direct_path_is_used() -> None:
    # Guard for the tests below: the emulator core takes the direct path, no inner requests.
    em = make_tenant()
    try:
        with mock.patch.object(em, "dispatch", side_effect=AssertionError("inner request")):
            status, _, records, _ = run(
                em, "UpsertMultiple", [ctype(contactid=new_id(), lastname="a")], direct=True
            )
        assert (status, records) == (204, 1)
    finally:
        em.close()


# -- valid input: identical stored rows ------------------------------------------------------


def test_upsert_multiple_creates_and_updates_identically() -> None:
    fresh = "eeeeeeee-0000-4000-8000-000000000001"
    targets = [
        ctype(contactid=fresh, firstname="Ada", lastname="Lovelace", gendercode=2),
        ctype(contactid=EXISTING, firstname="Changed", birthdate="1990-05-01"),
        ctype(contactid=fresh.upper(), jobtitle="second write of the same record"),
        ctype(
            **{"@odata.id": f"contacts({new_id()})"},
            lastname="By id",
            **{"parentcustomerid_account@odata.bind": f"/accounts({ACCOUNT})"},
        ),
        ctype(**{"@odata.id": "contacts(new_practiceid='P-1')"}, lastname="By key"),
        ctype(**{"@odata.id": "contacts(new_practiceid='P 2 ü')"}, lastname="New by key"),
        ctype(**{"@odata.id": "contacts(new_practiceid='50%25')"}, lastname="Escaped key"),
        ctype(contactid=new_id(), creditlimit=12.5, donotemail=True, statecode=0),
    ]
    status, body, records, rows = both("UpsertMultiple", targets)
    assert (status, body, records) == (204, None, len(targets))
    by_id = {r["contactid"]: r for r in rows["contact"]}
    assert by_id[fresh]["jobtitle"] == "second write of the same record"
    assert by_id[EXISTING]["lastname"] == "By key"
    assert {r.get("new_practiceid") for r in rows["contact"]} >= {"P-1", "P 2 ü", "50%"}


def test_create_and_update_multiple_identically() -> None:
    ids = [new_id(), new_id()]
    created = both(
        "CreateMultiple",
        [ctype(contactid=ids[0], lastname="One"), ctype(contactid=ids[1], lastname="Two")],
    )
    assert created[0] == 200
    assert created[1]["Ids"] == ids
    updated = both("UpdateMultiple", [ctype(contactid=EXISTING, lastname="Updated", statecode=1)])
    assert updated[0] == 204


def test_create_multiple_without_ids_answers_the_new_ids() -> None:
    em = make_tenant()
    try:
        status, body, records, rows = run(
            em, "CreateMultiple", [ctype(lastname="a"), ctype(lastname="b")], direct=True
        )
    finally:
        em.close()
    assert (status, records) == (200, 2)
    stored = {r["contactid"]: r["lastname"] for r in rows["contact"]}
    assert [stored[i] for i in body["Ids"]] == ["a", "b"]


# -- invalid input: identical errors, nothing written ----------------------------------------

INVALID: dict[str, dict[str, Any]] = {
    "wrong type": {"lastname": 5},
    "too long string": {"lastname": "x" * 51},
    "unknown column": {"nosuchcolumn": "x"},
    "bad picklist value": {"gendercode": 7},
    "bad date": {"birthdate": "31/12/1990"},
    "date before 1753": {"birthdate": "1700-01-01T00:00:00Z"},
    "bad lookup bind": {"parentcustomerid_account@odata.bind": f"/accounts({MISSING})"},
    "malformed bind": {"parentcustomerid_account@odata.bind": "accounts(nonsense"},
    "undeclared bind": {"nosuchnav@odata.bind": f"/accounts({ACCOUNT})"},
    "lookup without bind": {"parentcustomerid": ACCOUNT},
    "read-only column": {"createdon": "2020-01-01T00:00:00Z"},
    "non-default state on create": {"statecode": 1},
    "status of another state": {"statuscode": 2},
    "alternate key taken": {"new_practiceid": "p-1"},
}


@pytest.mark.parametrize("message", ["CreateMultiple", "UpsertMultiple"])
@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_new_row(message: str, case: str) -> None:
    row_id = new_id()
    bad = {"contactid": row_id, "lastname": "Ok", **INVALID[case]}
    good = ctype(contactid=new_id(), lastname="Fine")
    status, body, records, rows = both(message, [good, ctype(**bad), ctype(contactid=new_id())])
    assert status >= 400
    assert records == 2
    assert [r["lastname"] for r in rows["contact"]] == ["Known"]  # all or nothing
    if message == "CreateMultiple":
        alone = single("POST", "contacts", bad)
    else:
        alone = single(
            "PATCH", f"contacts({row_id})", {k: v for k, v in bad.items() if k != "contactid"}
        )
    assert (status, body) == (alone.status_code, alone.json())


@pytest.mark.parametrize("case", [c for c in INVALID if c != "non-default state on create"])
def test_invalid_update(case: str) -> None:
    change = INVALID[case]
    status, body, _, _ = both("UpdateMultiple", [ctype(contactid=EXISTING, **change)])
    alone = single("PATCH", f"contacts({EXISTING})", change)
    if case in ("alternate key taken", "status of another state"):
        # the row's own key value; statuscode 2 belongs to the Inactive state
        assert status == alone.status_code
        return
    assert status >= 400
    if status == 404:
        # UpdateMultiple words every 404 as its missing-record text (bulk._explain), even a
        # missing lookup target; the code stays the single request's.
        assert body["error"]["code"] == alone.json()["error"]["code"]
        return
    assert (status, body) == (alone.status_code, alone.json())


def test_missing_required_column() -> None:
    # new_region is SystemRequired on account (a tenant customisation made in make_tenant).
    target = {"@odata.type": "Microsoft.Dynamics.CRM.account", "accountid": new_id(), "name": "x"}
    status, body, _, _ = both("CreateMultiple", [target], table="accounts")
    alone = single("POST", "accounts", {k: v for k, v in target.items() if k != "@odata.type"})
    assert status == 400
    assert (status, body) == (alone.status_code, alone.json())


def test_update_multiple_of_a_missing_record() -> None:
    status, body, _, _ = both("UpdateMultiple", [ctype(contactid=MISSING, lastname="x")])
    assert status == 404
    assert body["error"]["message"] == f"Contact With Ids = {MISSING} Do Not Exist"


@pytest.mark.parametrize(
    "target",
    [
        ctype(contactid="not-a-guid"),
        ctype(lastname="no key"),
        ctype(**{"@odata.id": "accounts(accountnumber='x')"}),
        ctype(**{"@odata.id": "contacts(new_practiceid='P-9')"}, new_practiceid="P-8"),
        ctype(**{"@odata.id": "contacts(nosuchkey='x')"}),
        ctype(**{"@odata.id": "contacts(new_practiceid='unterminated)"}),
        ctype(**{"@odata.id": "contacts(new_practiceid='a/../b')"}),
        ctype(**{"@odata.id": "contacts(new_practiceid='a?b')"}),
    ],
    ids=lambda t: json.dumps(t)[48:100],
)
def test_bad_addresses(target: dict[str, Any]) -> None:
    both("UpsertMultiple", [ctype(contactid=new_id(), lastname="ok"), target])


def test_duplicate_id_in_create_multiple() -> None:
    row_id = new_id()
    status, body, _, _ = both(
        "CreateMultiple", [ctype(contactid=row_id), ctype(contactid=row_id.upper())]
    )
    assert status == 412
    assert body["error"]["message"] == "Cannot insert duplicate key."


@pytest.mark.parametrize(
    ("message", "privilege"),
    [
        ("CreateMultiple", "prvCreateContact"),
        ("UpsertMultiple", "prvCreateContact"),
        ("UpsertMultiple", "prvWriteContact"),
        ("UpsertMultiple", "prvAppendToAccount"),
    ],
)
def test_privileges(message: str, privilege: str) -> None:
    removed = {tenant.DEFAULT_APP_CLIENT_ID: frozenset({privilege})}
    bind = {"parentcustomerid_account@odata.bind": f"/accounts({ACCOUNT})"}
    targets = [ctype(contactid=new_id(), **bind), ctype(contactid=EXISTING, lastname="x")]
    if message == "CreateMultiple":
        targets = targets[:1]
    status, body, _, _ = both(message, targets, privileges_removed=removed)
    assert status == 403
    assert privilege in body["error"]["message"]


# -- a property over random rows -------------------------------------------------------------

_IDS = [EXISTING, "eeeeeeee-0000-4000-8000-00000000000a", "eeeeeeee-0000-4000-8000-00000000000b"]
_VALUES = {
    "contactid": st.sampled_from(_IDS),
    "lastname": st.one_of(st.none(), st.text(max_size=55), st.integers()),
    "firstname": st.text(max_size=8),
    "gendercode": st.one_of(st.none(), st.integers(0, 3), st.booleans()),
    "numberofchildren": st.integers(0, 3),
    "creditlimit": st.one_of(
        st.floats(allow_nan=False, allow_infinity=False, width=32), st.text(max_size=3)
    ),
    "statecode": st.sampled_from([0, 1, None]),
    "statuscode": st.sampled_from([1, 2]),
    "birthdate": st.sampled_from(["2000-01-01", "2000-01-01T00:00:00Z", "x", None]),
    "new_practiceid": st.sampled_from(["P-1", "P-2", "p-2", None]),
    "parentcustomerid_account@odata.bind": st.sampled_from(
        [f"/accounts({ACCOUNT})", f"/accounts({MISSING})", None]
    ),
}
_ROW = st.fixed_dictionaries(
    {"contactid": _VALUES["contactid"]},
    optional={k: v for k, v in _VALUES.items() if k != "contactid"},
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    message=st.sampled_from(["CreateMultiple", "UpdateMultiple", "UpsertMultiple"]),
    rows=st.lists(_ROW, min_size=1, max_size=4),
)
def test_random_rows_give_the_same_outcome(message: str, rows: list[dict[str, Any]]) -> None:
    both(message, [ctype(**row) for row in rows])


@given(st.text(max_size=12))
def test_plain_addresses_reach_the_router_unchanged(text: str) -> None:
    # What the direct path assumes of an address it parses itself instead of building a URL.
    address = f"new_practiceid='{text}'"
    if not bulk._plain_address(address):
        return
    url = httpx.URL(f"{API}contacts({address})")
    assert url.path == f"/api/data/v9.2/contacts({address})"
