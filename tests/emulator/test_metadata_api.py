"""The metadata Web API: create definitions, read them back in the documented shapes, delete.

Pages encoded (named on each test):
* QUERY  https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api
* TABLES https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-definitions-using-web-api
* COLUMNS https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-column-definitions-using-web-api
* RELS   https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-relationships-using-web-api
* CHOICES https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-optionsets
* KEYS   https://learn.microsoft.com/power-apps/developer/data-platform/define-alternate-keys-entity
* DATES  https://learn.microsoft.com/power-apps/developer/data-platform/behavior-format-date-time-attribute
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from crm_ferry.emulator.core import CoreConfig, Emulator
from crm_ferry.emulator.metadata import handle_metadata, settle
from crm_ferry.emulator.schema import AttributeDef, EntityDef, OptionDef, OptionSetDef, Schema

BASE = "https://org.example"
API = f"{BASE}/api/data/v9.2/"
PUBLISHER_ID = "00000000-0000-0000-0000-00000000a001"


@dataclass
class Config:
    custom_table_limit: int | None = 15
    key_activation_delay: float = 30.0
    column_visibility_delay: float = 5.0


def _tenant() -> Schema:
    schema = Schema()
    for name, primary, otc in (
        ("systemuser", "fullname", 8),
        ("team", "name", 9),
        ("businessunit", "name", 10),
        ("contact", "fullname", 2),
        ("account", "name", 1),
        ("annotation", "subject", 5),
        ("transactioncurrency", "currencyname", 9105),
    ):
        entity = EntityDef(name, name.capitalize(), name + "s", name + "id", primary, otc)
        entity.attributes[name + "id"] = AttributeDef(
            name + "id", name.capitalize() + "Id", "Uniqueidentifier", "Id", is_primary_id=True
        )
        schema.add_entity(entity)
    annotation = schema.entities["annotation"]
    annotation.attributes["objectid"] = AttributeDef(
        "objectid", "ObjectId", "Lookup", "Regarding", targets=("account", "contact")
    )
    schema.entities["account"].attributes["industrycode"] = AttributeDef(
        "industrycode",
        "IndustryCode",
        "Picklist",
        "Industry",
        option_set=OptionSetDef("account_industrycode", options=[OptionDef(1, "Accounting")]),
    )
    return schema


class StubCore:
    """A stand-in for the emulator core: a schema, a settable clock, ``publisher`` and
    ``solution`` rows answered through ``dispatch``, and a store that reports duplicates."""

    def __init__(self, config: Config | None = None) -> None:
        self.schema = _tenant()
        self.config = config or Config()
        self.now = 1000.0
        self.saved = 0
        self.duplicates: set[tuple[str, tuple[str, ...]]] = set()
        self.dropped: list[tuple[str, ...]] = []
        self.store = self

    def clock(self) -> float:
        return self.now

    def save_schema(self, tables: Iterable[str] | None = None) -> None:
        self.saved += 1

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        yield

    def has_duplicates(self, table: str, columns: tuple[str, ...]) -> bool:
        return (table, tuple(columns)) in self.duplicates

    def drop_table(self, table: str) -> None:
        self.dropped.append((table,))

    def drop_column(self, table: str, column: str) -> None:
        self.dropped.append((table, column))

    def dispatch(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/publishers"):
            rows = [
                {
                    "publisherid": PUBLISHER_ID,
                    "uniquename": "thepractice",
                    "customizationprefix": "tpm",
                    "customizationoptionvalueprefix": 72700,
                },
                {
                    "publisherid": "00000000-0000-0000-0000-00000000a002",
                    "uniquename": "DefaultPublisher",
                    "customizationprefix": "new",
                    "customizationoptionvalueprefix": 10000,
                },
            ]
            return httpx.Response(200, json={"value": rows})
        if request.url.path.endswith("/solutions"):
            rows = [{"uniquename": "tpmmigration", "_publisherid_value": PUBLISHER_ID}]
            return httpx.Response(200, json={"value": rows})
        return httpx.Response(404, json={"error": {"code": "0x0", "message": "not here"}})


@pytest.fixture
def core() -> StubCore:
    return StubCore()


def call(
    core: StubCore,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    solution: str | None = "tpmmigration",
) -> httpx.Response:
    headers = {"OData-Version": "4.0"}
    if solution and method == "POST":
        headers["MSCRM.SolutionUniqueName"] = solution
    content = json.dumps(body).encode() if body is not None else None
    request = httpx.Request(method, API + path, headers=headers, content=content)
    settle(core)
    response = handle_metadata(core, request, path)
    response.read()
    return response


def label(text: str) -> dict[str, Any]:
    return {
        "@odata.type": "Microsoft.Dynamics.CRM.Label",
        "LocalizedLabels": [
            {
                "@odata.type": "Microsoft.Dynamics.CRM.LocalizedLabel",
                "Label": text,
                "LanguageCode": 1033,
            }
        ],
    }


def table_body(schema_name: str = "tpm_CoachingSession", **extra: Any) -> dict[str, Any]:
    return {
        "@odata.type": "Microsoft.Dynamics.CRM.EntityMetadata",
        "SchemaName": schema_name,
        "DisplayName": label("Coaching Session"),
        "DisplayCollectionName": label("Coaching Sessions"),
        "Description": label("Sessions migrated from The Practice"),
        "OwnershipType": "UserOwned",
        "HasNotes": True,
        "HasActivities": False,
        "IsActivity": False,
        "Attributes": [
            {
                "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
                "AttributeType": "String",
                "AttributeTypeName": {"Value": "StringType"},
                "SchemaName": schema_name.split("_", 1)[0] + "_Name",
                "IsPrimaryName": True,
                "MaxLength": 200,
                "FormatName": {"Value": "Text"},
                "RequiredLevel": {"Value": "None", "CanBeChanged": True},
                "DisplayName": label("Name"),
            }
        ],
        **extra,
    }


def create_table(core: StubCore, schema_name: str = "tpm_CoachingSession") -> httpx.Response:
    response = call(core, "POST", "EntityDefinitions", table_body(schema_name))
    assert response.status_code == 204, response.text
    return response


ENTITY = "EntityDefinitions(LogicalName='tpm_coachingsession')"


# -- tables --------------------------------------------------------------------------------


def test_create_table_derives_names_and_answers_its_metadata_id(core: StubCore) -> None:
    # TABLES: 204 + OData-EntityId .../EntityDefinitions(<MetadataId>); LogicalName is the
    # lower-case SchemaName, PrimaryIdAttribute <name>id, EntitySetName the plural.
    response = create_table(core)
    entity_id = response.headers["OData-EntityId"]
    assert entity_id.startswith(f"{API}EntityDefinitions(")
    metadata_id = entity_id.rsplit("(", 1)[1].rstrip(")")
    got = call(core, "GET", f"EntityDefinitions({metadata_id})")
    assert got.status_code == 200
    body = got.json()
    assert body["@odata.context"] == f"{API}$metadata#EntityDefinitions/$entity"
    assert body["LogicalName"] == "tpm_coachingsession"
    assert body["SchemaName"] == "tpm_CoachingSession"
    assert body["EntitySetName"] == "tpm_coachingsessions"
    assert body["PrimaryIdAttribute"] == "tpm_coachingsessionid"
    assert body["PrimaryNameAttribute"] == "tpm_name"
    assert body["ObjectTypeCode"] >= 10000
    assert body["IsCustomEntity"] is True
    assert body["OwnershipType"] == "UserOwned"
    assert body["DisplayName"]["UserLocalizedLabel"]["Label"] == "Coaching Session"
    assert body["DisplayName"]["LocalizedLabels"][0]["LanguageCode"] == 1033
    assert "Attributes" not in body
    assert core.schema.entities["tpm_coachingsession"].solution == "tpmmigration"
    assert core.saved >= 1


@pytest.mark.parametrize(
    ("schema_name", "plural"),
    [("tpm_Session", "tpm_sessions"), ("tpm_Company", "tpm_companies"), ("tpm_Box", "tpm_boxes")],
)
def test_entity_set_name_is_the_generated_plural(
    core: StubCore, schema_name: str, plural: str
) -> None:
    # TABLES: EntitySetName is generated from the name ("read EntitySetName, don't guess").
    create_table(core, schema_name)
    got = call(core, "GET", f"EntityDefinitions(LogicalName='{schema_name.lower()}')")
    assert got.json()["EntitySetName"] == plural


def test_new_table_has_the_standard_columns_and_relationships(core: StubCore) -> None:
    # TABLES: a user-owned custom table gets ownerid, owningbusinessunit, statecode,
    # statuscode, createdon, modifiedon, overriddencreatedon, versionnumber ... and
    # relationships to systemuser, team and businessunit; HasNotes → objectid_<table>.
    create_table(core)
    got = call(
        core,
        "GET",
        f"{ENTITY}?$select=LogicalName&$expand=Attributes($select=LogicalName,AttributeType),"
        "ManyToOneRelationships($select=ReferencedEntity,ReferencingAttribute),"
        "OneToManyRelationships($select=ReferencingEntity,ReferencingEntityNavigationPropertyName)",
    )
    assert got.status_code == 200, got.text
    body = got.json()
    columns = {a["LogicalName"]: a["AttributeType"] for a in body["Attributes"]}
    for name, kind in {
        "tpm_coachingsessionid": "Uniqueidentifier",
        "tpm_name": "String",
        "ownerid": "Owner",
        "owningbusinessunit": "Lookup",
        "statecode": "State",
        "statuscode": "Status",
        "createdon": "DateTime",
        "modifiedon": "DateTime",
        "overriddencreatedon": "DateTime",
        "versionnumber": "BigInt",
    }.items():
        assert columns[name] == kind, name
    referenced = {r["ReferencedEntity"] for r in body["ManyToOneRelationships"]}
    assert {"systemuser", "team", "businessunit"} <= referenced
    notes = [r for r in body["OneToManyRelationships"] if r["ReferencingEntity"] == "annotation"]
    assert notes[0]["ReferencingEntityNavigationPropertyName"] == "objectid_tpm_coachingsession"
    objectid = core.schema.entities["annotation"].attributes["objectid"]
    assert "tpm_coachingsession" in objectid.targets


def test_filter_select_and_expand_keys_on_entity_definitions(core: StubCore) -> None:
    # QUERY: $filter on EntityDefinitions properties, $select, $expand=Keys($select=...).
    create_table(core)
    got = call(
        core,
        "GET",
        "EntityDefinitions?$select=LogicalName,EntitySetName&$filter=IsCustomEntity eq true"
        "&$expand=Keys($select=KeyAttributes)",
    )
    body = got.json()
    # expansions are listed with the selected properties (retrieve-metadata-name-metadataid:
    # "...PicklistAttributeMetadata(LogicalName,OptionSet(Options),GlobalOptionSet(Options))")
    assert body["@odata.context"] == (
        f"{API}$metadata#EntityDefinitions(LogicalName,EntitySetName,Keys(KeyAttributes))"
    )
    [row] = body["value"]
    assert set(row) == {"MetadataId", "LogicalName", "EntitySetName", "Keys"}
    assert row["Keys"] == []
    one = call(
        core, "GET", "EntityDefinitions?$filter=LogicalName eq 'contact'&$select=LogicalName"
    )
    assert [r["LogicalName"] for r in one.json()["value"]] == ["contact"]
    bad = call(core, "GET", "EntityDefinitions?$select=NoSuchThing")
    assert bad.status_code == 400
    assert "Could not find a property named 'NoSuchThing'" in bad.json()["error"]["message"]


def test_custom_table_limit_of_the_tier(core: StubCore) -> None:
    # Dynamics 365 Sales Professional allows 15 custom tables (licensing); the limit is a
    # CoreConfig setting and the 16th table is refused.
    core.config.custom_table_limit = 2
    create_table(core, "tpm_One")
    create_table(core, "tpm_Two")
    response = call(core, "POST", "EntityDefinitions", table_body("tpm_Three"))
    assert response.status_code == 400
    assert "custom tables" in response.json()["error"]["message"]
    assert core.schema.entity("tpm_three") is None


@pytest.mark.parametrize(
    ("schema_name", "fragment"),
    [
        ("CoachingSession", "customization prefix"),
        ("xyz_Session", "customization prefix"),
        ("new_Session", "customization prefix"),
        ("tpm_Bad-Name", "not valid"),
        ("tpm_" + "A" * 60, "longer than"),
    ],
)
def test_prefix_and_naming_rules(core: StubCore, schema_name: str, fragment: str) -> None:
    # TABLES/COLUMNS: names carry the prefix of the solution's publisher and "_"; letters,
    # digits and underscores; a configurable maximum length (new_ is the default publisher's,
    # not the solution's).
    response = call(core, "POST", "EntityDefinitions", table_body(schema_name))
    assert response.status_code == 400
    assert fragment in response.json()["error"]["message"]


def test_duplicate_table_and_unknown_solution(core: StubCore) -> None:
    # TABLES: MSCRM.SolutionUniqueName must name an existing solution; names are unique.
    create_table(core)
    again = call(core, "POST", "EntityDefinitions", table_body())
    assert again.status_code == 400
    missing = call(core, "POST", "EntityDefinitions", table_body("tpm_X"), solution="nosuch")
    assert missing.status_code == 404
    assert "nosuch" in missing.json()["error"]["message"]


def test_delete_table_restores_the_previous_metadata(core: StubCore) -> None:
    # TABLES: DELETE EntityDefinitions(...) removes the table, its relationships and rows.
    before = core.schema.to_json()
    create_table(core)
    call(
        core,
        "POST",
        f"{ENTITY}/Attributes",
        {
            "@odata.type": "Microsoft.Dynamics.CRM.MoneyAttributeMetadata",
            "SchemaName": "tpm_Price",
            "DisplayName": label("Price"),
        },
    )
    assert call(core, "DELETE", ENTITY).status_code == 204
    assert core.schema.to_json() == before
    assert ("tpm_coachingsession",) in core.dropped
    assert call(core, "GET", ENTITY).status_code == 404
    system = call(core, "DELETE", "EntityDefinitions(LogicalName='contact')")
    assert system.status_code == 400


# -- columns -------------------------------------------------------------------------------


def add_column(core: StubCore, body: dict[str, Any]) -> httpx.Response:
    return call(core, "POST", f"{ENTITY}/Attributes", {"DisplayName": label("Column"), **body})


def column(core: StubCore, logical: str, cast: str = "") -> dict[str, Any]:
    path = f"{ENTITY}/Attributes(LogicalName='{logical}')"
    if cast:
        path += f"/Microsoft.Dynamics.CRM.{cast}"
    response = call(core, "GET", path)
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata", "MaxLength": 100},
            {
                "AttributeType": "String",
                "AttributeTypeName": {"Value": "StringType"},
                "MaxLength": 100,
                "FormatName": {"Value": "Text"},
            },
        ),
        (
            {"@odata.type": "Microsoft.Dynamics.CRM.MemoAttributeMetadata", "MaxLength": 500},
            {"AttributeType": "Memo", "MaxLength": 500, "Format": "TextArea"},
        ),
        (
            {
                "@odata.type": "Microsoft.Dynamics.CRM.IntegerAttributeMetadata",
                "MinValue": 0,
                "MaxValue": 100,
            },
            {"AttributeType": "Integer", "MinValue": 0, "MaxValue": 100, "Format": "None"},
        ),
        (
            {
                "@odata.type": "Microsoft.Dynamics.CRM.DecimalAttributeMetadata",
                "Precision": 1,
                "MinValue": 0.0,
                "MaxValue": 100.0,
            },
            {"AttributeType": "Decimal", "Precision": 1, "MinValue": 0, "MaxValue": 100},
        ),
        (
            {
                "@odata.type": "Microsoft.Dynamics.CRM.DateTimeAttributeMetadata",
                "Format": "DateOnly",
            },
            {
                "AttributeType": "DateTime",
                "Format": "DateOnly",
                "DateTimeBehavior": {"Value": "UserLocal"},
            },
        ),
        (
            {
                "@odata.type": "Microsoft.Dynamics.CRM.DateTimeAttributeMetadata",
                "Format": "DateOnly",
                "DateTimeBehavior": {"Value": "DateOnly"},
            },
            {"Format": "DateOnly", "DateTimeBehavior": {"Value": "DateOnly"}},
        ),
    ],
    ids=["string", "memo", "integer", "decimal", "date-default-userlocal", "date-only"],
)
def test_create_columns_and_read_them_back(
    core: StubCore, body: dict[str, Any], expected: dict[str, Any]
) -> None:
    # COLUMNS: each type's documented properties; DATES: behaviour defaults to UserLocal.
    create_table(core)
    response = add_column(core, {"SchemaName": "tpm_Thing", **body})
    assert response.status_code == 204, response.text
    assert "/Attributes(" in response.headers["OData-EntityId"]
    got = column(core, "tpm_thing")
    assert got["@odata.type"] == "#" + body["@odata.type"]
    assert got["SchemaName"] == "tpm_Thing"
    assert got["IsCustomAttribute"] is True
    for key, value in expected.items():
        assert got[key] == value, key


def test_date_only_behavior_with_date_and_time_format_is_refused(core: StubCore) -> None:
    # DATES: the DateOnly behavior requires the DateOnly format.
    create_table(core)
    response = add_column(
        core,
        {
            "@odata.type": "Microsoft.Dynamics.CRM.DateTimeAttributeMetadata",
            "SchemaName": "tpm_When",
            "Format": "DateAndTime",
            "DateTimeBehavior": {"Value": "DateOnly"},
        },
    )
    assert response.status_code == 400
    assert "DateOnly" in response.json()["error"]["message"]


def test_money_column_brings_its_base_column(core: StubCore) -> None:
    # COLUMNS: a currency column; the platform stores <name>_base and the record's currency.
    create_table(core)
    response = add_column(
        core,
        {"@odata.type": "Microsoft.Dynamics.CRM.MoneyAttributeMetadata", "SchemaName": "tpm_Price"},
    )
    assert response.status_code == 204, response.text
    base = column(core, "tpm_price_base")
    assert (base["AttributeType"], base["AttributeOf"]) == ("Money", "tpm_price")
    assert column(core, "transactioncurrencyid")["Targets"] == ["transactioncurrency"]


def test_boolean_column_has_two_options(core: StubCore) -> None:
    # COLUMNS, Boolean: OptionSet with TrueOption (1) and FalseOption (0).
    create_table(core)
    response = add_column(
        core,
        {
            "@odata.type": "Microsoft.Dynamics.CRM.BooleanAttributeMetadata",
            "SchemaName": "tpm_Paid",
            "OptionSet": {
                "TrueOption": {"Value": 1, "Label": label("Paid")},
                "FalseOption": {"Value": 0, "Label": label("Unpaid")},
                "OptionSetType": "Boolean",
            },
        },
    )
    assert response.status_code == 204, response.text
    got = call(core, "GET", f"{ENTITY}/Attributes(LogicalName='tpm_paid')?$expand=OptionSet")
    option_set = got.json()["OptionSet"]
    assert option_set["TrueOption"]["Value"] == 1
    assert option_set["FalseOption"]["Label"]["UserLocalizedLabel"]["Label"] == "Unpaid"


def test_local_choice_values_come_from_the_publisher_prefix(core: StubCore) -> None:
    # CHOICES: values are prefix × 10,000 + n; null values are assigned by the system.
    create_table(core)
    response = add_column(
        core,
        {
            "@odata.type": "Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
            "SchemaName": "tpm_Status",
            "OptionSet": {
                "@odata.type": "Microsoft.Dynamics.CRM.OptionSetMetadata",
                "IsGlobal": False,
                "OptionSetType": "Picklist",
                "Options": [
                    {"Value": None, "Label": label("Scheduled")},
                    {"Value": 727000005, "Label": label("Completed")},
                    {"Value": None, "Label": label("Cancelled")},
                ],
            },
        },
    )
    assert response.status_code == 204, response.text
    got = call(
        core,
        "GET",
        f"{ENTITY}/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata"
        "?$select=LogicalName&$expand=OptionSet,GlobalOptionSet",
    )
    assert got.status_code == 200, got.text
    body = got.json()
    assert "/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata(" in body["@odata.context"]
    [row] = [r for r in body["value"] if r["LogicalName"] == "tpm_status"]
    values = [
        (o["Value"], o["Label"]["UserLocalizedLabel"]["Label"]) for o in row["OptionSet"]["Options"]
    ]
    assert values == [(727000000, "Scheduled"), (727000005, "Completed"), (727000001, "Cancelled")]
    # "You can get the option definition from either property regardless of whether the
    # attribute is configured to use global option sets or the local option set"
    # (retrieve-metadata-name-metadataid): GlobalOptionSet is the local choice here
    assert row["GlobalOptionSet"]["Options"] == row["OptionSet"]["Options"]
    assert row["GlobalOptionSet"]["IsGlobal"] is False
    outside = add_column(
        core,
        {
            "@odata.type": "Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
            "SchemaName": "tpm_Other",
            "OptionSet": {"Options": [{"Value": 100000000, "Label": label("x")}]},
        },
    )
    assert outside.status_code == 400
    assert "727000000" in outside.json()["error"]["message"]


def test_global_choice_bound_by_odata_bind_and_deleted_when_unused(core: StubCore) -> None:
    # CHOICES: POST GlobalOptionSetDefinitions; GlobalOptionSet@odata.bind; get by Name.
    created = call(
        core,
        "POST",
        "GlobalOptionSetDefinitions",
        {
            "@odata.type": "Microsoft.Dynamics.CRM.OptionSetMetadata",
            "Name": "tpm_sessiontype",
            "DisplayName": label("Session type"),
            "OptionSetType": "Picklist",
            "Options": [{"Value": None, "Label": label("Intro")}],
        },
    )
    assert created.status_code == 204, created.text
    metadata_id = created.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")
    create_table(core)
    bound = add_column(
        core,
        {
            "@odata.type": "Microsoft.Dynamics.CRM.MultiSelectPicklistAttributeMetadata",
            "SchemaName": "tpm_Types",
            "GlobalOptionSet@odata.bind": f"/GlobalOptionSetDefinitions({metadata_id})",
        },
    )
    assert bound.status_code == 204, bound.text
    got = call(
        core,
        "GET",
        f"{ENTITY}/Attributes(LogicalName='tpm_types')/Microsoft.Dynamics.CRM."
        "MultiSelectPicklistAttributeMetadata?$select=LogicalName&$expand=GlobalOptionSet",
    )
    assert got.json()["GlobalOptionSet"]["Name"] == "tpm_sessiontype"
    by_name = call(core, "GET", "GlobalOptionSetDefinitions(Name='tpm_sessiontype')")
    assert by_name.json()["Options"][0]["Value"] == 727000000
    in_use = call(core, "DELETE", "GlobalOptionSetDefinitions(Name='tpm_sessiontype')")
    assert in_use.status_code == 400
    assert call(core, "DELETE", f"{ENTITY}/Attributes(LogicalName='tpm_types')").status_code == 204
    gone = call(core, "DELETE", "GlobalOptionSetDefinitions(Name='tpm_sessiontype')")
    assert gone.status_code == 204


def test_new_column_becomes_visible_after_the_delay(core: StubCore) -> None:
    # Eventual consistency of new columns (Microsoft's Python SDK waits for visibility).
    create_table(core)
    add_column(
        core,
        {"@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata", "SchemaName": "tpm_Ref"},
    )
    attr = core.schema.entities["tpm_coachingsession"].attributes["tpm_ref"]
    assert attr.visible_at == core.now + core.config.column_visibility_delay


def test_delete_column_restores_the_table(core: StubCore) -> None:
    # COLUMNS: DELETE .../Attributes(LogicalName='x') removes the column and its values.
    create_table(core)
    before = core.schema.to_json()
    add_column(
        core,
        {"@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata", "SchemaName": "tpm_Ref"},
    )
    assert call(core, "DELETE", f"{ENTITY}/Attributes(LogicalName='tpm_ref')").status_code == 204
    assert core.schema.to_json() == before
    assert ("tpm_coachingsession", "tpm_ref") in core.dropped


# -- relationships -------------------------------------------------------------------------


def relationship_body(**extra: Any) -> dict[str, Any]:
    return {
        "@odata.type": "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
        "SchemaName": "tpm_contact_tpm_coachingsession",
        "ReferencedEntity": "contact",
        "ReferencedAttribute": "contactid",
        "ReferencingEntity": "tpm_coachingsession",
        "CascadeConfiguration": {"Delete": "RemoveLink"},
        "Lookup": {
            "@odata.type": "Microsoft.Dynamics.CRM.LookupAttributeMetadata",
            "AttributeType": "Lookup",
            "AttributeTypeName": {"Value": "LookupType"},
            "SchemaName": "tpm_ClientId",
            "DisplayName": label("Client"),
        },
        **extra,
    }


def test_relationship_creates_the_lookup_and_navigation_properties(core: StubCore) -> None:
    # RELS: 204 + OData-EntityId .../RelationshipDefinitions(<id>); the lookup column by deep
    # insert; ReferencingEntityNavigationPropertyName defaults to the lookup's SchemaName.
    create_table(core)
    before = core.schema.to_json()
    response = call(core, "POST", "RelationshipDefinitions", relationship_body())
    assert response.status_code == 204, response.text
    assert response.headers["OData-EntityId"].startswith(f"{API}RelationshipDefinitions(")
    got = call(
        core,
        "GET",
        f"{ENTITY}/ManyToOneRelationships?$select=SchemaName,ReferencingAttribute,"
        "ReferencedEntity,ReferencedAttribute,ReferencingEntityNavigationPropertyName,"
        "ReferencedEntityNavigationPropertyName&$filter=ReferencedEntity eq 'contact'",
    )
    [rel] = got.json()["value"]
    assert rel["SchemaName"] == "tpm_contact_tpm_coachingsession"
    assert rel["ReferencingAttribute"] == "tpm_clientid"
    assert rel["ReferencedAttribute"] == "contactid"
    assert rel["ReferencingEntityNavigationPropertyName"] == "tpm_ClientId"
    assert rel["ReferencedEntityNavigationPropertyName"] == "tpm_contact_tpm_coachingsession"
    lookup = column(core, "tpm_clientid", "LookupAttributeMetadata")
    assert lookup["Targets"] == ["contact"]
    by_name = call(
        core, "GET", "RelationshipDefinitions(SchemaName='tpm_contact_tpm_coachingsession')"
    )
    assert by_name.json()["@odata.type"] == "#Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata"
    deleted = call(
        core, "DELETE", "RelationshipDefinitions(SchemaName='tpm_contact_tpm_coachingsession')"
    )
    assert deleted.status_code == 204
    assert core.schema.to_json() == before


def test_relationship_names_its_navigation_properties_when_asked(core: StubCore) -> None:
    # RELS: ReferencingEntityNavigationPropertyName / ReferencedEntityNavigationPropertyName.
    create_table(core)
    body = relationship_body(
        ReferencingEntityNavigationPropertyName="tpm_Client",
        ReferencedEntityNavigationPropertyName="tpm_Sessions",
    )
    assert call(core, "POST", "RelationshipDefinitions", body).status_code == 204
    rel = core.schema.relationships["tpm_contact_tpm_coachingsession"]
    assert (rel.referencing_nav, rel.referenced_nav) == ("tpm_Client", "tpm_Sessions")


# -- keys ----------------------------------------------------------------------------------


def key_body(*columns: str) -> dict[str, Any]:
    return {
        "SchemaName": "tpm_name_key",
        "DisplayName": label("Name key"),
        "KeyAttributes": list(columns),
    }


def test_key_is_pending_then_active(core: StubCore) -> None:
    # KEYS: EntityKeyIndexStatus Pending → Active once the index job has run.
    create_table(core)
    response = call(core, "POST", f"{ENTITY}/Keys", key_body("tpm_name"))
    assert response.status_code == 204, response.text
    assert "/Keys(" in response.headers["OData-EntityId"]
    path = f"{ENTITY}/Keys(LogicalName='tpm_name_key')"
    assert call(core, "GET", path).json()["EntityKeyIndexStatus"] == "Pending"
    core.now += core.config.key_activation_delay
    got = call(core, "GET", path).json()
    assert got["EntityKeyIndexStatus"] == "Active"
    assert got["KeyAttributes"] == ["tpm_name"]


def test_key_fails_when_rows_have_duplicate_values(core: StubCore) -> None:
    # KEYS: the index build fails (Failed) when existing data has duplicates.
    create_table(core)
    core.duplicates.add(("tpm_coachingsession", ("tpm_name",)))
    call(core, "POST", f"{ENTITY}/Keys", key_body("tpm_name"))
    core.now += core.config.key_activation_delay
    got = call(core, "GET", f"{ENTITY}/Keys(LogicalName='tpm_name_key')")
    assert got.json()["EntityKeyIndexStatus"] == "Failed"


def test_key_rules(core: StubCore) -> None:
    # KEYS: allowed column types; at most 10 keys per table.
    create_table(core)
    bad_type = call(core, "POST", f"{ENTITY}/Keys", key_body("createdby", "statecode"))
    assert bad_type.status_code == 400
    assert "State" in bad_type.json()["error"]["message"]
    entity = core.schema.entities["tpm_coachingsession"]
    for i in range(10):
        entity.attributes[f"tpm_c{i}"] = AttributeDef(f"tpm_c{i}", f"tpm_C{i}", "Integer", "c")
        body = {**key_body(f"tpm_c{i}"), "SchemaName": f"tpm_key{i}"}
        assert call(core, "POST", f"{ENTITY}/Keys", body).status_code == 204
    eleventh = call(core, "POST", f"{ENTITY}/Keys", key_body("tpm_name"))
    assert eleventh.status_code == 400
    assert "10" in eleventh.json()["error"]["message"]


# -- against the emulator ------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emulator(tmp_path: Path, clock: Clock) -> Iterator[Emulator]:
    config = CoreConfig(clock=clock, key_activation_delay=30.0, column_visibility_delay=5.0)
    em = Emulator(config, tmp_path)
    yield em
    em.close()


@pytest.fixture
def client(emulator: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(transport=httpx.MockTransport(emulator.handle), base_url=API) as c:
        publisher = c.post(
            "publishers",
            json={
                "uniquename": "thepractice",
                "friendlyname": "The Practice",
                "customizationprefix": "tpm",
                "customizationoptionvalueprefix": 72700,
            },
        )
        assert publisher.status_code == 204, publisher.text
        solution = c.post(
            "solutions",
            json={
                "uniquename": "tpmmigration",
                "friendlyname": "Migration",
                "version": "1.0",
                "publisherid@odata.bind": publisher.headers["OData-EntityId"][len(API) - 1 :],
            },
        )
        assert solution.status_code == 204, solution.text
        c.headers["MSCRM.SolutionUniqueName"] = "tpmmigration"
        yield c


def test_emulator_table_column_relationship_and_key_end_to_end(
    client: httpx.Client, emulator: Emulator, clock: Clock
) -> None:
    # TABLES, COLUMNS, RELS, KEYS: what the metadata API creates is usable by the data plane:
    # the new entity set, a new column after its visibility delay, the lookup's navigation
    # property (SchemaName case) in @odata.bind, notes by objectid_<table>, a key by its URL.
    before = emulator.dump()["metadata"]
    assert client.post("EntityDefinitions", json=table_body()).status_code == 204
    set_name = client.get(f"{ENTITY}?$select=EntitySetName").json()["EntitySetName"]
    assert set_name == "tpm_coachingsessions"
    created = client.post(set_name, json={"tpm_name": "First session"})
    assert created.status_code == 204, created.text
    session_url = created.headers["OData-EntityId"][len(API) - 1 :]
    note = client.post(
        "annotations", json={"subject": "n", "objectid_tpm_coachingsession@odata.bind": session_url}
    )
    assert note.status_code == 204, note.text

    column = {
        "@odata.type": "Microsoft.Dynamics.CRM.IntegerAttributeMetadata",
        "SchemaName": "tpm_Minutes",
        "DisplayName": label("Minutes"),
        "MinValue": 0,
        "MaxValue": 600,
    }
    assert client.post(f"{ENTITY}/Attributes", json=column).status_code == 204
    early = client.patch(session_url, json={"tpm_minutes": 60})
    assert early.status_code == 400
    assert "Could not find a property named 'tpm_minutes'" in early.json()["error"]["message"]
    clock.now += 5
    assert client.patch(session_url, json={"tpm_minutes": 60}).status_code == 204
    out_of_range = client.patch(session_url, json={"tpm_minutes": 601})
    assert out_of_range.status_code == 400

    assert client.post("RelationshipDefinitions", json=relationship_body()).status_code == 204
    clock.now += 5
    person = client.post("contacts", json={"lastname": "Lovelace"})
    person_url = person.headers["OData-EntityId"][len(API) - 1 :]
    bound = client.patch(session_url, json={"tpm_ClientId@odata.bind": person_url})
    assert bound.status_code == 204, bound.text
    wrong_case = client.patch(session_url, json={"tpm_clientid@odata.bind": person_url})
    assert wrong_case.status_code == 400

    key = client.post(f"{ENTITY}/Keys", json=key_body("tpm_name"))
    assert key.status_code == 204, key.text
    status = f"{ENTITY}/Keys(LogicalName='tpm_name_key')?$select=EntityKeyIndexStatus"
    assert client.get(status).json()["EntityKeyIndexStatus"] == "Pending"
    clock.now += 30
    assert client.get(status).json()["EntityKeyIndexStatus"] == "Active"
    by_key = client.patch(f"{set_name}(tpm_name='First session')", json={"tpm_minutes": 90})
    assert by_key.status_code == 204, by_key.text
    upsert = client.post(
        f"{set_name}/Microsoft.Dynamics.CRM.UpsertMultiple",
        json={
            "Targets": [
                {
                    "@odata.type": "Microsoft.Dynamics.CRM.tpm_coachingsession",
                    "@odata.id": f"{set_name}(tpm_name='First session')",
                    "tpm_minutes": 120,
                },
                {
                    "@odata.type": "Microsoft.Dynamics.CRM.tpm_coachingsession",
                    "@odata.id": f"{set_name}(tpm_name='Second session')",
                    "tpm_minutes": 30,
                },
            ]
        },
    )
    assert upsert.status_code == 204, upsert.text
    minutes = {
        r["tpm_name"]: r["tpm_minutes"]
        for r in client.get(f"{set_name}?$select=tpm_name,tpm_minutes").json()["value"]
    }
    assert minutes == {"First session": 120, "Second session": 30}

    assert client.delete(ENTITY).status_code == 204
    assert client.get(set_name).status_code == 404
    after = emulator.dump()["metadata"]
    assert after == before


def test_emulator_key_fails_on_duplicate_rows(
    client: httpx.Client, emulator: Emulator, clock: Clock
) -> None:
    # KEYS: the index job fails (EntityKeyIndexStatus Failed) when rows hold duplicates.
    assert client.post("EntityDefinitions", json=table_body()).status_code == 204
    for _ in range(2):
        assert client.post("tpm_coachingsessions", json={"tpm_name": "same"}).status_code == 204
    assert client.post(f"{ENTITY}/Keys", json=key_body("tpm_name")).status_code == 204
    clock.now += 30
    got = client.get(f"{ENTITY}/Keys(LogicalName='tpm_name_key')")
    assert got.json()["EntityKeyIndexStatus"] == "Failed"


def test_emulator_custom_table_limit_and_default_publisher(
    client: httpx.Client, tmp_path: Path
) -> None:
    # TABLES with the tier's custom-table limit (CoreConfig); the default publisher "new".
    em = Emulator(CoreConfig(custom_table_limit=1), tmp_path / "limit")
    try:
        with httpx.Client(transport=httpx.MockTransport(em.handle), base_url=API) as c:
            assert c.post("EntityDefinitions", json=table_body("new_One")).status_code == 204
            refused = c.post("EntityDefinitions", json=table_body("new_Two"))
            assert refused.status_code == 400
            assert "custom tables" in refused.json()["error"]["message"]
            wrong = c.post("EntityDefinitions", json=table_body("tpm_Two"))
            assert wrong.status_code == 400
            assert "customization prefix" in wrong.json()["error"]["message"]
    finally:
        em.close()
