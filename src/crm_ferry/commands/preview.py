"""``crm-ferry preview OBJECT ID``: what one source record becomes, before anything loads.

The record is transformed as ``sample`` and ``migrate`` transform it (the same
:class:`~crm_ferry.transform.engine.Transformer`, context, id namespace and client
properties), from the current ``mapping.yaml`` read afresh, confirmed or not, against the
tenant as it is now. The records it refers to are transformed first, in load order, so a
record whose client the map rejects is rejected here as the load would reject it. Nothing
is written: not to the tenant, not to the journal.

Each operation comes explained (:mod:`crm_ferry.transform.explain`): its kind, every lookup
with the table and row it points to (and the source record that row is made from), every
choice value with its label in the tenant, and the payload columns the tenant does not have
yet. A map with errors is previewed as far as it can be, its errors listed; a map that does
not fit the tenant yet (not provisioned) says so, and the records of tables the tenant lacks
are rejected with that reason, as a load would reject them.

Two things are decided only when a load runs, and the result says so (:attr:`notes`): new
matches with contacts and accounts already in the tenant (``options.match_existing``;
matches of earlier runs are applied here), and the opportunities, built over every
completed, paid session at the end of a load.

The review page calls :func:`preview` and :func:`preview_search` with its
:meth:`~crm_ferry.review.state.ReviewState.memo`, so the search index and the transform
context are built once per state of the bundle's files, not per request.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from crm_ferry.commands._project import (
    connected,
    downloads_folder,
    map_file,
    open_journal,
    source_path,
)
from crm_ferry.commands._sharepoint import sharepoint_plan
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.errors import MapError, SourceError
from crm_ferry.load.context import Documents, build_context
from crm_ferry.load.engine import TransformerLike, open_for_load
from crm_ferry.load.match import Remap
from crm_ferry.load.snapshot import read_org_settings, read_target_schema
from crm_ferry.mapping.spec import MapDocument, MappingSpec, Problem
from crm_ferry.model import ClientProperty, Record, RecordKey, Reject
from crm_ferry.reconcile.classify import is_duplicate
from crm_ferry.reconcile.source_values import add_property, with_properties
from crm_ferry.settings import Settings
from crm_ferry.sources.bundle import Bundle
from crm_ferry.sources.schema import READ_ORDER
from crm_ferry.sources.search import SEARCH_LIMIT, Entry, SourceIndex, bundle_signature
from crm_ferry.sources.search import index_bundle as build_index
from crm_ferry.transform.context import TransformContext
from crm_ferry.transform.engine import Transformer
from crm_ferry.transform.explain import Explained, explain
from crm_ferry.transform.ops import Operation, target_id
from crm_ferry.transform.roles.opportunities import Skipped
from crm_ferry.transform.schema import TargetSchema, tables_for

__all__ = ["Memo", "PreviewResult", "no_memo", "preview", "preview_search"]

T = TypeVar("T")

Memo = Callable[[str, Hashable, Callable[[], Any]], Any]
"""``memo(name, key, compute)``: ``compute()`` kept under ``name`` while ``key`` stays the
same (:meth:`ReviewState.memo <crm_ferry.review.state.ReviewState.memo>` is one)."""

MATCH_NOTE = (
    "options.match_existing is on: when a load starts, a client whose e-mail (or name and "
    "postal code) matches one contact or account already in the tenant is written to that "
    "row instead; matches found by earlier runs are shown here, new ones only then"
)
OPPORTUNITY_NOTE = (
    "a completed, paid session also adds to its client's opportunity, which a load builds "
    "over every such session at its end (not shown here)"
)


def no_memo(name: str, key: Hashable, compute: Callable[[], T]) -> T:
    """Computes every time (the command line previews one record and exits)."""
    return compute()


# ---------------------------------------------------------------------------
# The result


@dataclass
class PreviewResult:
    """What one source record becomes."""

    object: str
    id: str
    name: str
    status: str
    """``operations``, ``rejected`` (by the reader or the transform), ``skipped`` (the map
    leaves it out), ``nothing`` (no target takes this record) or ``not migrated`` (the map
    migrates no table from its object)."""
    kind: str | None = None
    operations: list[Explained] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    skips: list[Skipped] = field(default_factory=list)
    parents: list[Entry] = field(default_factory=list)
    children: list[Entry] = field(default_factory=list)
    map_status: str = "proposed"
    map_errors: list[Problem] = field(default_factory=list)
    """The map's structural errors (the preview shows what it still can)."""
    fit_problems: list[str] = field(default_factory=list)
    """Where the map does not fit the tenant yet (``provision`` has not run)."""
    notes: list[str] = field(default_factory=list)
    namespace: str = ""

    @property
    def key(self) -> RecordKey:
        return RecordKey(self.object, self.id)

    def as_dict(self) -> dict[str, Any]:
        return {
            "object": self.object,
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "operations": [op.as_dict() for op in self.operations],
            "rejects": [r.as_dict() for r in self.rejects],
            "skips": [s.as_dict() for s in self.skips],
            "parents": [e.as_dict() for e in self.parents],
            "children": [e.as_dict() for e in self.children],
            "map": {
                "status": self.map_status,
                "errors": [p.as_dict() for p in self.map_errors],
                "fit_problems": list(self.fit_problems),
            },
            "notes": list(self.notes),
            "namespace": self.namespace,
        }


# ---------------------------------------------------------------------------
# What is kept between requests


@dataclass(frozen=True)
class _Facts:
    index: SourceIndex
    context: TransformContext
    """Without its document readers: they read from a bundle open for one request."""
    props: Mapping[str, Mapping[str, str]]


def _read_map(settings: Settings, memo: Memo) -> tuple[MappingSpec, list[Problem]]:
    """The map as ``mapping.yaml`` says now (read on every call; parsed again only when its
    text changed: the parse is a function of the text) and its structural errors."""
    path = map_file(settings)
    if not path.is_file():
        MapDocument.load(path)  # the error saying how to make one
    text = path.read_text(encoding="utf-8")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    parsed: tuple[MappingSpec | None, list[Problem]] = memo(
        "preview.map", digest, lambda: MapDocument.loads(text, path).parse()
    )
    spec, problems = parsed
    if spec is None:
        raise MapError(
            "the map cannot be read, so no record can be previewed",
            hint="run `crm-ferry map check` and fix the lines it names in mapping.yaml",
        )
    return spec, [p for p in problems if p.severity == "error"]


def _headers(spec: MappingSpec | None) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    if spec is None:
        return ()
    return tuple(sorted((obj, tuple(sorted(h.items()))) for obj, h in spec.header_map().items()))


def _properties(bundle: Bundle) -> dict[str, dict[str, str]]:
    props: dict[str, dict[str, str]] = {}
    if "client_properties" in bundle.objects:
        for item in bundle.read("client_properties"):
            if isinstance(item, ClientProperty):
                add_property(props, item)
    return props


def _facts_key(settings: Settings, path: Path, spec: MappingSpec) -> Hashable:
    """What the kept facts were made from: the bundle's files, the map's header names,
    the downloads folder."""
    folder = settings.source_files
    return (str(path), bundle_signature(path), _headers(spec), str(folder))


def _facts(settings: Settings, path: Path, spec: MappingSpec, memo: Memo) -> _Facts:
    downloads = downloads_folder(settings)
    key = _facts_key(settings, path, spec)

    def compute() -> _Facts:
        with open_for_load(path, spec, settings.column_map, settings.line_limit) as bundle:
            index = build_index(bundle)
            context = build_context(bundle, None, downloads)
            props = _properties(bundle)
        return _Facts(index, context, props)

    facts: _Facts = memo("preview.source", key, compute)
    return facts


def preview_search(
    settings: Settings,
    text: str,
    *,
    source: Path | None = None,
    objects: Iterable[str] = (),
    limit: int = SEARCH_LIMIT,
    memo: Memo = no_memo,
) -> list[Entry]:
    """Source records whose id or name holds ``text`` (clients first when both match)."""
    path = source_path(settings, source)
    spec, _ = _read_map(settings, memo)
    found = _facts(settings, path, spec, memo).index.search(text, objects=objects, limit=limit)
    order = {obj: n for n, obj in enumerate(READ_ORDER)}
    return sorted(
        found,
        key=lambda e: (
            e.key.id.casefold() != text.strip().casefold(),
            e.key.object != "clients",
            order.get(e.key.object, 99),
        ),
    )


# ---------------------------------------------------------------------------
# Naming the rows lookups point to


def _row_names(
    index: SourceIndex, spec: MappingSpec, namespace: str, memo: Memo, key: Hashable
) -> Mapping[str, tuple[str, Entry]]:
    """Row id → (table, the source record) of every row the map makes of a record."""
    roles = tuple(sorted((t.role, t.source, t.table) for t in spec.targets.values() if t.enabled))

    def compute() -> dict[str, tuple[str, Entry]]:
        ns = uuid.UUID(namespace)
        out: dict[str, tuple[str, Entry]] = {}
        for role, obj, table in roles:
            for entry in index.of_object(obj):
                out[target_id(ns, role, entry.key.id)] = (table, entry)
        return out

    rows: Mapping[str, tuple[str, Entry]] = memo("preview.rows", (key, namespace, roles), compute)
    return rows


def _namer(
    rows: Mapping[str, tuple[str, Entry]], spec: MappingSpec, schema: TargetSchema
) -> Callable[[str, str], tuple[str, str | None]]:
    users: dict[str, str] = {}
    for cid, coach in spec.owners.coaches.items():
        if coach.systemuserid:
            users[coach.systemuserid.lower()] = f"{coach.user or coach.email} (coach {cid})"
    if spec.owners.fallback_id:
        users.setdefault(spec.owners.fallback_id.lower(), f"{spec.owners.fallback} (fallback)")
    currencies = {v.lower(): k for k, v in schema.org.currencies.items()}

    def name(table: str, row_id: str) -> tuple[str, str | None]:
        low = row_id.lower()
        found = rows.get(low)
        if found is not None and found[0] == table:
            entry = found[1]
            return entry.name or entry.key.id, str(entry.key)
        if table == "systemuser":
            return users.get(low, ""), None
        if table == "transactioncurrency":
            return currencies.get(low, ""), None
        if table == "pricelevel" and low == (schema.org.price_list_id or "").lower():
            return "the import's price list", None
        return "", None

    return name


# ---------------------------------------------------------------------------
# The record and those it refers to


def _chain(index: SourceIndex, key: RecordKey) -> list[RecordKey]:
    """``key`` and every record it refers to, directly or not, parents first (load order)."""
    seen: dict[RecordKey, None] = {}
    todo = [key]
    while todo:
        k = todo.pop()
        if k in seen:
            continue
        seen[k] = None
        entry = index.get(k)
        if entry is not None:
            todo.extend(entry.parents)
    order = {obj: n for n, obj in enumerate(READ_ORDER)}
    return sorted(seen, key=lambda k: (order.get(k.object, 99), k == key))


def _read(bundle: Bundle, keys: Iterable[RecordKey]) -> dict[RecordKey, Record]:
    """The records of ``keys`` (one pass over each object they are of, stopping once every
    one of that object is found)."""
    wanted: dict[str, set[str]] = {}
    for k in keys:
        wanted.setdefault(k.object, set()).add(k.id)
    found: dict[RecordKey, Record] = {}
    for obj, ids in wanted.items():
        if obj not in bundle.objects:
            continue
        left = set(ids)
        for item in bundle.read(obj):
            if isinstance(item, Record) and item.id in left:
                found.setdefault(item.key, item)
                left.discard(item.id)
                if not left:
                    break
    return found


def _mapped_objects(spec: MappingSpec) -> frozenset[str]:
    return frozenset(t.source for t in spec.targets.values() if t.enabled)


def _outcome(out: Iterable[object], result: PreviewResult) -> None:
    items = list(out)
    result.rejects = [o for o in items if isinstance(o, Reject)]
    result.skips = [o for o in items if isinstance(o, Skipped)]
    if result.rejects:
        result.status = "rejected"
    elif result.skips:
        result.status = "skipped"
    elif any(isinstance(o, Operation) for o in items):
        result.status = "operations"
    else:
        result.status = "nothing"


def _transform(
    transformer: TransformerLike,
    records: Mapping[RecordKey, Record],
    chain: list[RecordKey],
    target: RecordKey,
    index: SourceIndex,
    facts: _Facts,
    mapped: frozenset[str],
) -> list[object]:
    """Transform the chain's records, parents first, as the load does (a parent the
    reader rejected is marked so); ``target``'s outcome."""
    out: list[object] = []
    for k in chain:
        refused = index.rejected.get(k)
        if refused is not None and not is_duplicate(refused):
            mark = getattr(transformer, "mark_rejected", None)
            if mark is not None:
                mark(k)
            continue
        record = records.get(k)
        if record is None or k.object not in mapped:
            continue
        done = list(transformer.transform(with_properties(record, facts.props)))
        if k == target:
            out = done
    return out


def preview(
    settings: Settings,
    obj: str,
    record_id: str,
    *,
    client: DataverseClient | None = None,
    source: Path | None = None,
    memo: Memo = no_memo,
) -> PreviewResult:
    """What the record ``obj``/``record_id`` of the bundle becomes under the current map."""
    path = source_path(settings, source)
    spec, errors = _read_map(settings, memo)
    facts = _facts(settings, path, spec, memo)
    index = facts.index
    key = RecordKey(obj, record_id)
    entry = index.get(key)
    result = PreviewResult(obj, record_id, "", "nothing", map_status=spec.status)
    result.map_errors = errors
    if entry is None:
        rejected = index.rejected.get(key)
        if rejected is None:
            known = ", ".join(sorted(index.counts()))
            raise SourceError(
                f"{obj} {record_id!r} is not in the export",
                hint=f"check the object and the id (the export has {known}); the review "
                "page's preview finds records by name",
            )
        result.status, result.rejects = "rejected", [rejected]
        return result
    result.name, result.kind = entry.name, entry.kind
    result.parents = [p for k in entry.parents if (p := index.get(k)) is not None]
    result.children = index.children_of(key)
    mapped = _mapped_objects(spec)
    if obj not in mapped:
        result.status = "not migrated"
        return result
    downloads = downloads_folder(settings)
    with connected(settings, client) as dv, open_journal(settings) as j:
        namespace = j.namespace
        matched = {target_id(namespace, m.role, m.source_id): m.row_id for m in j.matches()}
        schema = read_target_schema(dv.metadata, tables_for(spec), org=read_org_settings(dv))
        plan = sharepoint_plan(settings, spec, dv)
        with open_for_load(path, spec, settings.column_map, settings.line_limit) as bundle:
            docs = Documents(bundle, downloads)
            context = replace(
                facts.context,
                read_attachment=docs.read,
                attachment_size=docs.size,
                attachment_sha256=docs.sha256,
                sharepoint=plan,
            )
            inner = Transformer(spec, schema, namespace, context, strict=False)
            transformer: TransformerLike = Remap(inner, matched) if matched else inner
            chain = _chain(index, key)
            records = _read(bundle, chain)
            out = _transform(transformer, records, chain, key, index, facts, mapped)
    _outcome(out, result)
    rows = _row_names(index, spec, str(namespace), memo, _facts_key(settings, path, spec))
    name = _namer(rows, spec, schema)
    result.operations = [explain(o, schema, name) for o in out if isinstance(o, Operation)]
    result.fit_problems = list(inner.problems)
    result.namespace = str(namespace)
    if spec.options.get("match_existing", True) is not False and obj == "clients":
        result.notes.append(MATCH_NOTE)
    if obj == "sessions" and spec.target("opportunity") is not None:
        result.notes.append(OPPORTUNITY_NOTE)
    return result
