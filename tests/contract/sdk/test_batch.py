"""``client.batch`` of Microsoft's Python SDK against the emulator's ``$batch``.

Every operation a batch takes — records (create one and many, update one and many, delete one,
many through BulkDelete and one by one, get, retrieve, list, upsert one and many), tables (get,
list), queries (SQL, refused inside the batch) and DataFrames (create, update, delete) —
change sets (``$n`` references in URLs and in ``@odata.bind``; atomic: one failure rolls the
set back) and errors with and without ``Prefer: odata.continue-on-error``
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api).

The SDK writes each part's request line with the absolute URL as it built it, not
percent-encoded: ``GET https://…/accounts?$select=name&$filter=name eq 'a b' HTTP/1.1``. The
request line is the method, everything up to the last space, and the version, so such a URL
is read whole. The SDK's side: ``operations/batch.py``, ``data/_batch.py``,
``data/_batch_base.py``, ``models/batch.py``.
"""

from __future__ import annotations

import httpx
import pandas as pd
import pytest
from PowerPlatform.Dataverse.client import DataverseClient
from PowerPlatform.Dataverse.core.errors import HttpError
from PowerPlatform.Dataverse.models import ManyToManyRelationshipMetadata, UpsertItem
from PowerPlatform.Dataverse.models.batch import BatchItemResponse

from helpers.definitions import create_table
from helpers.sdk import table_with_key


def _ok(responses: list[BatchItemResponse]) -> None:
    assert [(r.status_code, r.error_message) for r in responses if not r.is_success] == []


def test_creates_one_and_many(client: DataverseClient, unique: str) -> None:
    batch = client.batch.new()
    batch.records.create("account", {"name": f"one {unique}"})
    batch.records.create("account", [{"name": f"many {unique} {i}"} for i in range(2)])
    result = batch.execute()
    _ok(result.responses)
    single, multiple = result.responses
    assert single.status_code == 204
    assert single.entity_id is not None
    assert result.entity_ids == [single.entity_id]
    assert multiple.status_code == 200
    assert multiple.data is not None
    assert len(multiple.data["Ids"]) == 2
    names = [
        r["name"] for r in client.records.list("account", filter=f"contains(name, '{unique}')")
    ]
    assert sorted(names) == sorted([f"one {unique}", f"many {unique} 0", f"many {unique} 1"])


def test_get_retrieve_and_a_list_whose_filter_has_spaces(
    client: DataverseClient, unique: str
) -> None:
    row_id = client.records.create("account", {"name": f"two words {unique}"})
    batch = client.batch.new()
    batch.records.retrieve("account", row_id, select=["name"])
    with pytest.warns(DeprecationWarning, match="retrieve"):
        batch.records.get("account", row_id, select=["name"])
    batch.records.list(
        "account", filter=f"name eq 'two words {unique}'", select=["name"], orderby=["name"]
    )
    result = batch.execute()
    _ok(result.responses)
    retrieved, got, listed = (r.data for r in result.responses)
    assert retrieved is not None
    assert retrieved["name"] == f"two words {unique}"
    assert got is not None
    assert got["accountid"] == row_id
    assert listed is not None
    assert [r["accountid"] for r in listed["value"]] == [row_id]


def test_updates_one_and_many(client: DataverseClient, unique: str) -> None:
    ids = client.records.create("account", [{"name": f"{unique} {i}"} for i in range(3)])
    batch = client.batch.new()
    batch.records.update("account", ids[0], {"telephone1": "one"})
    batch.records.update("account", ids[1:], {"telephone1": "many"})
    result = batch.execute()
    _ok(result.responses)
    assert [r.status_code for r in result.responses] == [204, 204]
    phones = [client.records.retrieve("account", i, select=["telephone1"]) for i in ids]
    assert [p["telephone1"] for p in phones if p is not None] == ["one", "many", "many"]


def test_deletes_one_many_through_bulk_delete_and_many_one_by_one(
    client: DataverseClient, unique: str
) -> None:
    ids = client.records.create("account", [{"name": f"{unique} {i}"} for i in range(5)])
    batch = client.batch.new()
    batch.records.delete("account", ids[0])
    batch.records.delete("account", ids[1:3])
    batch.records.delete("account", ids[3:], use_bulk_delete=False)
    result = batch.execute()
    _ok(result.responses)
    statuses = [r.status_code for r in result.responses]
    assert statuses == [204, 200, 204, 204]
    bulk = result.responses[1].data
    assert bulk is not None
    job = client.records.retrieve("asyncoperation", bulk["JobId"])
    assert job is not None
    assert job["statecode"] == 3
    assert all(client.records.retrieve("account", i) is None for i in ids)


def test_upserts_one_and_many(client: DataverseClient, raw_keyed_table: str, unique: str) -> None:
    batch = client.batch.new()
    batch.records.upsert(raw_keyed_table, [UpsertItem({"new_code": unique}, {"new_quantity": 1})])
    batch.records.upsert(
        raw_keyed_table,
        [UpsertItem({"new_code": f"{unique}-{i}"}, {"new_quantity": i}) for i in range(2)],
    )
    result = batch.execute()
    _ok(result.responses)
    rows = client.records.list(raw_keyed_table, filter=f"startswith(new_code, '{unique}')")
    assert sorted((r["new_code"], r["new_quantity"]) for r in rows) == [
        (unique, 1),
        (f"{unique}-0", 0),
        (f"{unique}-1", 1),
    ]


@pytest.fixture(scope="module")
def raw_keyed_table(raw: httpx.Client) -> str:
    """``new_batchitem``: a custom table with an alternate key on ``new_code``."""
    return table_with_key(raw, "new_BatchItem")


# -- change sets ---------------------------------------------------------------------------


def test_a_change_set_refers_to_what_it_created(client: DataverseClient, unique: str) -> None:
    batch = client.batch.new()
    with batch.changeset() as cs:
        contact = cs.records.create("contact", {"lastname": unique})
        account = cs.records.create(
            "account", {"name": unique, "primarycontactid@odata.bind": contact}
        )
        cs.records.update("account", account, {"telephone1": "555"})
        doomed = cs.records.create("account", {"name": f"doomed {unique}"})
        cs.records.delete("account", doomed)
    result = batch.execute()
    _ok(result.responses)
    assert [r.content_id for r in result.responses] == ["1", "2", "3", "4", "5"]
    [row] = client.records.list(
        "account", filter=f"name eq '{unique}'", select=["telephone1", "_primarycontactid_value"]
    )
    assert row["telephone1"] == "555"
    assert row["_primarycontactid_value"] == result.responses[0].entity_id
    assert not client.records.list("account", filter=f"name eq 'doomed {unique}'")


def test_an_error_in_a_change_set_rolls_it_back(client: DataverseClient, unique: str) -> None:
    batch = client.batch.new()
    with batch.changeset() as cs:
        cs.records.create("account", {"name": unique})
        cs.records.create("account", {"name": unique, "numberofemployees": "many"})
    batch.records.create("account", {"name": f"after {unique}"})
    result = batch.execute()
    assert result.has_errors
    [failed] = result.responses  # without continue-on-error the batch stops at the failure
    assert failed.status_code == 400
    assert failed.error_code is not None
    assert failed.error_code.startswith("0x8")
    assert not client.records.list("account", filter=f"contains(name, '{unique}')")


def test_continue_on_error_runs_every_part(client: DataverseClient, unique: str) -> None:
    batch = client.batch.new()
    batch.records.create("account", {"name": f"first {unique}"})
    with batch.changeset() as cs:
        cs.records.create("account", {"name": f"rolled back {unique}"})
        cs.records.update("account", "00000000-0000-0000-0000-00000000dead", {"name": "x"})
    batch.records.create("account", {"name": f"last {unique}"})
    result = batch.execute(continue_on_error=True)
    statuses = [r.status_code for r in result.responses]
    assert statuses == [204, 404, 204]
    assert result.failed[0].error_code == "0x80040217"
    assert len(result.succeeded) == 2
    names = {
        r["name"] for r in client.records.list("account", filter=f"contains(name, '{unique}')")
    }
    assert names == {f"first {unique}", f"last {unique}"}


# -- tables, queries, DataFrames -----------------------------------------------------------


def test_table_get_and_list(client: DataverseClient) -> None:
    batch = client.batch.new()
    batch.tables.get("account")
    batch.tables.list(filter="SchemaName eq 'Contact'", select=["LogicalName", "EntitySetName"])
    result = batch.execute()
    _ok(result.responses)
    got, listed = (r.data for r in result.responses)
    assert got is not None
    assert got["value"][0]["EntitySetName"] == "accounts"
    assert listed is not None
    assert [t["LogicalName"] for t in listed["value"]] == ["contact"]


def test_table_columns_added_and_removed(client: DataverseClient, raw: httpx.Client) -> None:
    table = create_table(raw, "new_BatchColumns")
    batch = client.batch.new()
    batch.tables.add_columns(table, {"new_Size": "int", "new_Note": "memo"})
    result = batch.execute()
    _ok(result.responses)
    assert [r.status_code for r in result.responses] == [204, 204]  # one part per column
    assert client.tables.get_column(table, "new_size") is not None
    batch = client.batch.new()
    batch.tables.remove_columns(table, ["new_Size", "new_Note"])
    _ok(batch.execute().responses)
    assert client.tables.get_column(table, "new_size") is None


def test_a_lookup_a_relationship_read_and_a_table_deleted(
    client: DataverseClient, raw: httpx.Client
) -> None:
    parent = create_table(raw, "new_BatchParent")
    child = create_table(raw, "new_BatchChild")
    batch = client.batch.new()
    batch.tables.create_lookup_field(child, "new_ParentId", parent)
    batch.tables.get_relationship(f"{parent}_{child}_new_ParentId")
    result = batch.execute()
    _ok(result.responses)
    created, found = result.responses
    assert created.status_code == 204
    assert found.data is not None
    [relationship] = found.data["value"]
    assert relationship["ReferencingEntity"] == child
    batch = client.batch.new()
    batch.tables.delete_relationship(relationship["MetadataId"])
    batch.tables.delete(child)
    _ok(batch.execute().responses)
    assert client.tables.get_relationship(f"{parent}_{child}_new_ParentId") is None
    assert client.tables.get(child) is None


def test_a_table_created_in_a_batch(client: DataverseClient) -> None:
    batch = client.batch.new()
    batch.tables.create("new_BatchMade", {"new_Count": "int"})
    [created] = batch.execute(continue_on_error=True).responses
    if not created.is_success:
        raise HttpError(created.error_message or "", status_code=created.status_code)
    assert client.tables.get("new_batchmade") is not None


def test_a_many_to_many_relationship_created_in_a_batch(
    client: DataverseClient, raw: httpx.Client
) -> None:
    one, other = create_table(raw, "new_BatchOne"), create_table(raw, "new_BatchOther")
    batch = client.batch.new()
    batch.tables.create_many_to_many_relationship(
        ManyToManyRelationshipMetadata(
            schema_name="new_batchone_batchother",
            entity1_logical_name=one,
            entity2_logical_name=other,
        )
    )
    [created] = batch.execute(continue_on_error=True).responses
    if not created.is_success:
        raise HttpError(created.error_message or "", status_code=created.status_code)
    assert client.tables.get_relationship("new_batchone_batchother") is not None


def test_sql_in_a_batch_answers_the_refusal_in_its_part(client: DataverseClient) -> None:
    batch = client.batch.new()
    batch.query.sql("SELECT name FROM account")
    result = batch.execute(continue_on_error=True)
    [part] = result.responses
    assert part.status_code == 501
    assert part.error_code == "0x80040219"


def test_dataframes_create_update_delete(client: DataverseClient, unique: str) -> None:
    batch = client.batch.new()
    batch.dataframe.create("account", pd.DataFrame([{"name": f"{unique} {i}"} for i in range(3)]))
    [created] = batch.execute().responses
    assert created.data is not None
    ids = created.data["Ids"]
    batch = client.batch.new()
    frame = pd.DataFrame({"accountid": ids, "telephone1": ["a", None, "c"]})
    batch.dataframe.update("account", frame, id_column="accountid")
    batch.dataframe.delete("account", pd.Series(ids[2:]))
    result = batch.execute()
    _ok(result.responses)
    phones = [client.records.retrieve("account", i, select=["telephone1"]) for i in ids]
    assert phones[2] is None
    assert [p["telephone1"] for p in phones[:2] if p is not None] == ["a", None]
