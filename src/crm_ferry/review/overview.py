"""The review application's first page: where the project stands (the map's state, the
latest sample and verification, the runs) and a way to each page."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crm_ferry import commands
from crm_ferry.commands._project import map_file
from crm_ferry.errors import FerryError
from crm_ferry.review.state import ReviewState, stamp
from crm_ferry.review.web import page, state_of

__all__ = ["routes"]


def _map_state(request: Request) -> dict[str, Any]:
    """Where the map stands, read again only when ``mapping.yaml`` changed (a round-trip
    parse of a large map takes a quarter of a second)."""
    state = state_of(request)
    return state.memo("overview.map", stamp(map_file(state.settings)), lambda: _read_map(state))


def _read_map(state: ReviewState) -> dict[str, Any]:
    try:
        shown = commands.map_show(state.settings)
    except FerryError as exc:
        return {"readable": False, "message": exc.message, "hint": exc.hint}
    return {
        "readable": True,
        "status": shown.status,
        "confirmed_by": shown.confirmed_by,
        "confirmed_at": shown.confirmed_at,
        "lines": len(shown.lines),
        "below_threshold": sum(1 for ln in shown.lines if ln.below_threshold),
        "threshold": shown.confirm_threshold,
        "problems": len(shown.problems),
    }


def _runs(request: Request) -> list[dict[str, Any]]:
    found = commands.runs(state_of(request).settings)
    return [
        {
            "run_id": r.run_id,
            "kind": r.kind,
            "state": found.state(r),
            "started_at": r.started_at,
            "finished_at": r.finished_at,
            "outcomes": found.outcomes(r),
        }
        for r in found.runs
    ]


def overview(request: Request) -> Response:
    runs = _runs(request)
    return page(
        request,
        "overview.html.j2",
        {
            "map": _map_state(request),
            "runs": runs[:5],
            "run_count": len(runs),
            "warming": state_of(request).warming,
        },
    )


def routes() -> list[BaseRoute]:
    return [Route("/", overview, name="overview")]
