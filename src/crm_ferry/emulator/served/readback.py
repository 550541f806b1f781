"""Does the served tenant read back as its snapshot? Each fact against the metadata API's
own rendering of the schema built from it.

The schema is rendered with :mod:`~crm_ferry.emulator.metadata.shapes` (what
``EntityDefinitions`` answers) and read as a snapshot reads a definition: labels as their
text, managed and wrapped properties as their value, null and empty properties left out.
A fact that reads back otherwise is one the emulator cannot represent (a computed property
with another value, a setting it does not keep): it is named, never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from crm_ferry.emulator.metadata.many_to_many import many_to_many_json
from crm_ferry.emulator.metadata.shapes import (
    attribute_json,
    entity_json,
    key_json,
    option_set_json,
    relationship_json,
)
from crm_ferry.emulator.schema import Schema
from crm_ferry.emulator.served.definitions import WRAPPED, Problems

__all__ = ["check_readback"]

_LABELS = frozenset({"DisplayName", "DisplayCollectionName", "Label"})
_COLLECTIONS = (
    "Attributes",
    "OneToManyRelationships",
    "ManyToOneRelationships",
    "ManyToManyRelationships",
    "Keys",
)


def check_readback(schema: Schema, tables: Mapping[str, Any], problems: Problems) -> None:
    """Add to ``problems`` every fact of ``tables`` the served schema reads back otherwise."""
    kinds = _known_properties(tables.values())
    for name, facts in sorted(tables.items()):
        entity = schema.entity(name)
        if entity is None:
            continue  # refused already
        table = {k: v for k, v in facts.items() if k not in _COLLECTIONS}
        _compare(f"table {name}", table, entity_json(entity), kinds["table"], problems)
        for column in facts.get("Attributes", ()):
            attr = entity.attribute(str(column.get("LogicalName")))
            if attr is None:
                continue
            rendered = attribute_json(entity, attr)
            if attr.option_set is not None:
                rendered["OptionSet"] = option_set_json(attr.option_set)
            where = f"column {name}.{attr.logical_name}"
            _compare(where, column, rendered, kinds["column"], problems)
        for key in facts.get("Keys", ()):
            made = entity.keys.get(str(key.get("LogicalName")))
            if made is not None:
                _compare(
                    f"key {name}.{made.logical_name}", key, key_json(made), kinds["key"], problems
                )
        for part in ("OneToManyRelationships", "ManyToOneRelationships"):
            for rel in facts.get(part, ()):
                found = schema.relationships.get(str(rel.get("SchemaName")))
                if found is not None:
                    where = f"relationship {found.schema_name}"
                    _compare(where, rel, relationship_json(found), kinds["relationship"], problems)
        for rel in facts.get("ManyToManyRelationships", ()):
            m2m = schema.many_to_many.get(str(rel.get("SchemaName")))
            if m2m is not None:
                where = f"relationship {m2m.schema_name}"
                _compare(where, rel, many_to_many_json(m2m), kinds["many_to_many"], problems)


def _known_properties(tables: Iterable[Mapping[str, Any]]) -> dict[str, set[str]]:
    """The properties the snapshot records, by kind of definition: a property it records for
    some definitions and not others is null or empty where it is absent."""
    kinds: dict[str, set[str]] = {
        k: set() for k in ("table", "column", "key", "relationship", "many_to_many")
    }
    for t in tables:
        kinds["table"].update(k for k in t if k not in _COLLECTIONS)
        for c in t.get("Attributes", ()):
            kinds["column"].update(c)
        for k in t.get("Keys", ()):
            kinds["key"].update(k)
        for r in (*t.get("OneToManyRelationships", ()), *t.get("ManyToOneRelationships", ())):
            kinds["relationship"].update(r)
        for r in t.get("ManyToManyRelationships", ()):
            kinds["many_to_many"].update(r)
    return kinds


def _compare(
    where: str,
    facts: Mapping[str, Any],
    rendered: Mapping[str, Any],
    known: set[str],
    problems: Problems,
) -> None:
    for prop in sorted(known | set(facts)):
        want = facts.get(prop)
        got = _read(prop, rendered.get(prop))
        if _empty(want) and _empty(got):
            continue
        if want != got:
            problems.add(
                where,
                f"{prop} is {want!r} in the snapshot; the emulator can only serve {got!r}",
            )


def _empty(value: Any) -> bool:
    return value is None or value == ""


def _read(prop: str, value: Any) -> Any:
    """``value`` as a snapshot keeps it."""
    if prop in _LABELS:
        return _label_text(value)
    if prop in WRAPPED and isinstance(value, Mapping):
        return value.get("Value")
    if prop == "Targets" and isinstance(value, list):
        return [str(v) for v in value]
    if prop == "CascadeConfiguration" and isinstance(value, Mapping):
        return {k: v for k, v in value.items() if not k.startswith("@")}
    if prop == "OptionSet" and isinstance(value, Mapping):
        return _option_set(value)
    return value


def _option_set(raw: Mapping[str, Any]) -> dict[str, Any]:
    out = _picked(raw, ("Name", "IsGlobal", "OptionSetType", "DisplayName"))
    if raw.get("Options") is not None:
        out["Options"] = sorted(
            (_option(o) for o in raw["Options"] if o.get("Value") is not None),
            key=lambda o: int(o["Value"]),
        )
    for side in ("TrueOption", "FalseOption"):
        if isinstance(raw.get(side), Mapping):
            out[side] = _option(raw[side])
    return out


def _option(raw: Mapping[str, Any]) -> dict[str, Any]:
    return _picked(raw, ("Value", "Label", "State", "DefaultStatus", "ExternalValue"))


def _picked(raw: Mapping[str, Any], props: Iterable[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for prop in props:
        value = _read(prop, raw.get(prop))
        if not _empty(value):
            out[prop] = value
    return out


def _label_text(value: Any) -> str | None:
    if not isinstance(value, Mapping):
        return None
    user = value.get("UserLocalizedLabel")
    if isinstance(user, Mapping) and user.get("Label"):
        return str(user["Label"])
    for loc in value.get("LocalizedLabels") or []:
        if isinstance(loc, Mapping) and loc.get("Label"):
            return str(loc["Label"])
    return None
