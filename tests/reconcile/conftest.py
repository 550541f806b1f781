from __future__ import annotations

from pathlib import Path

import pytest

from crm_ferry.reconcile.diff import DiffRow
from crm_ferry.reconcile.report import CheckRow


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
        ),
    ]


@pytest.fixture
def artifacts_dir() -> Path:
    """Kept after the run for a person to look at (``test-artifacts/`` is ignored by git)."""
    path = Path(__file__).resolve().parents[2] / "test-artifacts" / "reconcile"
    path.mkdir(parents=True, exist_ok=True)
    return path
