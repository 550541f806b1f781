"""The runs pages: every run, one run, and the progress of a run while it runs.

``/runs`` lists every run of the journal (:func:`crm_ferry.commands.runs`: kind, state as
it is, times, records written, unchanged, rejected and failed); a run that a live process
is writing shows its progress per table, refreshed every second (``review.js``
``data-poll``) until it ends. ``/runs/<id>`` is one run: what it was, its counts per source
object and per table, and (while it runs) the same live progress. The progress is read
from the journal's operations: per table done, pending and failed, and the rate of the
operations done (per second, between the first and the last one done, or now while some
are pending).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from crm_ferry import commands
from crm_ferry.commands.rollback import OUTCOMES, RunsResult
from crm_ferry.journal import Journal, RunInfo
from crm_ferry.review.web import environment, page, state_of

__all__ = ["POLL_MS", "TableProgress", "progress_of", "routes"]

POLL_MS: Final = 1000
"""How often a running run's progress is read again."""


@dataclass(frozen=True)
class TableProgress:
    """One table's operations in a run, and how fast they are done."""

    table: str
    done: int
    pending: int
    failed: int
    rate: float | None
    """Operations done per second (None until two seconds apart are known)."""
    first_done: str | None = None
    last_done: str | None = None

    @property
    def total(self) -> int:
        return self.done + self.pending + self.failed

    @property
    def percent(self) -> int:
        return round(100 * (self.done + self.failed) / self.total) if self.total else 100


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _rate(done: int, first: str | None, last: str | None, ongoing: bool) -> float | None:
    start, end = _time(first), (datetime.now(UTC) if ongoing else _time(last))
    if start is None or end is None or done == 0:
        return None
    seconds = (end - start).total_seconds()
    return done / seconds if seconds >= 1 else None


def progress_of(journal: Journal, run: RunInfo, *, live: bool) -> list[TableProgress]:
    """Per table of ``run``: operations done, pending and failed, and the rate (``live``:
    the run is still writing, so a table with pending operations is measured up to now)."""
    out = []
    for table, per in sorted(journal.table_progress(run.run_id).items()):
        done, pending = int(per.get("done", 0)), int(per.get("pending", 0))
        out.append(
            TableProgress(
                table,
                done,
                pending,
                int(per.get("failed", 0)),
                _rate(done, per["first_done"], per["last_done"], live and pending > 0),
                per["first_done"],
                per["last_done"],
            )
        )
    return out


def _overall(tables: list[TableProgress], live: bool) -> dict[str, Any]:
    """The run's tables together; the rate from the first operation done to the last (or
    to now, while it runs)."""
    done = sum(t.done for t in tables)
    firsts = [t.first_done for t in tables if t.first_done]
    lasts = [t.last_done for t in tables if t.last_done]
    return {
        "done": done,
        "pending": sum(t.pending for t in tables),
        "failed": sum(t.failed for t in tables),
        "total": sum(t.total for t in tables),
        "rate": _rate(done, min(firsts, default=None), max(lasts, default=None), live),
    }


def _run_row(found: RunsResult, run: RunInfo) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "kind": run.kind,
        "state": found.state(run),
        "live": run.run_id in found.live,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "note": run.note,
        "outcomes": found.outcomes(run),
        "rolled_back_by": run.rolled_back_by,
        "purged_at": run.purged_at,
    }


def _progress_context(request: Request, run_id: str) -> dict[str, Any]:
    state = state_of(request)
    found = commands.runs(state.settings)
    with state.journal() as j:
        run = j.resolve_run(run_id)
        live = run.run_id in found.live
        tables = progress_of(j, run, live=live)
    return {
        "run": _run_row(found, run),
        "info": run,
        "tables": tables,
        "overall": _overall(tables, live),
        "live": live,
        "poll_url": request.url_for("run_progress", run_id=run.run_id).path,
        "poll_ms": POLL_MS,
    }


def runs_page(request: Request) -> Response:
    state = state_of(request)
    found = commands.runs(state.settings)
    rows = [_run_row(found, r) for r in reversed(found.runs)]
    running = [_progress_context(request, r["run_id"]) for r in rows if r["live"]]
    return page(
        request, "runs.html.j2", {"runs": rows, "running": running, "outcome_names": OUTCOMES}
    )


def run_page(request: Request) -> Response:
    context = _progress_context(request, request.path_params["run_id"])
    counts = context["info"].counts
    objects = counts.get("objects") if isinstance(counts.get("objects"), dict) else {}
    return page(
        request,
        "runs_one.html.j2",
        {
            **context,
            "objects": objects,
            "changes": counts.get("changes") or {},
            "left_out": counts.get("left_out") or [],
            "requests": counts.get("requests"),
        },
    )


def run_progress(request: Request) -> Response:
    """The progress fragment ``data-poll`` fetches (its first element says stop once the
    run no longer runs)."""
    context = _progress_context(request, request.path_params["run_id"])
    html = environment().get_template("runs_progress.html.j2").render(request=request, **context)
    return HTMLResponse(html)


def routes() -> list[BaseRoute]:
    return [
        Route("/runs", runs_page, name="runs"),
        Route("/runs/{run_id}", run_page, name="run"),
        Route("/runs/{run_id}/progress", run_progress, name="run_progress"),
    ]
