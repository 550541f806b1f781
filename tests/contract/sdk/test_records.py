"""``client.records`` of Microsoft's Python SDK against the emulator, every operation and mode.

create (one: ``POST``; many: ``CreateMultiple``), retrieve and the deprecated ``get`` of one
row, list / list_pages / the deprecated paged ``get`` (``$select``, ``$filter`` as text or as
an expression, ``$orderby``, ``$top``, ``$expand``, ``$count``, ``Prefer:
odata.maxpagesize`` and ``odata.include-annotations``), update (one: ``PATCH``; broadcast and
paired: ``UpdateMultiple``), delete (one; many through a ``BulkDelete`` job; many one at a
time) and upsert by alternate key (one: ``PATCH`` on the key; many: ``UpsertMultiple``).
The SDK's side: ``PowerPlatform/Dataverse/operations/records.py`` and ``data/_odata.py``.

Rows a query returns always carry their primary id (the batch article's example answers
``$select=subject`` with ``subject`` and ``activityid``:
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api).
The SDK 1.1.0 fills ``Record.id`` only for the one-row reads; rows of a list keep ``id == ""``
(its ``Record`` docstring: "Empty string if not extracted (e.g. paginated results...)") and
are found by their primary id column instead.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from PowerPlatform.Dataverse.client import DataverseClient
from PowerPlatform.Dataverse.models import UpsertItem
from PowerPlatform.Dataverse.models.filters import col

from helpers.sdk import table_with_key

FORMATTED = "OData.Community.Display.V1.FormattedValue"


def _names(records: Any) -> list[str]:
    return [r["name"] for r in records]


def _accounts(client: DataverseClient, unique: str, count: int) -> list[str]:
    rows = [{"name": f"{unique} {i}", "numberofemployees": i} for i in range(count)]
    ids = client.records.create("account", rows)
    assert len(ids) == count
    return ids


@pytest.fixture(scope="module")
def keyed_table(raw: httpx.Client) -> str:
    """``new_sdkitem``: a custom table with an alternate key on ``new_code``."""
    return table_with_key(raw, "new_SdkItem")


# -- create ----------------------------------------------------------------------------


def test_create_one_returns_the_id_of_the_row_it_made(
    client: DataverseClient, raw: httpx.Client, unique: str
) -> None:
    row_id = client.records.create("account", {"name": f"Contoso {unique}"})
    stored = raw.get(f"accounts({row_id})", params={"$select": "name"})
    assert stored.status_code == 200
    assert stored.json()["name"] == f"Contoso {unique}"


def test_create_many_sends_create_multiple_and_returns_every_id_in_order(
    client: DataverseClient, raw: httpx.Client, unique: str
) -> None:
    ids = _accounts(client, unique, 3)
    assert len(set(ids)) == 3
    for i, row_id in enumerate(ids):
        assert raw.get(f"accounts({row_id})").json()["name"] == f"{unique} {i}"


# -- one row -----------------------------------------------------------------------------


def test_retrieve_gives_a_record_with_its_id_table_etag_and_columns(
    client: DataverseClient, unique: str
) -> None:
    row_id = client.records.create("account", {"name": f"A {unique}", "telephone1": "555"})
    record = client.records.retrieve("account", row_id)
    assert record is not None
    assert record.id == row_id
    assert record.table == "account"
    assert isinstance(record.etag, str)
    assert record.etag.startswith('W/"')
    assert record["accountid"] == row_id
    assert record["name"] == f"A {unique}"
    assert record["telephone1"] == "555"
    assert not [k for k in record if k.startswith("@odata.")]


def test_retrieve_with_select_returns_those_columns_and_the_primary_id(
    client: DataverseClient, unique: str
) -> None:
    row_id = client.records.create("account", {"name": f"B {unique}", "telephone1": "1"})
    record = client.records.retrieve("account", row_id, select=["name"])
    assert record is not None
    assert set(record.keys()) == {"name", "accountid"}


def test_retrieve_with_expand_nests_the_related_row(client: DataverseClient, unique: str) -> None:
    account = client.records.create("account", {"name": f"Parent {unique}"})
    contact = client.records.create(
        "contact",
        {
            "lastname": f"Child {unique}",
            "parentcustomerid_account@odata.bind": f"/accounts({account})",
        },
    )
    record = client.records.retrieve(
        "contact", contact, select=["lastname"], expand=["parentcustomerid_account($select=name)"]
    )
    assert record is not None
    parent = record["parentcustomerid_account"]
    assert parent["name"] == f"Parent {unique}"
    assert parent["accountid"] == account


def test_retrieve_with_formatted_values_carries_the_annotation(
    client: DataverseClient, unique: str
) -> None:
    row_id = client.records.create("account", {"name": f"C {unique}", "industrycode": 1})
    record = client.records.retrieve(
        "account", row_id, select=["industrycode"], include_annotations=FORMATTED
    )
    assert record is not None
    assert record["industrycode"] == 1
    assert isinstance(record[f"industrycode@{FORMATTED}"], str)


def test_retrieve_of_a_row_that_does_not_exist_is_none(client: DataverseClient) -> None:
    assert client.records.retrieve("account", "00000000-0000-0000-0000-00000000abcd") is None


def test_deprecated_get_of_one_row_warns_and_returns_the_record(
    client: DataverseClient, unique: str
) -> None:
    row_id = client.records.create("account", {"name": f"D {unique}"})
    with pytest.warns(DeprecationWarning, match="deprecated"):
        record = client.records.get("account", row_id, select=["name"])
    assert record.id == row_id
    assert record["name"] == f"D {unique}"


# -- many rows ---------------------------------------------------------------------------


def test_list_with_a_text_filter_select_and_orderby(client: DataverseClient, unique: str) -> None:
    _accounts(client, unique, 3)
    result = client.records.list(
        "account",
        filter=f"startswith(name, '{unique}')",
        select=["name", "numberofemployees"],
        orderby=["numberofemployees desc"],
    )
    assert _names(result) == [f"{unique} 2", f"{unique} 1", f"{unique} 0"]
    assert all(set(r.keys()) == {"name", "numberofemployees", "accountid"} for r in result)


def test_list_rows_carry_their_primary_id_and_etag(client: DataverseClient, unique: str) -> None:
    ids = _accounts(client, unique, 2)
    result = client.records.list("account", filter=col("name").startswith(unique), select=["name"])
    assert sorted(r["accountid"] for r in result) == sorted(ids)
    assert all(r.etag and r.etag.startswith('W/"') for r in result)
    assert all(r.id == "" and r.table == "account" for r in result)  # the SDK's choice


def test_list_with_a_filter_expression_and_top(client: DataverseClient, unique: str) -> None:
    _accounts(client, unique, 4)
    result = client.records.list(
        "account",
        filter=col("name").startswith(unique) & (col("numberofemployees") >= 1),
        orderby=["name"],
        top=2,
    )
    assert _names(result) == [f"{unique} 1", f"{unique} 2"]


def test_list_with_page_size_follows_the_next_links(client: DataverseClient, unique: str) -> None:
    _accounts(client, unique, 5)
    flt = f"startswith(name, '{unique}')"
    pages = list(client.records.list_pages("account", filter=flt, select=["name"], page_size=2))
    assert [len(p) for p in pages] == [2, 2, 1]
    every = client.records.list("account", filter=flt, select=["name"], page_size=2)
    assert sorted(_names(every)) == [f"{unique} {i}" for i in range(5)]


def test_list_with_count_returns_the_rows(
    client: DataverseClient, raw: httpx.Client, unique: str
) -> None:
    _accounts(client, unique, 3)
    flt = f"startswith(name, '{unique}')"
    result = client.records.list("account", filter=flt, select=["name"], count=True)
    assert len(result) == 3
    # the SDK drops @odata.count; the emulator answered it
    answer = raw.get("accounts", params={"$filter": flt, "$select": "name", "$count": "true"})
    assert answer.json()["@odata.count"] == 3


def test_list_with_expand_and_annotations(client: DataverseClient, unique: str) -> None:
    account = client.records.create("account", {"name": f"Parent {unique}", "industrycode": 2})
    client.records.create(
        "contact",
        {"lastname": unique, "parentcustomerid_account@odata.bind": f"/accounts({account})"},
    )
    result = client.records.list(
        "contact",
        filter=f"lastname eq '{unique}'",
        select=["lastname", "_parentcustomerid_value"],
        expand=["parentcustomerid_account($select=name,industrycode)"],
        include_annotations="*",
    )
    [row] = result
    assert row["_parentcustomerid_value"] == account
    assert row["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "account"
    assert isinstance(row[f"_parentcustomerid_value@{FORMATTED}"], str)
    assert row["parentcustomerid_account"]["name"] == f"Parent {unique}"


def test_deprecated_paged_get_yields_pages_of_records(client: DataverseClient, unique: str) -> None:
    _accounts(client, unique, 3)
    with pytest.warns(DeprecationWarning, match="deprecated"):
        pages = client.records.get(
            "account", filter=f"startswith(name, '{unique}')", select=["name"], page_size=2
        )
    sizes = [len(page) for page in pages]
    assert sizes == [2, 1]


# -- update ------------------------------------------------------------------------------


def test_update_one_row(client: DataverseClient, unique: str) -> None:
    row_id = client.records.create("account", {"name": f"E {unique}"})
    client.records.update("account", row_id, {"telephone1": "555-0100"})
    record = client.records.retrieve("account", row_id, select=["telephone1"])
    assert record is not None
    assert record["telephone1"] == "555-0100"


def test_update_broadcast_sends_update_multiple(client: DataverseClient, unique: str) -> None:
    ids = _accounts(client, unique, 3)
    client.records.update("account", ids, {"telephone1": "555-0199"})
    result = client.records.list("account", filter=f"startswith(name, '{unique}')")
    assert {r["telephone1"] for r in result} == {"555-0199"}


def test_update_paired_gives_each_row_its_own_changes(client: DataverseClient, unique: str) -> None:
    ids = _accounts(client, unique, 2)
    client.records.update("account", ids, [{"telephone1": "first"}, {"telephone1": "second"}])
    phones = [client.records.retrieve("account", i, select=["telephone1"]) for i in ids]
    assert [p["telephone1"] for p in phones if p is not None] == ["first", "second"]


# -- delete ------------------------------------------------------------------------------


def test_delete_one_row(client: DataverseClient, unique: str) -> None:
    row_id = client.records.create("account", {"name": f"F {unique}"})
    assert client.records.delete("account", row_id) is None
    assert client.records.retrieve("account", row_id) is None


def test_delete_many_submits_a_bulk_delete_job_the_client_can_poll(
    client: DataverseClient, unique: str
) -> None:
    ids = _accounts(client, unique, 3)
    keep = client.records.create("account", {"name": f"keep {unique}"})
    job_id = client.records.delete("account", ids)
    assert isinstance(job_id, str)
    job = client.records.retrieve("asyncoperation", job_id)  # polling runs the job
    assert job is not None
    assert job["operationtype"] == 13  # Bulk Delete
    assert (job["statecode"], job["statuscode"]) == (3, 30)  # Completed, Succeeded
    assert job["completedon"] is not None
    [operation] = client.records.list(
        "bulkdeleteoperation", filter=f"_asyncoperationid_value eq {job_id}"
    )
    assert (operation["successcount"], operation["failurecount"]) == (3, 0)
    assert all(client.records.retrieve("account", i) is None for i in ids)
    assert client.records.retrieve("account", keep) is not None


def test_delete_many_one_at_a_time(client: DataverseClient, unique: str) -> None:
    ids = _accounts(client, unique, 2)
    assert client.records.delete("account", ids, use_bulk_delete=False) is None
    assert all(client.records.retrieve("account", i) is None for i in ids)


# -- upsert ------------------------------------------------------------------------------


def test_upsert_one_by_alternate_key_creates_then_updates(
    client: DataverseClient, keyed_table: str, unique: str
) -> None:
    item = UpsertItem(alternate_key={"new_code": unique}, record={"new_quantity": 1})
    client.records.upsert(keyed_table, [item])
    client.records.upsert(
        keyed_table, [{"alternate_key": {"new_code": unique}, "record": {"new_quantity": 2}}]
    )
    [row] = client.records.list(keyed_table, filter=f"new_code eq '{unique}'")
    assert row["new_quantity"] == 2


def test_upsert_many_sends_upsert_multiple(
    client: DataverseClient, keyed_table: str, unique: str
) -> None:
    client.records.upsert(
        keyed_table,
        [UpsertItem({"new_code": f"{unique}-{i}"}, {"new_quantity": i}) for i in range(3)],
    )
    client.records.upsert(
        keyed_table,
        [UpsertItem({"new_code": f"{unique}-{i}"}, {"new_quantity": 10 + i}) for i in range(2)],
    )
    result = client.records.list(
        keyed_table, filter=f"startswith(new_code, '{unique}-')", orderby=["new_code"]
    )
    assert [r["new_quantity"] for r in result] == [10, 11, 2]
