"""Progress a person can read: each table's writes are a task of their own (``load contact``)
that advances with every request; a resumed run first shows that it reads its pending
operations, request by request; ``verify`` shows a task per table. Recorded through the
progress API, and drawn by the CLI's rich reporter on a recording console."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from rich.console import Console
from rich.progress import Progress as RichProgress

from crm_ferry import commands
from crm_ferry.cli.render import RichProgressReporter
from crm_ferry.commands._project import open_journal
from crm_ferry.commands.migrate import run_load
from crm_ferry.load import engine
from helpers.load import Project, interrupted_run


@dataclass
class Recorder:
    """A :class:`crm_ferry.progress.Progress` that notes every call, in order."""

    events: list[tuple[str, str, int | None]] = field(default_factory=list)

    def start(self, task: str, total: int | None = None) -> None:
        self.events.append(("start", task, total))

    def advance(self, task: str, amount: int = 1) -> None:
        self.events.append(("advance", task, amount))

    def finish(self, task: str) -> None:
        self.events.append(("finish", task, None))

    def tasks(self, prefix: str = "") -> list[str]:
        return [t for e, t, _ in self.events if e == "start" and t.startswith(prefix)]

    def total(self, task: str) -> int | None:
        return next(n for e, t, n in self.events if e == "start" and t == task)

    def steps(self, task: str) -> list[int]:
        return [int(n or 0) for e, t, n in self.events if e == "advance" and t == task]


def _check_tasks(rec: Recorder, prefix: str, per_request: int) -> None:
    """Every task of ``prefix`` is started with its total, advanced in steps of at most
    ``per_request`` that add up to it, and finished."""
    tasks = rec.tasks(prefix)
    assert tasks
    for task in tasks:
        total = rec.total(task)
        steps = rec.steps(task)
        assert total is not None
        assert sum(steps) == total, (task, total, steps)
        assert max(steps) <= per_request, (task, max(steps))
        assert len(steps) >= math.ceil(total / per_request)
        assert ("finish", task, None) in rec.events


def test_the_load_shows_each_table_advancing_per_request(
    make_project: Callable[[str], Project],
) -> None:
    project = make_project("progress")
    rec = Recorder()
    result = run_load(project.settings, client=project.client, skip_sample_gate=True, progress=rec)
    assert result.ok
    assert "load" not in rec.tasks()  # the table is named
    loaded = {t.removeprefix("load ") for t in rec.tasks("load ")}
    written = {t for t, c in result.tables.items() if c.get("done")}
    assert loaded == written
    _check_tasks(rec, "load ", project.client.options.batch_size)
    assert engine.READING not in rec.tasks()  # nothing pending to read: a clean run


def test_a_resumed_run_shows_it_reads_pending_operations_first(
    make_project: Callable[[str], Project], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project("resumed")
    run_id = interrupted_run(project, monkeypatch, at=3)
    with open_journal(project.settings) as j:
        j.mark_sent(run_id, j.ops(run_id, state="pending"))  # all of them to be read
    rec = Recorder()
    result = run_load(project.settings, client=project.client, skip_sample_gate=True, progress=rec)
    assert result.resumed
    assert result.ok
    order = rec.tasks()
    assert engine.READING in order
    first_load = next(i for i, t in enumerate(order) if t.startswith("load "))
    assert order.index(engine.READING) < first_load  # the phase shows before any write
    _check_tasks(rec, engine.READING, engine.LOOKUP_PAGE)
    assert len(rec.steps(engine.READING)) > 1  # per request, not one jump
    _check_tasks(rec, "load ", project.client.options.batch_size)


def test_verify_shows_a_task_per_table(make_project: Callable[[str], Project]) -> None:
    project = make_project("verify")
    run_load(project.settings, client=project.client, skip_sample_gate=True)
    rec = Recorder()
    commands.verify(project.settings, client=project.client, full=True, progress=rec)
    tables = {t.removeprefix("verify ") for t in rec.tasks("verify ")}
    assert {"contact", "account", "annotation"} <= tables
    _check_tasks(rec, "verify ", 50)


def test_the_rich_reporter_draws_the_table_and_the_phase() -> None:
    console = Console(record=True, force_terminal=True, width=120)
    with RichProgress(console=console, transient=False, auto_refresh=False) as bars:
        reporter = RichProgressReporter(bars)
        reporter.start(engine.READING, total=1200)
        for _ in range(2):
            reporter.advance(engine.READING, engine.LOOKUP_PAGE)
        reporter.finish(engine.READING)
        reporter.start(engine.load_task("contact"), total=40)
        reporter.advance(engine.load_task("contact"), 25)
        bars.refresh()
    text = console.export_text()
    assert "reading pending operations" in text
    assert "load contact" in text
