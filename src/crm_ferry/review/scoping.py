"""The scoping page: the scoping report ``crm-ferry discover`` wrote, as a page.

``/scoping`` shows the latest report (``runs/scoping-<time>/scoping.json``, the folder
:func:`~crm_ferry.reconcile.scoping.scoping_dir` makes), ``/scoping/<folder>`` an earlier
one: the complexity grade and why, the duration estimate and its arithmetic, the tenant
audit, the source profile and the assumptions, from the same partials as the static
``scoping.html``. Without one, the page says how to make it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crm_ferry.errors import MapError
from crm_ferry.reconcile.scoping import JSON_NAME
from crm_ferry.review.state import ReviewState, stamp
from crm_ferry.review.web import page, state_of
from crm_ferry.sources.discover import FINDING_KINDS

__all__ = ["reports_of", "routes"]

_PREFIX = "scoping-"


def reports_of(state: ReviewState) -> list[Path]:
    """The scoping reports of the project, the latest first."""
    runs = state.project_dir / "runs"
    if not runs.is_dir():
        return []
    found = [p / JSON_NAME for p in runs.glob(f"{_PREFIX}*") if (p / JSON_NAME).is_file()]
    return sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.parent.name), reverse=True)


def _read(state: ReviewState, path: Path) -> dict[str, Any]:
    def load() -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise MapError(
                f"cannot read the scoping report {path}: {exc}",
                hint="run `crm-ferry discover` again to write a new one",
            ) from exc
        return data

    return state.memo(f"scoping:{path}", stamp(path), load)


def scoping_page(request: Request) -> Response:
    state = state_of(request)
    listed = reports_of(state)
    name = request.path_params.get("name")
    chosen = listed[0] if listed and name is None else None
    if name is not None:
        chosen = next((p for p in listed if p.parent.name == name), None)
        if chosen is None:
            raise MapError(
                f"there is no scoping report {name!r} under {state.project_dir / 'runs'}",
                hint="pick one from the list on the scoping page",
            )
    context: dict[str, Any] = {
        "listed": [p.parent.name for p in listed],
        "chosen": chosen.parent.name if chosen else None,
        "finding_kinds": FINDING_KINDS,
    }
    if chosen is not None:
        context["data"] = _read(state, chosen)
        context["html_path"] = str(chosen.with_name("scoping.html"))
    return page(request, "scoping_page.html.j2", context)


def routes() -> list[BaseRoute]:
    return [
        Route("/scoping", scoping_page, name="scoping"),
        Route("/scoping/{name}", scoping_page, name="scoping_report"),
    ]
