"""Outcomes are known, not guessed: a write whose answer was lost is settled by reading the
tenant (written, or sent again), a failed action fails the run, and a run that left
anything undone says so and is continued by the next one."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from crm_ferry import commands
from crm_ferry.commands._project import open_journal
from crm_ferry.commands.emulator import embedded_client
from crm_ferry.commands.migrate import run_load
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.dataverse.throttle import RetryPolicy
from crm_ferry.emulator import EmulatorApp
from crm_ferry.emulator.app import EmulatorConfig
from crm_ferry.emulator.faults import FaultSchedule
from crm_ferry.errors import Incomplete, Interrupted
from crm_ferry.load import engine
from crm_ferry.load.engine import LoadResult
from helpers.backend import JournalHomes
from helpers.load import Project, comparable

Rule = Callable[[httpx.Request], str | None]
"""What a :class:`_Faulty` transport does to a request: ``"drop"`` (never reaches the
service, no answer), ``"503"`` (answered Service Unavailable, not carried out) or None."""


class _Faulty(httpx.BaseTransport):
    """The emulator's transport with some requests dropped before they arrive, or refused."""

    def __init__(self, app: EmulatorApp, rule: Rule) -> None:
        self.inner = app.transport()
        self.rule = rule
        self.hits = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        what = self.rule(request) if "/api/data/" in str(request.url) else None
        if what is not None:
            self.hits += 1
        if what == "drop":
            raise httpx.ReadTimeout("no answer (dropped before it arrived)", request=request)
        if what == "503":
            body = {"error": {"code": "", "message": "Service Unavailable"}}
            return httpx.Response(503, json=body, request=request)
        return self.inner.handle_request(request)


def _no_retries(
    app: EmulatorApp, transport: httpx.BaseTransport | None = None, **options: Any
) -> DataverseClient:
    """A client that never resends on its own: every lost answer reaches the loader."""
    return embedded_client(app, transport=transport, retry=RetryPolicy(max_attempts=1), **options)


def _sequential(app: EmulatorApp) -> DataverseClient:
    """One request at a time, in small batches: the seeded faults hit the same requests on
    every run."""
    return _no_retries(app, max_concurrency=1, initial_concurrency=1, batch_size=25)


@pytest.fixture(scope="module")
def expected(
    template: Path, tmp_path_factory: pytest.TempPathFactory, journal_homes: JournalHomes
) -> dict[str, list[str]]:
    """The tenant as an uninterrupted migrate without faults leaves it (ids are the same in
    every copy of the template)."""
    root = tmp_path_factory.mktemp("reference") / "p"
    shutil.copytree(template, root)
    settings = journal_homes.place(root / "project")
    with EmulatorApp(data_dir=root / "data") as app, embedded_client(app) as client:
        run_load(settings, client=client, skip_sample_gate=True)
        return comparable(dict(app.dump()["records"]))


def _with_faults(make_project: Callable[[str], Project], name: str, faults: FaultSchedule) -> Any:
    """A project copy whose emulator applies ``faults`` (and the app, to close it)."""
    p = make_project(name)
    p.client.close()
    p.app.close()
    app = EmulatorApp(EmulatorConfig(faults=faults), data_dir=p.data_dir)
    return p, app


def _pending(project: Project, run_id: str) -> int:
    with open_journal(project.settings) as j:
        return j.state_counts(run_id).get("pending", 0)


def _assert_clean(result: LoadResult) -> None:
    assert result.state == "done", (result.failures[:3], result.tables)
    assert result.failures == []
    for obj, c in result.objects.items():
        assert c.balanced, (obj, c)
        assert c.failed == 0, (obj, c)
    assert result.incomplete() is None


def test_answers_lost_after_the_write_are_settled_by_reading_the_tenant(
    make_project: Callable[[str], Project], expected: dict[str, list[str]]
) -> None:
    """Bulk messages, $batch parts and WinOpportunity calls whose answer was lost after the
    service wrote them are all written: none is counted failed, none is left pending."""
    p, app = _with_faults(make_project, "lost", FaultSchedule(seed=3, probabilities={"lost": 0.4}))
    with app, _sequential(app) as client:
        result = run_load(p.settings, client=client, skip_sample_gate=True)
        assert app.faults.injected["lost"] > 5
        _assert_clean(result)
        assert _pending(p, result.run_id) == 0
        assert comparable(dict(app.dump()["records"])) == expected


def test_writes_that_never_arrived_are_read_then_sent_again(
    make_project: Callable[[str], Project], expected: dict[str, list[str]]
) -> None:
    """No answer and nothing written (the request never arrived): reading the tenant finds
    the rows missing and the loader sends them again, before the rows that point at them."""
    p = make_project("dropped")
    dropped = {"n": 0}

    def rule(request: httpx.Request) -> str | None:
        if request.method == "POST" and request.url.path.endswith("UpsertMultiple"):
            dropped["n"] += 1
            if dropped["n"] % 3 == 1:  # the 1st, 4th, 7th … bulk write never arrives
                return "drop"
        return None

    faulty = _Faulty(p.app, rule)
    with _no_retries(p.app, faulty) as client:
        result = run_load(p.settings, client=client, skip_sample_gate=True)
    assert faulty.hits > 5
    _assert_clean(result)
    assert comparable(p.dump()) == expected


def test_operations_left_unsettled_fail_the_run_and_the_next_migrate_settles_them(
    make_project: Callable[[str], Project], expected: dict[str, list[str]]
) -> None:
    """Writes of one table that never get an answer are left pending (not failed, not
    counted written): the run fails with what to do; the next migrate reads them, sends
    what is missing and ends with the tenant as an uninterrupted run leaves it."""
    p = make_project("unsettled")
    faulty = _Faulty(
        p.app,
        lambda r: (
            "drop"
            if r.method == "POST"
            and r.url.path.endswith("/annotations/Microsoft.Dynamics.CRM.UpsertMultiple")
            else None
        ),
    )
    with _no_retries(p.app, faulty) as client:
        first = run_load(p.settings, client=client, skip_sample_gate=True)
    assert faulty.hits > engine.LOST_ROUNDS
    assert first.state == "failed"
    notes = first.objects["session_notes"]
    assert notes.balanced, notes
    assert notes.failed > 0, notes
    assert notes.written == 0, notes
    unsettled = [f for f in first.failures if f["table"] == "annotation"]
    assert unsettled
    assert all(f["error"].startswith("not settled") for f in unsettled)
    with open_journal(p.settings) as j:
        assert j.run(first.run_id).state == "failed"
        left = j.lost_ops(first.run_id)
        assert left
        assert {o.table for o in left} == {"annotation"}
        assert j.state_counts(first.run_id).get("failed", 0) == 0  # unsettled, not failed
    problem = first.incomplete()
    assert isinstance(problem, Incomplete)
    assert problem.exit_code == 8
    assert "got no answer and are not settled" in problem.message
    assert f"runs/{first.run_id}/load.json" in problem.message
    assert "run `crm-ferry migrate` again" in (problem.hint or "")

    second = run_load(p.settings, client=p.client, skip_sample_gate=True)
    assert not second.resumed
    assert second.run_id != first.run_id
    _assert_clean(second)
    assert second.objects["session_notes"].written == notes.failed
    assert comparable(p.dump()) == expected


def _wins(request: httpx.Request) -> str | None:
    if request.method != "POST":
        return None
    if request.url.path.endswith("/WinOpportunity") or (
        request.url.path.endswith("$batch") and b"WinOpportunity" in request.read()
    ):
        return "503"
    return None


def test_a_failed_win_opportunity_fails_the_run(make_project: Callable[[str], Project]) -> None:
    """WinOpportunity answered 503: each opportunity not won is counted failed, in the
    balance of the aggregated opportunities, and the run is failed (exit 8)."""
    p = make_project("win")
    faulty = _Faulty(p.app, _wins)
    with _no_retries(p.app, faulty) as client:
        result = run_load(p.settings, client=client, skip_sample_gate=True)
    with open_journal(p.settings) as j:
        actions = [o for o in j.ops(result.run_id) if o.kind == "action"]
        assert j.run(result.run_id).state == "failed"
    assert len(actions) >= 5
    assert all(o.state == "failed" for o in actions)
    opps = result.objects["opportunities (aggregated)"]
    assert opps.balanced, opps
    assert opps.failed == len({o.row_id for o in actions})
    assert opps.written == opps.read - opps.failed
    assert result.state == "failed"
    assert sorted(f["id"] for f in result.failures if f["kind"] == "action") == sorted(
        o.row_id for o in actions
    )
    problem = result.incomplete()
    assert problem is not None
    assert problem.exit_code == 8
    assert f"{len(actions)} operation(s) failed" in problem.message
    won = [r for r in p.dump().get("opportunity", []) if r.get("statecode") == 1]
    assert won == []
    # fixed (the service answers again): the next migrate wins them, and only sends those
    again = run_load(p.settings, client=p.client, skip_sample_gate=True)
    _assert_clean(again)
    assert sum(again.tables.get("opportunity", {}).values()) == len(actions)
    assert len([r for r in p.dump()["opportunity"] if r.get("statecode") == 1]) == len(actions)


def test_a_migrate_after_rolling_back_an_interrupted_run_is_a_new_run(
    make_project: Callable[[str], Project], monkeypatch: pytest.MonkeyPatch
) -> None:
    p = make_project("rolled")
    calls = {"n": 0}
    write = engine.write_many

    def stop_on_the_fourth(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return write(*args, **kwargs)

    monkeypatch.setattr(engine, "write_many", stop_on_the_fourth)
    with pytest.raises(Interrupted) as stopped:
        run_load(p.settings, client=p.client, skip_sample_gate=True)
    monkeypatch.setattr(engine, "write_many", write)
    (interrupted,) = stopped.value.runs
    assert stopped.value.exit_code == 130
    with open_journal(p.settings) as j:
        assert j.run(interrupted).state == "interrupted"
    report = commands.rollback(p.settings, all_runs=True, client=p.client)
    assert report.incomplete() is None, json.dumps(report.as_dict())[:2000]
    result = run_load(p.settings, client=p.client, skip_sample_gate=True)
    assert not result.resumed
    assert result.run_id != interrupted
    _assert_clean(result)
