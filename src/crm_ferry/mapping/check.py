"""``map check``: everything that would make a load fail, found before any record moves.

:func:`check_map` reports, each problem with its place in ``mapping.yaml``:

* structural problems (what :meth:`MapDocument.parse` finds);
* tables and columns that neither exist in the tenant nor have a ``create:`` spec;
* a column type that does not fit the values profiled in the source (text into a number,
  a map type that differs from the tenant's column ...);
* strings longer than the column holds, unless the field says ``truncate: true``;
* value maps that miss a value seen in the rows the reader accepts, or point at an option
  the column lacks (a value only rejected rows hold is listed apart, as a warning with the
  rows and their reasons: those rows are never loaded);
* columns the tenant cannot take: not valid for create nor update, a lookup without a
  relationship, a table whose rows get an owner (a field mapped to ``ownerid``, or notes,
  files and opportunities, owned like their parent) without ``ownerid`` → ``systemuser``;
* coaches without a usable owner, and owners the person named that did not resolve; with
  the rows counted per object and coach (:class:`~crm_ferry.mapping.owners.OwnerUsage`), the
  rows the fallback will own (a warning per object) and, with no fallback, the rows that
  would be rejected for want of an owner (an error per coach, with the counts);
* fingerprints that no longer match the source (or, for a confirmed map, the tenant);
* linked files the downloads folder lacks (missing or ambiguous there): an error under
  ``documents.linked: fail`` (a load refuses to start), a warning under ``skip`` or ``link``.

Choices are named by value and label (:func:`option_list`, capped: ``… and N more``). One
mistake is one error: an ``owners.fallback`` that names nobody usable is reported once (with
the tenant's users, by the owner resolution), and what it causes (coaches without an owner,
rows migrate would reject) on one line; coaches ``owners.coaches`` does not list, likewise.

:func:`require_loadable_map` is the gate of every command that writes records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_ferry.dataverse.metadata import ColumnInfo
from crm_ferry.errors import MapError
from crm_ferry.mapping.fingerprint import (
    MetadataReader,
    source_fingerprint,
    target_fingerprint,
)
from crm_ferry.mapping.matcher.scoring import name_score
from crm_ferry.mapping.profile import ENUM_FIELDS, ColumnProfile, RejectedValue, SourceProfile
from crm_ferry.mapping.spec import (
    IMPLICIT_OWNERS,
    OWNER_COLUMN,
    CoachOwner,
    CoachRef,
    FieldMap,
    MapDocument,
    MappingSpec,
    Problem,
    Target,
    locate,
)

if TYPE_CHECKING:
    from crm_ferry.mapping.owners import OwnerUsage
    from crm_ferry.sources.downloads import LinkedSummary

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
_LINKED_SHOWN = 5
"""Linked files named in the problem about those the downloads folder lacks."""
_OwnerRows = dict[str | None, dict[str, dict[CoachRef, int]]]
"""Rows without a coach's user to own them: listed coach they name (None: no listed coach)
→ object → the coach the rows name → rows."""


# ---------------------------------------------------------------------------
# The checks


def check_map(
    doc: MapDocument,
    profile: SourceProfile | None,
    metadata: MetadataReader | None,
    *,
    usage: OwnerUsage | None = None,
    known: Sequence[Problem] = (),
    linked: LinkedSummary | None = None,
) -> list[Problem]:
    """Every problem of the map against the source profile and the tenant metadata.

    ``profile`` or ``metadata`` may be None to skip the checks that need them; ``usage``
    (the rows of each coach, from :func:`~crm_ferry.mapping.owners.collect_coaches`) lets
    the check say which rows the fallback owns and which would have no owner. ``known`` are
    the problems the caller found already (the owner resolution's, at their places): a root
    cause among them is not reported again, only what it causes (counted on one line).
    ``linked``: the linked files against the downloads folder (None: not checked).
    """
    spec, problems = doc.parse()
    if spec is None:
        return problems
    c = _Checker(doc, spec, profile, metadata, usage, known)
    c.run()
    if linked is not None:
        c.linked_files(linked)
    return [*(p for p in problems if p.path not in c.superseded), *c.problems]


class _Checker:
    def __init__(
        self,
        doc: MapDocument,
        spec: MappingSpec,
        profile: SourceProfile | None,
        metadata: MetadataReader | None,
        usage: OwnerUsage | None = None,
        known: Sequence[Problem] = (),
    ) -> None:
        self.doc = doc
        self.spec = spec
        self.profile = profile
        self.metadata = metadata
        self.usage = usage
        self.known = frozenset(p.path for p in known)
        """Places whose problem the caller reported already."""
        self.problems: list[Problem] = []
        self.superseded: set[str] = set()
        """Places of structural problems this check reports with more to say (the options)."""
        self._tables: dict[str, bool] = {}
        self._navigation: dict[str, frozenset[tuple[str, str]] | None] = {}

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

    def navigation(self, table: str) -> frozenset[tuple[str, str]] | None:
        """``(lookup column, target table)`` of every many-to-one relationship of ``table``
        (None: the metadata reader cannot list relationships, or there is no such table)."""
        if table not in self._navigation:
            read = getattr(self.metadata, "relationships", None)
            found: frozenset[tuple[str, str]] | None = None
            if read is not None and self.has_table(table):
                found = frozenset(
                    (r.referencing_attribute, r.referenced_entity) for r in read(table)
                )
            self._navigation[table] = found
        return self._navigation[table]

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
            if info is not None and not self.writable(t, name, fm, info, path):
                continue
            if info is not None and fm.type and not _same_kind(fm.type, info.type):
                self.add(
                    [*path, "type"],
                    f"the map says {fm.type}, but {t.table}.{fm.column} is {info.type} "
                    "in the tenant",
                )
            if t.rows in AGGREGATE_ROWS or self.profile is None or not kind:
                continue
            self.fits(t, name, fm, kind, info, path)

    def writable(
        self, t: Target, name: str, fm: FieldMap, info: ColumnInfo, path: list[str | int]
    ) -> bool:
        """Whether the tenant takes what the map writes to ``fm.column`` (else an error)."""
        where = f"{t.table}.{fm.column}"
        if not info.is_valid_for_create and not info.is_valid_for_update:
            self.add(
                [*path, "column"],
                f"{where} cannot be written: the tenant marks it valid neither for create nor "
                "for update (the service fills it); map the field to another column or leave "
                "its column empty",
            )
            return False
        if fm.column == OWNER_COLUMN or info.type not in ("Lookup", "Customer", "Owner"):
            return True  # the owner has its own check (owner_tables)
        navigation = self.navigation(t.table)
        if navigation is not None and not any(col == fm.column for col, _ in navigation):
            self.add(
                [*path, "column"],
                f"{where} cannot be written: the tenant has no relationship for the lookup "
                f"(no navigation property to bind {name} with); map the field to another "
                "column or leave its column empty",
            )
            return False
        return True

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
            choices = self.choices(vm.column, uses)
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
                        which = (
                            f" (one of {choices[0]}: {option_list(choices[1], closest_to=value)})"
                            if choices is not None
                            else ""
                        )
                        self.add(
                            [*base, "values"],
                            f"source value {value!r} ({count} rows) has no option; add it "
                            f"under value_maps.{vm_name}.values{which} or change the policy",
                        )
                    else:
                        self.add(
                            [*base, "values"],
                            f"source value {value!r} ({count} rows) is not mapped; policy "
                            f"{vm.policy} applies",
                            warning=True,
                        )
                self.rejected_only(base, uses, seen, pending | set(vm.values))
            if choices is not None:
                self.options_exist(vm_name, vm.values, choices)

    def rejected_only(
        self,
        base: list[str | int],
        uses: list[tuple[Target, str, FieldMap]],
        seen: Mapping[str, int],
        mapped: set[str],
    ) -> None:
        """For information: the values only rows the reader rejects hold (they are never
        loaded, so a value map needs no entry for them), each with those rows and why."""
        assert self.profile is not None
        only: dict[str, RejectedValue] = {}
        for t, name, _ in uses:
            for set_name, (o, f) in ENUM_FIELDS.items():
                if o == t.source and f == name:
                    for value, held in self.profile.only_rejected(set_name).items():
                        only.setdefault(value, held)
        for value, held in sorted(only.items()):
            if value in seen or value.strip().lower() in mapped:
                continue
            rows = "; ".join(str(r) for r in held.examples)
            more = held.rows - len(held.examples)
            self.add(
                [*base, "values"],
                f"source value {value!r} is only in {held.rows} row(s) the reader rejects "
                "(for information: those rows are not loaded, so the value needs no option; "
                f"fix them in the export to load them): {rows}"
                + (f"; … and {more} more" if more > 0 else ""),
                warning=True,
            )

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

    def choices(
        self, column: str | None, uses: list[tuple[Target, str, FieldMap]]
    ) -> tuple[str, dict[int, str]] | None:
        """``("table.column", option → label)`` of the choice a value map writes (the
        tenant's options and those its ``create:`` adds); None when they are not known
        here (no metadata, state/status pairs, options the provisioner adds)."""
        if self.metadata is None:
            return None
        t, _, fm = uses[0]
        table, col = t.table, fm.column
        if column and "." in column:
            table, col = column.split(".", 1)
        if col is None:
            return None
        info = self.columns(table).get(col)
        created = dict(fm.create.options) if fm.create is not None else {}
        if info is not None and info.type in ("Picklist", "MultiSelectPicklist", "Virtual"):
            return f"{table}.{col}", {**info.options, **created}
        if info is None and created:
            return f"{table}.{col}", created
        return None

    def options_exist(
        self, vm_name: str, values: Mapping[str, Any], choices: tuple[str, dict[int, str]]
    ) -> None:
        """Every option the value map names is one of the column's; every value still
        without one lists the candidates (closest first), with their labels."""
        where, known = choices
        for key, option in values.items():
            if isinstance(option, int) and option not in known:
                self.add(
                    ["value_maps", vm_name, "values", key],
                    f"option {option} is not a choice of {where}; known: {option_list(known)}",
                )
        node = (self.doc.data.get("value_maps") or {}).get(vm_name)
        raw = node.get("values") if isinstance(node, Mapping) else None
        for key, option in (raw or {}).items() if isinstance(raw, Mapping) else ():
            if option is None:
                path: list[str | int] = ["value_maps", vm_name, "values", key]
                self.superseded.add(".".join(str(p) for p in path))
                self.add(
                    path,
                    f"has no option value yet; pick one of {where}: "
                    f"{option_list(known, closest_to=str(key))}",
                )

    # -- owners and fingerprints -------------------------------------------------

    def owners(self) -> None:
        owners = self.spec.owners
        broken = bool(owners.fallback) and not owners.fallback_id
        if broken and "owners.fallback" not in self.known:
            self.add(
                ["owners", "fallback"],
                f"{owners.fallback!r} is not resolved to a system user (owners.fallback_id is "
                "empty); set owners.fallback to the e-mail or UPN of an enabled user of the "
                "tenant",
            )
        for coach in owners.coaches.values():
            path: list[str | int] = ["owners", "coaches", coach.coach_id, "user"]
            explicit = coach.status == "explicit" and not coach.systemuserid
            if explicit and ".".join(str(p) for p in path) not in self.known:
                self.add(path, coach.reason or f"{coach.user} is not resolved to a system user")
        rows = self.owner_rows()
        if broken:  # one root cause: what it causes is counted, not listed coach by coach
            self.broken_fallback(rows)
            self.owner_tables()
            return
        for coach in owners.unresolved():
            if coach.status == "explicit":
                continue
            counted = rows.pop(coach.coach_id, None)
            tail = f"; migrate would reject its {_counts(counted)}" if counted else ""
            self.add(
                ["owners", "coaches", coach.coach_id, "status"],
                f"coach {coach.coach_id} ({coach.email or 'no email'}) has no usable owner "
                f"({coach.status}){tail}; set owners.fallback or "
                f"owners.coaches.{coach.coach_id}.user",
            )
        if owners.fallback_id:
            self.fallback_rows(rows)
        else:
            self.ownerless_rows(rows)
        self.owner_tables()

    def broken_fallback(self, rows: _OwnerRows) -> None:
        """``owners.fallback`` names nobody usable: one line with what that causes (the
        coaches left without an owner, the rows migrate would reject); the error itself is
        reported once, at owners.fallback."""
        owners = self.spec.owners
        coaches = {c.coach_id for c in owners.unresolved()}
        unlisted: set[CoachRef] = set()
        per_object: dict[str, int] = {}
        for key, objects in rows.items():
            for obj, refs in objects.items():
                for ref, count in refs.items():
                    per_object[obj] = per_object.get(obj, 0) + count
                    if key is None and ref.named:
                        unlisted.add(ref)
        total = sum(per_object.values())
        ids = sorted(coaches) + sorted(str(r) for r in unlisted)
        if not ids and not total:
            return
        shown = ", ".join(ids[:5]) + (f", … and {len(ids) - 5} more" if len(ids) > 5 else "")
        rejected = (
            f" and migrate would reject {total} row(s) ({_rows(per_object)})" if total else ""
        )
        self.add(
            ["owners", "fallback"],
            f"because owners.fallback is not a usable user, {len(ids)} coach(es) have no usable "
            f"owner ({shown or 'none'}){rejected}; they load once owners.fallback names an "
            "enabled user",
            warning=True,
        )

    def owned_objects(self) -> list[str]:
        """The objects whose rows get an owner (an enabled target of theirs sets one)."""
        owned = (t.source for t in self.spec.targets.values() if t.enabled and t.sets_owner)
        return list(dict.fromkeys(owned))

    def owner_rows(self) -> _OwnerRows:
        """Rows no coach's user owns (the fallback's, or nobody's), by the listed coach they
        name (None: rows that name no listed coach), object and coach."""
        out: _OwnerRows = {}
        if self.usage is None:
            return out
        owners = self.spec.owners
        for obj in self.owned_objects():
            for ref, count in self.usage.of(obj).items():
                if owners.coach_for(ref) is not None:
                    continue
                listed = owners.named_by(ref) if ref.named else None
                key = listed.coach_id if listed is not None else None
                per = out.setdefault(key, {}).setdefault(obj, {})
                per[ref] = per.get(ref, 0) + count
        return out

    def fallback_rows(self, rows: _OwnerRows) -> None:
        """One warning per object: how many of its rows the fallback owns, and why."""
        owners = self.spec.owners
        per_object: dict[str, list[str]] = {}
        totals: dict[str, int] = {}
        for key, objects in rows.items():
            listed = owners.coaches.get(key) if key is not None else None
            for obj, refs in objects.items():
                for ref, count in refs.items():
                    totals[obj] = totals.get(obj, 0) + count
                    per_object.setdefault(obj, []).append(f"{count} {_why_fallback(ref, listed)}")
        for obj in sorted(totals):
            self.add(
                ["owners", "fallback"],
                f"{totals[obj]} {obj} row(s) will be owned by the fallback {owners.fallback}: "
                + "; ".join(per_object[obj]),
                warning=True,
            )

    def ownerless_rows(self, rows: _OwnerRows) -> None:
        """Rows that no coach's user owns and no fallback covers: migrate would reject them."""
        for key, objects in rows.items():
            if key is not None:  # a coach whose chosen user did not resolve (see its user)
                self.add(
                    ["owners", "coaches", key, "status"],
                    f"coach {key} has no usable owner; migrate would reject its "
                    f"{_counts(objects)}; set owners.fallback or owners.coaches.{key}.user",
                )
                continue
            unnamed: dict[str, int] = {}
            unknown: dict[CoachRef, dict[str, int]] = {}
            for obj, refs in objects.items():
                for ref, count in refs.items():
                    if ref.named:
                        per = unknown.setdefault(ref, {})
                        per[obj] = per.get(obj, 0) + count
                    else:
                        unnamed[obj] = unnamed.get(obj, 0) + count
            where: list[str | int] = (
                ["owners", "fallback"]
                if "fallback" in (self.doc.data.get("owners") or {})
                else ["owners"]
            )
            if unnamed:
                self.add(
                    where,
                    f"{_rows(unnamed)} name no coach (no coach_id or coach_email, nor one on "
                    "their client or session) and the map has no fallback owner: migrate "
                    "would reject them; set owners.fallback to the user who should own them, "
                    "or give those rows a coach in the export",
                )
            if unknown:  # one cause (owners.coaches is behind the export): one error
                names = sorted(str(ref) for ref in unknown)
                per_object: dict[str, int] = {}
                for per in unknown.values():
                    for obj, count in per.items():
                        per_object[obj] = per_object.get(obj, 0) + count
                shown = ", ".join(names[:5]) + (
                    f", … and {len(names) - 5} more" if len(names) > 5 else ""
                )
                self.add(
                    where,
                    f"{_rows(per_object)} name {len(names)} coach(es) that owners.coaches does "
                    f"not list ({shown}), and the map has no fallback owner: migrate would "
                    "reject them; re-run `crm-ferry map propose` to list the coaches, or set "
                    "owners.fallback",
                )

    def owner_tables(self) -> None:
        """Every table whose rows get an owner must take ``ownerid`` → ``systemuser``."""
        if self.metadata is None:
            return
        for t in self.spec.targets.values():
            if not t.enabled or not t.sets_owner or not self.has_table(t.table):
                continue
            field_ = t.owner_field()
            if field_ is not None:
                path: list[str | int] = ["targets", t.role, "fields", field_, "column"]
                why = f"the map sets the owner of {t.role} rows from {field_}"
            else:
                path = ["targets", t.role, "table"]
                why = IMPLICIT_OWNERS[t.role]
            info = self.columns(t.table).get(OWNER_COLUMN)
            if info is None:
                if field_ is None:  # a mapped column the table lacks is reported by target()
                    self.add(
                        path,
                        f"{why}, but {t.table} has no {OWNER_COLUMN} column in the tenant (an "
                        "organization-owned table); the rows would be owned by nobody the "
                        "map names: use a user-owned table or set `enabled: false`",
                    )
                continue
            if not info.is_valid_for_create and not info.is_valid_for_update:
                if field_ is None:  # reported by writable()
                    self.add(
                        path,
                        f"{why}, but {t.table}.{OWNER_COLUMN} is valid neither for create nor "
                        "for update in the tenant; use another table or set `enabled: false`",
                    )
                continue
            navigation = self.navigation(t.table)
            if navigation is not None and (OWNER_COLUMN, "systemuser") not in navigation:
                self.add(
                    path,
                    f"{why}, but the tenant has no relationship from {t.table}.{OWNER_COLUMN} "
                    "to systemuser (no navigation property to bind a user as owner); the "
                    "owner cannot be set: check the tenant's table (or snapshot), use another "
                    "table, or set `enabled: false`",
                )

    def linked_files(self, linked: LinkedSummary) -> None:
        """One problem for the linked files that are missing or ambiguous, if the map
        migrates files: an error when ``documents.linked`` is ``fail``, else a warning."""
        if not linked.unmatched or self.spec.target("attachment") is None:
            return
        policy = self.spec.documents.linked
        does = {
            "fail": "migrate, sample and delta refuse to start",
            "skip": "each is skipped, with the reason",
            "link": "each becomes a note holding its URL (or name)",
        }[policy]
        shown = "; ".join(str(p) for p in linked.problems[:_LINKED_SHOWN])
        if len(linked.problems) > _LINKED_SHOWN:
            shown += f"; … and {len(linked.problems) - _LINKED_SHOWN} more (crm-ferry discover)"
        self.add(
            ["documents", "linked"],
            f"{linked.unmatched} linked file(s) are not in the downloads folder "
            f"({linked.folder or 'none is set: [source] files'}), so {does} "
            f"(documents.linked: {policy}): {shown}. To do: {linked.advice}",
            warning=policy != "fail",
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


OPTIONS_SHOWN = 10
"""How many options a message lists before ``… and N more``."""
LIKE = 0.5
"""How like a source value an option's label must be to be listed first."""


def option_list(
    options: Mapping[int, str], *, cap: int = OPTIONS_SHOWN, closest_to: str | None = None
) -> str:
    """``1 Accounting, 2 Agriculture …, … and 23 more``: options with their labels, by value;
    with ``closest_to`` (a source value), the labels like it (:data:`LIKE`) first."""
    values = sorted(options)
    if closest_to is not None:
        score = {v: name_score(closest_to, [str(options[v])])[0] for v in values}
        values.sort(key=lambda v: -score[v] if score[v] >= LIKE else 0.0)
    shown = [f"{v} {' '.join(str(options[v]).split())}".rstrip() for v in values[:cap]]
    rest = len(values) - len(shown)
    return (", ".join(shown) + (f", … and {rest} more" if rest > 0 else "")) or "none"


def _rows(per_object: Mapping[str, int]) -> str:
    """``3 clients row(s) and 1 sessions row(s)``."""
    parts = [f"{n} {obj} row(s)" for obj, n in sorted(per_object.items())]
    return " and ".join(parts) if len(parts) < 3 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _counts(objects: Mapping[str, Mapping[CoachRef, int]]) -> str:
    return _rows({obj: sum(refs.values()) for obj, refs in objects.items()})


def _why_fallback(ref: CoachRef, listed: CoachOwner | None) -> str:
    if not ref.named:
        return "with no coach (no coach_id or coach_email, nor one on their client or session)"
    if listed is None:
        return f"naming {ref}, which owners.coaches does not list"
    why = (listed.reason or "no usable user").split("; ")[0]
    return f"of coach {listed.coach_id} ({why})"


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
