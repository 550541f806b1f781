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
from crm_ferry.emulator.metadata.choices import find_global, options_from
from crm_ferry.emulator.metadata.errors import DUPLICATE, bad
from crm_ferry.emulator.metadata.media import attach, companions, file_rules, image_rules
from crm_ferry.emulator.metadata.shapes import label_text
from crm_ferry.emulator.metadata.write_context import (
    Context,
    Publisher,
    odata_type,
    required_level,
)
from crm_ferry.emulator.schema import (
    AttributeDef,
    AttributeType,
    DateTimeBehavior,
    EntityDef,
    OptionDef,
    OptionSetDef,
    Schema,
)

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
    "FileAttributeMetadata": "File",
    "ImageAttributeMetadata": "Image",
}
_STRING_FORMATS = {"Text", "Email", "Phone", "Url", "TextArea", "TickerSymbol", "Json"}


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
        entity.attributes[a.logical_name] = a
    if attr.type == "Money" and "transactioncurrencyid" in entity.attributes:
        _currency_relationship(ctx.schema, entity)
    if attr.type in ("File", "Image"):
        attach(ctx.schema, entity, attr)
    return made


def attribute_from(ctx: Context, body: dict[str, Any], *, entity_name: str) -> AttributeDef:
    declared_type = odata_type(body)
    if declared_type in ("LookupAttributeMetadata", "ComplexLookupAttributeMetadata"):
        raise bad(
            "A lookup column is created with its relationship: POST RelationshipDefinitions "
            "with a OneToManyRelationshipMetadata and its Lookup."
        )
    type_ = _CREATABLE.get(declared_type)
    if type_ is None:
        raise bad(
            f"The emulator can't create columns of type '{declared_type or '(no @odata.type)'}'; "
            f"it creates {', '.join(sorted(_CREATABLE))}."
        )
    declared = body.get("AttributeType")
    # Multi-select choices, files and images report AttributeType "Virtual" with their
    # AttributeTypeName ("MultiSelectPicklistType"; Microsoft Learn,
    # MultiSelectPicklistAttributeMetadata, "Work with choice columns"), so a body may
    # declare either.
    if type_ in ("MultiSelectPicklist", "File", "Image") and declared == "Virtual":
        declared = type_
    if declared is not None and declared != type_:
        raise bad(f"AttributeType '{declared}' doesn't match @odata.type '{declared_type}'.")
    schema_name = body.get("SchemaName")
    publisher = ctx.publisher_for(schema_name, "column")
    attr = AttributeDef(
        logical_name=str(schema_name).lower(),
        schema_name=str(schema_name),
        type=type_,
        display_name=label_text(body.get("DisplayName")),
        description=label_text(body.get("Description")),
        required=required_level(body),
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
    "Decimal": _decimal,
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
