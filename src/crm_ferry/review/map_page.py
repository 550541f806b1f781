"""The map page (``/map``): the map reviewed per target table, edited by picking from the
tenant's columns, options and users, re-checked after every edit, and confirmed.

Every edit is one :mod:`crm_ferry.mapping.edits` function on the round-trip document, saved
to ``mapping.yaml`` (comments and order kept) under the page's lock; the answer is the
page's review region (:data:`REGION`) re-rendered with the new problems at their lines, which
``review.js`` puts in place. The check is ``map check``'s (:func:`check_document`) on inputs
read once and kept (:meth:`ReviewState.memo`): the source profile per state of the export's
files, the tenant's users and metadata until the page's "Re-read" button drops them.
Confirming is ``map confirm`` itself, asked whether every line under the threshold was
acknowledged on the form.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from crm_ferry import commands
from crm_ferry.commands._project import map_file, source_path
from crm_ferry.commands.mapping import (
    CheckInputs,
    LowConfidence,
    MapLine,
    check_document,
    read_linked_files,
    read_source,
)
from crm_ferry.dataverse.metadata import ColumnInfo, Metadata, Relationship
from crm_ferry.errors import FerryError, MapError
from crm_ferry.mapping import edits
from crm_ferry.mapping.owners import OwnerUsage, SystemUser, fetch_system_users
from crm_ferry.mapping.profile import SourceProfile
from crm_ferry.mapping.spec import MapDocument
from crm_ferry.review.map_model import ColumnView, build_view, column_view
from crm_ferry.review.map_values import Choices, anchor, choices_of
from crm_ferry.review.state import ReviewState, stamp
from crm_ferry.review.web import Form, page, posted, state_of
from crm_ferry.sources.downloads import LinkedSummary

__all__ = ["REGION", "routes", "warm"]

REGION = "map-review"
"""The id of the element every edit's answer replaces."""
_SOURCE, _LINKED, _USERS, _TENANT, _LOCK, _DOC, _PAGE = (
    "map.source",
    "map.linked",
    "map.users",
    "map.tenant",
    "map.lock",
    "map.document",
    "map.page",
)


@dataclass(frozen=True, slots=True)
class Note:
    """What the last action did, shown above the map (``bad``: it was refused)."""

    text: str
    bad: bool = False
    place: str | None = None
    """The place edited (its line shows that it was saved)."""
    confirm: bool = False
    """An answer to the confirm form (shown next to it)."""


# ---------------------------------------------------------------------------
# What the check reads, read once


class TenantColumns:
    """The tenant's metadata as the page reads it: tables found or not and their columns,
    kept until the page's "Re-read" (``Metadata`` keeps columns, not a table's absence)."""

    def __init__(self, metadata: Metadata) -> None:
        self._metadata = metadata
        self._tables: dict[str, bool] = {}

    def has_table(self, logical_name: str) -> bool:
        if logical_name not in self._tables:
            self._tables[logical_name] = self._metadata.has_table(logical_name)
        return self._tables[logical_name]

    def columns(self, table: str) -> Mapping[str, ColumnInfo]:
        return self._metadata.columns(table) if self.has_table(table) else {}

    def relationships(self, table: str) -> list[Relationship]:
        return self._metadata.relationships(table)


def _source(state: ReviewState) -> tuple[SourceProfile, OwnerUsage]:
    def read() -> tuple[SourceProfile, OwnerUsage]:
        usage = OwnerUsage()
        profile, _ = read_source(state.settings, state.source, usage=usage)
        return profile, usage

    bundle = source_path(state.settings, state.source)
    return state.memo(_SOURCE, stamp(bundle), read)


def _linked(state: ReviewState) -> LinkedSummary:
    key = (stamp(source_path(state.settings, state.source)), stamp(state.settings.source_files))
    return state.memo(_LINKED, key, lambda: read_linked_files(state.settings, state.source))


def _users(state: ReviewState) -> list[SystemUser]:
    return state.memo(_USERS, "tenant", lambda: fetch_system_users(state.client))


def _tenant(state: ReviewState) -> TenantColumns:
    return state.memo(_TENANT, "tenant", lambda: TenantColumns(state.client.metadata))


def _inputs(state: ReviewState) -> CheckInputs:
    profile, usage = _source(state)
    return CheckInputs(profile, usage, _users(state), _linked(state))


def _document(state: ReviewState) -> MapDocument:
    """A copy of ``mapping.yaml`` as a round-trip document, parsed once per state of the
    file (ruamel's round-trip parse of a whole map takes a quarter of a second)."""
    path = map_file(state.settings)
    kept = state.memo(_DOC, stamp(path), lambda: MapDocument.load(path))
    return MapDocument(copy.deepcopy(kept.data), path)


def _saved(state: ReviewState, doc: MapDocument) -> None:
    """Save an edited ``doc`` and keep it as the file's document (its nodes keep the places
    they were read at: the page shows a problem at its line of the page, not of the file)."""
    path = doc.save()
    kept = MapDocument(copy.deepcopy(doc.data), path)
    state.memo(_DOC, stamp(path), lambda: kept)


def warm(state: ReviewState) -> None:
    """Read what the page needs: the export's profile, the tenant's users and the columns
    of the map's tables (:meth:`ReviewState.warm` runs it in the background)."""
    _inputs(state)
    tenant = _tenant(state)
    for table in {t.table for t in _document(state).spec().targets.values()}:
        tenant.columns(table)


def _lock(state: ReviewState) -> threading.Lock:
    """One edit of ``mapping.yaml`` at a time (load, change, save)."""
    return state.memo(_LOCK, "lock", threading.Lock)


# ---------------------------------------------------------------------------
# Rendering


def _context(state: ReviewState, note: Note | None) -> dict[str, Any]:
    started = time.perf_counter()
    doc = _document(state)
    inputs = _inputs(state)
    tenant = _tenant(state)
    problems = check_document(doc, inputs, tenant)  # owners re-resolved in memory
    spec, _ = doc.parse()  # problems: the check's, the structural ones among them
    took = time.perf_counter() - started
    base = {"note": note, "took": took, "region": REGION, "problems": problems, "anchor": anchor}
    if spec is None:
        return {**base, "view": None, "datalists": {}}
    view = build_view(doc, spec, problems, inputs.profile, tenant, inputs.users)
    return {**base, "view": view, "datalists": _datalists(tenant, view.tables)}


def _datalists(tenant: TenantColumns, tables: Any) -> dict[str, list[ColumnView]]:
    """Per tenant table of the map, its columns by label (what a line's column is picked
    from)."""
    out: dict[str, list[ColumnView]] = {}
    for t in tables:
        if t.exists and t.table not in out:
            views = [column_view(c) for c in tenant.columns(t.table).values()]
            out[t.table] = sorted(views, key=lambda c: (c.label.lower(), c.logical_name))
    return out


def _fragment(request: Request) -> bool:
    return "fragment=1" in request.headers.get("accept", "")


def _answer(request: Request, note: Note) -> Response:
    """The review region re-rendered (for ``review.js``), else back to the page."""
    if not _fragment(request):
        return RedirectResponse(request.url_for("map").path, status_code=303)
    return page(request, "map_review.html.j2", _context(state_of(request), note))


def map_page(request: Request) -> Response:
    """The page, rendered again only when the map or what it is checked against changed
    (another look at an unchanged map costs nothing: a large practice's page is 600 KB)."""
    state = state_of(request)
    inputs, tenant = _inputs(state), _tenant(state)
    sources = (inputs.profile, inputs.usage, inputs.users, inputs.linked, tenant)
    made_of = (stamp(map_file(state.settings)), *map(id, sources))

    def render() -> tuple[tuple[object, ...], bytes]:
        # the page keeps what it was made of: no later object can take one of their ids
        return sources, bytes(page(request, "map.html.j2", _context(state, None)).body)

    return HTMLResponse(state.memo(_PAGE, made_of, render)[1])


# ---------------------------------------------------------------------------
# Edits


def _one(form: Form, key: str) -> str:
    values = form.get(key)
    if not values:
        raise MapError(f"the form sent no {key}", hint="reload the map page and try again")
    return values[0].strip()


def _editing(
    request: Request, change: Callable[[MapDocument, ReviewState], edits.Edit]
) -> Response:
    state = state_of(request)
    try:
        with _lock(state):
            doc = _document(state)
            edit = change(doc, state)
            _saved(state, doc)
    except FerryError as exc:
        return _answer(request, Note(f"{exc.message}. {exc.hint or ''}".strip(), bad=True))
    again = " The map was confirmed: it is proposed again." if edit.reopened else ""
    place = edit.path.rsplit(".", 1)[0] if edit.path.endswith((".column", ".user")) else edit.path
    return _answer(request, Note(f"Saved {edit}.{again}", place=place))


def _column_named(tenant: TenantColumns, table: str, text: str) -> ColumnInfo | None:
    """The column ``text`` names: a logical name, a label, or ``Label (logical)``."""
    columns = tenant.columns(table)
    if not text:
        return None
    logical = text.rsplit("(", 1)[-1].rstrip(")").strip() if text.endswith(")") else text
    if logical in columns:
        return columns[logical]
    by_label = [c for c in columns.values() if c.label.lower() == text.lower()]
    if len(by_label) == 1:
        return by_label[0]
    many = f" ({len(by_label)} columns have that label: pick by logical name)" if by_label else ""
    raise MapError(
        f"{table} has no column {text!r}{many}",
        hint="pick a column from the list (type part of its label to find it)",
    )


def set_column(request: Request, form: Form) -> Response:
    def change(doc: MapDocument, state: ReviewState) -> edits.Edit:
        role, field, text = _one(form, "role"), _one(form, "field"), _one(form, "column")
        spec, _ = doc.parse()
        target = spec.targets.get(role) if spec is not None else None
        if target is None:
            raise MapError(f"the map has no target {role!r}", hint="reload the map page")
        info = _column_named(_tenant(state), target.table, text)
        return edits.set_column(doc, role, field, info.logical_name if info else None, info=info)

    return _editing(request, change)


def _choices(doc: MapDocument, state: ReviewState, name: str) -> Choices | None:
    spec, _ = doc.parse()  # a value without an option yet is a problem, not a stop
    vm = spec.value_maps.get(name) if spec is not None else None
    if spec is None or vm is None:
        raise MapError(f"the map has no value map {name!r}", hint="reload the map page")
    uses = [(t, fm) for t, fm in spec.fields() if fm.column and fm.value_map == name]
    return choices_of(vm.column, uses, _tenant(state))


def _option(text: str, choices: Choices | None) -> int | list[int] | None:
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise MapError(
            f"{text!r} is not an option value", hint="pick an option from the list"
        ) from None
    if choices is not None and value in choices.states:
        return [choices.states[value], value]  # a status is written with its state
    return value


def set_value(request: Request, form: Form) -> Response:
    def change(doc: MapDocument, state: ReviewState) -> edits.Edit:
        name = _one(form, "value_map")
        option = _option(_one(form, "option"), _choices(doc, state, name))
        return edits.set_value(doc, name, _one(form, "value"), option)

    return _editing(request, change)


def set_policy(request: Request, form: Form) -> Response:
    def change(doc: MapDocument, state: ReviewState) -> edits.Edit:
        name = _one(form, "value_map")
        default = _option((form.get("default") or [""])[0].strip(), _choices(doc, state, name))
        text = (form.get("text_column") or [""])[0].strip() or None
        return edits.set_policy(doc, name, _one(form, "policy"), default=default, text_column=text)

    return _editing(request, change)


def set_owner(request: Request, form: Form) -> Response:
    def change(doc: MapDocument, state: ReviewState) -> edits.Edit:
        user = _one(form, "user") or None
        return edits.set_coach_user(doc, _one(form, "coach"), user, _users(state))

    return _editing(request, change)


def set_fallback(request: Request, form: Form) -> Response:
    def change(doc: MapDocument, state: ReviewState) -> edits.Edit:
        return edits.set_fallback(doc, _one(form, "user") or None, _users(state))

    return _editing(request, change)


def refresh(request: Request, form: Form) -> Response:
    """Read the tenant (users, tables and columns) and the export again."""
    state = state_of(request)
    for name in (_USERS, _TENANT, _SOURCE, _LINKED):
        state.forget(name)
    state.client.metadata.forget()
    return _answer(request, Note("Read the tenant's users and metadata and the export again."))


# ---------------------------------------------------------------------------
# Confirm


def _line_place(ln: MapLine) -> str:
    return f"targets.{ln.role}.fields.{ln.field}"


def confirm(request: Request, form: Form) -> Response:
    state = state_of(request)
    acknowledged = set(form.get("ack", []))
    missed: list[MapLine] = []

    def ask(lines: list[MapLine]) -> bool:
        missed.extend(ln for ln in lines if _line_place(ln) not in acknowledged)
        return not missed

    by = (form.get("by") or [""])[0]
    try:
        with _lock(state):
            done = commands.map_confirm(
                state.settings, by=by, client=state.client, source=state.source, ask=ask
            )
    except LowConfidence:
        shown = "; ".join(f"{ln.source} → {ln.table}.{ln.column}" for ln in missed)
        text = (
            f"Not confirmed: {len(missed)} line(s) under the confirm threshold are not "
            f"acknowledged: {shown}. Look at each, fix it if it is wrong, tick it, confirm again."
        )
        return _answer(request, Note(text, bad=True, confirm=True))
    except FerryError as exc:
        return _answer(request, Note(f"Not confirmed: {exc.message}", bad=True, confirm=True))
    accepted = f", {len(done.low_confidence)} low-confidence line(s) acknowledged"
    return _answer(
        request,
        Note(f"Confirmed by {done.confirmed_by} at {done.confirmed_at}{accepted}.", confirm=True),
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/map", map_page, name="map"),
        Route("/map/column", posted(set_column), methods=["POST"], name="map-column"),
        Route("/map/value", posted(set_value), methods=["POST"], name="map-value"),
        Route("/map/policy", posted(set_policy), methods=["POST"], name="map-policy"),
        Route("/map/owner", posted(set_owner), methods=["POST"], name="map-owner"),
        Route("/map/fallback", posted(set_fallback), methods=["POST"], name="map-fallback"),
        Route("/map/refresh", posted(refresh), methods=["POST"], name="map-refresh"),
        Route("/map/confirm", posted(confirm), methods=["POST"], name="map-confirm"),
    ]
