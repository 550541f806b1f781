"""Bundles as they look at cutover: a copy of a generated bundle with edits a practice makes
between the first load and the delta (clients changed and added, invoices paid, sessions
completed), each edit chosen by the caller so that property tests can draw sequences."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

STAMP = "2026-11-20T09:00:00"

Rows = list[dict[str, str]]


def _read(path: Path) -> tuple[list[str], Rows]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def _write(path: Path, head: list[str], rows: Rows) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, head, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)


def change_clients(bundle: Path, n: int) -> list[str]:
    head, rows = _read(bundle / "clients.csv")
    out = []
    for row in [r for r in rows if r["id"]][:n]:
        row["phone"] = "(555) 010-" + row["id"][-4:]
        row["updated_at"] = STAMP
        out.append(row["id"])
    _write(bundle / "clients.csv", head, rows)
    return out


def add_clients(bundle: Path, n: int) -> list[str]:
    head, rows = _read(bundle / "clients.csv")
    out = []
    for i in range(n):
        clone = dict(rows[i % len(rows)])
        clone.update(
            id=f"cli_8{i:05d}",
            email=f"cutover.client{i}@example.com",
            created_at=STAMP,
            updated_at=STAMP,
        )
        rows.append(clone)
        out.append(clone["id"])
    _write(bundle / "clients.csv", head, rows)
    return out


def pay_invoices(bundle: Path, n: int) -> list[str]:
    """Open invoices (sent, viewed, overdue) paid in full, with their payment."""
    head, rows = _read(bundle / "invoices.csv")
    phead, payments = _read(bundle / "payments.csv")
    out = []
    for row in [r for r in rows if r["status"] in ("sent", "viewed", "overdue")][:n]:
        row.update(status="paid", amount_paid=row["total_amount"], paid_at=STAMP, updated_at=STAMP)
        payments.append(
            {
                **dict.fromkeys(phead, ""),
                "id": f"pay_9{len(out):06d}",
                "invoice_id": row["id"],
                "amount": row["total_amount"],
                "paid_at": STAMP,
                "method": "card",
                "reference": f"CUTOVER-{len(out)}",
            }
        )
        out.append(row["id"])
    _write(bundle / "invoices.csv", head, rows)
    _write(bundle / "payments.csv", phead, payments)
    return out


def complete_sessions(bundle: Path, n: int) -> list[str]:
    """Scheduled sessions held and paid."""
    head, rows = _read(bundle / "sessions.csv")
    out = []
    for row in [r for r in rows if r["status"] == "scheduled"][:n]:
        row.update(status="completed", billing_status="paid", updated_at=STAMP)
        out.append(row["id"])
    _write(bundle / "sessions.csv", head, rows)
    return out


EDITS: dict[str, Callable[[Path, int], list[str]]] = {
    "change_clients": change_clients,
    "add_clients": add_clients,
    "pay_invoices": pay_invoices,
    "complete_sessions": complete_sessions,
}


def edited_bundle(src: Path, dst: Path, edits: Sequence[tuple[str, int]]) -> dict[str, list[str]]:
    """A copy of ``src`` at ``dst`` with ``edits`` (name, how many) applied in order."""
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    return {name: EDITS[name](dst, n) for name, n in edits}
