"""Choices: the options of a new choice, binding a column to a global choice, and creating a
global choice (``POST GlobalOptionSetDefinitions``).

Written from https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-optionsets.
"""

from __future__ import annotations

import re
from typing import Any

from crm_ferry.emulator.metadata.errors import DUPLICATE, NOT_FOUND, bad
from crm_ferry.emulator.metadata.shapes import label_text
from crm_ferry.emulator.metadata.write_context import Context, Publisher, odata_type
from crm_ferry.emulator.schema import OptionDef, OptionSetDef, Schema


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


def create_global_option_set(ctx: Context, body: dict[str, Any]) -> OptionSetDef:
    kind = odata_type(body)
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


__all__ = ["create_global_option_set", "find_global", "options_from"]
