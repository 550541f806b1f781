"""Benchmark: reading a bundle as Excel workbook against the same bundle as CSV.

Generates the CSV variant and the ``single`` workbook variant (``bundle.xlsx``) of the same
practice with ``generate_bundle`` (``--clients``, default 50,000: about a million rows),
then reads each in a fresh child process through ``open_bundle`` / ``Bundle.read`` (every
cell converted and validated, records built) and prints rows/s, the workbook's rate as a
share of the CSV's, and the reading process's peak RSS.

Memory: the clients sheet alone (one row per client) is read from the workbooks of
``--small`` clients and of ``--clients`` clients; the peak RSS should barely move when the
rows grow tenfold (the rows stream; what grows is the shared-strings table Excel keeps
for the whole workbook). When python-calamine is installed, the same sheet is also
loaded with it (``get_sheet_by_name`` + ``iter_rows``), the whole-sheet reader the
streaming one is measured against.

``--against SRC`` also reads the workbook bundle and its clients sheet with the crm-ferry
sources at ``SRC`` (say a worktree of an earlier commit, to measure a change of reader on
the same workbook, back to back).

    python bench/workbook_read.py                       # 50,000 clients, 5,000 for memory
    python bench/workbook_read.py --clients 10000 --small 1000
    git worktree add /tmp/before 1bfc42f && python bench/workbook_read.py --against /tmp/before/src
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from crm_ferry.sources.generator import generate_bundle
from machine import machine

_READ_ALL = """
import json, sys, time, resource
from crm_ferry.sources import open_bundle
t = time.perf_counter(); c = time.process_time(); rows = 0
with open_bundle(sys.argv[1]) as bundle:
    objects = [o for o in bundle.objects if sys.argv[2] == "*" or o == sys.argv[2]]
    for obj in objects:
        for _ in bundle.read(obj):
            rows += 1
print(json.dumps({"rows": rows, "wall": time.perf_counter() - t, "cpu": time.process_time() - c,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_CALAMINE = """
import json, sys, time, resource
import python_calamine
t = time.perf_counter(); rows = 0
with open(sys.argv[1], "rb") as fh:
    book = python_calamine.CalamineWorkbook.from_filelike(fh)
    for _ in book.get_sheet_by_name("Clients").iter_rows():
        rows += 1
print(json.dumps({"rows": rows, "wall": time.perf_counter() - t, "cpu": 0.0,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def child(script: str, *args: str, src: str | None = None) -> dict[str, Any]:
    """What ``script`` prints, run in a fresh interpreter (with ``src`` first on its path)."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "-c", script, *args], check=True, capture_output=True, text=True, env=env
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def generate(root: Path, clients: int, workbook: bool) -> tuple[Path, float]:
    out = root / f"{'xlsx' if workbook else 'csv'}-{clients}"
    t = time.perf_counter()
    generate_bundle(out, clients=clients, seed=1, workbook=workbook)
    return out, time.perf_counter() - t


def line(name: str, r: dict[str, Any], base: dict[str, Any] | None = None) -> str:
    rate = r["rows"] / r["wall"]
    share = f"{rate / (base['rows'] / base['wall']):6.1%}" if base else "     -"
    return (
        f"{name:<34} {r['rows']:>10,} rows {r['wall']:8.1f} s wall {r['cpu']:8.1f} s cpu "
        f"{rate:>10,.0f} rows/s {share}  peak {r['rss_mib']:7.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50_000)
    parser.add_argument("--small", type=int, default=5_000)
    parser.add_argument("--against", metavar="SRC", help="crm-ferry sources to compare with")
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory(prefix="workbook-bench-") as tmp:
        root = Path(tmp)
        csv, t_csv = generate(root, args.clients, workbook=False)
        book, t_book = generate(root, args.clients, workbook=True)
        small, _ = generate(root, args.small, workbook=True)
        size = (book / "bundle.xlsx").stat().st_size
        print(f"generated {args.clients:,} clients: CSV {t_csv:.0f} s, workbook {t_book:.0f} s "
              f"({size / 1e6:.0f} MB)")  # fmt: skip
        base = child(_READ_ALL, str(csv), "*")
        print(line("CSV bundle, every object", base))
        print(line("workbook bundle, every object", child(_READ_ALL, str(book), "*"), base))
        if args.against:
            before = child(_READ_ALL, str(book), "*", src=args.against)
            print(line("  the same, with --against", before, base))
            sheet = str(book / "bundle.xlsx")
            clients = child(_READ_ALL, sheet, "clients", src=args.against)
            print(line("  clients sheet, with --against", clients))
        csv_clients = child(_READ_ALL, str(csv), "clients")
        print(line("CSV clients", csv_clients))
        for path, n in ((small, args.small), (book, args.clients)):
            sheet = str(path / "bundle.xlsx")
            print(line(f"workbook clients sheet ({n:,})", child(_READ_ALL, sheet, "clients")))
        try:
            import python_calamine  # noqa: F401
        except ImportError:
            print("python-calamine not installed: no whole-sheet comparison")
            return
        for path, n in ((small, args.small), (book, args.clients)):
            sheet = str(path / "bundle.xlsx")
            print(line(f"python-calamine clients ({n:,})", child(_CALAMINE, sheet)))
    print(f"(parent peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)")


if __name__ == "__main__":
    main()
