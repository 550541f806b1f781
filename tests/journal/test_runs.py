"""Runs in the journal: who writes them (pid and host), live or interrupted, run ids typed as
prefixes, what is continued, and operations whose answer was lost."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from crm_ferry.journal import JOURNAL_FILE, Journal, JournalError
from crm_ferry.journal._process import this_host
from crm_ferry.model import RecordKey
from crm_ferry.transform.ops import Operation

OLD_RUNS = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, kind TEXT NOT NULL, state TEXT NOT NULL, started_at TEXT NOT NULL,
    finished_at TEXT, source TEXT, map_fingerprint TEXT, note TEXT, counts TEXT,
    rolled_back_by TEXT, purged_at TEXT
);
CREATE TABLE ops (
    run_id TEXT NOT NULL, seq INTEGER NOT NULL, op_key TEXT NOT NULL, role TEXT NOT NULL,
    tbl TEXT NOT NULL, row_id TEXT NOT NULL, kind TEXT NOT NULL, phase INTEGER NOT NULL,
    rank INTEGER NOT NULL, source_object TEXT NOT NULL, source_id TEXT NOT NULL,
    hash TEXT NOT NULL, payload TEXT, create_only TEXT, action TEXT,
    existed INTEGER NOT NULL DEFAULT 0, prev_hash TEXT, prev_payload TEXT,
    state TEXT NOT NULL DEFAULT 'pending', error TEXT, done_at TEXT,
    PRIMARY KEY (run_id, op_key)
);
CREATE TABLE schema_runs (
    run_id TEXT PRIMARY KEY, kind TEXT NOT NULL, environment TEXT NOT NULL, solution TEXT,
    started_at TEXT NOT NULL, finished_at TEXT, state TEXT NOT NULL, error TEXT
);
"""
"""The tables as a journal written before runs recorded their process had them."""


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / JOURNAL_FILE) as j:
        yield j


def _start_elsewhere(path: Path, *, stay: bool = False) -> subprocess.Popen[bytes]:
    """Another process starts a migrate run in the journal at ``path`` (and, with ``stay``,
    stays alive until its stdin closes)."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from crm_ferry.journal import Journal\n"
        f"with Journal(Path({str(path)!r})) as j:\n"
        "    print(j.start_run('migrate'), flush=True)\n" + ("sys.stdin.read()\n" if stay else "")
    )
    return subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )


def _op(n: int) -> Operation:
    return Operation(
        role="contact",
        table="contact",
        id=str(uuid.UUID(int=n)),
        source=RecordKey("clients", f"c{n}"),
        payload={"lastname": f"L{n}"},
    )


def test_an_older_journal_gets_the_new_columns_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_FILE
    with closing(sqlite3.connect(path)) as db, db:
        db.executescript(OLD_RUNS)
        db.execute(
            "INSERT INTO meta VALUES ('version', '1'), ('namespace', ?)", (str(uuid.uuid4()),)
        )
        db.execute(
            "INSERT INTO runs (run_id, kind, state, started_at) VALUES "
            "('20250101T000000-migrate-aaaaaa', 'migrate', 'done', '2025-01-01T00:00:00Z')"
        )
    with Journal(path) as j:
        (old,) = j.runs()
        assert (old.state, old.pid, old.host) == ("done", None, None)
        assert not j.is_live(old)
        new = j.run(j.start_run("migrate"))
        assert (new.pid, new.host) == (os.getpid(), this_host())
        j.add_ops(new.run_id, [(_op(1), 0)], 0)
        (pending,) = j.pending(new.run_id)
        j.mark_lost(new.run_id, [(pending, "no answer")])
        assert [o.lost for o in j.lost_ops(new.run_id)] == [True]
        assert j.schema.start_run("provision", environment="e", solution=None)
    with Journal(path) as again:  # opening it again changes nothing
        assert len(again.runs()) == 2


def test_a_run_whose_process_is_gone_is_interrupted_and_taken_over(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_FILE
    Journal(path).close()
    gone = _start_elsewhere(path)
    run_id = gone.communicate(timeout=60)[0].decode().strip()
    with Journal(path) as j:
        run = j.run(run_id)
        assert run.state == "running"
        assert run.pid == gone.pid
        assert not j.is_live(run)  # its process ended without finishing it
        assert j.unfinished(["migrate"]) == run
        taken = j.take_over(run)
        assert (taken.state, taken.pid) == ("running", os.getpid())
        assert j.is_live(taken)


def test_a_run_another_live_process_writes_is_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_FILE
    Journal(path).close()
    alive = _start_elsewhere(path, stay=True)
    try:
        assert alive.stdout is not None
        run_id = alive.stdout.readline().decode().strip()
        with Journal(path) as j:
            run = j.run(run_id)
            assert j.is_live(run)
            with pytest.raises(JournalError) as err:
                j.take_over(run)
            assert f"process {alive.pid}" in err.value.message
            assert "Ctrl-C" in (err.value.hint or "")
    finally:
        alive.communicate(b"", timeout=60)


def test_interrupted_runs_are_continued_and_marked_by_their_process(journal: Journal) -> None:
    first = journal.start_run("migrate")
    schema = journal.schema.start_run("provision", environment="e", solution=None)
    assert journal.interrupt_own_runs() == [first, schema]
    assert journal.run(first).state == "interrupted"
    assert not journal.interrupt_run(first)  # no longer running
    assert journal.unfinished(["migrate"]) == journal.run(first)
    assert journal.unfinished(["delta"]) is None
    assert journal.take_over(journal.run(first)).state == "running"
    journal.finish_run(first, "done", {})
    assert journal.interrupt_own_runs() == []


def test_a_run_a_rollback_has_begun_to_undo_is_not_continued(journal: Journal) -> None:
    """After a rollback of an interrupted run (finished or not), the next migrate is a new
    run: continuing the old one would leave the rows the rollback took away missing."""
    crashed = journal.start_run("migrate")
    journal.interrupt_run(crashed)
    undo = journal.start_run("rollback", note=f"rollback of {crashed}", source=crashed)
    assert journal.unfinished(["migrate"]) is None  # the rollback is under way
    journal.finish_run(undo, "done", {})
    journal.mark_rolled_back(crashed, state="rolled_back", by=undo)
    assert journal.unfinished(["migrate"]) is None


def test_a_run_id_prefix_is_resolved_or_refused_with_the_candidates(journal: Journal) -> None:
    a = journal.start_run("migrate", run_id="20250101T000000-migrate-aaaaaa")
    b = journal.start_run("migrate", run_id="20250101T000000-migrate-abbbbb")
    c = journal.start_run("delta", run_id="20250102T000000-delta-cccccc")
    assert journal.resolve_run(a).run_id == a
    assert journal.resolve_run("20250102").run_id == c
    assert journal.resolve_run("20250101T000000-migrate-ab").run_id == b
    with pytest.raises(JournalError) as ambiguous:
        journal.resolve_run("20250101T000000-migrate-a")
    assert a in ambiguous.value.message
    assert b in ambiguous.value.message
    assert "list runs with `crm-ferry runs`" in (ambiguous.value.hint or "")
    with pytest.raises(JournalError) as unknown:
        journal.resolve_run("2024")
    assert "no run '2024'" in unknown.value.message
    assert c in unknown.value.message  # the latest runs, to pick from
    assert "list runs with `crm-ferry runs`" in (unknown.value.hint or "")


def test_an_answer_lost_leaves_the_operation_pending_until_it_is_settled(
    journal: Journal,
) -> None:
    run = journal.start_run("migrate")
    journal.add_ops(run, [(_op(1), 0), (_op(2), 0)], 0)
    one, two = journal.pending(run)
    journal.mark_lost(run, [(one, "no answer within 120 s"), (two, "connection lost")])
    assert journal.state_counts(run) == {"pending": 2}
    assert [(o.op_key, o.error) for o in journal.lost_ops(run)] == [
        (one.op_key, "no answer within 120 s"),
        (two.op_key, "connection lost"),
    ]
    journal.mark_done(run, [one])
    assert [o.op_key for o in journal.lost_ops(run)] == [two.op_key]
    journal.finish_run(run, "failed", {})
    # the next run journals the same write again: it is read before it is sent
    later = journal.start_run("migrate")
    journal.add_ops(later, [(_op(2), 0), (_op(3), 0)], 0)
    assert [o.lost for o in journal.pending(later)] == [False, False]
    assert journal.carry_lost(later) == 1
    assert [(o.op_key, o.lost) for o in journal.pending(later)] == [
        (two.op_key, True),
        (_op(3).op_key, False),
    ]
