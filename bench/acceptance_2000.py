"""The 2,000-client acceptance check: migrate a generated practice and prove the result.

    .venv/bin/python bench/acceptance_2000.py [--clients 2000] [--seed 1]

A bundle of ``--clients`` clients is generated, a project prepared as tests/load/conftest.py
does it (coaches invited, map proposed, confirmed, provisioned) and migrated with
``run_load`` (sample gate skipped) to the in-process emulator, in a temporary folder. Then:

1. **Counts**: ``LoadResult.ok`` and every ``ObjectCounts.balanced``
   (read = written + unchanged + rejected + failed + skipped).
2. **No orphan lookups**: in the emulator's dump, every ``<col>`` with a
   ``<col>@lookuplogicalname`` sibling points to an existing row of that table.
3. **Original timestamps**: every note written from ``session_notes`` has
   ``createdon == created_at``, every activity ``actualstart == occurred_at`` (compared as
   instants; rows found through the journal's id map).
4. **Invoice totals**: every invoice whose items sum to its ``total_amount`` has
   ``totalamount == total_amount``; invoices whose items do not (the generator's planted
   mismatches) are listed, with the generator's ground truth beside them.

Prints a report and exits non-zero when a check fails. Not a test: record the outcome in
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any


def _instant(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _rows_of(project: Path, source_object: str) -> dict[str, list[tuple[str, str, str]]]:
    """Source id → [(role, table, row id)] of the rows written from it (id map)."""
    db = sqlite3.connect(project / "journal.sqlite")
    try:
        out: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
        for sid, role, tbl, rid in db.execute(
            "SELECT source_id, role, tbl, row_id FROM idmap WHERE source_object = ? "
            "AND op_key LIKE '%/upsert/0'",
            (source_object,),
        ):
            out[sid].append((role, tbl, rid))
        return out
    finally:
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    from crm_ferry import commands
    from crm_ferry.commands.demo import invite_coaches, shortcut_confirm
    from crm_ferry.commands.emulator import embedded_client
    from crm_ferry.commands.migrate import run_load
    from crm_ferry.emulator import EmulatorApp
    from crm_ferry.model import Activity, Invoice, InvoiceItem, SessionNote
    from crm_ferry.settings import Settings
    from crm_ferry.sources.bundle import open_bundle
    from crm_ferry.sources.generator import generate_bundle

    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="acceptance-") as tmp:
        base = Path(tmp)
        bundle = base / "bundle"
        generate_bundle(bundle, clients=args.clients, seed=args.seed)
        truth = json.loads((base / "bundle.truth.json").read_text(encoding="utf-8"))
        with EmulatorApp() as app, embedded_client(app) as client:
            invite_coaches(app, bundle)
            commands.init(Settings.load(base), directory=base / "project", source="../bundle")
            settings = Settings.load(base / "project")
            commands.map_propose(settings, client=client)
            shortcut_confirm(base / "project")
            commands.map_confirm(
                settings, by="acceptance", client=client, accept_low_confidence=True
            )
            commands.provision(settings, client=client)
            started = time.perf_counter()
            result = run_load(settings, client=client, skip_sample_gate=True)
            seconds = time.perf_counter() - started
            records = dict(app.dump()["records"])
            primary = {t: client.metadata.table(t).primary_id for t in records if records[t]}

        # 1. counts
        print(f"migrated {result.records:,} records in {seconds:.1f} s: state {result.state}")
        print(
            f"{'object':<28} {'read':>7} {'written':>7} {'unch.':>6} {'rej.':>5} "
            f"{'failed':>6} {'skip':>5} balanced"
        )
        for obj, c in result.objects.items():
            print(
                f"{obj:<28} {c.read:>7,} {c.written:>7,} {c.unchanged:>6,} {c.rejected:>5,} "
                f"{c.failed:>6,} {c.skipped:>5,} {'yes' if c.balanced else 'NO'}"
            )
            if not c.balanced:
                failures.append(f"counts of {obj} do not add up")
        if not result.ok:
            failures.append(f"LoadResult.ok is false (state {result.state})")

        # 2. orphan lookups
        ids = {
            t: {str(r[primary[t]]).lower() for r in rows}
            for t, rows in records.items()
            if t in primary
        }
        lookups = 0
        orphans: dict[tuple[str, str, str], list[str]] = defaultdict(list)
        unchecked: set[str] = set()
        for table, rows in records.items():
            for row in rows:
                for key, target in row.items():
                    if not key.endswith("@lookuplogicalname") or target is None:
                        continue
                    col = key[: -len("@lookuplogicalname")]
                    value = row.get(col)
                    if value is None:
                        continue
                    if target not in ids:
                        unchecked.add(target)
                        continue
                    lookups += 1
                    if str(value).lower() not in ids[target]:
                        orphans[(table, col, target)].append(str(value))
        n_orphans = sum(len(v) for v in orphans.values())
        print(f"\nlookups checked: {lookups:,}; orphans: {n_orphans}")
        if unchecked:
            print(f"  targets not in the dump (not checkable): {', '.join(sorted(unchecked))}")
        for (table, col, target), values in sorted(orphans.items()):
            print(f"  ORPHAN {table}.{col} -> {target}: {len(values)} (e.g. {values[0]})")
            failures.append(f"{len(values)} orphan lookup(s) {table}.{col} -> {target}")

        by_id = {
            t: {str(r[primary[t]]).lower(): r for r in rows}
            for t, rows in records.items()
            if t in primary
        }

        # 3. timestamps
        notes = _rows_of(base / "project", "session_notes")
        acts = _rows_of(base / "project", "activities")
        checked = {"notes": 0, "activities": 0}
        wrong: list[str] = []
        missing = {"notes": 0, "activities": 0}
        items: dict[str, list[Decimal | None]] = defaultdict(list)
        invoices: dict[str, Invoice] = {}
        with open_bundle(bundle) as b:
            for item in b.read("session_notes"):
                if not isinstance(item, SessionNote) or item.created_at is None:
                    continue
                rows = notes.get(item.id)
                if not rows:
                    missing["notes"] += 1  # rejected (reported by the run), not written
                    continue
                for _, tbl, rid in rows:
                    row = by_id.get(tbl, {}).get(rid.lower())
                    checked["notes"] += 1
                    if row is None or _instant(row.get("createdon")) != _instant(item.created_at):
                        wrong.append(
                            f"note {item.id} -> {tbl}({rid}): createdon "
                            f"{None if row is None else row.get('createdon')} != "
                            f"{item.created_at}"
                        )
            for item in b.read("activities"):
                if not isinstance(item, Activity) or item.occurred_at is None:
                    continue
                rows = acts.get(item.id)
                if not rows:
                    missing["activities"] += 1
                    continue
                for _, tbl, rid in rows:
                    row = by_id.get(tbl, {}).get(rid.lower())
                    checked["activities"] += 1
                    if row is None or _instant(row.get("actualstart")) != _instant(
                        item.occurred_at
                    ):
                        wrong.append(
                            f"activity {item.id} -> {tbl}({rid}): actualstart "
                            f"{None if row is None else row.get('actualstart')} != "
                            f"{item.occurred_at}"
                        )
            for item in b.read("invoice_items"):
                if isinstance(item, InvoiceItem) and item.invoice_id:
                    items[item.invoice_id].append(item.amount)
            for item in b.read("invoices"):
                if isinstance(item, Invoice):
                    invoices[item.id] = item
        print(
            f"\ntimestamps: {checked['notes']:,} note rows (createdon), "
            f"{checked['activities']:,} activity rows (actualstart) checked; wrong: {len(wrong)}; "
            f"not written (rejected by the run): {missing['notes']} notes, "
            f"{missing['activities']} activities"
        )
        for line in wrong[:20]:
            print("  WRONG", line)
        if wrong:
            failures.append(f"{len(wrong)} row(s) without their original timestamp")

        # 4. invoice totals
        inv_rows = _rows_of(base / "project", "invoices")
        equal = 0
        bad_totals: list[str] = []
        mismatched: list[str] = []
        not_written = 0
        for inv_id, inv in sorted(invoices.items()):
            lines = items.get(inv_id, [])
            summed = sum((a or Decimal(0) for a in lines), Decimal(0))
            written = [r for r in inv_rows.get(inv_id, []) if r[1] == "invoice"]
            row = by_id.get("invoice", {}).get(written[0][2].lower()) if written else None
            got = None if row is None else row.get("totalamount")
            if row is None:
                not_written += 1
                continue
            if inv.total_amount is not None and lines and summed == inv.total_amount:
                equal += 1
                if got is None or Decimal(str(got)) != inv.total_amount:
                    bad_totals.append(f"{inv_id}: totalamount {got} != {inv.total_amount}")
            else:
                mismatched.append(
                    f"{inv_id}: total_amount {inv.total_amount}, items sum {summed} "
                    f"({len(lines)} item(s)); Dataverse totalamount {got}"
                )
        planted = set(truth.get("findings", {}).get("invoices.items_total_mismatch", []))
        print(
            f"\ninvoices: {len(invoices):,} in the source, {not_written} not written; "
            f"{equal:,} whose items sum to total_amount, of which {len(bad_totals)} with "
            f"another totalamount"
        )
        print(
            f"invoices whose items do not sum to total_amount ({len(mismatched)}; "
            f"planted by the generator: {len(planted)}):"
        )
        for line in mismatched:
            inv_id = line.split(":", 1)[0]
            print(f"  {line}{'  [planted]' if inv_id in planted else '  [NOT PLANTED]'}")
        for line in bad_totals[:20]:
            print("  WRONG TOTAL", line)
        if bad_totals:
            failures.append(f"{len(bad_totals)} invoice(s) with a wrong totalamount")
        unexplained = {m.split(":", 1)[0] for m in mismatched} - planted
        if unexplained:
            failures.append(f"{len(unexplained)} mismatched invoice(s) the generator did not plant")

    print("\nRESULT:", "PASS" if not failures else "FAIL")
    for f in failures:
        print("  -", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
