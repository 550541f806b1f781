"""The review application: its pages, its assets and its door (:mod:`.guard`).

Every asset ships in the package (``review/static``): no build step, no CDN. Pages are
rendered on the server; a small script (``static/review.js``) sends the edits and refreshes
the parts of a page that change.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from crm_ferry.errors import FerryError
from crm_ferry.review import map_page, overview, preview_page, reports, runs, scoping
from crm_ferry.review.guard import TokenGuard
from crm_ferry.review.state import ReviewState
from crm_ferry.review.web import error_response

__all__ = ["build_app"]


def _routes() -> list[BaseRoute]:
    return [
        *overview.routes(),
        *map_page.routes(),
        *preview_page.routes(),
        *reports.routes(),
        *runs.routes(),
        *scoping.routes(),
        Mount("/static", StaticFiles(packages=[("crm_ferry.review", "static")]), name="static"),
    ]


async def _ferry_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FerryError)
    return error_response(request, exc)


def build_app(state: ReviewState, *, loopback_only: bool = True) -> Starlette:
    """The review application for ``state``'s project; ``loopback_only``: answer only
    requests addressed to a loopback name (off when told to listen elsewhere)."""
    app = Starlette(
        routes=_routes(),
        middleware=[Middleware(TokenGuard, token=state.token, loopback_only=loopback_only)],
        exception_handlers={FerryError: _ferry_error},
    )
    app.state.review = state
    # the export's profile, its search index and the tenant, read before a page needs them
    state.warm(map_page.warm, preview_page.warm)
    return app
