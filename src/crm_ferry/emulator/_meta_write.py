"""Creating tables, columns, choices, relationships and keys through the metadata API.

Written from
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-definitions-using-web-api,
.../webapi/create-update-column-definitions-using-web-api,
.../webapi/create-update-entity-relationships-using-web-api,
.../webapi/create-update-optionsets,
https://learn.microsoft.com/power-apps/developer/data-platform/define-alternate-keys-entity and
https://learn.microsoft.com/power-apps/developer/data-platform/behavior-format-date-time-attribute.

Each function validates a request body, changes the :class:`Schema` in place and returns what
it made; it raises :class:`MetaError` (and changes nothing) when the body is not acceptable.
The texts of validation errors are the emulator's own where Microsoft's are not documented;
their code is ``0x80040203`` (InvalidArgument) unless noted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from crm_ferry.emulator import tenant
from crm_ferry.emulator._meta_json import label_text
from crm_ferry.emulator.schema import (
    BULK_MESSAGES,
    AttributeDef,
    AttributeType,
    CascadeType,
    DateTimeBehavior,
    EntityDef,
    KeyDef,
    OptionDef,
    OptionSetDef,
    OwnershipType,
    RelationshipDef,
    RequiredLevel,
    Schema,
)

INVALID_ARGUMENT = "0x80040203"
DUPLICATE = "0x80040237"
NOT_FOUND = "0x80040217"
NS = "Microsoft.Dynamics.CRM."

KEY_COLUMN_TYPES = frozenset({"Decimal", "Integer", "String", "DateTime", "Lookup", "Picklist"})
"""Documented: alternate keys may use Decimal, Whole Number, single-line Text, Date Time,
Lookup and Choice columns."""
MAX_KEYS_PER_TABLE = 10
MAX_KEY_COLUMNS = 16
MAX_KEY_BYTES = 900

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class MetaError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def bad(message: str, *, code: str = INVALID_ARGUMENT, status: int = 400) -> MetaError:
    return MetaError(status, code, message)


@dataclass(frozen=True, slots=True)
class Publisher:
    unique_name: str
    prefix: str
    option_value_prefix: int


@dataclass(slots=True)
class Context:
    """What a metadata write needs besides the schema."""

    schema: Schema
    now: float
    publishers: list[Publisher]
    solutions: dict[str, Publisher]
    """Unique name (lower case) → the solution's publisher."""
    solution: str | None = None
    """``MSCRM.SolutionUniqueName`` of the request, checked to exist."""
    max_name_length: int = 50
    visibility_delay: float = 0.0
    key_delay: float = 0.0
    custom_table_limit: int | None = None
    made: list[str] = field(default_factory=list)

    def publisher_for(self, schema_name: Any, kind: str) -> Publisher:
        """The publisher whose prefix ``schema_name`` carries; enforces naming rules."""
        check_name(schema_name, kind, self.max_name_length)
        prefix, sep, rest = schema_name.partition("_")
        if self.solution is not None:
            owner = self.solutions[self.solution.lower()]
            candidates = [owner]
        else:
            candidates = self.publishers
        for pub in candidates:
            if sep and rest and prefix.lower() == pub.prefix.lower():
                return pub
        allowed = ", ".join(sorted(f"'{p.prefix}_'" for p in candidates)) or "(none)"
        raise bad(
            f"The schema name '{schema_name}' of the {kind} must start with the customization "
            f"prefix of a publisher followed by an underscore: {allowed}."
        )


def check_name(schema_name: Any, kind: str, max_length: int) -> str:
    if not isinstance(schema_name, str) or not schema_name:
        raise bad(f"The {kind} has no SchemaName.")
    if not _NAME.match(schema_name):
        raise bad(
            f"The schema name '{schema_name}' of the {kind} is not valid: it must start with a "
            "letter and contain only letters, digits and underscores."
        )
    if len(schema_name) > max_length:
        raise bad(
            f"The schema name '{schema_name}' of the {kind} is longer than {max_length} characters."
        )
    return schema_name


def entity_set_name(logical_name: str) -> str:
    """The plural Dataverse generates: ``…y`` after a consonant → ``…ies``, ``…s/x/z/ch/sh`` →
    ``…es``, else ``…s`` (``opportunity`` → ``opportunities``, ``msdyn_smsengagementctx`` →
    ``msdyn_smsengagementctxes``, ``account`` → ``accounts``)."""
    name = logical_name
    if name.endswith("y") and len(name) > 1 and name[-2] not in "aeiou":
        return name[:-1] + "ies"
    if name.endswith(("s", "x", "z", "ch", "sh")):
        return name + "es"
    return name + "s"


def _required_level(body: dict[str, Any]) -> RequiredLevel:
    value = body.get("RequiredLevel")
    level = value.get("Value") if isinstance(value, dict) else value
    if level in (None, "None"):
        return "None"
    if level in ("SystemRequired", "ApplicationRequired", "Recommended"):
        return level  # type: ignore[no-any-return]
    raise bad(f"'{level}' is not a valid RequiredLevel.")


def _odata_type(body: dict[str, Any]) -> str:
    value = body.get("@odata.type")
    if not isinstance(value, str):
        return ""
    return value.removeprefix("#").removeprefix(NS)


# -- tables -----------------------------------------------------------------------------


def create_table(ctx: Context, body: dict[str, Any]) -> EntityDef:
    kind = _odata_type(body)
    if kind not in ("", "EntityMetadata"):
        raise bad(f"The type '{kind}' can't be created in EntityDefinitions.")
    schema_name = body.get("SchemaName")
    publisher = ctx.publisher_for(schema_name, "table")
    logical = str(schema_name).lower()
    if ctx.schema.entity(logical) is not None:
        raise bad(f"A table with the name '{logical}' already exists.", code=DUPLICATE)
    display = label_text(body.get("DisplayName"))
    collection = label_text(body.get("DisplayCollectionName"))
    if not display or not collection:
        raise bad("DisplayName and DisplayCollectionName are required to create a table.")
    ownership_text = body.get("OwnershipType")
    ownership: OwnershipType = (
        "OrganizationOwned" if ownership_text == "OrganizationOwned" else "UserOwned"
    )
    if ownership_text not in ("UserOwned", "OrganizationOwned"):
        raise bad(
            f"OwnershipType '{ownership_text}' is not valid for a new table: use 'UserOwned' or "
            "'OrganizationOwned'."
        )
    if body.get("IsActivity"):
        raise bad("The emulator does not create activity tables (IsActivity = true).")
    primary = _primary_name(body, publisher, ctx)
    if ctx.custom_table_limit is not None:
        count = sum(1 for e in ctx.schema.entities.values() if e.is_custom)
        if count >= ctx.custom_table_limit:
            raise bad(
                f"The environment already has {count} custom tables, the most its licence "
                f"allows ({ctx.custom_table_limit}). Delete a custom table or upgrade the "
                "licence to create another.",
                code="0x8004431F",
            )
    set_name = body.get("EntitySetName") or entity_set_name(logical)
    if not isinstance(set_name, str) or not _NAME.match(set_name):
        raise bad(f"'{set_name}' is not a valid EntitySetName.")
    if ctx.schema.by_entity_set(set_name) is not None:
        raise bad(f"The entity set name '{set_name}' is already used.", code=DUPLICATE)
    otc = max([9999, *(e.object_type_code for e in ctx.schema.entities.values() if e.is_custom)])
    entity = EntityDef(
        logical_name=logical,
        schema_name=str(schema_name),
        entity_set_name=set_name,
        primary_id=f"{logical}id",
        primary_name=primary.logical_name,
        object_type_code=otc + 1,
        display_name=display,
        display_collection_name=collection,
        description=label_text(body.get("Description")),
        ownership=ownership,
        is_custom=True,
        has_notes=bool(body.get("HasNotes")),
        has_activities=bool(body.get("HasActivities")),
        change_tracking=bool(body.get("ChangeTrackingEnabled")),
        bulk_messages=BULK_MESSAGES,
        solution=ctx.solution,
    )
    for attr in _standard_columns(entity, ownership, display):
        entity.attributes[attr.logical_name] = attr
    entity.attributes[primary.logical_name] = primary
    ctx.schema.add_entity(entity)
    _standard_relationships(ctx.schema, entity)
    if entity.has_notes:
        _notes_relationship(ctx.schema, entity)
    return entity


def _primary_name(body: dict[str, Any], publisher: Publisher, ctx: Context) -> AttributeDef:
    attrs = body.get("Attributes")
    if not isinstance(attrs, list):
        raise bad("Required field 'PrimaryAttribute' is missing")
    primaries = [a for a in attrs if isinstance(a, dict) and a.get("IsPrimaryName")]
    if len(primaries) != 1 or len(attrs) != 1:
        raise bad(
            "The Attributes of a new table must hold exactly one StringAttributeMetadata with "
            "IsPrimaryName = true (Required field 'PrimaryAttribute' is missing)."
        )
    spec = primaries[0]
    if _odata_type(spec) != "StringAttributeMetadata":
        raise bad("The primary name column of a table must be a StringAttributeMetadata.")
    attr = _attribute_from(ctx, spec, entity_name=str(body.get("SchemaName")).lower())
    attr.is_primary_name = True
    attr.required = "ApplicationRequired" if attr.required == "None" else attr.required
    attr.visible_at = 0.0
    return attr


def _standard_columns(
    entity: EntityDef, ownership: OwnershipType, display: str
) -> list[AttributeDef]:
    """The system columns of a new custom table: the tenant's own set for the ownership
    (createdon, modifiedon, createdby, modifiedby, versionnumber, overriddencreatedon,
    importsequencenumber; ownerid, owningbusinessunit, owninguser, owningteam when user-owned),
    the primary key, and statecode/statuscode with the default Active/Inactive pair."""
    pk = AttributeDef(
        entity.primary_id,
        entity.schema_name + "Id",
        "Uniqueidentifier",
        display,
        is_primary_id=True,
        valid_for_update=False,
    )
    state = OptionSetDef(
        f"{entity.logical_name}_statecode",
        kind="State",
        options=[
            OptionDef(0, "Active", default_status=1),
            OptionDef(1, "Inactive", default_status=2),
        ],
    )
    status = OptionSetDef(
        f"{entity.logical_name}_statuscode",
        kind="Status",
        options=[OptionDef(1, "Active", state=0), OptionDef(2, "Inactive", state=1)],
    )
    cols = [
        pk,
        *tenant.system_columns(ownership),
        AttributeDef("statecode", "StateCode", "State", "Status", option_set=state),
        AttributeDef("statuscode", "StatusCode", "Status", "Status Reason", option_set=status),
    ]
    if ownership == "OrganizationOwned":
        cols.append(tenant.lookup("organizationid", "organization", create=False, update=False))
    return cols


def _standard_relationships(schema: Schema, entity: EntityDef) -> None:
    for attr in entity.attributes.values():
        if attr.type in ("Lookup", "Owner", "Customer"):
            tenant.add_column_relationships(schema, entity, attr)


def _notes_relationship(schema: Schema, entity: EntityDef) -> None:
    """HasNotes: notes can point at the table through ``objectid_<table>@odata.bind``."""
    annotation = schema.entity("annotation")
    objectid = annotation.attribute("objectid") if annotation is not None else None
    if annotation is None or objectid is None:
        return
    if entity.logical_name not in objectid.targets:
        objectid.targets = (*objectid.targets, entity.logical_name)
    name = tenant.relationship_name("annotation", objectid, entity.logical_name)
    schema.add_relationship(
        RelationshipDef(
            schema_name=name,
            referenced_entity=entity.logical_name,
            referenced_attribute=entity.primary_id,
            referencing_entity="annotation",
            referencing_attribute="objectid",
            referencing_nav=tenant.navigation_name("annotation", objectid, entity.logical_name),
            referenced_nav=name,
            cascade_delete="Cascade",
        )
    )


# -- columns ----------------------------------------------------------------------------

_CREATABLE: dict[str, AttributeType] = {
    "StringAttributeMetadata": "String",
    "MemoAttributeMetadata": "Memo",
    "IntegerAttributeMetadata": "Integer",
    "DecimalAttributeMetadata": "Decimal",
    "MoneyAttributeMetadata": "Money",
    "DateTimeAttributeMetadata": "DateTime",
    "BooleanAttributeMetadata": "Boolean",
    "PicklistAttributeMetadata": "Picklist",
    "MultiSelectPicklistAttributeMetadata": "MultiSelectPicklist",
}
_STRING_FORMATS = {"Text", "Email", "Phone", "Url", "TextArea", "TickerSymbol", "Json"}

OptionSetLookup = Callable[[str], OptionSetDef | None]


def create_column(ctx: Context, entity: EntityDef, body: dict[str, Any]) -> list[AttributeDef]:
    """Add a column (and a Money column's ``_base`` twin); returns what was added."""
    attr = _attribute_from(ctx, body, entity_name=entity.logical_name)
    made = [attr]
    if attr.type == "Money":
        made += _money_companions(ctx.schema, entity, attr)
    for a in made:
        if entity.attribute(a.logical_name) is not None:
            raise bad(
                f"A column named '{a.logical_name}' already exists on the table "
                f"'{entity.logical_name}'.",
                code=DUPLICATE,
            )
    for a in made:
        a.visible_at = ctx.now + ctx.visibility_delay
        a.solution = ctx.solution
        entity.attributes[a.logical_name] = a
    if attr.type == "Money" and "transactioncurrencyid" in entity.attributes:
        _currency_relationship(ctx.schema, entity)
    return made


def _attribute_from(ctx: Context, body: dict[str, Any], *, entity_name: str) -> AttributeDef:
    odata_type = _odata_type(body)
    if odata_type in ("LookupAttributeMetadata", "ComplexLookupAttributeMetadata"):
        raise bad(
            "A lookup column is created with its relationship: POST RelationshipDefinitions "
            "with a OneToManyRelationshipMetadata and its Lookup."
        )
    type_ = _CREATABLE.get(odata_type)
    if type_ is None:
        raise bad(
            f"The emulator can't create columns of type '{odata_type or '(no @odata.type)'}'; "
            f"it creates {', '.join(sorted(_CREATABLE))}."
        )
    declared = body.get("AttributeType")
    # A multi-select choice reports AttributeType "Virtual" with AttributeTypeName
    # "MultiSelectPicklistType" (Microsoft Learn, MultiSelectPicklistAttributeMetadata;
    # "Work with choice columns"), so a body may declare either.
    if type_ == "MultiSelectPicklist" and declared == "Virtual":
        declared = type_
    if declared is not None and declared != type_:
        raise bad(f"AttributeType '{declared}' doesn't match @odata.type '{odata_type}'.")
    schema_name = body.get("SchemaName")
    publisher = ctx.publisher_for(schema_name, "column")
    attr = AttributeDef(
        logical_name=str(schema_name).lower(),
        schema_name=str(schema_name),
        type=type_,
        display_name=label_text(body.get("DisplayName")),
        description=label_text(body.get("Description")),
        required=_required_level(body),
        is_custom=True,
        solution=ctx.solution,
    )
    if not attr.display_name:
        raise bad(f"The column '{schema_name}' has no DisplayName.")
    _TYPE_RULES[type_](ctx, attr, body, publisher, entity_name)
    return attr


def _int(value: Any, name: str, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool):
        raise bad(f"{name} must be a whole number.")
    if not low <= value <= high:
        raise bad(f"{name} {value} is outside the allowed range {low} to {high}.")
    return value


def _dec(value: Any, name: str, default: Decimal, low: Decimal, high: Decimal) -> Decimal:
    if value is None:
        return default
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise bad(f"{name} must be a number.") from None
    if not low <= number <= high:
        raise bad(f"{name} {value} is outside the allowed range {low} to {high}.")
    return number


def _string(
    ctx: Context, attr: AttributeDef, body: dict[str, Any], pub: Publisher, ent: str
) -> None:
    attr.max_length = _int(body.get("MaxLength"), "MaxLength", 100, 1, 4000)
    fmt = body.get("FormatName")
    fmt_value = fmt.get("Value") if isinstance(fmt, dict) else body.get("Format") or "Text"
    if fmt_value not in _STRING_FORMATS:
        raise bad(f"'{fmt_value}' is not a valid format for a String column.")
    attr.format = str(fmt_value)


def _memo(ctx: Context, attr: AttributeDef, body: dict[str, Any], pub: Publisher, ent: str) -> None:
    attr.max_length = _int(body.get("MaxLength"), "MaxLength", 2000, 1, 1048576)
    attr.format = str(body.get("Format") or "TextArea")


def _integer(
    ctx: Context, attr: AttributeDef, body: dict[str, Any], pub: Publisher, ent: str
) -> None:
    low, high = -2147483648, 2147483647
    attr.min_value = _int(body.get("MinValue"), "MinValue", low, low, high)
    attr.max_value = _int(body.get("MaxValue"), "MaxValue", high, low, high)
    if attr.min_value > attr.max_value:
        raise bad("MinValue is greater than MaxValue.")
    attr.format = str(body.get("Format") or "None")


def _decimal(
    ctx: Context, attr: AttributeDef, body: dict[str, Any], pub: Publisher, ent: str
) -> None:
    limit = Decimal("100000000000")
    attr.precision = _int(body.get("Precision"), "Precision", 2, 0, 10)
    attr.min_value = _dec(body.get("MinValue"), "MinValue", -limit, -limit, limit)
    attr.max_value = _dec(body.get("MaxValue"), "MaxValue", limit, -limit, limit)
    if attr.min_value > attr.max_value:
        raise bad("MinValue is greater than MaxValue.")


def _money(
    ctx: Context, attr: AttributeDef, body: dict[str, Any], pub: Publisher, ent: str
) -> None:
    limit = Decimal("922337203685477")
    source = _int(body.get("PrecisionSource"), "PrecisionSource", 2, 0, 2)
    precision = _int(body.get("Precision"), "Precision", 2, 0, 4)
    attr.precision = precision if source == 0 else None
    attr.min_value = _dec(body.get("MinValue"), "MinValue", -limit, -limit, limit)
    attr.max_value = _dec(body.get("MaxValue"), "MaxValue", limit, -limit, limit)
    if attr.min_value > attr.max_value:
        raise bad("MinValue is greater than MaxValue.")


_BEHAVIORS = ("UserLocal", "DateOnly", "TimeZoneIndependent")


def _datetime(
    ctx: Context, attr: AttributeDef, body: dict[str, Any], pub: Publisher, ent: str
) -> None:
    fmt = body.get("Format") or "DateAndTime"
    if fmt not in ("DateOnly", "DateAndTime"):
        raise bad(f"'{fmt}' is not a valid Format for a DateTime column: DateOnly or DateAndTime.")
    raw = body.get("DateTimeBehavior")
    behavior = raw.get("Value") if isinstance(raw, dict) else raw
    behavior = behavior or "UserLocal"
    if behavior not in _BEHAVIORS:
        raise bad(f"'{behavior}' is not a valid DateTimeBehavior.")
    if behavior == "DateOnly" and fmt == "DateAndTime":
        raise bad(
            "A DateTime column with the DateOnly behavior must have the DateOnly format "
            "(Format = DateAndTime is not allowed)."
        )
    attr.format = str(fmt)
    attr.datetime_behavior = _behavior(behavior)


def _behavior(value: str) -> DateTimeBehavior:
    if value == "DateOnly":
        return "DateOnly"
    if value == "TimeZoneIndependent":
        return "TimeZoneIndependent"
    return "UserLocal"


def _boolean(
    ctx: Context, attr: AttributeDef, body: dict[str, Any], pub: Publisher, ent: str
) -> None:
    spec = body.get("OptionSet")
    if not isinstance(spec, dict):
        raise bad(
            f"The Boolean column '{attr.schema_name}' needs an OptionSet with TrueOption "
            "and FalseOption."
        )
    true, false = spec.get("TrueOption"), spec.get("FalseOption")
    if not isinstance(true, dict) or not isinstance(false, dict):
        raise bad(f"The Boolean column '{attr.schema_name}' needs TrueOption and FalseOption.")
    if true.get("Value", 1) != 1 or false.get("Value", 0) != 0:
        raise bad("TrueOption must have the value 1 and FalseOption the value 0.")
    attr.option_set = OptionSetDef(
        name=f"{ent}_{attr.logical_name}",
        kind="Boolean",
        options=[
            OptionDef(0, label_text(false.get("Label")) or "No"),
            OptionDef(1, label_text(true.get("Label")) or "Yes"),
        ],
        is_custom=True,
        solution=ctx.solution,
    )


def _choice(
    ctx: Context, attr: AttributeDef, body: dict[str, Any], pub: Publisher, ent: str
) -> None:
    bind = body.get("GlobalOptionSet@odata.bind")
    spec = body.get("OptionSet")
    if bind is not None:
        if spec is not None:
            raise bad("Give either OptionSet or GlobalOptionSet@odata.bind, not both.")
        attr.option_set = find_global(ctx.schema, str(bind))
        return
    if not isinstance(spec, dict):
        raise bad(
            f"The choice column '{attr.schema_name}' needs an OptionSet or "
            "GlobalOptionSet@odata.bind."
        )
    if spec.get("IsGlobal"):
        raise bad(
            "A global choice is created with POST GlobalOptionSetDefinitions and bound with "
            "GlobalOptionSet@odata.bind."
        )
    kind: Literal["Picklist", "MultiSelectPicklist"] = (
        "MultiSelectPicklist" if attr.type == "MultiSelectPicklist" else "Picklist"
    )
    attr.option_set = OptionSetDef(
        name=f"{ent}_{attr.logical_name}",
        kind=kind,
        options=options_from(spec.get("Options"), pub),
        is_custom=True,
        solution=ctx.solution,
    )


_TYPE_RULES: dict[str, Callable[[Context, AttributeDef, dict[str, Any], Publisher, str], None]] = {
    "String": _string,
    "Memo": _memo,
    "Integer": _integer,
    "Decimal": _decimal,
    "Money": _money,
    "DateTime": _datetime,
    "Boolean": _boolean,
    "Picklist": _choice,
    "MultiSelectPicklist": _choice,
}


def options_from(raw: Any, pub: Publisher) -> list[OptionDef]:
    """Options of a new choice: explicit values must lie in the publisher's range
    ``prefix × 10,000 … prefix × 10,000 + 9,999``; ``null`` values are assigned from it."""
    if not isinstance(raw, list) or not raw:
        raise bad("A choice needs at least one option in Options.")
    low = pub.option_value_prefix * 10000
    high = low + 9999
    options: list[OptionDef] = []
    used: set[int] = set()
    for item in raw:
        if not isinstance(item, dict):
            raise bad("Each option must be an object with Value and Label.")
        value = item.get("Value")
        if value is not None:
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise bad(
                    f"The option value {value} is not valid for the publisher '{pub.unique_name}': "
                    f"values must be between {low} and {high} (option value prefix "
                    f"{pub.option_value_prefix})."
                )
            if value in used:
                raise bad(f"The option value {value} is used twice.", code=DUPLICATE)
            used.add(value)
        text = label_text(item.get("Label"))
        if not text:
            raise bad("Each option needs a Label.")
        options.append(OptionDef(value if value is not None else -1, text))
    next_value = low
    for option in options:
        if option.value == -1:
            while next_value in used:
                next_value += 1
            option.value = next_value
            used.add(next_value)
    return options


def find_global(schema: Schema, bind: str) -> OptionSetDef:
    m = re.search(
        r"GlobalOptionSetDefinitions\((?:Name='(?P<name>[^']+)'|(?P<id>[0-9a-fA-F-]{36}))\)", bind
    )
    if m is None:
        raise bad(f"'{bind}' is not a GlobalOptionSetDefinitions URI.")
    for opt in schema.global_option_sets.values():
        if opt.name == m.group("name") or opt.metadata_id == m.group("id"):
            return opt
    raise bad(
        f"The global choice '{m.group('name') or m.group('id')}' does not exist.",
        code=NOT_FOUND,
        status=404,
    )


def _money_companions(schema: Schema, entity: EntityDef, attr: AttributeDef) -> list[AttributeDef]:
    """A Money column brings ``<name>_base``; the first one also ``transactioncurrencyid`` and
    ``exchangerate`` (how currency columns are stored: a value, its base-currency value and
    the record's currency and rate)."""
    base = AttributeDef(
        logical_name=f"{attr.logical_name}_base",
        schema_name=f"{attr.schema_name}_Base",
        type="Money",
        display_name=f"{attr.display_name} (Base)",
        precision=attr.precision,
        min_value=attr.min_value,
        max_value=attr.max_value,
        attribute_of=attr.logical_name,
        is_custom=True,
        valid_for_create=False,
        valid_for_update=False,
    )
    made = [base]
    if entity.attribute("transactioncurrencyid") is None:
        made.append(
            AttributeDef(
                logical_name="transactioncurrencyid",
                schema_name="TransactionCurrencyId",
                type="Lookup",
                display_name="Currency",
                targets=("transactioncurrency",),
            )
        )
    if entity.attribute("exchangerate") is None:
        made.append(
            AttributeDef(
                logical_name="exchangerate",
                schema_name="ExchangeRate",
                type="Decimal",
                display_name="Exchange Rate",
                precision=10,
                min_value=Decimal("0.000000000001"),
                max_value=Decimal("100000000000"),
                valid_for_create=False,
                valid_for_update=False,
            )
        )
    return made


def _currency_relationship(schema: Schema, entity: EntityDef) -> None:
    attr = entity.attribute("transactioncurrencyid")
    if attr is not None and not any(
        r.referencing_entity == entity.logical_name
        and r.referencing_attribute == "transactioncurrencyid"
        for r in schema.relationships.values()
    ):
        tenant.add_column_relationships(schema, entity, attr)


# -- relationships ----------------------------------------------------------------------

_DELETE_CASCADES: dict[str, CascadeType] = {
    "Cascade": "Cascade",
    "RemoveLink": "RemoveLink",
    "Restrict": "Restrict",
}


def create_relationship(ctx: Context, body: dict[str, Any]) -> RelationshipDef:
    kind = _odata_type(body)
    if kind == "ManyToManyRelationshipMetadata":
        raise bad("The emulator does not create many-to-many relationships.")
    if kind != "OneToManyRelationshipMetadata":
        raise bad(
            f"'{kind or '(no @odata.type)'}' can't be created in RelationshipDefinitions: use "
            "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata."
        )
    schema_name = body.get("SchemaName")
    ctx.publisher_for(schema_name, "relationship")
    name = str(schema_name)
    if any(r.lower() == name.lower() for r in ctx.schema.relationships):
        raise bad(f"A relationship named '{name}' already exists.", code=DUPLICATE)
    referenced = ctx.schema.entity(str(body.get("ReferencedEntity", "")))
    referencing = ctx.schema.entity(str(body.get("ReferencingEntity", "")))
    if referenced is None or referencing is None:
        missing = (
            body.get("ReferencedEntity") if referenced is None else body.get("ReferencingEntity")
        )
        raise bad(f"The table '{missing}' does not exist.", code=NOT_FOUND, status=404)
    ref_attr = body.get("ReferencedAttribute") or referenced.primary_id
    if ref_attr != referenced.primary_id:
        raise bad(
            f"ReferencedAttribute must be the primary key of '{referenced.logical_name}' "
            f"('{referenced.primary_id}')."
        )
    lookup = body.get("Lookup")
    if not isinstance(lookup, dict):
        raise bad("A one-to-many relationship is created with its Lookup column (Lookup).")
    if _odata_type(lookup) not in ("", "LookupAttributeMetadata"):
        raise bad("The Lookup of a relationship must be a LookupAttributeMetadata.")
    lookup_name = lookup.get("SchemaName")
    ctx.publisher_for(lookup_name, "column")
    logical = str(lookup_name).lower()
    if referencing.attribute(logical) is not None:
        raise bad(
            f"A column named '{logical}' already exists on the table '{referencing.logical_name}'.",
            code=DUPLICATE,
        )
    display = label_text(lookup.get("DisplayName"))
    if not display:
        raise bad(f"The lookup column '{lookup_name}' has no DisplayName.")
    cascade_cfg = body.get("CascadeConfiguration") or {}
    delete = (
        cascade_cfg.get("Delete", "RemoveLink") if isinstance(cascade_cfg, dict) else "RemoveLink"
    )
    if delete not in ("Cascade", "RemoveLink", "Restrict"):
        raise bad(f"'{delete}' is not a valid Delete cascade: Cascade, RemoveLink or Restrict.")
    referencing_nav = body.get("ReferencingEntityNavigationPropertyName") or str(lookup_name)
    referenced_nav = body.get("ReferencedEntityNavigationPropertyName") or name
    for nav, table in ((referencing_nav, referencing), (referenced_nav, referenced)):
        if not isinstance(nav, str) or not _NAME.match(nav):
            raise bad(f"'{nav}' is not a valid navigation property name.")
        if _nav_taken(ctx.schema, table.logical_name, nav):
            raise bad(
                f"The navigation property '{nav}' already exists on '{table.logical_name}'.",
                code=DUPLICATE,
            )
    attr = AttributeDef(
        logical_name=logical,
        schema_name=str(lookup_name),
        type="Lookup",
        display_name=display,
        description=label_text(lookup.get("Description")),
        required=_required_level(lookup),
        targets=(referenced.logical_name,),
        is_custom=True,
        solution=ctx.solution,
        visible_at=ctx.now + ctx.visibility_delay,
    )
    rel = RelationshipDef(
        schema_name=name,
        referenced_entity=referenced.logical_name,
        referenced_attribute=referenced.primary_id,
        referencing_entity=referencing.logical_name,
        referencing_attribute=logical,
        referencing_nav=str(referencing_nav),
        referenced_nav=str(referenced_nav),
        cascade_delete=_DELETE_CASCADES[delete],
        is_custom=True,
        solution=ctx.solution,
    )
    referencing.attributes[logical] = attr
    ctx.schema.add_relationship(rel)
    return rel


def _nav_taken(schema: Schema, entity: str, nav: str) -> bool:
    for r in schema.relationships.values():
        if r.referencing_entity == entity and r.referencing_nav == nav:
            return True
        if r.referenced_entity == entity and r.referenced_nav == nav:
            return True
    return False


# -- keys -------------------------------------------------------------------------------


def create_key(ctx: Context, entity: EntityDef, body: dict[str, Any]) -> KeyDef:
    schema_name = body.get("SchemaName")
    ctx.publisher_for(schema_name, "key")
    logical = str(schema_name).lower()
    if logical in entity.keys:
        raise bad(
            f"A key named '{logical}' already exists on '{entity.logical_name}'.", code=DUPLICATE
        )
    if len(entity.keys) >= MAX_KEYS_PER_TABLE:
        raise bad(
            f"The table '{entity.logical_name}' already has {MAX_KEYS_PER_TABLE} alternate keys, "
            "the most a table can have."
        )
    columns = body.get("KeyAttributes")
    if not isinstance(columns, list) or not columns or not all(isinstance(c, str) for c in columns):
        raise bad("KeyAttributes must list the logical names of the key's columns.")
    if len(columns) > MAX_KEY_COLUMNS:
        raise bad(f"An alternate key can have at most {MAX_KEY_COLUMNS} columns.")
    if len(set(columns)) != len(columns):
        raise bad("A column appears twice in KeyAttributes.")
    size = 0
    for name in columns:
        attr = entity.attribute(name)
        if attr is None:
            raise bad(
                f"The table '{entity.logical_name}' has no column '{name}'.",
                code=NOT_FOUND,
                status=404,
            )
        if attr.type not in KEY_COLUMN_TYPES:
            raise bad(
                f"The column '{name}' of type {attr.type} can't be part of an alternate key: "
                "allowed are Decimal, Integer, String, DateTime, Lookup and Picklist columns."
            )
        size += (attr.max_length or 0) * 2 if attr.type == "String" else 16
    if size > MAX_KEY_BYTES:
        raise bad(
            f"The columns of the key take {size} bytes; an alternate key can take at most "
            f"{MAX_KEY_BYTES}."
        )
    if any(sorted(k.key_attributes) == sorted(columns) for k in entity.keys.values()):
        raise bad("An alternate key with the same columns already exists.", code=DUPLICATE)
    key = KeyDef(
        schema_name=str(schema_name),
        logical_name=logical,
        entity=entity.logical_name,
        key_attributes=tuple(columns),
        status="Pending",
        active_at=ctx.now + ctx.key_delay,
        solution=ctx.solution,
    )
    entity.keys[logical] = key
    return key


# -- global choices ---------------------------------------------------------------------


def create_global_option_set(ctx: Context, body: dict[str, Any]) -> OptionSetDef:
    kind = _odata_type(body)
    if kind not in ("", "OptionSetMetadata"):
        raise bad(f"'{kind}' can't be created in GlobalOptionSetDefinitions.")
    name = body.get("Name")
    pub = ctx.publisher_for(name, "choice")
    if any(n.lower() == str(name).lower() for n in ctx.schema.global_option_sets):
        raise bad(f"A global choice named '{name}' already exists.", code=DUPLICATE)
    set_type = body.get("OptionSetType", "Picklist")
    if set_type != "Picklist":
        raise bad(f"OptionSetType '{set_type}' can't be created as a global choice: use Picklist.")
    opt = OptionSetDef(
        name=str(name),
        kind="Picklist",
        options=options_from(body.get("Options"), pub),
        is_global=True,
        is_custom=True,
        solution=ctx.solution,
    )
    ctx.schema.global_option_sets[opt.name] = opt
    return opt
