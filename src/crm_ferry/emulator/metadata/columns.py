"""Creating a column (``POST EntityDefinitions(...)/Attributes``): its type's rules and the
columns a Money column brings along.

Written from
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-column-definitions-using-web-api
and https://learn.microsoft.com/power-apps/developer/data-platform/behavior-format-date-time-attribute;
File and Image columns in :mod:`.media`.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from crm_ferry.emulator import tenant
from crm_ferry.emulator.metadata.choices import (
    choice_labels,
    find_global,
    option_from,
    options_from,
)
from crm_ferry.emulator.metadata.errors import DUPLICATE, bad
from crm_ferry.emulator.metadata.labels import Texts, keep, merged, parse, stored
from crm_ferry.emulator.metadata.media import attach, companions, file_rules, image_rules
from crm_ferry.emulator.metadata.properties import ATTRIBUTE_BINDINGS, attribute_rules
from crm_ferry.emulator.metadata.shapes import (
    METADATA_TYPES,
    MONEY_PRECISION,
    MONEY_PRECISION_SOURCE,
    REQUIRED_CAN_CHANGE,
    TYPE_NAMES,
    attribute_json,
    option_set_json,
)
from crm_ferry.emulator.metadata.verify import same, screen, verify
from crm_ferry.emulator.metadata.write_context import (
    Context,
    Publisher,
    chosen_metadata_id,
    definition_ids,
    odata_type,
    required_level,
)
from crm_ferry.emulator.schema import (
    AttributeDef,
    AttributeType,
    DateTimeBehavior,
    EntityDef,
    Labels,
    OptionSetDef,
    Schema,
)
from crm_ferry.emulator.unsupported import not_implemented
from crm_ferry.emulator.validation import UNKNOWN_PROPERTY

_CREATABLE: dict[str, AttributeType] = {
    "StringAttributeMetadata": "String",
    "MemoAttributeMetadata": "Memo",
    "IntegerAttributeMetadata": "Integer",
    "BigIntAttributeMetadata": "BigInt",
    "DecimalAttributeMetadata": "Decimal",
    "DoubleAttributeMetadata": "Double",
    "MoneyAttributeMetadata": "Money",
    "DateTimeAttributeMetadata": "DateTime",
    "BooleanAttributeMetadata": "Boolean",
    "PicklistAttributeMetadata": "Picklist",
    "MultiSelectPicklistAttributeMetadata": "MultiSelectPicklist",
    "FileAttributeMetadata": "File",
    "ImageAttributeMetadata": "Image",
}
_STRING_FORMATS = {"Text", "Email", "Phone", "Url", "TextArea", "TickerSymbol", "Json"}
MAX_LENGTH_OUT_OF_RANGE = "0x80090479"
"""``AttributeMaxLengthOutOfRange``: "The provided maximum length {0} of column {1} is out of
range. Custom maximum length values must be between {2} and {3}." (Web service error codes)."""
BOOLEAN_OPTION_OUT_OF_RANGE = "0x8004431C"
"""``BooleanOptionOutOfRange``: "Boolean attribute options must have a value of either 0 or
1." (Web service error codes)."""


def create_column(ctx: Context, entity: EntityDef, body: dict[str, Any]) -> list[AttributeDef]:
    """Add a column (and a Money column's ``_base`` twin); returns what was added."""
    attr = attribute_from(ctx, body, entity_name=entity.logical_name)
    made = [attr]
    if attr.type == "Money":
        made += _money_companions(ctx.schema, entity, attr)
    if attr.type in ("File", "Image"):
        made += companions(attr)
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
        a.created_on = a.created_on or ctx.wall
        entity.attributes[a.logical_name] = a
    if attr.type == "Money" and "transactioncurrencyid" in entity.attributes:
        _currency_relationship(ctx.schema, entity)
    if attr.type in ("File", "Image"):
        attach(ctx.schema, entity, attr)
    meta_type = METADATA_TYPES[attr.type]
    checked = body
    if attr.type == "Image" and entity.primary_image != attr.logical_name:
        # a later image column's IsPrimaryImage is ignored on create, as documented ("Use
        # image column data": the first image column is the table's primary image)
        checked = {k: v for k, v in body.items() if k != "IsPrimaryImage"}
    verify(
        checked,
        attribute_json(entity, attr),
        attribute_rules(meta_type),
        meta_type,
        skip=_NAVIGATION,
    )
    check_option_set(attr, body)
    return made


_NAVIGATION = ("OptionSet", "GlobalOptionSet")
"""An attribute's navigation properties (a new choice's options are checked on their own)."""


def attribute_from(
    ctx: Context,
    body: dict[str, Any],
    *,
    entity_name: str,
    existing: AttributeDef | None = None,
) -> AttributeDef:
    """The column ``body`` describes (checked, not yet added). With ``existing`` (an update),
    the name is the existing column's and no publisher prefix is asked for."""
    declared_type = odata_type(body)
    if declared_type in ("LookupAttributeMetadata", "ComplexLookupAttributeMetadata"):
        raise bad(
            "A lookup column is created with its relationship: POST RelationshipDefinitions "
            "with a OneToManyRelationshipMetadata and its Lookup."
        )
    if not declared_type and existing is not None:
        declared_type = METADATA_TYPES[existing.type]
    type_ = _CREATABLE.get(declared_type)
    if type_ is None:
        raise bad(
            f"The emulator can't create columns of type '{declared_type or '(no @odata.type)'}'; "
            f"it creates {', '.join(sorted(_CREATABLE))}."
        )
    kept = screen(body, attribute_rules(declared_type), declared_type, bindings=ATTRIBUTE_BINDINGS)
    declared = body.get("AttributeType")
    # Multi-select choices, files and images report AttributeType "Virtual" with their
    # AttributeTypeName ("MultiSelectPicklistType"; Microsoft Learn,
    # MultiSelectPicklistAttributeMetadata, "Work with choice columns"), so a body may
    # declare either.
    if type_ in ("MultiSelectPicklist", "File", "Image") and declared == "Virtual":
        declared = type_
    if declared is not None and declared != type_:
        raise bad(f"AttributeType '{declared}' doesn't match @odata.type '{declared_type}'.")
    type_name = body.get("AttributeTypeName")
    if type_name is not None and type_name != {"Value": TYPE_NAMES[type_]}:
        raise bad(
            f"AttributeTypeName {type_name!r} doesn't match @odata.type '{declared_type}' "
            f"({{'Value': '{TYPE_NAMES[type_]}'}})."
        )
    if existing is None:
        schema_name = body.get("SchemaName")
        publisher = ctx.publisher_for(schema_name, "column")
    else:
        schema_name = body.get("SchemaName", existing.schema_name)
        publisher = ctx.publishers[0] if ctx.publishers else Publisher("", "", 10000)
    others: Labels = {}
    display = _texts(body, "DisplayName", existing, merge=ctx.merge_labels)
    description = _texts(body, "Description", existing, merge=ctx.merge_labels)
    attr = AttributeDef(
        logical_name=str(schema_name).lower(),
        schema_name=str(schema_name),
        type=type_,
        display_name=keep(display, others, "DisplayName"),
        description=keep(description, others, "Description"),
        required=required_level(body),
        is_custom=True,
        solution=ctx.solution,
        other_labels=others,
        extra=kept,
    )
    if existing is None:
        attr.metadata_id = chosen_metadata_id(body, definition_ids(ctx.schema))
    if not display:
        raise bad(f"The column '{schema_name}' has no DisplayName.")
    if attr.required == "SystemRequired":
        # "Custom columns can't be set to use the SystemRequired option" (Microsoft Learn,
        # "Column definitions", Column requirement level).
        raise bad(f"The custom column '{schema_name}' can't be SystemRequired.")
    level = body.get("RequiredLevel")
    if isinstance(level, dict) and isinstance(level.get("CanBeChanged"), bool):
        attr.extra[REQUIRED_CAN_CHANGE] = level["CanBeChanged"]
    if existing is not None and type_ in _CHOICE_TYPES and not _OPTION_KEYS & set(body):
        attr.option_set = existing.option_set  # a PUT without options keeps the column's
    else:
        if existing is not None:
            attr.format = existing.format  # what an update's Format/FormatName change from
        _TYPE_RULES[type_](ctx, attr, body, publisher, entity_name)
    default = attr.extra.get("DefaultFormValue")
    if default not in (None, -1) and attr.option_set and default not in attr.option_set.values():
        raise bad(f"DefaultFormValue {default} is not an option of the column '{schema_name}'.")
    return attr


_CHOICE_TYPES = frozenset({"Boolean", "Picklist", "MultiSelectPicklist"})
_OPTION_KEYS = frozenset({"OptionSet", "GlobalOptionSet@odata.bind"})


def _texts(body: dict[str, Any], prop: str, existing: AttributeDef | None, *, merge: bool) -> Texts:
    sent = parse(body.get(prop), prop) or {}
    if existing is None:
        return sent
    primary = existing.display_name if prop == "DisplayName" else existing.description
    return merged(stored(primary, existing.other_labels, prop), sent, merge=merge)


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


def _max_length(attr: AttributeDef, value: Any, default: int, high: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad("MaxLength must be a whole number.")
    if not 1 <= value <= high:
        raise bad(
            f"The provided maximum length {value} of column {attr.schema_name} is out of range. "
            f"Custom maximum length values must be between 1 and {high} (MaxLength).",
            code=MAX_LENGTH_OUT_OF_RANGE,
        )
    return value


def _string(
    ctx: Context, attr: AttributeDef, body: dict[str, Any], pub: Publisher, ent: str
) -> None:
    attr.max_length = _max_length(attr, body.get("MaxLength"), 100, 4000)
    fmt = body.get("FormatName")
    named = fmt.get("Value") if isinstance(fmt, dict) else None
    plain = body.get("Format")
    if named is not None and plain is not None and named != plain:
        # an update read back and changed in one of the two: the changed one is meant
        if attr.format == plain:
            plain = named
        elif attr.format == named:
            named = plain
        else:
            raise bad(f"Format '{plain}' and FormatName '{named}' of a String column disagree.")
    fmt_value = named or plain or "Text"
    if fmt_value not in _STRING_FORMATS:
        raise bad(f"'{fmt_value}' is not a valid format for a String column.")
    attr.format = str(fmt_value)


_MEMO_FORMATS = ("TextArea", "Text", "Email", "Json", "RichText")


def _memo(ctx: Context, attr: AttributeDef, body: dict[str, Any], pub: Publisher, ent: str) -> None:
    attr.max_length = _max_length(attr, body.get("MaxLength"), 2000, 1048576)
    fmt = body.get("Format") or "TextArea"
    if fmt not in _MEMO_FORMATS:
        raise bad(f"'{fmt}' is not a valid Format for a Memo column.")
    attr.format = str(fmt)


def _integer(
    ctx: Context, attr: AttributeDef, body: dict[str, Any], pub: Publisher, ent: str
) -> None:
    low, high = -2147483648, 2147483647
    attr.min_value = _int(body.get("MinValue"), "MinValue", low, low, high)
    attr.max_value = _int(body.get("MaxValue"), "MaxValue", high, low, high)
    if attr.min_value > attr.max_value:
        raise bad("MinValue is greater than MaxValue.")
    attr.format = str(body.get("Format") or "None")


INT64 = 2**63


def _bigint(
    ctx: Context, attr: AttributeDef, body: dict[str, Any], pub: Publisher, ent: str
) -> None:
    """Whole numbers of 64 bits (Edm.Int64), MinValue/MaxValue within that range."""
    low, high = -INT64, INT64 - 1
    attr.min_value = _int(body.get("MinValue"), "MinValue", low, low, high)
    attr.max_value = _int(body.get("MaxValue"), "MaxValue", high, low, high)
    if attr.min_value > attr.max_value:
        raise bad("MinValue is greater than MaxValue.")


def _double(
    ctx: Context, attr: AttributeDef, body: dict[str, Any], pub: Publisher, ent: str
) -> None:
    """Floating point numbers: ±100,000,000,000 and a precision of 0 to 5 decimal places
    (DoubleAttributeMetadata's MinSupportedValue, MaxSupportedValue and
    MaxSupportedPrecision)."""
    limit = Decimal("100000000000")
    attr.precision = _int(body.get("Precision"), "Precision", 2, 0, 5)
    attr.min_value = float(_dec(body.get("MinValue"), "MinValue", -limit, -limit, limit))
    attr.max_value = float(_dec(body.get("MaxValue"), "MaxValue", limit, -limit, limit))
    if attr.min_value > attr.max_value:
        raise bad("MinValue is greater than MaxValue.")


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
    # PrecisionSource 0: the column's Precision; 1: the organization's pricing precision;
    # 2: the currency's precision (Microsoft Learn, "Column definitions", MoneyType). Both 1
    # and 2 are 2 decimal places here (the organization's and the currencies' default).
    source = _int(body.get("PrecisionSource"), "PrecisionSource", 2, 0, 2)
    precision = _int(body.get("Precision"), "Precision", 2, 0, 4)
    attr.precision = precision if source == 0 else None
    attr.extra[MONEY_PRECISION] = precision
    attr.extra[MONEY_PRECISION_SOURCE] = source
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
        raise bad(
            "Boolean attribute options must have a value of either 0 or 1 (TrueOption 1, "
            "FalseOption 0).",
            code=BOOLEAN_OPTION_OUT_OF_RANGE,
        )
    attr.option_set = OptionSetDef(
        name=f"{ent}_{attr.logical_name}",
        kind="Boolean",
        options=[option_from(false, 0, "No"), option_from(true, 1, "Yes")],
        is_custom=True,
        solution=ctx.solution,
    )
    choice_labels(attr.option_set, spec)


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
    choice_labels(attr.option_set, spec)


_OPTION_SET_KEYS = frozenset({"TrueOption", "FalseOption", "Options"})


def check_option_set(attr: AttributeDef, body: dict[str, Any]) -> None:
    """The OptionSet a new column's body carries reads back as sent (values the system
    assigned, sent as null, excepted)."""
    spec = body.get("OptionSet")
    if not isinstance(spec, dict) or attr.option_set is None:
        return
    read = option_set_json(attr.option_set)
    for key, value in spec.items():
        if key.startswith("@"):
            continue
        if key not in read:
            raise bad(
                f"Could not find a property named '{key}' on type '{read['@odata.type'][1:]}'.",
                code=UNKNOWN_PROPERTY,
            )
        if key == "Options" and isinstance(value, list):
            value = [
                {**o, "Value": r.get("Value")}
                if isinstance(o, dict) and o.get("Value") is None
                else o
                for o, r in zip(value, read["Options"], strict=False)
            ]
        if key in _OPTION_SET_KEYS or key in ("DisplayName", "Description"):
            if not same(value, read[key]):
                raise not_implemented(f"Setting 'OptionSet/{key}' to {value!r}")
        elif not same(value, read[key]):
            raise bad(
                f"The property 'OptionSet/{key}' of a local choice is {read[key]!r}, the request "
                f"has {value!r}."
            )


def _file(ctx: Context, attr: AttributeDef, body: dict[str, Any], pub: Publisher, ent: str) -> None:
    file_rules(attr, body)


def _image(
    ctx: Context, attr: AttributeDef, body: dict[str, Any], pub: Publisher, ent: str
) -> None:
    image_rules(attr, body, ent)


_TYPE_RULES: dict[str, Callable[[Context, AttributeDef, dict[str, Any], Publisher, str], None]] = {
    "String": _string,
    "Memo": _memo,
    "Integer": _integer,
    "BigInt": _bigint,
    "Decimal": _decimal,
    "Double": _double,
    "Money": _money,
    "DateTime": _datetime,
    "Boolean": _boolean,
    "Picklist": _choice,
    "MultiSelectPicklist": _choice,
    "File": _file,
    "Image": _image,
}


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
        made.append(tenant.exchange_rate())
    return made


def _currency_relationship(schema: Schema, entity: EntityDef) -> None:
    attr = entity.attribute("transactioncurrencyid")
    if attr is not None and not any(
        r.referencing_entity == entity.logical_name
        and r.referencing_attribute == "transactioncurrencyid"
        for r in schema.relationships.values()
    ):
        tenant.add_column_relationships(schema, entity, attr)


__all__ = ["attribute_from", "create_column"]
