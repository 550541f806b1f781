"""Bulk operation messages: CreateMultiple, UpdateMultiple, UpsertMultiple, DeleteMultiple.

Each test encodes https://learn.microsoft.com/power-apps/developer/data-platform/bulk-operations
unless it names another page.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from crm_ferry.emulator.bulk import handle_bulk, handle_sdkmessagefilters
from crm_ferry.emulator.core import CoreConfig, Emulator
from crm_ferry.emulator.layers import odata_error
from crm_ferry.emulator.schema import BULK_MESSAGES, AttributeDef, EntityDef, Schema

BASE = "https://org.example"
API = f"{BASE}/api/data/v9.2/"


def _schema() -> Schema:
    schema = Schema()
    contact = EntityDef(
        "contact",
        "Contact",
        "contacts",
        "contactid",
        "fullname",
        2,
        display_name="Contact",
        bulk_messages=BULK_MESSAGES,
    )
    contact.attributes["lastname"] = AttributeDef("lastname", "LastName", "String", "Last Name")
    contact.attributes["new_practiceid"] = AttributeDef(
        "new_practiceid", "new_PracticeId", "String", "Practice Id"
    )
    schema.add_entity(contact)
    schema.add_entity(EntityDef("account", "Account", "accounts", "accountid", "name", 1))
    return schema


class StubCore:
    """A stand-in for the emulator core: ``dispatch`` runs one record request on ``contacts``
    (POST creates; PATCH upserts, or updates only with ``If-Match: *``; keys by id or
    ``new_practiceid``; a lastname over 10 characters is a validation error),
    ``transaction`` rolls back on any exception."""

    def __init__(self) -> None:
        self.schema = _schema()
        self.rows: dict[str, dict[str, Any]] = {}
        self.seen: list[httpx.Request] = []

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        snapshot = copy.deepcopy(self.rows)
        try:
            yield
        except BaseException:
            self.rows = snapshot
            raise

    def dispatch(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        body = json.loads(request.content)
        if len(body.get("lastname", "")) > 10:
            return odata_error(400, "0x80044331", "A validation error occurred.")
        m = re.match(r"^/api/data/v9\.2/contacts(?:\((.*)\))?$", request.url.path)
        assert m is not None
        key = m.group(1)
        if request.method == "POST":
            new_id = body.pop("contactid", None) or str(uuid.uuid4())
            if new_id in self.rows:
                return odata_error(412, "0x80040237", "Cannot insert duplicate key.")
            self.rows[new_id] = body
            return httpx.Response(204, headers={"OData-EntityId": f"{API}contacts({new_id})"})
        if key.startswith("new_practiceid="):
            value = key.split("=", 1)[1].strip("'")
            found = next(
                (k for k, r in self.rows.items() if r.get("new_practiceid") == value), None
            )
            if found is None:
                found = str(uuid.uuid4())
                self.rows[found] = {"new_practiceid": value}
            key = found
        if key not in self.rows:
            if request.headers.get("if-match") == "*":
                return odata_error(404, "0x80040217", f"contact With Id = {key} Does Not Exist")
            self.rows[key] = {}
        self.rows[key].update(body)
        return httpx.Response(204, headers={"OData-EntityId": f"{API}contacts({key})"})


def bulk(
    core: StubCore,
    message: str,
    targets: Any,
    *,
    table: str = "contact",
    fail_item: int | None = None,
) -> httpx.Response:
    entity = core.schema.entity(table)
    assert entity is not None
    extensions: dict[str, Any] = {"crm_ferry.caller": "u-1"}
    if fail_item is not None:
        extensions["crm_ferry.fail_item"] = fail_item
    request = httpx.Request(
        "POST",
        f"{API}{entity.entity_set_name}/Microsoft.Dynamics.CRM.{message}",
        headers={"Authorization": "Bearer t", "Content-Type": "application/json"},
        content=json.dumps({"Targets": targets} if targets is not None else {}).encode(),
        extensions=extensions,
    )
    response = handle_bulk(core, request, entity, message)
    response.read()
    return response


def contact(**values: Any) -> dict[str, Any]:
    return {"@odata.type": "Microsoft.Dynamics.CRM.contact", **values}


def test_create_multiple_answers_the_ids() -> None:
    # Documented response: 200 with @odata.context ...CreateMultipleResponse and Ids.
    core = StubCore()
    response = bulk(core, "CreateMultiple", [contact(lastname="Ng"), contact(lastname="Ada")])
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"] == (
        f"{API}$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse"
    )
    assert sorted(body["Ids"]) == sorted(core.rows)
    assert [core.rows[i]["lastname"] for i in body["Ids"]] == ["Ng", "Ada"]
    assert response.extensions["crm_ferry.records"] == 2
    assert all("@odata.type" not in json.loads(r.content) for r in core.seen)
    assert all(r.extensions["crm_ferry.caller"] == "u-1" for r in core.seen)


def test_update_multiple_patches_each_record_as_update_only() -> None:
    # UpdateMultiple → 204; each target carries its primary key.
    core = StubCore()
    ids = bulk(core, "CreateMultiple", [contact(lastname="a"), contact(lastname="b")]).json()["Ids"]
    response = bulk(
        core,
        "UpdateMultiple",
        [contact(contactid=ids[0], lastname="x"), contact(contactid=ids[1], lastname="y")],
    )
    assert response.status_code == 204
    assert [core.rows[i]["lastname"] for i in ids] == ["x", "y"]
    patches = [r for r in core.seen if r.method == "PATCH"]
    assert [r.headers["if-match"] for r in patches] == ["*", "*"]


def test_update_multiple_on_a_missing_record_names_it_and_writes_nothing() -> None:
    # "Contact With Ids = <guid> Do Not Exist" (Troubleshooting common errors); all roll back.
    core = StubCore()
    [known] = bulk(core, "CreateMultiple", [contact(lastname="a")]).json()["Ids"]
    before = copy.deepcopy(core.rows)
    missing = "00000000-0000-0000-0000-0000000000ff"
    response = bulk(
        core,
        "UpdateMultiple",
        [contact(contactid=known, lastname="changed"), contact(contactid=missing, lastname="z")],
    )
    assert response.status_code == 404
    assert response.json()["error"]["message"] == f"Contact With Ids = {missing} Do Not Exist"
    assert core.rows == before


def test_upsert_multiple_by_alternate_key_and_by_primary_key() -> None:
    # UpsertMultiple → 204; targets named by "@odata.id": "<set>(<key>='v')" or primary key.
    # https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/upsertmultiple
    core = StubCore()
    fixed = "11111111-2222-3333-4444-555555555555"
    response = bulk(
        core,
        "UpsertMultiple",
        [
            contact(**{"@odata.id": "contacts(new_practiceid='C-1')"}, lastname="one"),
            contact(contactid=fixed, lastname="two"),
        ],
    )
    assert response.status_code == 204
    assert response.content == b""
    by_key = [r for r in core.rows.values() if r.get("new_practiceid") == "C-1"]
    assert by_key == [{"new_practiceid": "C-1", "lastname": "one"}]
    assert core.rows[fixed] == {"lastname": "two"}
    assert "if-match" not in core.seen[0].headers


def test_upsert_multiple_refuses_a_key_value_repeated_differently_in_the_body() -> None:
    # https://learn.microsoft.com/power-apps/developer/data-platform/use-upsert-insert-update-record
    # "don't put alternate key values in the body": a conflicting value is refused (stricter
    # than the service, which would create the record with the body's value).
    core = StubCore()
    target = contact(**{"@odata.id": "contacts(new_practiceid='C-1')"}, new_practiceid="C-2")
    response = bulk(core, "UpsertMultiple", [target])
    assert response.status_code == 400
    assert "new_practiceid" in response.json()["error"]["message"]
    assert core.rows == {}
    same = contact(**{"@odata.id": "contacts(new_practiceid='C-1')"}, new_practiceid="C-1")
    assert bulk(core, "UpsertMultiple", [same]).status_code == 204


@pytest.mark.parametrize("message", ["CreateMultiple", "UpdateMultiple", "UpsertMultiple"])
def test_odata_type_is_required_on_every_target(message: str) -> None:
    # "You must set the @odata.type property for each item in the Targets parameter."
    core = StubCore()
    good = contact(contactid=str(uuid.uuid4()), lastname="a")
    response = bulk(core, message, [good, {"contactid": str(uuid.uuid4()), "lastname": "b"}])
    assert response.status_code == 400
    assert "untyped value" in response.json()["error"]["message"]
    assert core.seen == []


def test_odata_type_of_another_table_is_refused() -> None:
    # "All the records must be for the same table" (CreateMultiple sample).
    core = StubCore()
    response = bulk(
        core, "CreateMultiple", [{"@odata.type": "Microsoft.Dynamics.CRM.account", "name": "x"}]
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "This entity cannot be added to the specified collection. The collection can have "
        "entities with PlatformName = contact while this entity has Platform Name: account"
    )


@pytest.mark.parametrize("targets", [None, []])
def test_targets_is_required_and_not_empty(targets: Any) -> None:
    # Targets: Collection(crmbaseentity), Nullable False.
    # https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/createmultiple
    response = bulk(StubCore(), "CreateMultiple", targets)
    assert response.status_code == 400
    assert "'Targets'" in response.json()["error"]["message"]


def test_one_bad_record_rolls_back_the_whole_request() -> None:
    # "Any error that occurs in a bulk operation with a standard table causes the entire
    # operation to roll back." The answer is that record's error (no per-item results).
    core = StubCore()
    response = bulk(
        core,
        "CreateMultiple",
        [contact(lastname="ok"), contact(lastname="much too long"), contact(lastname="ok2")],
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "0x80044331", "message": "A validation error occurred."}
    }
    assert core.rows == {}
    assert len(core.seen) == 2


def test_duplicate_primary_key_fails_the_request() -> None:
    # "Cannot insert duplicate key." (Troubleshooting common errors).
    core = StubCore()
    fixed = str(uuid.uuid4())
    bulk(core, "CreateMultiple", [contact(contactid=fixed, lastname="a")])
    response = bulk(core, "CreateMultiple", [contact(lastname="b"), contact(contactid=fixed)])
    assert response.status_code == 412
    assert response.json()["error"]["message"] == "Cannot insert duplicate key."
    assert len(core.rows) == 1


def test_fail_item_injects_a_deadlock_and_rolls_back() -> None:
    # "Sql error: Generic SQL error. ... Sql Number: 1205" (System errors).
    core = StubCore()
    response = bulk(
        core, "CreateMultiple", [contact(lastname="a"), contact(lastname="b")], fail_item=1
    )
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "0x80044150"
    assert "Sql Number: 1205" in error["message"]
    assert core.rows == {}


def test_a_table_without_the_message_is_refused() -> None:
    # "Not all standard tables support these messages" — the platform's
    # SdkEntityDoesNotSupportMessage (0x80040800) text.
    core = StubCore()
    response = bulk(
        core,
        "CreateMultiple",
        [{"@odata.type": "Microsoft.Dynamics.CRM.account", "name": "x"}],
        table="account",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "0x80040800"
    assert error["message"].startswith(
        "The 'CreateMultiple' method does not support entities of type 'account'."
    )


def test_delete_multiple_on_a_standard_table() -> None:
    # "If you use DeleteMultiple on a standard table, you get the error: DeleteMultiple has
    # not yet been implemented."
    response = bulk(StubCore(), "DeleteMultiple", [contact(contactid=str(uuid.uuid4()))])
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "DeleteMultiple has not yet been implemented."


@pytest.mark.parametrize(
    ("table", "expected"), [("contact", 1), ("account", 0)], ids=["supported", "unsupported"]
)
def test_sdkmessagefilters_probe(table: str, expected: int) -> None:
    # "Availability with standard tables": the documented GET with @message/@table aliases;
    # an sdkmessagefilterid when supported, else an empty array.
    url = (
        f"{API}sdkmessagefilters?$select=sdkmessagefilterid&$filter=sdkmessageid/name eq "
        f"@message and primaryobjecttypecode eq @table&@message='CreateMultiple'&@table='{table}'"
    )
    response = handle_sdkmessagefilters(StubCore(), httpx.Request("GET", url))
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"] == f"{API}$metadata#sdkmessagefilters(sdkmessagefilterid)"
    assert len(body["value"]) == expected
    for row in body["value"]:
        assert set(row) == {"@odata.etag", "sdkmessagefilterid"}


# -- against the emulator ------------------------------------------------------------------


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    em = Emulator(CoreConfig(), tmp_path)
    yield em
    em.close()


@pytest.fixture
def client(emulator: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(transport=httpx.MockTransport(emulator.handle), base_url=API) as c:
        yield c


def test_emulator_create_update_upsert_multiple(client: httpx.Client) -> None:
    # CreateMultiple → 200 Ids; UpdateMultiple → 204; UpsertMultiple → 204 (by primary key).
    created = client.post(
        "contacts/Microsoft.Dynamics.CRM.CreateMultiple",
        json={"Targets": [contact(lastname="Lovelace"), contact(lastname="Turing")]},
    )
    assert created.status_code == 200, created.text
    ids = created.json()["Ids"]
    assert len(ids) == 2
    updated = client.post(
        "contacts/Microsoft.Dynamics.CRM.UpdateMultiple",
        json={"Targets": [contact(contactid=ids[0], firstname="Ada")]},
    )
    assert updated.status_code == 204, updated.text
    fixed = "6f0d4c52-0000-4000-8000-000000000042"
    upserted = client.post(
        "contacts/Microsoft.Dynamics.CRM.UpsertMultiple",
        json={
            "Targets": [
                contact(contactid=ids[1], firstname="Alan"),
                contact(contactid=fixed, lastname="Hopper"),
            ]
        },
    )
    assert upserted.status_code == 204, upserted.text
    rows = {
        r["contactid"]: r for r in client.get("contacts?$select=firstname,lastname").json()["value"]
    }
    assert rows[ids[0]]["firstname"] == "Ada"
    assert rows[ids[1]]["firstname"] == "Alan"
    assert rows[fixed]["lastname"] == "Hopper"


def test_emulator_bulk_is_all_or_nothing(client: httpx.Client, emulator: Emulator) -> None:
    # "Any error ... causes the entire operation to roll back"; the answer is that record's
    # error, validated exactly like a single create.
    before = emulator.dump("contact")
    response = client.post(
        "contacts/Microsoft.Dynamics.CRM.CreateMultiple",
        json={"Targets": [contact(lastname="ok"), contact(lastname="x" * 5000)]},
    )
    assert response.status_code == 400
    single = client.post("contacts", json={"lastname": "x" * 5000})
    assert response.json() == single.json()
    assert emulator.dump("contact") == before


def test_emulator_update_multiple_missing_record(client: httpx.Client, emulator: Emulator) -> None:
    # "Contact With Ids = <guid> Do Not Exist"; nothing written.
    [known] = client.post(
        "contacts/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": [contact(lastname="a")]}
    ).json()["Ids"]
    before = emulator.dump("contact")
    missing = "6f0d4c52-0000-4000-8000-0000000000ff"
    response = client.post(
        "contacts/Microsoft.Dynamics.CRM.UpdateMultiple",
        json={
            "Targets": [
                contact(contactid=known, lastname="b"),
                contact(contactid=missing, lastname="c"),
            ]
        },
    )
    assert response.status_code == 404
    assert response.json()["error"]["message"].endswith(f"With Ids = {missing} Do Not Exist")
    assert emulator.dump("contact") == before


def test_emulator_fail_item_rolls_back_a_bulk_request(emulator: Emulator) -> None:
    # Deadlock on item 1 (Sql Number 1205): the whole request fails, nothing is written.
    request = httpx.Request(
        "POST",
        f"{API}contacts/Microsoft.Dynamics.CRM.CreateMultiple",
        json={"Targets": [contact(lastname="a"), contact(lastname="b")]},
        extensions={"crm_ferry.fail_item": 1},
    )
    response = emulator.handle(request)
    response.read()
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "0x80044150"
    assert emulator.dump("contact")["records"]["contact"] == []


def test_emulator_unsupported_table(tmp_path: Path) -> None:
    # With no standard table configured as bulk-capable (the 2023 behaviour), contact refuses.
    em = Emulator(CoreConfig(bulk_standard_tables=frozenset()), tmp_path)
    try:
        request = httpx.Request(
            "POST",
            f"{API}contacts/Microsoft.Dynamics.CRM.CreateMultiple",
            json={"Targets": [contact(lastname="a")]},
        )
        response = em.handle(request)
        response.read()
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "0x80040800"
    finally:
        em.close()
