"""The value maps as the map page shows them: each source value the export holds (with its
rows) or the map lists, the option it goes to, and the options to pick from by label (the
tenant's column's, and those the map's ``create:`` adds), as the check reads them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from crm_ferry.mapping.fingerprint import MetadataReader
from crm_ferry.mapping.merge import plain_value
from crm_ferry.mapping.profile import ENUM_FIELDS, SourceProfile
from crm_ferry.mapping.spec import FieldMap, MapDocument, MappingSpec, Problem, Target

__all__ = ["Choices", "ValueMapView", "ValueRow", "anchor", "choices_of", "value_map_view"]


def anchor(place: str) -> str:
    """An element id for a place of the map (``targets.contact.fields.email`` →
    ``at-targets-contact-fields-email``)."""
    return "at-" + "".join(c if c.isalnum() or c in "_-" else "-" for c in place)


@dataclass(frozen=True, slots=True)
class Choices:
    """The options a value map writes: ``table.column``, value → label, and for a status
    column each status's state (its entries are ``[state, status]`` pairs)."""

    where: str
    options: Mapping[int, str]
    states: Mapping[int, int] = field(default_factory=dict)


@dataclass
class ValueRow:
    place: str
    value: str
    rows: int | None
    option: Any
    problems: list[Problem] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return anchor(self.place)

    @property
    def selected(self) -> int | None:
        """The option value shown as picked (a pair's status)."""
        if isinstance(self.option, list) and len(self.option) == 2:
            return int(self.option[1])
        return self.option if isinstance(self.option, int) else None


@dataclass
class ValueMapView:
    name: str
    policy: str
    default: Any
    text_column: str | None
    choices: Choices | None
    rows: list[ValueRow]
    used_by: list[tuple[str, str]]
    """The lines that use it: (``role.field``, their element id)."""
    problems: list[Problem] = field(default_factory=list)

    @property
    def place(self) -> str:
        return f"value_maps.{self.name}"

    @property
    def anchor(self) -> str:
        return anchor(self.place)


# ---------------------------------------------------------------------------
# Value maps


def choices_of(
    doc_column: str | None, uses: Sequence[tuple[Target, FieldMap]], metadata: MetadataReader
) -> Choices | None:
    """The options a value map writes (the tenant's, and those its ``create:`` adds), as
    the check reads them; None when the page cannot offer any."""
    if not uses:
        return None
    t, fm = uses[0]
    table, col = t.table, fm.column
    if doc_column and "." in doc_column:
        table, col = doc_column.split(".", 1)
    if col is None:
        return None
    info = metadata.columns(table).get(col) if metadata.has_table(table) else None
    created = {}
    for _, use in uses:
        if use.create is not None and use.column == col:
            created.update(dict(use.create.options))
    if info is not None and info.type in ("Picklist", "MultiSelectPicklist", "Virtual"):
        return Choices(f"{table}.{col}", {**info.options, **created})
    if info is not None and info.type == "Status":
        return Choices(f"{table}.{col}", dict(info.options), dict(info.states))
    if info is None and created:
        return Choices(f"{table}.{col}", created)
    return None


def value_map_view(
    doc: MapDocument,
    name: str,
    spec: MappingSpec,
    profile: SourceProfile | None,
    metadata: MetadataReader,
    lines: Mapping[str, tuple[str, str]],
) -> ValueMapView:
    """Value map ``name`` of ``spec`` (parsed from ``doc``); ``lines``: place of each field
    line on the page → (``role.field``, element id)."""
    vm = spec.value_maps[name]
    uses = [(t, fm) for t, fm in spec.fields() if t.enabled and fm.column and fm.value_map == name]
    node = (doc.data.get("value_maps") or {}).get(name)
    raw = node.get("values") if isinstance(node, Mapping) else None
    entries: dict[str, Any] = {}
    if isinstance(raw, Mapping):
        entries = {str(k): plain_value(v) for k, v in raw.items()}
    seen = _source_values(profile, uses)
    base = f"value_maps.{name}.values"
    rows = [
        ValueRow(f"{base}.{k}", k, seen.pop(k.strip().lower(), None), v) for k, v in entries.items()
    ]
    rows.extend(ValueRow(f"{base}.{v}", v, n, None) for v, n in sorted(seen.items()))
    return ValueMapView(
        name=name,
        policy=vm.policy,
        default=plain_value(vm.default),
        text_column=vm.text_column,
        choices=choices_of(vm.column, uses, metadata),
        rows=rows,
        used_by=[
            lines[p]
            for p in (f"targets.{t.role}.fields.{fm.source}" for t, fm in uses)
            if p in lines
        ],
    )


def _source_values(
    profile: SourceProfile | None, uses: Sequence[tuple[Target, FieldMap]]
) -> dict[str, int]:
    """Source value (lower case) → rows, over the fields the value map serves."""
    out: dict[str, int] = {}
    if profile is None:
        return out
    for t, fm in uses:
        found: Mapping[str, int] = {}
        for set_name, (obj, fld) in ENUM_FIELDS.items():
            if obj == t.source and fld == fm.source:
                found = profile.value_sets.get(set_name, {})
        if fm.source.startswith("custom:"):
            prop = profile.custom.get(fm.source[len("custom:") :])
            if prop is not None and prop.choices:
                found = dict.fromkeys(prop.choices, 0)
        for value, count in found.items():
            key = value.strip().lower()
            out[key] = out.get(key, 0) + count
    return out
