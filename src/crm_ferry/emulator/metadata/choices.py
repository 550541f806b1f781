"""Choices: the options of a new choice, binding a column to a global choice, and creating a
global choice (``POST GlobalOptionSetDefinitions``).

Written from https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-optionsets.
"""

from __future__ import annotations

import re
from typing import Any

from crm_ferry.emulator.metadata.errors import DUPLICATE, NOT_FOUND, bad
from crm_ferry.emulator.metadata.labels import LANGUAGE, keep, parse
from crm_ferry.emulator.metadata.properties import OPTION_SET
from crm_ferry.emulator.metadata.shapes import option_set_json
from crm_ferry.emulator.metadata.verify import screen, verify
from crm_ferry.emulator.metadata.write_context import (
    Context,
    Publisher,
    chosen_metadata_id,
    odata_type,
)
from crm_ferry.emulator.schema import Labels, OptionDef, OptionSetDef, Schema
from crm_ferry.emulator.unsupported import not_implemented


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
        options.append(option_from(item, value if value is not None else -1))
    next_value = low
    for option in options:
        if option.value == -1:
            while next_value in used:
                next_value += 1
            option.value = next_value
            used.add(next_value)
    return options


def option_from(item: dict[str, Any], value: int, default_label: str = "") -> OptionDef:
    """An option of a new choice: its labels in every language, description and color."""
    unknown = [k for k in item if "@" not in k and k not in _OPTION_PROPERTIES]
    if unknown:
        raise bad(f"'{unknown[0]}' is not a property of an option (OptionMetadata).")
    texts = parse(item.get("Label"), "Label") or (
        {LANGUAGE: default_label} if default_label else {}
    )
    if not texts:
        raise bad("Each option needs a Label.")
    others: Labels = {}
    text = keep(texts, others, "Label")
    description = keep(parse(item.get("Description"), "Description") or {}, others, "Description")
    color = item.get("Color")
    if color is not None and not isinstance(color, str):
        raise bad(f"The Color of an option must be text (a hexadecimal color), not {color!r}.")
    for key, empty in (("ExternalValue", None), ("ParentValues", [])):
        if item.get(key, empty) not in (empty, None):
            raise not_implemented(f"Options with {key}")
    return OptionDef(value, text, description=description, color=color, other_labels=others)


def choice_labels(opt: OptionSetDef, spec: dict[str, Any]) -> None:
    """The DisplayName and Description a new local choice's OptionSet carries."""
    for prop in ("DisplayName", "Description"):
        texts = parse(spec.get(prop), prop) or {}
        text = keep(texts, opt.other_labels, prop)
        if prop == "DisplayName":
            opt.display_name = text
        else:
            opt.description = text


_OPTION_PROPERTIES = frozenset(
    {"Value", "Label", "Description", "Color", "IsManaged", "MetadataId", "HasChanged"}
    | {"ExternalValue", "ParentValues", "Tag", "IsHidden"}
)
"""What an option of a new choice may carry (the read-only ones as a definition reads them)."""


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


def create_global_option_set(ctx: Context, body: dict[str, Any]) -> OptionSetDef:
    kind = odata_type(body)
    if kind not in ("", "OptionSetMetadata"):
        raise bad(f"'{kind}' can't be created in GlobalOptionSetDefinitions.")
    kept = screen(body, OPTION_SET, "OptionSetMetadata")
    if body.get("IsGlobal") is False:
        raise bad("A choice created in GlobalOptionSetDefinitions is global (IsGlobal true).")
    name = body.get("Name")
    pub = ctx.publisher_for(name, "choice")
    if any(n.lower() == str(name).lower() for n in ctx.schema.global_option_sets):
        raise bad(f"A global choice named '{name}' already exists.", code=DUPLICATE)
    set_type = body.get("OptionSetType", "Picklist")
    if set_type != "Picklist":
        raise bad(f"OptionSetType '{set_type}' can't be created as a global choice: use Picklist.")
    others: Labels = {}
    display = parse(body.get("DisplayName"), "DisplayName") or {}
    description = parse(body.get("Description"), "Description") or {}
    opt = OptionSetDef(
        name=str(name),
        kind="Picklist",
        options=options_from(body.get("Options"), pub),
        is_global=True,
        is_custom=True,
        solution=ctx.solution,
        display_name=keep(display, others, "DisplayName"),
        description=keep(description, others, "Description"),
        other_labels=others,
        extra=kept,
    )
    if body.get("MetadataId") is not None:
        taken = (o.metadata_id for o in ctx.schema.global_option_sets.values())
        opt.metadata_id = chosen_metadata_id(body, taken, "A global choice")
    ctx.schema.global_option_sets[opt.name] = opt
    verify(
        {k: v for k, v in body.items() if k != "Options"},
        option_set_json(opt),
        OPTION_SET,
        "OptionSetMetadata",
    )
    return opt


__all__ = [
    "choice_labels",
    "create_global_option_set",
    "find_global",
    "option_from",
    "options_from",
]
