"""The sample and verify pages: a reconciliation as a page, and accepting its differences.

``/verify`` shows the latest verification (``/verify/<id>`` an earlier one), ``/sample``
the latest sample's reconciliation: the summary (counts, classes, records per object,
totals, the objects over their reject threshold), the field-level diff per table and
column, the differences and the compared fields, each list with its filter next to it
(table, column, class, new or accepted, text; verdict for the fields), filtered and cut
into pages on the server (:mod:`.findings`), the values of choice columns with their
labels from the tenant's metadata.

Accepting goes through the verbs the CLI calls (:func:`crm_ferry.commands.verify_accept`,
:func:`crm_ferry.commands.sample_accept`): the differences picked on the page, or every new
one the filter shows, with a name and a reason; only those of the latest reconciliation
(what ``verify accept`` and ``sample accept`` apply to).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from crm_ferry import commands
from crm_ferry.errors import MapError
from crm_ferry.journal import DifferenceScope
from crm_ferry.reconcile.classify import CLASSES
from crm_ferry.reconcile.diff import VERDICTS
from crm_ferry.review.findings import (
    STATUSES,
    Shown,
    difference_filter,
    field_filter,
    find,
    labelled,
    marked,
    page_of,
    read_report,
    summary_of,
)
from crm_ferry.review.web import Form, page, posted, state_of

__all__ = ["FILTERS", "routes"]

FILTERS: Final = (
    *("table", "column", "class", "status", "q", "page"),
    *("ftable", "fcolumn", "verdict", "fq", "fpage", "per"),
)
"""The query of a page: the differences' filter and page, the compared fields' filter and
page, the rows per page."""
_DIFFERENCE_FILTERS: Final = ("table", "column", "class", "status", "q")

_TITLES: Final = {"verify": "Verification", "sample": "Sample"}


def _shown(values: Mapping[str, str]) -> Shown:
    return Shown({k: str(values.get(k, "")).strip() for k in FILTERS})


def _link(path: str, shown: Shown, **changes: str | int) -> str:
    """``path`` with the filter, changed by ``changes`` (a page number, another table ...)."""
    values: dict[str, str | int] = {**shown.values, **changes}
    query = urlencode({k: v for k, v in values.items() if v not in ("", None)})
    return f"{path}?{query}" if query else path


def _facets(differences: list[dict[str, Any]], data: Mapping[str, Any], s: Shown) -> dict[str, Any]:
    """What each filter offers: the tables and columns present (the columns of the table
    chosen, when one is), the classes, statuses and verdicts."""
    table = s.get("table")
    ftable = s.get("ftable")
    by_table = data["fields"]["by_table"]
    return {
        "tables": sorted({str(d["table"]) for d in differences}),
        "columns": sorted(
            {str(d["column"]) for d in differences if not table or d["table"] == table}
        ),
        "classes": CLASSES,
        "statuses": STATUSES,
        "field_tables": sorted(by_table),
        "field_columns": sorted(
            {c for t, f in by_table.items() if not ftable or t == ftable for c in f["columns"]}
        ),
        "verdicts": VERDICTS,
    }


def _context(request: Request, kind: DifferenceScope, recon_id: str | None) -> dict[str, Any]:
    state = state_of(request)
    recon, listed, latest = find(state, kind, recon_id)
    base = {"kind": kind, "title": _TITLES[kind], "listed": listed, "recon": recon}
    if recon is None:
        return base
    loaded = read_report(state, recon)
    with state.journal() as j:
        accepted = j.accepted_differences(kind)
    differences = marked(loaded.data["differences"], accepted)
    shown = _shown(request.query_params)
    kept = difference_filter(loaded, differences, shown)
    diff_page = page_of(kept, len(differences), shown.get("page"), shown.get("per"))
    fields = field_filter(loaded, shown)
    field_page = page_of(fields, len(loaded.data["rows"]), shown.get("fpage"), shown.get("per"))
    data = {**loaded.data, "summary": summary_of(loaded.data["summary"], differences)}
    path = request.url.path
    return {
        **base,
        "data": data,
        "classes": CLASSES,
        "verdicts": VERDICTS,
        "is_latest": latest is not None and latest.recon_id == recon.recon_id,
        "latest": latest,
        "shown": shown,
        "facets": _facets(differences, data, shown),
        "differences": labelled(state, diff_page.items, "column", data),
        "diff_page": diff_page,
        "new_shown": sum(1 for d in kept if d["status"] == "new"),
        "rows": labelled(state, field_page.items, "field", data),
        "field_page": field_page,
        "link": lambda **changes: _link(path, shown, **changes),
        "accepted_now": request.query_params.get("accepted", ""),
        "gate": request.query_params.get("gate", ""),
        "report_path": recon.report,
    }


def _page(kind: DifferenceScope, request: Request) -> Response:
    recon_id = request.path_params.get("recon_id")
    return page(request, f"{kind}.html.j2", _context(request, kind, recon_id))


def verify_page(request: Request) -> Response:
    return _page("verify", request)


def sample_page(request: Request) -> Response:
    return _page("sample", request)


# ---------------------------------------------------------------------------
# accepting


def _one(form: Form, name: str) -> str:
    return (form.get(name) or [""])[-1].strip()


def _picked(request: Request, kind: DifferenceScope, form: Form) -> tuple[str, list[str]]:
    """The reconciliation the form was made from (it must be the latest) and the ids to
    accept: those picked, or every new one the filter shows."""
    state = state_of(request)
    recon, _, latest = find(state, kind, None)
    asked = _one(form, "recon")
    if recon is None or latest is None or asked != latest.recon_id:
        raise MapError(
            f"{asked or 'this page'} is not the latest {kind} reconciliation "
            f"({latest.recon_id if latest else 'there is none'}): differences are accepted "
            "in the latest only, as on the command line",
            hint=f"open the {kind} page again and accept there",
        )
    if _one(form, "scope") == "shown":
        loaded = read_report(state, recon)
        with state.journal() as j:
            differences = marked(loaded.data["differences"], j.accepted_differences(kind))
        filters = _shown({k: _one(form, k) for k in _DIFFERENCE_FILTERS})
        ids = [
            str(d["id"])
            for d in difference_filter(loaded, differences, filters)
            if d["status"] == "new"
        ]
        if not ids:
            raise MapError(
                "the filter shows no difference that is not accepted yet",
                hint="change the filter, or pick differences one by one",
            )
        return recon.recon_id, ids
    ids = [i.strip() for i in form.get("id", []) if i.strip()]
    if not ids:
        raise MapError(
            "no difference was picked",
            hint="tick the differences to accept, or accept every new one the filter shows",
        )
    return recon.recon_id, ids


def _accept(kind: DifferenceScope, request: Request, form: Form) -> Response:
    by = _one(form, "by")
    reason = _one(form, "reason")
    if not by:
        raise MapError("accepting differences needs your name", hint="fill in “Your name”")
    if kind == "verify" and not reason:
        raise MapError("accepting differences needs a reason", hint="fill in “Reason”")
    _, ids = _picked(request, kind, form)
    settings = state_of(request).settings
    back = {k: _one(form, k) for k in FILTERS}
    if kind == "verify":
        outcome = commands.verify_accept(settings, by=by, reason=reason, ids=ids)
        back["accepted"] = str(len(outcome.accepted))
    else:
        result = commands.sample_accept(settings, by=by, reason=reason or None, ids=ids)
        back["accepted"] = str(len(result.differences.accepted))
        back["gate"] = "open" if result.gate_open else "closed"
    target = _link(request.url_for(kind).path, Shown(back))
    return RedirectResponse(target, status_code=303)


def verify_accept(request: Request, form: Form) -> Response:
    return _accept("verify", request, form)


def sample_accept(request: Request, form: Form) -> Response:
    return _accept("sample", request, form)


def routes() -> list[BaseRoute]:
    return [
        Route("/verify", verify_page, name="verify"),
        Route("/verify/accept", posted(verify_accept), methods=["POST"], name="verify_accept"),
        Route("/verify/{recon_id}", verify_page, name="verify_report"),
        Route("/sample", sample_page, name="sample"),
        Route("/sample/accept", posted(sample_accept), methods=["POST"], name="sample_accept"),
        Route("/sample/{recon_id}", sample_page, name="sample_report"),
    ]
