"""Benchmark: reading an export bundle with full validation.

Writes bundles of about 10k and 1M records into a temporary folder, then reads each in a
fresh child process (so writing the bundle does not count) twice:

* ``baseline``: plain ``csv.reader`` over every file, counting rows;
* ``discover``: ``crm_ferry.sources.discover.discover_source`` -- every value converted and
  validated, duplicate ids, every reference, findings and custom-property inference.

and prints wall and CPU seconds, records/s (wall), the time as a multiple of the
baseline's, and the reading process's peak RSS (``RUSAGE_CHILDREN`` of a fresh parent).
Bundles under 100k records are read ``--repeat`` times and the fastest read is kept (the
machine may be shared); the 1M bundle is read once.

    python bench/read_bundle.py                  # 10k and 1M
    python bench/read_bundle.py --sizes 10000    # only the small one

Bundles come from ``crm_ferry.sources.generator.generate_bundle`` when it is available,
otherwise from the simple writer below.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

from machine import machine

# Share of the records each object gets in the simple writer (sums to 1).
_SHARES = {
    "clients": 0.08,
    "client_properties": 0.08,
    "families": 0.01,
    "packages": 0.02,
    "sessions": 0.30,
    "session_notes": 0.15,
    "invoices": 0.10,
    "invoice_items": 0.12,
    "payments": 0.08,
    "activities": 0.06,
}


def write_simple_bundle(out: Path, records: int, seed: int = 1) -> int:
    """A plain, valid bundle of about ``records`` rows (CSV, LF, comma). Returns the count."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    n = {obj: max(1, int(records * share)) for obj, share in _SHARES.items()}
    users = 25
    service_types = 8
    total = users + service_types + sum(n.values())

    def writer(name: str, header: list[str]) -> tuple[Any, TextIO]:
        f = (out / f"{name}.csv").open("w", newline="", encoding="utf-8")
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        return w, f

    (out / "manifest.json").write_text(
        json.dumps({"platform": "practice.do", "timezone": "America/New_York", "currency": "USD"})
    )
    w, f = writer("users", ["id", "email", "first_name", "last_name", "role", "active"])
    for i in range(users):
        w.writerow([f"U{i}", f"coach{i}@example.com", "Coach", f"Number{i}", "coach", "true"])
    f.close()
    w, f = writer("service_types", ["id", "name", "default_rate", "duration_minutes", "active"])
    for i in range(service_types):
        w.writerow([f"ST{i}", f"Service {i}", f"{100 + i * 10}.00", "60", "yes"])
    f.close()
    w, f = writer("families", ["id", "name", "created_at"])
    for i in range(n["families"]):
        w.writerow([f"F{i}", f"Family {i}", "2023-01-05T10:00:00"])
    f.close()
    header = [
        "id", "first_name", "last_name", "email", "phone", "city", "postal_code",
        "birth_date", "status", "coach_id", "family_id", "tags", "created_at",
        "custom:referral_source",
    ]  # fmt: skip
    w, f = writer("clients", header)
    for i in range(n["clients"]):
        w.writerow([
            f"C{i}", "Ann", f"Client{i}", f"client{i}@example.com", "+1 555 0100",
            "Springfield", f"{10000 + i % 89999}", f"19{50 + i % 50}-0{1 + i % 9}-1{i % 10}",
            "active", f"U{i % users}", f"F{i % n['families']}" if i % 5 == 0 else "",
            "vip;newsletter", "2023-02-01T09:00:00-05:00", rng.choice(["web", "friend", "ad"]),
        ])  # fmt: skip
    f.close()
    w, f = writer("client_properties", ["client_id", "key", "value"])
    for i in range(n["client_properties"]):
        w.writerow([f"C{i % n['clients']}", f"prop{i // n['clients']}", str(i % 7)])
    f.close()
    w, f = writer(
        "packages",
        ["id", "client_id", "name", "sessions_total", "sessions_remaining", "price", "status"],
    )
    for i in range(n["packages"]):
        w.writerow([f"P{i}", f"C{i % n['clients']}", "Ten pack", "10", "4", "1,200.00", "active"])
    f.close()
    header = [
        "id", "client_id", "coach_id", "service_type_id", "session_type", "status",
        "billing_status", "start_at", "end_at", "duration_minutes", "price", "currency",
    ]  # fmt: skip
    w, f = writer("sessions", header)
    for i in range(n["sessions"]):
        w.writerow([
            f"S{i}", f"C{i % n['clients']}", f"U{i % users}", f"ST{i % service_types}",
            "one_on_one", "completed", "paid", "2024-03-01T09:30:00", "2024-03-01T10:30:00",
            "60", "150.00", "USD",
        ])  # fmt: skip
    f.close()
    w, f = writer(
        "session_notes", ["id", "session_id", "client_id", "author_id", "title", "body_html"]
    )
    for i in range(n["session_notes"]):
        w.writerow([
            f"N{i}", f"S{i % n['sessions']}", f"C{i % n['sessions'] % n['clients']}",
            f"U{i % users}", "Session note",
            "<p>Talked about goals.</p>\n<ul><li>Sleep</li><li>Focus</li></ul>",
        ])  # fmt: skip
    f.close()
    w, f = writer("invoices", ["id", "number", "client_id", "issue_date", "status", "total_amount"])
    for i in range(n["invoices"]):
        w.writerow(
            [f"I{i}", f"INV-{i:06d}", f"C{i % n['clients']}", "2024-03-02", "paid", "150.00"]
        )
    f.close()
    w, f = writer(
        "invoice_items",
        ["id", "invoice_id", "session_id", "description", "quantity", "unit_price", "amount"],
    )
    for i in range(n["invoice_items"]):
        w.writerow([
            f"II{i}", f"I{i % n['invoices']}", f"S{i % n['sessions']}", "Coaching session",
            "1", "150.00", "150.00",
        ])  # fmt: skip
    f.close()
    w, f = writer("payments", ["id", "invoice_id", "amount", "paid_at", "method", "reference"])
    for i in range(n["payments"]):
        w.writerow(
            [f"PM{i}", f"I{i % n['invoices']}", "150.00", "2024-03-03T12:00:00Z", "card", f"ch_{i}"]
        )
    f.close()
    w, f = writer(
        "activities", ["id", "client_id", "kind", "subject", "direction", "occurred_at", "coach_id"]
    )
    for i in range(n["activities"]):
        w.writerow([
            f"A{i}", f"C{i % n['clients']}", "call", "Check-in", "outbound",
            "2024-03-04T15:00:00", f"U{i % users}",
        ])  # fmt: skip
    f.close()
    return total


def make_bundle(out: Path, records: int) -> tuple[int, str]:
    """A bundle of about ``records`` rows; returns (rows written, how it was made)."""
    try:
        from crm_ferry.sources.generator import generate_bundle

        # The generator is sized in clients; probe the ratio on a small bundle first.
        probe = generate_bundle(out.with_name(out.name + "-probe"), clients=200, seed=1)
        per_client = sum(probe.files.values()) / 200
        clients = max(1, round(records / per_client))
        result = generate_bundle(out, clients=clients, seed=1)
        return sum(result.files.values()), f"generate_bundle(clients={clients})"
    except NotImplementedError:
        return write_simple_bundle(out, records), "simple writer in bench/read_bundle.py"


# ---------------------------------------------------------------------------
# Child side


def _child(mode: str, path: Path) -> None:
    from crm_ferry.sources.discover import discover_source

    start = time.perf_counter()
    cpu_start = time.process_time()
    records = 0
    if mode == "baseline":
        for file in sorted(path.iterdir()):
            if file.suffix == ".csv":
                with file.open(newline="", encoding="utf-8-sig") as f:
                    records += sum(1 for _ in csv.reader(f)) - 1
            elif file.suffix == ".jsonl":
                with file.open(encoding="utf-8") as f:
                    records += sum(1 for line in f if line.strip() and json.loads(line))
            elif file.suffix == ".json" and file.name != "manifest.json":
                with file.open(encoding="utf-8") as f:
                    records += len(json.load(f))
    else:
        result = discover_source(path)
        records = sum(o.read for o in result.objects.values())
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    print(json.dumps({"records": records, "seconds": seconds, "cpu": cpu}))


def _measure(mode: str, path: Path) -> dict[str, float]:
    """Run one read in a fresh child; its peak RSS comes from RUSAGE_CHILDREN.

    ``ru_maxrss`` of RUSAGE_CHILDREN is the largest of all children waited for so far, so
    each measurement runs in a grandchild under a fresh intermediate process.
    """
    out = subprocess.run(
        [sys.executable, __file__, "--measure", mode, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def _measure_in_child(mode: str, path: Path) -> None:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(out.stdout)
    result["peak_kb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps(result))


def _seconds(result: dict[str, float]) -> float:
    return result["seconds"]


def _machine() -> str:
    m = machine()
    return f"{m['nproc']} CPUs ({m['cpu']}), Python {m['python']}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument(
        "--repeat", type=int, default=3, help="reads per bundle under 100k records (best kept)"
    )
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--measure", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], Path(args.child[1]))
        return
    if args.measure:
        _measure_in_child(args.measure[0], Path(args.measure[1]))
        return
    print(f"machine: {_machine()}")
    print(
        f"{'records':>10} {'mode':>9} {'wall s':>8} {'CPU s':>8} {'records/s':>10} "
        f"{'x base':>6} {'peak RSS':>9}"
    )
    with tempfile.TemporaryDirectory(prefix="crm-ferry-bench-") as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            path = Path(tmp) / f"bundle-{size}"
            written, how = make_bundle(path, size)
            repeat = args.repeat if written < 100_000 else 1
            base = min((_measure("baseline", path) for _ in range(repeat)), key=_seconds)
            full = min((_measure("discover", path) for _ in range(repeat)), key=_seconds)
            for mode, r in (("baseline", base), ("discover", full)):
                rate = r["records"] / r["seconds"]
                ratio = r["seconds"] / base["seconds"]
                print(
                    f"{int(r['records']):>10,} {mode:>9} {r['seconds']:>8.2f} {r['cpu']:>8.2f} "
                    f"{rate:>10,.0f} {ratio:>6.1f} {r['peak_kb'] / 1024:>7.0f} MB"
                )
            print(f"  ({written:,} rows written by {how})")


if __name__ == "__main__":
    main()
