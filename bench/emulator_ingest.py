"""Emulator ingest: records/s over HTTP through UpsertMultiple against single-record POSTs.

Starts ``crm-ferry emulator serve --no-limits`` as a subprocess (latency off), signs in with
the default client, then in the same run loads

- ``--bulk`` contacts as UpsertMultiple requests of ``--batch`` rows, and
- ``--singles`` contacts as one POST each,

both with ``--workers`` parallel connections, and prints records/s for each and their
ratio. Not a test: run it by hand and record the figures in bench/RESULTS.md.

    .venv/bin/python bench/emulator_ingest.py [--bulk 20000] [--singles 2000] [--workers 4]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from machine import machine


def _contact(i: int) -> dict[str, Any]:
    return {
        "contactid": str(uuid.uuid4()),
        "firstname": f"First{i}",
        "lastname": f"Last{i}",
        "emailaddress1": f"client{i}@example.com",
        "telephone1": f"+1 555 {i % 10000:04d}",
        "address1_city": "Springfield",
    }


def _start(data: Path | None) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [sys.executable, "-m", "crm_ferry", "emulator", "serve", "--no-limits"]
    args += ["--port", str(port), "--json"]
    if data is not None:
        args += ["--data", str(data)]
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise SystemExit("the emulator did not start")
    return proc, json.loads(line)


def _timed(workers: int, jobs: list[Callable[[], int]]) -> tuple[int, float]:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        done = sum(pool.map(lambda job: job(), jobs))
    return done, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--bulk", type=int, default=20_000, help="contacts through UpsertMultiple")
    parser.add_argument("--batch", type=int, default=1000, help="rows per UpsertMultiple")
    parser.add_argument("--singles", type=int, default=2000, help="contacts through single POSTs")
    parser.add_argument("--workers", type=int, default=4, help="parallel connections")
    parser.add_argument("--sqlite", action="store_true", help="store in SQLite (--data)")
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        proc, info = _start(Path(tmp) / "data" if opts.sqlite else None)
        try:
            client_info = info["clients"][0]
            limits = httpx.Limits(max_connections=opts.workers * 2)
            with httpx.Client(timeout=300, limits=limits) as client:
                token = client.post(
                    info["token_url"],
                    data={
                        "grant_type": "client_credentials",
                        "client_id": client_info["client_id"],
                        "client_secret": client_info["client_secret"],
                        "scope": info["scope"],
                    },
                ).json()["access_token"]
                client.headers.update(
                    {
                        "Authorization": f"Bearer {token}",
                        "OData-Version": "4.0",
                        "Accept": "application/json",
                    }
                )
                api = info["api_url"]

                def bulk_job(start: int) -> Callable[[], int]:
                    targets = [
                        {"@odata.type": "Microsoft.Dynamics.CRM.contact", **_contact(i)}
                        for i in range(start, min(start + opts.batch, opts.bulk))
                    ]
                    body = json.dumps({"Targets": targets}).encode()

                    def run() -> int:
                        r = client.post(
                            f"{api}/contacts/Microsoft.Dynamics.CRM.UpsertMultiple",
                            content=body,
                            headers={"Content-Type": "application/json"},
                        )
                        if r.status_code != 204:
                            raise SystemExit(f"UpsertMultiple: {r.status_code} {r.text[:500]}")
                        return len(targets)

                    return run

                def single_job(i: int) -> Callable[[], int]:
                    payload = _contact(opts.bulk + i)

                    def run() -> int:
                        r = client.post(f"{api}/contacts", json=payload)
                        if r.status_code != 204:
                            raise SystemExit(f"POST contacts: {r.status_code} {r.text[:500]}")
                        return 1

                    return run

                warm = client.get(f"{api}/WhoAmI")
                if warm.status_code != 200:
                    raise SystemExit(f"WhoAmI: {warm.status_code} {warm.text[:500]}")
                bulk_jobs = [bulk_job(s) for s in range(0, opts.bulk, opts.batch)]
                bulk_n, bulk_s = _timed(opts.workers, bulk_jobs)
                single_n, single_s = _timed(
                    opts.workers, [single_job(i) for i in range(opts.singles)]
                )
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)

    bulk_rate, single_rate = bulk_n / bulk_s, single_n / single_s
    m = machine()
    print(f"machine: {m['nproc']} CPUs, {m['cpu']}, Python {m['python']}")
    print(f"storage: {'SQLite' if opts.sqlite else 'in memory'}; workers {opts.workers}")
    print(
        f"UpsertMultiple x{opts.batch}: {bulk_n:,} records in {bulk_s:.2f} s "
        f"= {bulk_rate:,.0f} records/s"
    )
    print(f"single POST: {single_n:,} records in {single_s:.2f} s = {single_rate:,.0f} records/s")
    print(f"ratio bulk / single: {bulk_rate / single_rate:.1f}x")


if __name__ == "__main__":
    main()
