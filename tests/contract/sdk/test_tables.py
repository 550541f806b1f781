"""``client.tables`` of Microsoft's Python SDK against the emulator's metadata API.

Tables (create through ``CreateEntities``, get, list, delete), columns of every type the SDK
offers (``string``, ``memo``, ``int``, ``decimal``, ``money`` — which the SDK creates as a
decimal —, ``float`` / ``double``, ``datetime`` / ``date``, ``bool``, ``file``, a choice from an
``Enum`` with the values the caller picks, and a type with constraint overrides), columns
added, listed, read (``typed`` reads use ``RetrieveMetadataChanges``, refused with 501),
updated (metadata ``PUT``) and removed, lookups and one-to-many relationships, many-to-many
relationships, and alternate keys. The SDK 1.1.0 offers no big integer, multi-select choice
or image column (``data/_odata_base.py``, ``_base_attribute_payload``).

Most tables the tests work on are made with the documented ``POST EntityDefinitions``
(:func:`helpers.definitions.create_table`); ``tables.create`` itself (``CreateEntities``) has
its own tests.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from PowerPlatform.Dataverse.client import DataverseClient
from PowerPlatform.Dataverse.core.errors import HttpError
from PowerPlatform.Dataverse.models import (
    CascadeConfiguration,
    Label,
    LocalizedLabel,
    LookupAttributeMetadata,
    ManyToManyRelationshipMetadata,
    OneToManyRelationshipMetadata,
)

from helpers.definitions import create_table

FORMATTED = "OData.Community.Display.V1.FormattedValue"


class Tier(enum.IntEnum):
    """A choice whose values the caller picks."""

    BRONZE = 100000000
    SILVER = 100000001
    GOLD = 100000002


@pytest.fixture(scope="module")
def table(raw: httpx.Client) -> str:
    """``new_sdkcolumns``: a custom table the column tests add to."""
    return create_table(raw, "new_SdkColumns")


# -- tables --------------------------------------------------------------------------------


def test_create_a_table_with_columns(client: DataverseClient) -> None:
    info = client.tables.create(
        "new_SdkMade",
        {"new_Title": "string", "new_Count": "int", "new_Tier": Tier},
        primary_column="new_MadeName",
        display_name="Made by the SDK",
    )
    assert info["table_logical_name"] == "new_sdkmade"
    assert info["entity_set_name"] == "new_sdkmades"
    assert info["primary_name_attribute"] == "new_madename"
    assert info["columns_created"] == ["new_Title", "new_Count", "new_Tier"]
    row = client.records.create("new_sdkmade", {"new_madename": "x", "new_tier": "Gold"})
    assert client.records.retrieve("new_sdkmade", row) is not None


def test_get_a_standard_table(client: DataverseClient) -> None:
    info = client.tables.get("account")
    assert info is not None
    assert (info.schema_name, info.logical_name, info.entity_set_name) == (
        "Account",
        "account",
        "accounts",
    )
    assert (info.primary_id_attribute, info.primary_name_attribute) == ("accountid", "name")
    assert info["metadata_id"] == info.metadata_id


def test_get_a_custom_table_by_its_schema_name(client: DataverseClient, table: str) -> None:
    info = client.tables.get("new_SdkColumns")
    assert info is not None
    assert info.logical_name == table
    assert info.primary_id_attribute == "new_sdkcolumnsid"


def test_get_a_table_that_does_not_exist_is_none(client: DataverseClient) -> None:
    assert client.tables.get("new_nosuchtable") is None


def test_list_tables_with_a_filter_and_select(client: DataverseClient, table: str) -> None:
    every = client.tables.list()
    assert {"account", "contact", table} <= {t["LogicalName"] for t in every}
    custom = client.tables.list(
        filter="startswith(SchemaName, 'new_')", select=["LogicalName", "EntitySetName"]
    )
    info = client.tables.get(table)
    assert info is not None
    assert {
        "MetadataId": info.metadata_id,  # metadata reads always answer it
        "LogicalName": table,
        "EntitySetName": info.entity_set_name,
    } in [{k: v for k, v in t.items() if not k.startswith("@")} for t in custom]


def test_delete_a_table(client: DataverseClient, raw: httpx.Client) -> None:
    doomed = create_table(raw, "new_SdkDoomed")
    client.tables.delete("new_SdkDoomed")
    assert client.tables.get(doomed) is None
    assert raw.get(f"{doomed}s").status_code == 404


# -- columns -------------------------------------------------------------------------------

COLUMNS: list[tuple[str, Any, str, Any, Any]] = [
    # (name suffix, SDK type, AttributeType, value written, value read back)
    ("text", "string", "String", "some text", "some text"),
    ("memo", "memo", "Memo", "a\nlong\ntext", "a\nlong\ntext"),
    ("int", "int", "Integer", 42, 42),
    ("dec", "decimal", "Decimal", 12.34, 12.34),
    ("money", "money", "Decimal", 9.99, 9.99),
    # the SDK makes both DateOnly-formatted, user-local columns: Edm.DateTimeOffset values
    ("day", "date", "DateTime", "2024-03-05T00:00:00Z", "2024-03-05"),
    ("when", "datetime", "DateTime", "2024-03-06T10:30:00Z", "2024-03-06"),
    ("flag", "bool", "Boolean", True, True),
    ("tier", Tier, "Picklist", Tier.SILVER.value, Tier.SILVER.value),
]


@pytest.mark.parametrize(
    ("suffix", "kind", "attribute_type", "written", "read"),
    [*COLUMNS],
    ids=[c[0] for c in COLUMNS],
)
def test_add_a_column_and_write_it(
    client: DataverseClient,
    table: str,
    suffix: str,
    kind: Any,
    attribute_type: str,
    written: Any,
    read: Any,
) -> None:
    name = f"new_Col{suffix}"
    assert client.tables.add_columns(table, {name: kind}) == [name]
    column = client.tables.get_column(table, name)
    assert column is not None
    assert column["AttributeType"] == attribute_type
    logical = name.lower()
    row = client.records.create(table, {"new_name": suffix, logical: written})
    record = client.records.retrieve(table, row, select=[logical])
    assert record is not None
    value = record[logical]
    assert value.startswith(read) if attribute_type == "DateTime" else value == read


@pytest.mark.parametrize("kind", ["float", "double"])
def test_add_a_double_column(client: DataverseClient, table: str, kind: str) -> None:
    name = f"new_Col{kind}"
    assert client.tables.add_columns(table, {name: kind}) == [name]
    row = client.records.create(table, {name.lower(): 1.25})
    record = client.records.retrieve(table, row, select=[name.lower()])
    assert record is not None
    assert record[name.lower()] == 1.25


def test_add_a_file_column(client: DataverseClient, table: str) -> None:
    assert client.tables.add_columns(table, {"new_Attachment": "file"}) == ["new_Attachment"]
    column = client.tables.get_column(table, "new_attachment")
    assert column is not None
    assert column["AttributeType"] == "Virtual"


def test_a_choice_reads_back_its_label(client: DataverseClient, table: str) -> None:
    client.tables.add_columns(table, {"new_Level": Tier})
    row = client.records.create(table, {"new_name": "gold", "new_level": "Gold"})  # by label
    record = client.records.retrieve(
        table, row, select=["new_level"], include_annotations=FORMATTED
    )
    assert record is not None
    assert record["new_level"] == Tier.GOLD.value
    assert record[f"new_level@{FORMATTED}"] == "GOLD"


def test_a_column_with_overrides(client: DataverseClient, table: str) -> None:
    spec = {"type": "string", "max_length": 20, "display_name": "Short", "required": "None"}
    client.tables.add_columns(table, {"new_Short": spec})
    column = client.tables.get_column(table, "new_short", select=["MaxLength", "DisplayName"])
    assert column is not None
    assert column["MaxLength"] == 20
    assert column["DisplayName"]["UserLocalizedLabel"]["Label"] == "Short"
    with pytest.raises(HttpError) as raised:
        client.records.create(table, {"new_short": "x" * 21})
    assert raised.value.details["service_error_code"] == "0x80044331"


def test_remove_columns(client: DataverseClient, table: str) -> None:
    client.tables.add_columns(table, {"new_Gone1": "string", "new_Gone2": "int"})
    assert client.tables.remove_columns(table, ["new_Gone1", "new_Gone2"]) == [
        "new_Gone1",
        "new_Gone2",
    ]
    assert client.tables.get_column(table, "new_gone1") is None


def test_list_columns(client: DataverseClient, table: str) -> None:
    every = client.tables.list_columns(table)
    names = {c["LogicalName"] for c in every}
    assert {"new_sdkcolumnsid", "new_name", "createdon", "ownerid"} <= names
    strings = client.tables.list_columns(
        table, select=["LogicalName", "AttributeType"], filter="AttributeType eq 'String'"
    )
    assert "new_name" in {c["LogicalName"] for c in strings}
    assert {c["AttributeType"] for c in strings} == {"String"}


def test_get_a_column_that_does_not_exist_is_none(client: DataverseClient, table: str) -> None:
    assert client.tables.get_column(table, "new_nosuchcolumn") is None


@pytest.mark.parametrize("read", ["list_columns", "get_column"])
def test_typed_column_reads_are_refused(client: DataverseClient, table: str, read: str) -> None:
    calls: dict[str, Callable[[], object]] = {
        "list_columns": lambda: client.tables.list_columns(table, typed=True),
        "get_column": lambda: client.tables.get_column(table, "new_name", typed=True),
    }
    with pytest.raises(HttpError) as raised:
        calls[read]()
    assert raised.value.status_code == 501
    assert raised.value.details["service_error_code"] == "0x80040219"
    assert "RetrieveMetadataChanges" in raised.value.message


def test_update_a_column(client: DataverseClient, table: str) -> None:
    client.tables.add_columns(table, {"new_Comment": "memo"})
    client.tables.update_column(
        table, "new_Comment", {"max_length": 3000, "display_name": "Comment"}
    )
    column = client.tables.get_column(table, "new_comment", select=["MaxLength"])
    assert column is not None
    assert column["MaxLength"] == 3000


def test_update_columns(client: DataverseClient, table: str) -> None:
    client.tables.add_columns(table, {"new_Up1": "string", "new_Up2": "string"})
    updated = client.tables.update_columns(
        table, {"new_Up1": {"max_length": 50}, "new_Up2": {"max_length": 60}}
    )
    assert updated == ["new_Up1", "new_Up2"]


# -- relationships -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def parent_child(raw: httpx.Client) -> tuple[str, str]:
    return create_table(raw, "new_SdkParent"), create_table(raw, "new_SdkChild")


def test_create_a_lookup_between_custom_tables(
    client: DataverseClient, parent_child: tuple[str, str]
) -> None:
    parent, child = parent_child
    info = client.tables.create_lookup_field(child, "new_ParentId", parent, display_name="Parent")
    assert info.relationship_type == "one_to_many"
    assert info.relationship_schema_name == f"{parent}_{child}_new_ParentId"
    assert info.lookup_schema_name == "new_ParentId"
    assert info.relationship_id is not None
    p = client.records.create(parent, {"new_name": "p"})
    c = client.records.create(
        child, {"new_name": "c", "new_ParentId@odata.bind": f"/{parent}s({p})"}
    )
    record = client.records.retrieve(child, c, select=["_new_parentid_value"])
    assert record is not None
    assert record["_new_parentid_value"] == p


def test_a_lookup_to_a_standard_table_needs_a_prefixed_relationship_name(
    client: DataverseClient, parent_child: tuple[str, str]
) -> None:
    """The SDK names the relationship ``account_<table>_<lookup>``, without the publisher's
    prefix, which Dataverse refuses for a custom relationship (as users of the SDK report);
    the emulator refuses it the same way, and the SDK raises it."""
    _, child = parent_child
    with pytest.raises(HttpError) as refused:
        client.tables.create_lookup_field(child, "new_AccountId", "account")
    assert refused.value.status_code == 400
    assert "prefix" in str(refused.value).lower()


def test_create_get_list_and_delete_a_one_to_many_relationship(
    client: DataverseClient, parent_child: tuple[str, str]
) -> None:
    parent, child = parent_child
    lookup = LookupAttributeMetadata(
        schema_name="new_OtherParentId",
        display_name=Label(localized_labels=[LocalizedLabel(label="Other", language_code=1033)]),
    )
    relationship = OneToManyRelationshipMetadata(
        schema_name="new_sdkparent_sdkchild_other",
        referenced_entity=parent,
        referencing_entity=child,
        referenced_attribute=f"{parent}id",
        cascade_configuration=CascadeConfiguration(delete="RemoveLink"),
    )
    made = client.tables.create_one_to_many_relationship(lookup, relationship)
    found = client.tables.get_relationship("new_sdkparent_sdkchild_other")
    assert found is not None
    assert found.relationship_id == made.relationship_id
    assert (found.referenced_entity, found.referencing_entity) == (parent, child)
    listed = client.tables.list_relationships(
        filter="SchemaName eq 'new_sdkparent_sdkchild_other'",
        select=["SchemaName", "ReferencedEntity"],
    )
    assert [r["ReferencedEntity"] for r in listed] == [parent]
    assert made.relationship_id is not None
    client.tables.delete_relationship(made.relationship_id)
    assert client.tables.get_relationship("new_sdkparent_sdkchild_other") is None
    assert client.tables.get_column(child, "new_otherparentid") is None


def test_get_a_relationship_that_does_not_exist_is_none(client: DataverseClient) -> None:
    assert client.tables.get_relationship("new_no_such_relationship") is None


def test_create_a_many_to_many_relationship(
    client: DataverseClient, parent_child: tuple[str, str]
) -> None:
    parent, child = parent_child
    made = client.tables.create_many_to_many_relationship(
        ManyToManyRelationshipMetadata(
            schema_name="new_sdkparent_sdkchild_links",
            entity1_logical_name=parent,
            entity2_logical_name=child,
        )
    )
    assert made.relationship_type == "many_to_many"
    found = client.tables.get_relationship("new_sdkparent_sdkchild_links")
    assert found is not None
    assert found.relationship_type == "many_to_many"


def test_list_the_relationships_of_a_table(
    client: DataverseClient, parent_child: tuple[str, str]
) -> None:
    parent, child = parent_child
    client.tables.create_lookup_field(child, "new_ListedParentId", parent)
    names = {r["SchemaName"] for r in client.tables.list_table_relationships(child)}
    assert f"{parent}_{child}_new_ListedParentId" in names


# -- alternate keys ------------------------------------------------------------------------


def test_create_list_use_and_delete_an_alternate_key(
    client: DataverseClient, raw: httpx.Client
) -> None:
    table = create_table(raw, "new_SdkKeyed")
    client.tables.add_columns(table, {"new_Code": "string"})
    made = client.tables.create_alternate_key(
        table, "new_sdkkeyed_code", ["new_code"], display_name="Code"
    )
    assert (made.schema_name, made.key_attributes, made.status) == (
        "new_sdkkeyed_code",
        ["new_code"],
        "Pending",
    )
    [key] = client.tables.get_alternate_keys(table)
    assert (key.schema_name, key.key_attributes, key.status) == (
        "new_sdkkeyed_code",
        ["new_code"],
        "Active",
    )
    client.records.upsert(
        table, [{"alternate_key": {"new_code": "A-1"}, "record": {"new_name": "a"}}]
    )
    [row] = client.records.list(table, filter="new_code eq 'A-1'")
    assert row["new_name"] == "a"
    client.tables.delete_alternate_key(table, key.metadata_id)
    assert client.tables.get_alternate_keys(table) == []
