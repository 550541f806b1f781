"""A resumed migrate settles its pending writes cheaply: a pending write the journal says was
never sent is not looked up in the tenant (its row cannot be there because of it), and the
writes that may have reached the service are looked up in pages as large as the URL allows,
not 50 ids a request."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from crm_ferry.commands._project import open_journal
from crm_ferry.commands.emulator import embedded_client
from crm_ferry.commands.migrate import run_load
from crm_ferry.journal import JournalOp
from crm_ferry.load import engine
from helpers.load import Project, interrupted_run

IN_FILTER = re.compile(r"Microsoft\.Dynamics\.CRM\.In\(PropertyName='[^']*',PropertyValues=\[")
GUID = re.compile(r"'([0-9a-fA-F-]{36})'")


class Lookups:
    """A transport to the emulator that notes every read by ids (``…CRM.In(…)``): per
    request, the table and the ids it asked for."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.requests: list[tuple[str, list[str]]] = []
        self.lengths: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = unquote(str(request.url))
        if request.method == "GET" and IN_FILTER.search(url):
            table = request.url.path.rsplit("/", 1)[-1]
            self.requests.append((table, [g.lower() for g in GUID.findall(url)]))
            self.lengths.append(len(str(request.url)))
        return self.inner.handle_request(request)


def _creates(ops: list[JournalOp]) -> list[JournalOp]:
    """Pending writes with columns the service takes only on create, of rows no earlier run
    wrote: a resumed run must know whether their row is there before it sends them."""
    return [o for o in ops if o.create_only and not o.existed and o.kind == "upsert"]


def _per_table(lookups: Lookups, ops: list[JournalOp]) -> Counter[str]:
    """Per table of ``ops``, the lookups that asked for rows of those operations."""
    table_of = {o.row_id.lower(): o.table for o in ops}
    out: Counter[str] = Counter()
    for _, ids in lookups.requests:
        tables = {table_of[i] for i in ids if i in table_of}
        assert len(tables) <= 1, tables
        out.update(tables)
    return out


def _resume(project: Project) -> tuple[Lookups, Any]:
    lookups = Lookups(project.app.transport())
    with embedded_client(project.app, transport=httpx.MockTransport(lookups)) as client:
        result = run_load(project.settings, client=client, skip_sample_gate=True)
    return lookups, result


def test_pending_writes_never_sent_are_settled_from_the_journal(
    make_project: Callable[[str], Project], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project("never-sent")
    run_id = interrupted_run(project, monkeypatch, at=3)
    with open_journal(project.settings) as j:
        pending = _creates(j.ops(run_id, state="pending"))
    assert len(pending) > 100, "the interrupted run left too few writes pending to tell"
    lookups, result = _resume(project)
    assert result.resumed
    assert result.ok, result.failures[:3]
    looked_up = {i for _, ids in lookups.requests for i in ids}
    never_sent = {o.row_id.lower() for o in pending if not o.sent}
    assert never_sent, "every pending write was marked sent"
    assert not looked_up & never_sent, "writes never sent were looked up in the tenant"
    # what was handed to the service before Ctrl-C is looked up, in as few requests as fit
    maybe = Counter(o.table for o in pending if o.sent)
    asked = _per_table(lookups, pending)
    assert asked
    for table, n in asked.items():
        assert n <= math.ceil(maybe[table] / engine.LOOKUP_PAGE), (table, n, maybe[table])


def test_pending_writes_that_may_have_been_sent_are_looked_up_in_large_pages(
    make_project: Callable[[str], Project], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project("maybe-sent")
    run_id = interrupted_run(project, monkeypatch, at=3)
    with open_journal(project.settings) as j:
        # as an older journal's pending writes are read: sent, for all it knows
        j.mark_sent(run_id, j.ops(run_id, state="pending"))
        pending = _creates(j.ops(run_id, state="pending"))
    per_table = Counter(o.table for o in pending)
    assert max(per_table.values()) > 50, per_table
    lookups, result = _resume(project)
    assert result.resumed
    assert result.ok, result.failures[:3]
    asked = _per_table(lookups, pending)
    # O(N / page) requests, the page as large as a URL holds (hundreds of ids, not 50)
    assert engine.LOOKUP_PAGE >= 500
    assert sum(asked.values()) <= sum(math.ceil(n / engine.LOOKUP_PAGE) for n in per_table.values())
    for table, n in per_table.items():
        assert asked[table] == math.ceil(n / engine.LOOKUP_PAGE), (table, n, asked[table])
    assert max(lookups.lengths) <= engine.URL_LIMIT  # Dataverse's cap on a GET URL
