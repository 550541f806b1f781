"""What the map page shows, computed from the map, its problems, the source profile, the
tenant's columns and users: per target table its field lines (the doubtful and the wrong
first), the value maps with the options to pick by label (:mod:`.map_values`), the owners
with the users to pick, and every problem placed at the line it is about
(:func:`place_problems`).

Pure: the page module reads the inputs (once, :mod:`.map_page`) and renders what this
builds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from crm_ferry.dataverse.metadata import ColumnInfo
from crm_ferry.mapping.fingerprint import MetadataReader
from crm_ferry.mapping.owners import SystemUser
from crm_ferry.mapping.profile import SourceProfile
from crm_ferry.mapping.spec import FieldMap, MapDocument, MappingSpec, Problem, Target
from crm_ferry.review.map_values import ValueMapView, anchor, value_map_view

__all__ = [
    "ColumnView",
    "LineView",
    "MapView",
    "SourceView",
    "TableView",
    "build_view",
    "column_view",
    "place_problems",
]

SAMPLES_SHOWN = 3


@dataclass(frozen=True, slots=True)
class SourceView:
    """A source field as the profile saw it."""

    type: str
    null_ratio: float
    distinct: str
    samples: tuple[str, ...]
    max_length: int


@dataclass(frozen=True, slots=True)
class ColumnView:
    """A column of the tenant (or one the map creates)."""

    logical_name: str
    label: str
    type: str
    max_length: int | None
    required: str | None
    created: bool = False
    """Not in the tenant: the map's ``create:`` adds it."""


@dataclass
class LineView:
    role: str
    field: str
    column: str | None
    confidence: float
    reason: str
    value_map: str | None
    below: bool
    listed: bool
    """In the map (False: a source field the target's map does not list)."""
    source: SourceView | None
    tenant: ColumnView | None
    problems: list[Problem] = dataclasses.field(default_factory=list)

    @property
    def place(self) -> str:
        return f"targets.{self.role}.fields.{self.field}"

    @property
    def anchor(self) -> str:
        return anchor(self.place)

    @property
    def errors(self) -> int:
        return sum(1 for p in self.problems if p.severity == "error")

    @property
    def flagged(self) -> bool:
        return self.below or bool(self.problems)


@dataclass
class TableView:
    role: str
    source: str
    table: str
    rows: str
    exists: bool
    lines: list[LineView]
    unlisted: list[LineView]
    problems: list[Problem] = field(default_factory=list)

    @property
    def place(self) -> str:
        return f"targets.{self.role}"

    @property
    def anchor(self) -> str:
        return anchor(self.place)


@dataclass
class CoachView:
    coach_id: str
    email: str | None
    user: str | None
    status: str
    reason: str
    problems: list[Problem] = field(default_factory=list)

    @property
    def place(self) -> str:
        return f"owners.coaches.{self.coach_id}"

    @property
    def anchor(self) -> str:
        return anchor(self.place)


@dataclass
class MapView:
    status: str
    confirmed_by: str | None
    confirmed_at: str | None
    threshold: float
    tables: list[TableView]
    value_maps: list[ValueMapView]
    coaches: list[CoachView]
    fallback: str | None
    users: list[SystemUser]
    problems: list[Problem]
    """Every problem of the map."""
    fallback_problems: list[Problem] = field(default_factory=list)
    general: list[Problem] = field(default_factory=list)
    """Problems of no line the page shows (documents, fingerprints ...)."""

    @property
    def errors(self) -> int:
        return sum(1 for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> int:
        return len(self.problems) - self.errors

    @property
    def lines(self) -> list[LineView]:
        return [ln for t in self.tables for ln in t.lines]

    @property
    def doubtful(self) -> list[LineView]:
        """The lines under the confirm threshold, least sure first."""
        return sorted((ln for ln in self.lines if ln.below), key=lambda ln: ln.confidence)

    @property
    def flagged(self) -> list[LineView]:
        """The lines with a problem (errors first), then those under the threshold."""
        wrong = [ln for ln in self.lines if ln.problems]
        wrong.sort(key=lambda ln: -ln.errors)
        return [*wrong, *(ln for ln in self.doubtful if not ln.problems)]

    def user_named(self, name: str | None) -> SystemUser | None:
        if not name:
            return None
        wanted = name.strip().lower()
        for u in self.users:
            if wanted in {n.lower() for n in (u.internalemailaddress, u.domainname) if n}:
                return u
        return None


# ---------------------------------------------------------------------------
# Building


def build_view(
    doc: MapDocument,
    spec: MappingSpec,
    problems: Sequence[Problem],
    profile: SourceProfile | None,
    metadata: MetadataReader,
    users: Iterable[SystemUser],
) -> MapView:
    """The page's view of ``spec`` (parsed from ``doc``) and its ``problems``."""
    tables = [_table(t, spec, profile, metadata) for t in spec.targets.values() if t.enabled]
    lines = {ln.place: (f"{ln.role}.{ln.field}", ln.anchor) for t in tables for ln in t.lines}
    value_maps = [
        value_map_view(doc, name, spec, profile, metadata, lines) for name in spec.value_maps
    ]
    coaches = [
        CoachView(c.coach_id, c.email, c.user, c.status, c.reason)
        for c in spec.owners.coaches.values()
    ]
    view = MapView(
        status=spec.status,
        confirmed_by=spec.confirmed_by,
        confirmed_at=spec.confirmed_at,
        threshold=spec.confirm_threshold,
        tables=tables,
        value_maps=value_maps,
        coaches=coaches,
        fallback=spec.owners.fallback,
        users=_ordered_users(users),
        problems=list(problems),
    )
    place_problems(view)
    for t in view.tables:
        t.lines.sort(key=lambda ln: 0 if ln.errors else 1 if ln.flagged else 2)
    return view


def _ordered_users(users: Iterable[SystemUser]) -> list[SystemUser]:
    """People first, then application users, then disabled users; by name."""
    return sorted(
        users, key=lambda u: (u.isdisabled, u.is_application, (u.fullname or u.name).lower())
    )


def _table(
    t: Target, spec: MappingSpec, profile: SourceProfile | None, metadata: MetadataReader
) -> TableView:
    exists = metadata.has_table(t.table)
    columns = metadata.columns(t.table) if exists else {}
    threshold = spec.confirm_threshold
    lines = [
        LineView(
            role=t.role,
            field=name,
            column=fm.column,
            confidence=fm.confidence,
            reason=fm.reason,
            value_map=fm.value_map,
            below=bool(fm.column) and fm.confidence < threshold,
            listed=True,
            source=_source(profile, t.source, name, fm.header),
            tenant=_tenant(columns, fm),
        )
        for name, fm in t.fields.items()
    ]
    unlisted = [
        LineView(t.role, name, None, 0.0, "not in this target's map", None, False, False, sv, None)
        for name, sv in _unlisted(profile, t)
    ]
    return TableView(t.role, t.source, t.table, t.rows, exists, lines, unlisted)


def _tenant(columns: Mapping[str, ColumnInfo], fm: FieldMap) -> ColumnView | None:
    if not fm.column:
        return None
    info = columns.get(fm.column)
    if info is not None:
        return column_view(info)
    if fm.create is not None:
        c = fm.create
        return ColumnView(fm.column, c.label, c.kind, c.max_length, None, created=True)
    return None


def column_view(info: ColumnInfo) -> ColumnView:
    return ColumnView(
        info.logical_name, info.label, info.type, info.max_length, info.required_level
    )


def _source(
    profile: SourceProfile | None, obj: str, name: str, header: str | None
) -> SourceView | None:
    if profile is None:
        return None
    op = profile.objects.get(obj)
    if name.startswith("custom:"):
        prop = profile.custom.get(name[len("custom:") :])
        if prop is None:
            return None
        rows = op.rows if op is not None else 0
        nulls = 1 - prop.count / rows if rows else 0.0
        distinct = str(len(prop.choices)) if prop.choices else "—"
        return SourceView(
            prop.type, max(nulls, 0.0), distinct, prop.samples[:SAMPLES_SHOWN], prop.max_length
        )
    if op is None:
        return None
    if name.startswith("extra:"):
        col = op.column(header or name[len("extra:") :])
    else:
        col = op.by_field(name) or (op.column(header) if header else None)
    if col is None:
        return None
    distinct = f"{col.distinct}+" if col.distinct_capped else str(col.distinct)
    return SourceView(
        col.inferred_type, col.null_ratio, distinct, col.samples[:SAMPLES_SHOWN], col.max_length
    )


def _unlisted(profile: SourceProfile | None, t: Target) -> list[tuple[str, SourceView]]:
    """Source fields of the target's object its map does not list, with their profile."""
    if profile is None or t.source not in profile.objects:
        return []
    out: list[tuple[str, SourceView]] = []
    for col in profile.objects[t.source].columns:
        name = col.field or f"extra:{col.header}"
        if name in t.fields or col.inferred_type == "empty":
            continue
        found = _source(profile, t.source, name, col.header)
        if found is not None:
            out.append((name, found))
    return out


# ---------------------------------------------------------------------------
# Problems at their lines


def place_problems(view: MapView) -> None:
    """Give each problem of ``view`` to the element of the page it is about: the longest
    place (a line, a value, a coach, a table, a value map) its path starts with; the others
    are general."""
    places: dict[str, list[Problem]] = {}
    for t in view.tables:
        places[t.place] = t.problems
        for ln in t.lines:
            places[ln.place] = ln.problems
    for vm in view.value_maps:
        places[vm.place] = vm.problems
        for row in vm.rows:
            places[row.place] = row.problems
    for c in view.coaches:
        places[c.place] = c.problems
    places["owners"] = view.fallback_problems
    by_length = sorted(places, key=len, reverse=True)
    for p in view.problems:
        home = next((k for k in by_length if p.path == k or p.path.startswith(k + ".")), None)
        (places[home] if home is not None else view.general).append(p)
