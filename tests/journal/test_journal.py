"""The journal: intent before outcome, id map, rejects, watermarks, owner-only files, purge."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path

import pytest

from crm_ferry.journal import Journal, JournalError
from crm_ferry.model import RecordKey, Reject
from crm_ferry.transform.ops import Operation, target_id


def _op(i: int, payload: dict[str, object] | None = None) -> Operation:
    ns = uuid.UUID(int=1)
    return Operation(
        role="contact",
        table="contact",
        id=target_id(ns, "contact", f"cli_{i}"),
        payload=payload or {"lastname": f"L{i}"},
        source=RecordKey("clients", f"cli_{i}"),
    )


def test_files_are_owner_only(tmp_path: Path) -> None:
    with Journal(tmp_path / "proj" / "journal.sqlite") as j:
        j.start_run("migrate")
    assert stat.S_IMODE((tmp_path / "proj").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "proj" / "journal.sqlite").stat().st_mode) == 0o600


def test_namespace_is_stable(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        ns = j.namespace
    with Journal(tmp_path / "j.sqlite") as j:
        assert j.namespace == ns


def test_pending_then_done_updates_the_id_map(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        run = j.start_run("migrate")
        seq = j.add_ops(run, [(_op(i), 1) for i in range(3)], 0)
        assert seq == 3
        # a resumed plan journals the same operations again: nothing is duplicated
        j.add_ops(run, [(_op(i), 1) for i in range(3)], seq)
        pending = list(j.pending(run))
        assert len(pending) == 3
        j.mark_done(run, pending[:2])
        j.mark_failed(run, [(pending[2], "bad value")])
        assert j.state_counts(run) == {"done": 2, "failed": 1}
        known = j.known_hash(_op(0).op_key)
        assert known is not None
        assert known[0] == _op(0).hash
        assert j.known_hash(_op(2).op_key) is None
        # a second run that changes a row keeps what the first wrote as its before-image
        run2 = j.start_run("delta")
        j.add_ops(run2, [(_op(0, {"lastname": "Changed"}), 1)], 0)
        (changed,) = list(j.pending(run2))
        assert changed.existed
        assert changed.prev_payload == {"lastname": "L0"}


def test_pending_order_is_phase_then_rank(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        run = j.start_run("migrate")
        j.add_ops(run, [(_op(1), 5), (_op(2), 1)], 0)
        assert [o.source_id for o in j.pending(run)] == ["cli_2", "cli_1"]


def test_purge_keeps_the_audit_trail(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        run = j.start_run("migrate")
        j.add_ops(run, [(_op(1), 1)], 0)
        j.mark_done(run, list(j.pending(run)))
        j.add_rejects(run, [Reject("clients", "clients.csv", 3, "email", "x@", "not an email")])
        j.purge(run)
        (op,) = j.ops(run)
        assert op.payload is None
        assert op.row_id
        assert op.state == "done"
        assert j.rejects(run)[0].value is None
        assert j.rejects(run)[0].reason == "not an email"
        assert j.run(run).purged_at


def test_unknown_run_is_a_clear_error(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j, pytest.raises(JournalError) as err:
        j.run("nope")
    assert "no run 'nope'" in str(err.value)
    assert "crm-ferry runs" in (err.value.hint or "")


def test_watermarks_only_move_forward(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        j.set_watermarks("r1", {"clients": "2024-05-01T00:00:00+00:00"})
        j.set_watermarks("r2", {"clients": "2024-01-01T00:00:00+00:00"})
        assert j.watermark("clients") == "2024-05-01T00:00:00+00:00"
