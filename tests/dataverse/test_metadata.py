"""Metadata reads and schema writes: payload shapes, solution header, polling schedules."""

from __future__ import annotations

import json
import random
import re
from typing import Any

import httpx
import pytest

from crm_ferry.dataverse import (
    ClientOptions,
    ColumnSpec,
    DataverseClient,
    DataverseError,
    StaticToken,
)
from crm_ferry.dataverse.metadata import column_payload
from helpers.dataverse_fakes import BASE, FakeClock

ENTITY = {
    "LogicalName": "new_session",
    "SchemaName": "new_Session",
    "EntitySetName": "new_sessions",
    "PrimaryIdAttribute": "new_sessionid",
    "PrimaryNameAttribute": "new_name",
    "IsCustomEntity": True,
    "MetadataId": "417129e1-0000-0000-0000-000000000001",
}


class SchemaServer:
    """Answers metadata calls and records what was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, str], Any]] = []
        self.key_states = ["Pending", "InProgress", "Active"]
        self.invisible_polls = 2

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.split("/v9.2/", 1)[1]
        body = json.loads(request.content) if request.content else None
        self.sent.append((request.method, path, dict(request.headers), body))
        if request.method == "POST":
            return httpx.Response(
                204,
                headers={"OData-EntityId": f"{BASE}/api/data/v9.2/X({ENTITY['MetadataId']})"},
            )
        if path == "EntityDefinitions(LogicalName='new_session')":
            return httpx.Response(200, json=ENTITY)
        if path.endswith("/Keys"):
            state = self.key_states.pop(0) if len(self.key_states) > 1 else self.key_states[0]
            return httpx.Response(
                200,
                json={
                    "value": [
                        {
                            "SchemaName": "new_sourceid_key",
                            "KeyAttributes": ["new_sourceid"],
                            "EntityKeyIndexStatus": state,
                        }
                    ]
                },
            )
        if path.endswith("/Attributes"):
            return httpx.Response(
                200,
                json={
                    "value": [
                        {
                            "LogicalName": "new_kind",
                            "AttributeType": "Picklist",
                            "RequiredLevel": {"Value": "None"},
                        },
                        {
                            "LogicalName": "new_day",
                            "AttributeType": "DateTime",
                            "Format": "DateOnly",
                            "DateTimeBehavior": {"Value": "DateOnly"},
                        },
                        {"LogicalName": "new_name", "AttributeType": "String", "MaxLength": 200},
                    ]
                },
            )
        if "PicklistAttributeMetadata" in path:
            if "MultiSelect" in path:
                return httpx.Response(200, json={"value": []})
            return httpx.Response(
                200,
                json={
                    "value": [
                        {
                            "LogicalName": "new_kind",
                            "OptionSet": {
                                "Options": [
                                    {
                                        "Value": 100000000,
                                        "Label": {"UserLocalizedLabel": {"Label": "Intro"}},
                                    }
                                ]
                            },
                        }
                    ]
                },
            )
        if path == "new_sessions":
            if self.invisible_polls:
                self.invisible_polls -= 1
                return httpx.Response(
                    400,
                    json={"error": {"code": "0x80060888", "message": "Could not find a property"}},
                )
            return httpx.Response(200, json={"value": []})
        return httpx.Response(404, json={"error": {"code": "", "message": path}})


@pytest.fixture
def server() -> SchemaServer:
    return SchemaServer()


@pytest.fixture
def schema_client(server: SchemaServer, clock: FakeClock) -> DataverseClient:
    options = ClientOptions(solution="PracticeMigration", key_poll_interval=2.0)
    return DataverseClient(
        BASE,
        StaticToken("t"),
        transport=httpx.MockTransport(server),
        options=options,
        clock=clock,
        sleep=clock.sleep,
        rng=random.Random(1),
    )


def test_column_reads_include_types_behaviors_and_options(schema_client: DataverseClient) -> None:
    cols = schema_client.metadata.columns("new_session")
    assert cols["new_kind"].options == {100000000: "Intro"}
    assert cols["new_day"].datetime_behavior == "DateOnly"
    assert cols["new_name"].max_length == 200


def test_create_table_sends_primary_name_and_solution(
    schema_client: DataverseClient, server: SchemaServer
) -> None:
    info = schema_client.metadata.create_table(
        "new_Session",
        display_name="Coaching Session",
        plural_name="Coaching Sessions",
        primary_name="new_Name",
    )
    assert info.entity_set_name == "new_sessions"
    method, path, headers, body = server.sent[0]
    assert (method, path) == ("POST", "EntityDefinitions")
    assert headers["mscrm.solutionuniquename"] == "PracticeMigration"
    (primary,) = body["Attributes"]
    assert primary["IsPrimaryName"] is True
    assert primary["SchemaName"] == "new_Name"
    assert body["OwnershipType"] == "UserOwned"


def test_new_column_is_polled_until_visible(
    schema_client: DataverseClient, server: SchemaServer, clock: FakeClock
) -> None:
    spec = ColumnSpec(kind="String", schema_name="new_Topic", label="Topic", max_length=300)
    schema_client.metadata.create_column("new_session", spec)
    assert clock.sleeps == [3.0, 10.0]  # the 0/3/10/20 s schedule, stopped when visible
    server.invisible_polls = 10
    with pytest.raises(DataverseError, match="not queryable"):
        schema_client.metadata.create_column("new_session", spec)


def test_key_is_polled_until_active_and_failed_is_an_error(
    schema_client: DataverseClient, server: SchemaServer, clock: FakeClock
) -> None:
    key = schema_client.metadata.create_key("new_session", "new_sourceid_key", ["new_sourceid"])
    assert key.status == "Active"
    assert clock.sleeps == [2.0, 2.0]
    server.key_states = ["Failed"]
    with pytest.raises(DataverseError, match="index creation failed"):
        schema_client.metadata.create_key("new_session", "new_sourceid_key", ["new_sourceid"])


def test_lookup_and_global_choice_payloads(
    schema_client: DataverseClient, server: SchemaServer
) -> None:
    schema_client.metadata.remember(
        schema_client.metadata.table("new_session").__class__(
            logical_name="contact", entity_set_name="contacts", primary_id="contactid"
        )
    )
    schema_client.metadata.create_lookup(
        "new_session", "new_Client", target_table="contact", label_text="Client"
    )
    schema_client.metadata.create_global_choice(
        "new_sessiontype", label_text="Session type", options=[(None, "Intro"), (None, "Follow-up")]
    )
    rel = next(b for m, p, h, b in server.sent if p == "RelationshipDefinitions")
    assert rel["ReferencedEntity"] == "contact"
    assert rel["ReferencedAttribute"] == "contactid"
    assert rel["Lookup"]["SchemaName"] == "new_Client"
    choice = next(b for m, p, h, b in server.sent if p == "GlobalOptionSetDefinitions")
    assert [o["Value"] for o in choice["Options"]] == [None, None]
    assert choice["IsGlobal"] is True


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            ColumnSpec(kind="DateTime", schema_name="new_Day", label="Day"),
            {"Format": "DateOnly", "DateTimeBehavior": {"Value": "DateOnly"}},
        ),
        (
            ColumnSpec(
                kind="DateTime",
                schema_name="new_At",
                label="At",
                format="DateAndTime",
                datetime_behavior="TimeZoneIndependent",
            ),
            {"Format": "DateAndTime", "DateTimeBehavior": {"Value": "TimeZoneIndependent"}},
        ),
        (
            ColumnSpec(kind="Money", schema_name="new_Fee", label="Fee"),
            {"@odata.type": "Microsoft.Dynamics.CRM.MoneyAttributeMetadata", "PrecisionSource": 2},
        ),
        (
            ColumnSpec(kind="Decimal", schema_name="new_Hours", label="Hours", precision=1),
            {"Precision": 1, "AttributeType": "Decimal"},
        ),
        (
            ColumnSpec(kind="Integer", schema_name="new_N", label="N", min_value=0, max_value=9),
            {"MinValue": 0, "MaxValue": 9, "Format": "None"},
        ),
        (
            ColumnSpec(kind="Memo", schema_name="new_Notes", label="Notes"),
            {"MaxLength": 4000, "Format": "TextArea"},
        ),
        (
            ColumnSpec(kind="Boolean", schema_name="new_Paid", label="Paid"),
            {"DefaultValue": False, "AttributeType": "Boolean"},
        ),
        (
            ColumnSpec(kind="Picklist", schema_name="new_Kind", label="Kind", global_choice="x"),
            {"GlobalOptionSet@odata.bind": "/GlobalOptionSetDefinitions(Name='x')"},
        ),
        (
            ColumnSpec(
                kind="MultiSelectPicklist", schema_name="new_Tags", label="Tags", options=[(1, "A")]
            ),
            {"@odata.type": "Microsoft.Dynamics.CRM.MultiSelectPicklistAttributeMetadata"},
        ),
    ],
)
def test_column_payloads(spec: ColumnSpec, expected: dict[str, Any]) -> None:
    body = column_payload(spec)
    for k, v in expected.items():
        assert body[k] == v
    assert body["SchemaName"] == spec.schema_name
    assert re.fullmatch(r"\w+Type", body["AttributeTypeName"]["Value"])
