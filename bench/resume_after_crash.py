"""Resume after a crash: a migration killed with SIGKILL part-way, then run again, against a
clean migration of the same bundle in the same run.

    .venv/bin/python bench/resume_after_crash.py [--clients 2000] [--kill-at 0.5]
        [--latency-ms 50] [--per-record-ms 0.5] [--users 1]

1. A bundle of ``--clients`` clients is generated and a project prepared (coaches invited,
   map proposed and confirmed, schema provisioned), as bench/migrate_e2e.py does.
2. **Clean**: a copy of it is served over HTTP on loopback with simulated server time and
   Microsoft's default limits, and ``crm-ferry migrate`` runs in a child process.
3. **Crash**: another copy; the migration child is killed with SIGKILL once ``--kill-at`` of
   the clean run's wall time has passed (requests in flight, the journal left with pending
   operations, some sent and unanswered), then ``migrate`` runs again and resumes the run.

It prints the wall time and requests of each, the resumed run against the clean one, and
whether the resumed tenant holds what the clean one does (row counts per table). Not a
test: record the figures in bench/RESULTS.md ("Resume after a crash").
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from machine import machine
from migrate_e2e import child_env, copy_prepared, migrate, prepare, serve_emulator, use_every_user

CHILD = Path(__file__).with_name("migrate_e2e.py")
"""The migrating child (``migrate_e2e.py --child PROJECT``)."""


def counts(app: Any) -> dict[str, int]:
    """Rows per table of the tenant (the tables a migration writes)."""
    dump = app.dump()
    records = dump.get("records", dump)
    return {t: len(rows) for t, rows in sorted(records.items()) if rows}


def crashed_then_resumed(
    project: Path, data: Path, env_of: Any, args: argparse.Namespace, after_s: float
) -> dict[str, Any]:
    app, server = serve_emulator(data, args.latency_ms, args.per_record_ms, args.users)
    try:
        use_every_user(server, project)
        env = env_of(server)
        proc = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("migrate_e2e.py")),
                "--child",
                str(project),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(after_s)
        if proc.poll() is not None:
            raise SystemExit("the migration ended before it was killed: lower --kill-at")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        pending = _pending(project)
        resumed = migrate(project, env)
        return {
            **resumed,
            "killed_after_s": after_s,
            "pending_at_kill": pending,
            "rows": counts(app),
        }
    finally:
        server.shutdown()
        app.close()


def _pending(project: Path) -> dict[str, int]:
    import sqlite3

    db = sqlite3.connect(project / "journal.sqlite")
    try:
        rows = db.execute(
            "SELECT state || CASE WHEN state = 'pending' AND sent_at IS NOT NULL "
            "THEN ' (sent)' ELSE '' END, COUNT(*) FROM ops GROUP BY 1"
        ).fetchall()
    finally:
        db.close()
    return {str(s): int(n) for s, n in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--kill-at", type=float, default=0.5)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--per-record-ms", type=float, default=0.5)
    parser.add_argument("--users", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory(prefix="crm-ferry-resume-") as tmp:
        base = Path(tmp)
        template = base / "template"
        template.mkdir()
        prepared = prepare(template, args.clients, args.seed)
        print(f"prepared {args.clients:,} clients in {prepared['prepare_s']:.1f} s")

        def env_of(server: Any) -> dict[str, str]:
            return child_env(server, args.batch_size)

        clean_dir = copy_prepared(template, base / "clean")
        app, server = serve_emulator(
            clean_dir / "data", args.latency_ms, args.per_record_ms, args.users
        )
        try:
            use_every_user(server, clean_dir / "project")
            clean = migrate(clean_dir / "project", env_of(server))
            clean["rows"] = counts(app)
        finally:
            server.shutdown()
            app.close()
        print(
            f"clean:   {clean['records']:,} records in {clean['wall_s']:.1f} s, "
            f"{clean['requests']:,} requests"
        )
        crash_dir = copy_prepared(template, base / "crash")
        after = clean["wall_s"] * args.kill_at
        resumed = crashed_then_resumed(
            crash_dir / "project", crash_dir / "data", env_of, args, after
        )
        by_status = json.dumps(resumed["pending_at_kill"])
        print(f"killed after {after:.1f} s with operations by status {by_status}")
        print(
            f"resumed: {resumed['records']:,} records in {resumed['wall_s']:.1f} s, "
            f"{resumed['requests']:,} requests, state {resumed['state']}"
        )
        print(
            f"resume / clean: {resumed['wall_s'] / clean['wall_s']:.2f}x time, "
            f"{resumed['requests'] / clean['requests']:.2f}x requests; "
            f"killed + resumed / clean: {(after + resumed['wall_s']) / clean['wall_s']:.2f}x"
        )
        same = resumed["rows"] == clean["rows"]
        print(f"tenant rows as after the clean run: {'yes' if same else 'NO'}")
        if not same:
            for table in sorted(set(clean["rows"]) | set(resumed["rows"])):
                a, b = clean["rows"].get(table, 0), resumed["rows"].get(table, 0)
                if a != b:
                    print(f"  {table}: clean {a:,}, resumed {b:,}")


if __name__ == "__main__":
    main()
