"""The journal's reconciliations and accepted differences: what a verification found (ids
and places, no values), who accepted which difference, when and why, per scope."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from crm_ferry.journal import Journal, JournalError, RecordedDifference
from crm_ferry.reconcile.acceptance import accept, unaccepted


def _found(*ids: str) -> list[RecordedDifference]:
    return [
        RecordedDifference(i, "source defect", "invoice", f"row-{i}", "totalamount", "check")
        for i in ids
    ]


def test_the_latest_reconciliation_of_each_kind(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        assert j.latest_reconciliation("verify") is None
        j.record_reconciliation("verify-1", "verify", "r1.html", _found("aaaa", "bbbb"))
        j.record_reconciliation("run-s", "sample", "s.html", _found("cccc"))
        j.record_reconciliation("verify-2", "verify", "r2.html", _found("bbbb"))
        latest = j.latest_reconciliation("verify")
        assert latest is not None
        assert (latest.recon_id, latest.report) == ("verify-2", "r2.html")
        assert latest.differences == tuple(_found("bbbb"))
        sample = j.reconciliation("run-s")
        assert sample is not None
        assert sample.kind == "sample"
        assert [d.diff_id for d in sample.differences] == ["cccc"]
    # ids and places only: no values of the client's records
    with closing(sqlite3.connect(tmp_path / "j.sqlite")) as db:
        (text,) = db.execute(
            "SELECT differences FROM reconciliations WHERE recon_id = 'verify-1'"
        ).fetchone()
    assert set(json.loads(text)[0]) == {"id", "classification", "table", "record", "column", "what"}


def test_an_acceptance_is_kept_once_per_scope(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        j.record_reconciliation("verify-1", "verify", None, _found("aaaa", "bbbb"))
        recon = j.latest_reconciliation("verify")
        assert recon is not None
        first = accept(j, "verify", recon, by="Ada", reason="known", ids=["AAAA"])
        assert [a.difference.diff_id for a in first.accepted] == ["aaaa"]
        assert [d.diff_id for d in first.remaining] == ["bbbb"]
        # accepting it again keeps the first acceptance, and says so
        again = accept(j, "verify", recon, by="Grace", reason="later", ids=["aaaa", "bbbb"])
        assert [a.accepted_by for a in again.already] == ["Ada"]
        assert [a.difference.diff_id for a in again.accepted] == ["bbbb"]
        assert again.remaining == []
        kept = j.accepted_differences("verify")
        assert (kept["aaaa"].accepted_by, kept["aaaa"].reason) == ("Ada", "known")
        assert kept["aaaa"].recon_id == "verify-1"
        assert kept["aaaa"].accepted_at.endswith("Z")
        # another scope knows nothing of them
        assert j.accepted_differences("sample") == {}
        j.record_reconciliation("run-s", "sample", None, _found("aaaa"))
        sample = j.reconciliation("run-s")
        assert sample is not None
        assert [d.diff_id for d in unaccepted(j, "sample", sample)] == ["aaaa"]
        with pytest.raises(JournalError) as unknown:
            accept(j, "verify", recon, by="Ada", reason="x", ids=["aaaa", "nope"])
        assert "'nope'" in unknown.value.message
        assert unknown.value.hint is not None
        assert "crm-ferry verify" in unknown.value.hint
