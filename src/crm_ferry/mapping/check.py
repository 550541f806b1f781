"""``map check``: everything that would make a load fail, found before any record moves.

:func:`check_map` reports, each problem with its place in ``mapping.yaml``:

* structural problems (what :meth:`MapDocument.parse` finds);
* tables and columns that neither exist in the tenant nor have a ``create:`` spec;
* a column type that does not fit the values profiled in the source (text into a number,
  a map type that differs from the tenant's column ...);
* strings longer than the column holds, unless the field says ``truncate: true``;
* value maps that miss a value seen in the source, or point at an option the column
  lacks;
* coaches without a usable owner, and owners the person named that did not resolve;
* fingerprints that no longer match the source (or, for a confirmed map, the tenant).

:func:`require_loadable_map` is the gate of every command that writes records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from crm_ferry.dataverse.metadata import ColumnInfo
from crm_ferry.errors import MapError
from crm_ferry.mapping.fingerprint import (
    MetadataReader,
    source_fingerprint,
    target_fingerprint,
)
from crm_ferry.mapping.profile import ENUM_FIELDS, ColumnProfile, SourceProfile
from crm_ferry.mapping.spec import (
    FieldMap,
    MapDocument,
    MappingSpec,
    Problem,
    Target,
    locate,
)

AGGREGATE_ROWS = frozenset({"completed_paid"})
"""Targets whose rows aggregate several source rows: their fields are computed, not copied."""
STRING_KINDS = frozenset({"String", "Memo"})
CHOICE_KINDS = frozenset({"Picklist", "MultiSelectPicklist", "Status", "State"})
REFERENCE_KINDS = frozenset({"Lookup", "Customer", "Owner", "Uniqueidentifier"})
NUMBER_KINDS = frozenset({"Integer", "BigInt", "Decimal", "Double", "Money"})
DEFAULT_LENGTH = {"String": 100, "Memo": 4000}
"""What the provisioner creates when a ``create:`` spec gives no max_length."""

_SOURCE_FITS: dict[str, frozenset[str]] = {
    "boolean": frozenset({"Boolean"}),
    "date": frozenset({"DateTime"}),
    "datetime": frozenset({"DateTime"}),
    "integer": NUMBER_KINDS | frozenset({"Boolean"}),
    "decimal": frozenset({"Decimal", "Double", "Money"}),
}
"""Inferred source type → column kinds (besides text) its values convert to."""
_CUSTOM_TYPES = {"date": "date", "number": "decimal", "boolean": "boolean"}


# ---------------------------------------------------------------------------
# The checks


def check_map(
    doc: MapDocument,
    profile: SourceProfile | None,
    metadata: MetadataReader | None,
) -> list[Problem]:
    """Every problem of the map against the source profile and the tenant metadata.

    ``profile`` or ``metadata`` may be None to skip the checks that need them.
    """
    spec, problems = doc.parse()
    if spec is None:
        return problems
    c = _Checker(doc, spec, profile, metadata)
    c.run()
    return [*problems, *c.problems]


class _Checker:
    def __init__(
        self,
        doc: MapDocument,
        spec: MappingSpec,
        profile: SourceProfile | None,
        metadata: MetadataReader | None,
    ) -> None:
        self.doc = doc
        self.spec = spec
        self.profile = profile
        self.metadata = metadata
        self.problems: list[Problem] = []
        self._tables: dict[str, bool] = {}

    def add(self, path: Sequence[str | int], message: str, *, warning: bool = False) -> None:
        line, col = locate(self.doc.data, path)
        self.problems.append(
            Problem(
                ".".join(str(p) for p in path),
                message,
                line,
                col,
                "warning" if warning else "error",
            )
        )

    def run(self) -> None:
        for target in self.spec.targets.values():
            if target.enabled:
                self.target(target)
        self.value_maps()
        self.owners()
        self.fingerprints()

    # -- tenant ----------------------------------------------------------------

    def has_table(self, table: str) -> bool:
        if self.metadata is None:
            return True
        if table not in self._tables:
            self._tables[table] = self.metadata.has_table(table)
        return self._tables[table]

    def columns(self, table: str) -> Mapping[str, ColumnInfo]:
        if self.metadata is None or not self.has_table(table):
            return {}
        return self.metadata.columns(table)

    # -- targets ---------------------------------------------------------------

    def target(self, t: Target) -> None:
        base = ["targets", t.role]
        exists = self.has_table(t.table)
        if not exists and t.create is None:
            self.add(
                [*base, "table"],
                f"table {t.table!r} does not exist in the tenant and the target has no "
                "`create:`; pick an existing table, add a table create spec, or set "
                "`enabled: false`",
            )
            return
        columns = self.columns(t.table)
        for name, fm in t.fields.items():
            if not fm.column:
                continue
            path: list[str | int] = [*base, "fields", name]
            info = columns.get(fm.column)
            missing = info is None and self.metadata is not None
            if missing and fm.create is None and t.create is None:
                self.add(
                    [*path, "column"],
                    f"column {fm.column!r} is not on table {t.table!r} in the tenant and "
                    "has no `create:`; pick an existing column or add a create spec",
                )
                continue
            kind = info.type if info is not None else (fm.create.kind if fm.create else fm.type)
            if info is not None and fm.type and not _same_kind(fm.type, info.type):
                self.add(
                    [*path, "type"],
                    f"the map says {fm.type}, but {t.table}.{fm.column} is {info.type} "
                    "in the tenant",
                )
            if t.rows in AGGREGATE_ROWS or self.profile is None or not kind:
                continue
            self.fits(t, name, fm, kind, info, path)

    def fits(
        self,
        t: Target,
        name: str,
        fm: FieldMap,
        kind: str,
        info: ColumnInfo | None,
        path: list[str | int],
    ) -> None:
        stats = self.source_stats(t.source, name, fm)
        if stats is None:
            return
        source_type, max_length, distinct = stats
        kind = "MultiSelectPicklist" if kind == "Virtual" else kind
        if kind in STRING_KINDS:
            limit = info.max_length if info is not None else None
            if limit is None and fm.create is not None:
                limit = fm.create.max_length or DEFAULT_LENGTH.get(fm.create.kind)
            if limit and max_length > limit and not fm.truncate:
                self.add(
                    [*path, "column"],
                    f"source values are up to {max_length} characters; {t.table}.{fm.column} "
                    f"holds {limit}; set `truncate: true` or widen the column",
                )
            return
        if kind in CHOICE_KINDS:
            if not fm.value_map and source_type not in ("integer", "empty"):
                self.add(
                    [*path, "value_map"],
                    f"{fm.column} is a choice ({kind}) and {source_type} source values need a "
                    "value_map to become option values",
                )
            return
        if kind in REFERENCE_KINDS or source_type == "empty":
            return
        if kind == "Boolean" and distinct is not None and distinct <= 2:
            return  # two-valued text (inbound/outbound, yes/no) converts to a boolean
        if kind not in _SOURCE_FITS.get(source_type, frozenset()):
            self.add(
                [*path, "type"],
                f"source values are {source_type}, which does not fit a {kind} column "
                f"({t.table}.{fm.column}); map it to a text column or another field",
            )

    def source_stats(self, obj: str, name: str, fm: FieldMap) -> tuple[str, int, int | None] | None:
        """(inferred type, max length, distinct values or None) of a source field."""
        assert self.profile is not None
        if name.startswith("custom:"):
            prop = self.profile.custom.get(name[len("custom:") :])
            if prop is None:
                return None
            kind = _CUSTOM_TYPES.get(prop.type, "memo" if prop.column_type == "Memo" else "text")
            return kind, prop.max_length, len(prop.choices) if prop.choices else None
        op = self.profile.objects.get(obj)
        if op is None:
            return None
        col: ColumnProfile | None
        if name.startswith("extra:"):
            col = op.column(fm.header or name[len("extra:") :])
        else:
            col = op.by_field(name) or (op.column(fm.header) if fm.header else None)
        if col is None:
            return None
        distinct = None if col.distinct_capped else col.distinct
        return col.inferred_type, col.max_length, distinct

    # -- value maps ------------------------------------------------------------

    def value_maps(self) -> None:
        users: dict[str, list[tuple[Target, str, FieldMap]]] = {}
        for t, fm in self.spec.fields():
            if t.enabled and fm.column and fm.value_map:
                users.setdefault(fm.value_map, []).append((t, fm.source, fm))
        for vm_name, uses in users.items():
            vm = self.spec.value_maps.get(vm_name)
            if vm is None:
                continue  # reported by parse
            base: list[str | int] = ["value_maps", vm_name]
            if self.profile is not None:
                seen: dict[str, int] = {}
                for t, name, _ in uses:
                    for value, count in self.source_values(t.source, name).items():
                        seen[value] = seen.get(value, 0) + count
                pending = self.raw_value_keys(vm_name)
                for value, count in sorted(seen.items()):
                    key = value.strip().lower()
                    if key in vm.values or key in pending:
                        continue  # mapped, or listed without an option (parse reports it)
                    if vm.policy == "fail":
                        self.add(
                            [*base, "values"],
                            f"source value {value!r} ({count} rows) has no option; add it "
                            f"under value_maps.{vm_name}.values or change the policy",
                        )
                    else:
                        self.add(
                            [*base, "values"],
                            f"source value {value!r} ({count} rows) is not mapped; policy "
                            f"{vm.policy} applies",
                            warning=True,
                        )
            self.options_exist(vm_name, vm.values, vm.column, uses)

    def raw_value_keys(self, vm_name: str) -> set[str]:
        node = (self.doc.data.get("value_maps") or {}).get(vm_name)
        values = node.get("values") if isinstance(node, Mapping) else None
        if not isinstance(values, Mapping):
            return set()
        return {str(k).strip().lower() for k in values}

    def source_values(self, obj: str, name: str) -> dict[str, int]:
        assert self.profile is not None
        for set_name, (o, f) in ENUM_FIELDS.items():
            if o == obj and f == name:
                return dict(self.profile.value_sets.get(set_name, {}))
        if name.startswith("custom:"):
            prop = self.profile.custom.get(name[len("custom:") :])
            if prop is not None and prop.choices:
                return dict.fromkeys(prop.choices, 1)
        return {}

    def options_exist(
        self,
        vm_name: str,
        values: Mapping[str, Any],
        column: str | None,
        uses: list[tuple[Target, str, FieldMap]],
    ) -> None:
        if self.metadata is None:
            return
        t, _, fm = uses[0]
        table, col = t.table, fm.column
        if column and "." in column:
            table, col = column.split(".", 1)
        if col is None:
            return
        info = self.columns(table).get(col)
        if info is not None and info.type in ("Picklist", "MultiSelectPicklist", "Virtual"):
            known = set(info.options)
            if fm.create is not None:
                known |= {v for v, _ in fm.create.options}
        elif info is None and fm.create is not None and fm.create.options:
            known = {v for v, _ in fm.create.options}
        else:
            return  # state/status pairs, or options the provisioner adds
        for key, option in values.items():
            if isinstance(option, int) and option not in known:
                self.add(
                    ["value_maps", vm_name, "values", key],
                    f"option {option} is not a choice of {table}.{col}; "
                    f"known: {', '.join(str(v) for v in sorted(known)) or 'none'}",
                )

    # -- owners and fingerprints -------------------------------------------------

    def owners(self) -> None:
        owners = self.spec.owners
        if owners.fallback and not owners.fallback_id:
            self.add(
                ["owners", "fallback"],
                f"{owners.fallback} is not resolved to a system user; run "
                "`crm-ferry map propose` (or `map check`) to resolve it",
            )
        for coach in owners.coaches.values():
            path: list[str | int] = ["owners", "coaches", coach.coach_id]
            if coach.status == "explicit" and not coach.systemuserid:
                self.add(
                    [*path, "user"],
                    coach.reason or f"{coach.user} is not resolved to a system user",
                )
        for coach in owners.unresolved():
            if coach.status == "explicit":
                continue
            self.add(
                ["owners", "coaches", coach.coach_id, "status"],
                f"coach {coach.coach_id} ({coach.email or 'no email'}) has no usable owner "
                f"({coach.status}); set owners.fallback or owners.coaches.{coach.coach_id}.user",
            )

    def fingerprints(self) -> None:
        fp = self.spec.fingerprint
        if self.profile is not None:
            current = source_fingerprint(self.profile)
            if fp.source != current:
                self.add(
                    ["fingerprint", "source"],
                    "stale: the source export changed since this map was proposed; re-run "
                    "`crm-ferry map propose`, review the changes, confirm again",
                )
        meta = self.metadata
        if (
            meta is not None
            and self.spec.confirmed
            and fp.target != target_fingerprint(self.spec, meta)
        ):
            self.add(
                ["fingerprint", "target"],
                "stale: the tenant's tables or columns changed since this map was "
                "confirmed; re-run `crm-ferry map propose`, review the changes, confirm again",
            )


def _same_kind(declared: str, actual: str) -> bool:
    if declared == actual:
        return True
    pairs = {("MultiSelectPicklist", "Virtual"), ("Customer", "Lookup"), ("Lookup", "Customer")}
    return (declared, actual) in pairs


# ---------------------------------------------------------------------------
# The gate


def require_loadable_map(
    path: Path,
    *,
    profile: SourceProfile | None = None,
    metadata: MetadataReader | None = None,
) -> MappingSpec:
    """The confirmed map in ``path`` (a project's ``mapping.yaml``), or :class:`MapError`
    saying what to do.

    Every command that writes records calls this first. With ``profile`` the source
    fingerprint is compared, with ``metadata`` (e.g. ``client.metadata``) the target's.
    """
    if not path.is_file():
        raise MapError(
            f"no map: {path} does not exist",
            hint="run `crm-ferry map propose`, review it, then `crm-ferry map confirm --by NAME`",
        )
    doc = MapDocument.load(path)
    if doc.data.get("status") != "confirmed":
        raise MapError(
            f"the map {path.name} is not confirmed (status: {doc.data.get('status')})",
            hint="review it with `crm-ferry map show`, then `crm-ferry map confirm --by NAME`",
        )
    spec = doc.spec()  # a confirmed map edited into an invalid one: MapError with the places
    stale: list[str] = []
    if profile is not None and spec.fingerprint.source != source_fingerprint(profile):
        stale.append("the source export")
    if metadata is not None and spec.fingerprint.target != target_fingerprint(spec, metadata):
        stale.append("the target tenant")
    if stale:
        raise MapError(
            f"the map is stale: {' and '.join(stale)} changed since it was confirmed "
            "(fingerprints differ)",
            hint="re-run `crm-ferry map propose`, review the changes, confirm again",
        )
    unresolved = spec.owners.unresolved()
    explicit = [
        c for c in spec.owners.coaches.values() if c.status == "explicit" and not c.resolved
    ]
    if unresolved or explicit:
        ids = sorted({c.coach_id for c in [*unresolved, *explicit]})
        raise MapError(
            f"{len(ids)} coach(es) without a usable owner: {', '.join(ids[:10])}",
            hint="set owners.fallback or owners.coaches.<id>.user in mapping.yaml, then "
            "`crm-ferry map check` and confirm again",
        )
    return spec
