"""The preview page: find any source record by id or name, and see what it becomes under
the current map, before anything loads.

``/preview?q=…`` searches the bundle's records (the index is built once per state of the
bundle's files, :meth:`~crm_ferry.review.state.ReviewState.memo`);
``/preview/<object>/<id>`` shows the operations :func:`crm_ferry.commands.preview` makes of
one record (the same as ``crm-ferry preview OBJECT ID``): each with its table, the row's
id, its kind, the payload as JSON, its lookups resolved (a link to the preview of the
source record a row is made from), its choices with their labels, and the record's
rejects and skips with their reasons; then the records it refers to and those that refer
to it. The map is read afresh on every request, confirmed or not.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crm_ferry import commands
from crm_ferry.errors import FerryError, SourceError
from crm_ferry.review.state import ReviewState
from crm_ferry.review.web import error_response, page, state_of
from crm_ferry.sources.search import Entry

__all__ = ["routes"]

CHILDREN_SHOWN = 200
"""Children of one object listed on a record's page (the rest are counted)."""


def _entries(request: Request, entries: Sequence[Entry]) -> list[dict[str, Any]]:
    return [
        {
            "object": e.key.object,
            "id": e.key.id,
            "name": e.name,
            "kind": e.kind,
            "url": request.url_for("preview_record", object=e.key.object, id=e.key.id).path,
        }
        for e in entries
    ]


def search(request: Request) -> Response:
    state = state_of(request)
    text = request.query_params.get("q", "").strip()
    context: dict[str, Any] = {"q": text, "results": None, "problem": None}
    if text:
        try:
            found = commands.preview_search(
                state.settings, text, source=state.source, memo=state.memo
            )
        except FerryError as exc:
            context["problem"] = {"message": exc.message, "hint": exc.hint}
        else:
            context["results"] = _entries(request, found)
    return page(request, "preview.html.j2", context)


def _grouped(request: Request, entries: Sequence[Entry]) -> list[dict[str, Any]]:
    by: dict[str, list[Entry]] = {}
    for e in entries:
        by.setdefault(e.key.object, []).append(e)
    return [
        {
            "object": obj,
            "count": len(items),
            "entries": _entries(request, items[:CHILDREN_SHOWN]),
        }
        for obj, items in by.items()
    ]


def _link(request: Request, source: str | None) -> str | None:
    if not source:
        return None
    obj, _, rid = source.partition("/")
    return str(request.url_for("preview_record", object=obj, id=rid).path)


def record(request: Request) -> Response:
    state = state_of(request)
    obj = request.path_params["object"]
    rid = request.path_params["id"]
    try:
        result = commands.preview(
            state.settings, obj, rid, client=state.client, source=state.source, memo=state.memo
        )
    except SourceError as exc:
        return error_response(request, exc, status=404)
    operations = [
        {
            "op": op,
            "json": json.dumps(op.shown, indent=2, ensure_ascii=False, default=str),
            "links": {b.path: _link(request, b.source) for b in op.lookups},
        }
        for op in result.operations
    ]
    return page(
        request,
        "preview_record.html.j2",
        {
            "r": result,
            "operations": operations,
            "parents": _entries(request, result.parents),
            "children": _grouped(request, result.children),
            "q": "",
        },
    )


def warm(state: ReviewState) -> None:
    """Build the search index of the export (:meth:`ReviewState.warm` runs it in the
    background): the first search answers at once."""
    commands.preview_search(state.settings, "", source=state.source, memo=state.memo)


def routes() -> list[BaseRoute]:
    return [
        Route("/preview", search, name="preview"),
        Route("/preview/{object}/{id:path}", record, name="preview_record"),
    ]
