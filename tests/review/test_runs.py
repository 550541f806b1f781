"""The runs and scoping pages over the served application: every run with its kind, state,
times and counts; a run's page with its per-object counts; the progress of a run a live
process writes, per table, read from the journal while it runs and saying stop once it
ends; the scoping report of ``discover`` as a page."""

from __future__ import annotations

import re
import uuid

from crm_ferry import commands
from crm_ferry.journal import Journal
from crm_ferry.model import RecordKey
from crm_ferry.transform.ops import Operation, target_id
from helpers.review import ReviewProject
from helpers.review_reports import verified, verified_template

__all__ = ["verified", "verified_template"]  # fixtures, used by name


def _op(table: str, i: int) -> Operation:
    return Operation(
        role=table,
        table=table,
        id=target_id(uuid.UUID(int=7), table, f"src_{i}"),
        payload={"name": f"N{i}"},
        source=RecordKey("clients", f"src_{i}"),
    )


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", "", html).split())


def test_every_run_and_one_run(verified: ReviewProject) -> None:
    found = commands.runs(verified.settings)
    sample, migrate = (r.run_id for r in found.runs)
    with verified.web() as web:
        listed = web.get("/runs").text
        one = web.get(f"/runs/{migrate}").text
        short = web.get(f"/runs/{migrate[:20]}")  # a unique start of the id, as typed
        progress = web.get(f"/runs/{migrate}/progress").text
        unknown = web.get("/runs/nope")
    rows = re.findall(r'<tr data-run="([^"]+)" data-state="([a-z_]+)">', listed)
    assert rows == [(migrate, "done"), (sample, "done")]  # the latest first
    assert f'href="/runs/{migrate}"' in listed
    assert "Running now" not in listed
    written = found.outcomes(found.runs[1])
    assert written is not None
    assert f">{written['written']:,}<" in listed
    counts = found.runs[1].counts["objects"]["clients"]
    clients = re.search(r'<tr data-object="clients">.*?</tr>', one, re.S)
    assert clients
    assert f'data-measure="written">{counts["written"]}<' in clients.group(0)
    assert short.status_code == 200
    assert f"Run <code>{migrate}</code>" in short.text
    assert progress.startswith('<div class="progress"')
    assert 'data-stop="1"' in progress
    assert unknown.status_code == 400
    assert "nope" in unknown.text


def test_a_running_run_shows_its_progress_until_it_ends(review: ReviewProject) -> None:
    with Journal.for_project(review.settings.project_dir) as j:
        run = j.start_run("migrate", note="a test's run")
        j.add_ops(run, [(_op("contact", i), 1) for i in range(6)], 0)
        j.add_ops(run, [(_op("account", i), 2) for i in range(4)], 6)
        j.mark_done(run, [op for op in j.ops(run) if op.table == "contact"][:4])
    with review.web() as web:
        listed = web.get("/runs").text
        fragment = web.get(f"/runs/{run}/progress").text
        one = web.get(f"/runs/{run}").text
        assert "Running now" in listed
        assert f'data-poll="/runs/{run}/progress" data-every="1000"' in listed
        assert f'data-poll="/runs/{run}/progress"' in one
        assert 'data-stop="1"' not in fragment
        contact = re.search(r'<tr data-table="contact">.*?</tr>', fragment, re.S)
        account = re.search(r'<tr data-table="account">.*?</tr>', fragment, re.S)
        assert contact
        assert account
        assert 'data-measure="done">4<' in contact.group(0)
        assert 'data-measure="pending">2<' in contact.group(0)
        assert 'data-measure="pending">4<' in account.group(0)
        assert '<progress max="6" value="4">' in contact.group(0)
        assert "4 of 10 operations done, 6 pending" in _text(fragment)
        with Journal.for_project(review.settings.project_dir) as j:
            j.mark_failed(run, [(op, "refused") for op in j.ops(run) if op.state == "pending"])
            j.finish_run(run, "failed", {})
        ended = web.get(f"/runs/{run}/progress").text
        after = web.get("/runs").text
    assert 'data-stop="1"' in ended
    assert 'data-state="failed"' in ended
    assert "6 failed" in _text(ended)
    assert "Running now" not in after


def test_the_scoping_page(verified: ReviewProject) -> None:
    with verified.web() as web:
        before = web.get("/scoping").text
        first = commands.scope(verified.settings, client=verified.client, latency_ms=5.0)
        second = commands.scope(verified.settings, client=verified.client, latency_ms=50.0)
        latest = web.get("/scoping").text
        assert first.html_path is not None
        assert second.html_path is not None
        earlier = web.get(f"/scoping/{first.html_path.parent.name}").text
        unknown = web.get("/scoping/scoping-nope")
    assert 'id="none"' in before
    letter = second.grade.letter
    assert f"Scoping report: grade {letter} ({second.grade.label})" in latest
    for section in ("grade-heading", "estimate-heading", "tenant-heading", "source-heading"):
        assert f'id="{section}"' in latest
    assert 'id="grade-reasons"' in latest
    assert 'id="coaches"' in latest
    assert f'href="/scoping/{first.html_path.parent.name}"' in latest
    assert "5.0 ms" in earlier
    assert "50.0 ms" in latest
    assert unknown.status_code == 400
    assert "scoping-nope" in unknown.text
