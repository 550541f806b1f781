from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from crm_ferry.model import Reject
from crm_ferry.reconcile.classify import (
    SOURCE_DEFECT,
    Acceptance,
    CheckRow,
    apply_acceptances,
    reject_checks,
)
from crm_ferry.reconcile.diff import DiffRow
from crm_ferry.reconcile.reconciliation import Environment, MapSummary, Reconciliation, RunSummary
from crm_ferry.reconcile.verify import ObjectTally, Proof


@pytest.fixture
def sample_rows() -> list[DiffRow]:
    return [
        DiffRow("contact", "id-1", "clients/c1", "firstname", "Zoë", "Zoë", "Zoë", "match"),
        DiffRow(
            "contact",
            "id-1",
            "clients/c1",
            "birthdate",
            "1980-02-29",
            "1980-02-29",
            "1980-03-01T00:00:00Z",
            "mismatch",
        ),
        DiffRow("contact", "id-2", "clients/c2", "*", None, "12 fields", None, "missing"),
        DiffRow(
            "new_session", "id-3", "sessions/s1", "new_price", "120.50", "120.5", 120.5, "match"
        ),
        DiffRow(
            "new_session",
            "id-3",
            "sessions/s1",
            "new_location",
            None,
            None,
            "<script>alert(1)</script>",
            "extra",
        ),
    ]


@pytest.fixture
def sample_checks() -> list[CheckRow]:
    return [
        CheckRow("lookup points to the right parent", "contact", "clients/c1", True, "ok"),
        CheckRow(
            "invoice total = sum of lines",
            "invoice",
            "invoices/i1",
            False,
            "120.00 != 100.00 + 10.00",
            column="totalamount",
            classification=SOURCE_DEFECT,
        ),
    ]


@pytest.fixture
def sample_recon(sample_rows: list[DiffRow], sample_checks: list[CheckRow]) -> Reconciliation:
    """A verification with a difference of every class, one accepted, and a choice column."""
    rows = [
        *sample_rows,
        DiffRow("contact", "id-1", "clients/c1", "gendercode", "female", 2, 1, "mismatch"),
    ]
    rejects = [
        Reject(
            "clients", "clients.csv", 3, "id", "c1", "duplicate id (first seen on line 2)", "c1"
        ),
        Reject(
            "files",
            "files.csv",
            4,
            "url",
            "https://drive.example.com/f",
            "a linked file (a URL, not in the bundle): listed, not migrated",
            "f1",
        ),
    ]
    proof = Proof(
        rows=rows,
        checks=[*sample_checks, *reject_checks(rejects, rejects[:1])],
        counts={"contact": {"written": 2, "found": 1}, "new_session": {"written": 1, "found": 1}},
        sums={
            "invoices": {
                "source total": Decimal("1234.50"),
                "Dataverse total": Decimal("1244.50"),
                "invoices whose lines agree with their total": 1,
            },
            "payments": {"source": Decimal("1000.00"), "Dataverse": Decimal("1000.00")},
            "lookups": {"checked": 7, "orphans": 0},
        },
        choices={"contact": {"gendercode": {1: "Male", 2: "Female"}}},
    )
    found = proof.difference_list()
    invoice = next(d for d in found if d.table == "invoice")
    agreed = {
        invoice.id: Acceptance("Ada Lovelace", "2026-11-20T09:00:00Z", "agreed <b>in</b> May")
    }
    return Reconciliation(
        kind="verify",
        recon_id="verify-20261120T090000",
        title="Verification of the migration",
        environment=Environment("https://contoso.crm.dynamics.com", "Contoso <Coaching>"),
        source="bundle/",
        map=MapSummary(
            "mapping.yaml", "ab" * 32, "confirmed", "Grace Hopper", "2026-11-01T08:00:00Z"
        ),
        runs=[
            RunSummary(
                "20261119T080000-migrate-abc123",
                "migrate",
                "done",
                "2026-11-19T08:00:00Z",
                "2026-11-19T08:30:00Z",
            )
        ],
        objects={
            "clients": ObjectTally(3, 2, 1, 0, {"duplicate id (first seen on line …)": 1}),
            "files": ObjectTally(1, 0, 1, 0, {"a linked file (a URL, not in the bundle)": 1}),
        },
        proof=proof,
        differences=apply_acceptances(found, agreed),
        facts={"rows written": 3, "rows compared field by field": 3},
    )


@pytest.fixture
def artifacts_dir() -> Path:
    """Kept after the run for a person to look at (``test-artifacts/`` is ignored by git)."""
    path = Path(__file__).resolve().parents[2] / "test-artifacts" / "reconcile"
    path.mkdir(parents=True, exist_ok=True)
    return path
