"""What the pages of the review application share: the template environment (the static
reports' templates and filters, with the pages' own before them), rendering a page, the
project state of a request, and turning a crm-ferry error into a page that says what to do.

Templates: ``review/templates`` first, then ``reconcile/templates`` — so a page can include
the reports' partials, and the static HTML reports mailed to a client render the same ones.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from crm_ferry import __version__
from crm_ferry.errors import FerryError
from crm_ferry.reconcile.report import report_environment
from crm_ferry.review.state import ReviewState

__all__ = [
    "NAV_PAGES",
    "Form",
    "environment",
    "error_response",
    "page",
    "posted",
    "state_of",
    "wants_json",
]

Form = Mapping[str, list[str]]
"""A posted form: each field's values, in the order sent."""

_FORM_TYPE = "application/x-www-form-urlencoded"
_MAX_FORM = 1 << 20

NAV_PAGES = (
    ("overview", "Overview"),
    ("map", "Map"),
    ("preview", "Preview"),
    ("sample", "Sample"),
    ("verify", "Verify"),
    ("runs", "Runs"),
    ("scoping", "Scoping"),
)
"""The pages in the header, by route name (a page not served is not shown)."""


@functools.cache
def environment() -> jinja2.Environment:
    """The review pages' Jinja environment: the reports' one, with the pages' templates
    searched first."""
    env = report_environment()
    assert env.loader is not None
    env.loader = jinja2.ChoiceLoader(
        [jinja2.PackageLoader("crm_ferry.review", "templates"), env.loader]
    )
    env.globals["version"] = __version__
    env.globals["nav_pages"] = NAV_PAGES
    return env


def state_of(request: Request) -> ReviewState:
    """The project the application serves."""
    state: ReviewState = request.app.state.review
    return state


def page(
    request: Request, template: str, context: Mapping[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    """``template`` rendered with ``context``, the request and the project's name."""
    state = state_of(request)
    html = (
        environment()
        .get_template(template)
        .render(
            request=request,
            project=state.project_dir.name,
            project_dir=str(state.project_dir),
            **(context or {}),
        )
    )
    return HTMLResponse(html, status_code=status)


def wants_json(request: Request) -> bool:
    """The caller asked for JSON (the page's scripts do), not a page."""
    return "application/json" in request.headers.get("accept", "")


def error_response(request: Request, exc: FerryError, *, status: int = 400) -> Response:
    """A crm-ferry error as the page (or JSON) that says what went wrong and what to do."""
    body = {
        "error": type(exc).__name__,
        "message": exc.message,
        "hint": exc.hint,
    }
    if wants_json(request):
        return JSONResponse(body, status_code=status)
    return page(request, "error.html.j2", body, status=status)


def posted(
    handler: Callable[[Request, Form], Response],
) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint taking a posted form (URL-encoded, as the pages and ``review.js`` send
    it), with ``handler`` run in the thread pool like the pages' other endpoints (it may
    read files and call the tenant)."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        kind = request.headers.get("content-type", _FORM_TYPE).split(";", 1)[0].strip()
        if kind != _FORM_TYPE:
            return JSONResponse(
                {"error": "a form is sent URL-encoded", "hint": f"send {_FORM_TYPE}"},
                status_code=415,
            )
        body = await request.body()
        if len(body) > _MAX_FORM:
            return JSONResponse({"error": "the form is larger than 1 MiB"}, status_code=413)
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return await run_in_threadpool(handler, request, form)

    return endpoint
