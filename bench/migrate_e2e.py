"""Migration end to end: a generated bundle migrated over HTTP to the served emulator.

    .venv/bin/python bench/migrate_e2e.py [--sizes 20000,100000] [--latency-ms 50]
        [--per-record-ms 0.5] [--baseline-slice 2000] [--batch-size 1000] [--users 2]

For each size (records, about 21.5 per client; ``--records N`` is ``--sizes N``):

1. A bundle is generated and a project prepared as tests/load/conftest.py does it (coaches
   invited, map proposed, confirmed, provisioned) against an emulator without latency,
   stored under a data folder.
2. The same data folder is served over HTTP on loopback, in this process, with simulated
   server time (``--latency-ms`` per request + ``--per-record-ms`` per record) and
   Microsoft's default service-protection limits.
3. ``crm-ferry migrate`` (``run_load``, the sample gate skipped) runs in a **child process**
   signed in through MSAL with the environment variables the CLI reads, sharing the work
   between ``--users`` application users (default 2: ``[dataverse] extra_client_ids``, each
   with its own service-protection limits, as a large migration is run); the child reports
   its wall time and its own peak RSS (``getrusage(RUSAGE_SELF).ru_maxrss``), so the
   emulator's memory (in this process) is not counted.

The **naive baseline**, in the same run and against the same emulator configuration (a
fresh copy of the prepared data folder): the first ``--baseline-slice`` operations the
migration journaled for the largest size, in send order, each written as one
``PATCH /<set>(<id>)`` upsert, sequentially, with the bearer token of the same application
user. Every request costs the same simulated server time, so its rate on the slice is
extrapolated to the whole bundle.

The child also reports how long planning (read, transform, journal) and sending took; with
``MIGRATE_E2E_PROFILE=<file>`` in the environment it writes a cProfile of the migration there.

Everything is written under a temporary folder that is deleted at the end. Not a test:
record the printed figures in bench/RESULTS.md ("Migration end to end").
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from machine import machine

RECORDS_PER_CLIENT = 21.5
"""Records (rows of every object the map loads) per generated client, measured."""


# ---------------------------------------------------------------------------------------
# Preparation (this process, no latency)


def prepare(base: Path, clients: int, seed: int) -> dict[str, Any]:
    from crm_ferry import commands
    from crm_ferry.commands.demo import invite_coaches, shortcut_confirm
    from crm_ferry.commands.emulator import embedded_client
    from crm_ferry.emulator import EmulatorApp
    from crm_ferry.journal import Journal
    from crm_ferry.settings import Settings
    from crm_ferry.sources.generator import generate_bundle

    started = time.perf_counter()
    generate_bundle(base / "bundle", clients=clients, seed=seed)
    generated = time.perf_counter() - started
    with EmulatorApp(data_dir=base / "data") as app, embedded_client(app) as client:
        invite_coaches(app, base / "bundle")
        commands.init(Settings.load(base), directory=base / "project", source="../bundle")
        settings = Settings.load(base / "project")
        commands.map_propose(settings, client=client)
        shortcut_confirm(base / "project")
        commands.map_confirm(settings, by="bench", client=client, accept_low_confidence=True)
        commands.provision(settings, client=client)
    Journal.for_project(base / "project").close()
    return {"generate_s": generated, "prepare_s": time.perf_counter() - started - generated}


def copy_prepared(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest)
    return dest


def serve_emulator(data_dir: Path, latency_ms: float, per_record_ms: float, users: int = 1) -> Any:
    from crm_ferry.emulator import EmulatorApp
    from crm_ferry.emulator.app import emulator_config
    from crm_ferry.emulator.server import serve

    config = emulator_config(latency_ms=latency_ms, per_record_ms=per_record_ms, users=users)
    app = EmulatorApp(config, data_dir=data_dir)
    return app, serve(app)


def use_every_user(server: Any, project: Path) -> None:
    """List the emulator's other application users in the project's ``ferry.toml``."""
    extra = [c["client_id"] for c in server.as_dict()["clients"][1:]]
    if not extra:
        return
    toml = project / "ferry.toml"
    text = toml.read_text(encoding="utf-8")
    line = "extra_client_ids = [" + ", ".join(f'"{c}"' for c in extra) + "]\n"
    toml.write_text(text.replace("[dataverse]\n", "[dataverse]\n" + line, 1), encoding="utf-8")


def child_env(server: Any, batch_size: int) -> dict[str, str]:
    from crm_ferry.settings import secret_env_name

    info = server.as_dict()
    client, *others = info["clients"]
    return {
        **os.environ,
        "CRM_FERRY_DATAVERSE_URL": info["url"],
        "CRM_FERRY_DATAVERSE_TENANT": info["tenant"],
        "CRM_FERRY_DATAVERSE_CLIENT_ID": client["client_id"],
        "CRM_FERRY_DATAVERSE_AUTHORITY": info["url"],
        "CRM_FERRY_CLIENT_SECRET": client["client_secret"],
        **{secret_env_name(c["client_id"]): c["client_secret"] for c in others},
        "CRM_FERRY_LOAD_BATCH_SIZE": str(batch_size),
        "PYTHONUNBUFFERED": "1",
    }


# ---------------------------------------------------------------------------------------
# The migrating child


def child(project: Path) -> None:
    """Run the migration of ``project``; print one JSON line with figures."""
    from crm_ferry.commands.migrate import run_load
    from crm_ferry.load import engine
    from crm_ferry.settings import Settings

    stages: dict[str, float] = {}

    def timed(name: str, fn: Any) -> Any:
        def wrapper(*a: Any, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                stages[name] = stages.get(name, 0.0) + time.perf_counter() - t

        return wrapper

    # where the time goes (read + transform + journal, then sending), for the report
    engine.Loader.plan = timed("plan_s", engine.Loader.plan)  # type: ignore[method-assign]
    engine.Loader.send = timed("send_s", engine.Loader.send)  # type: ignore[method-assign]
    settings = Settings.load(project)
    profile_to = os.environ.get("MIGRATE_E2E_PROFILE")
    profiler = None
    if profile_to:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    result = run_load(settings, skip_sample_gate=True)
    wall = time.perf_counter() - started
    if profiler is not None and profile_to:
        profiler.disable()
        profiler.dump_stats(profile_to)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {
        "wall_s": wall,
        "engine_s": result.seconds,
        "records": result.records,
        "requests": result.requests,
        "ok": result.ok,
        "state": result.state,
        "unbalanced": [k for k, c in result.objects.items() if not c.balanced],
        "failures": len(result.failures),
        "peak_rss_mb": peak_kib / 1024,
        "run_id": result.run_id,
        **stages,
    }
    print("RESULT " + json.dumps(out))


def migrate(project: Path, env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(project)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"the migration failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return dict(json.loads(lines[-1][len("RESULT ") :]))


# ---------------------------------------------------------------------------------------
# The naive baseline


def journaled_ops(project: Path, run_id: str, limit: int) -> list[tuple[str, str, dict[str, Any]]]:
    """The first ``limit`` upserts of the run in send order: (table, id, payload)."""
    db = sqlite3.connect(project / "journal.sqlite")
    try:
        rows = db.execute(
            "SELECT tbl, row_id, payload FROM ops WHERE run_id = ? AND kind = 'upsert' "
            "ORDER BY phase, rank, seq LIMIT ?",
            (run_id, limit),
        ).fetchall()
    finally:
        db.close()
    return [(t, i, json.loads(p)) for t, i, p in rows]


def baseline(server: Any, ops: list[tuple[str, str, dict[str, Any]]]) -> dict[str, Any]:
    """One PATCH upsert per operation, sequential, one connection."""
    import httpx

    from crm_ferry.dataverse import DataverseClient, MsalCredential

    info = server.as_dict()
    client_info = info["clients"][0]
    credential = MsalCredential.client_secret(
        environment_url=info["url"],
        client_id=client_info["client_id"],
        secret=client_info["client_secret"],
        tenant=info["tenant"],
        authority=info["url"],
    )
    with DataverseClient(info["url"], credential) as dv:
        token = credential.token()
        sets = {t: dv.metadata.table(t).entity_set_name for t in {t for t, _, _ in ops}}
    headers = {
        "Authorization": f"Bearer {token}",
        "OData-Version": "4.0",
        "OData-MaxVersion": "4.0",
        "Accept": "application/json",
    }
    failed = 0
    with httpx.Client(base_url=info["api_url"] + "/", headers=headers, timeout=60) as http:
        started = time.perf_counter()
        for table, row_id, payload in ops:
            r = http.patch(f"{sets[table]}({row_id})", json=payload)
            failed += r.status_code >= 400
        elapsed = time.perf_counter() - started
    return {
        "records": len(ops),
        "seconds": elapsed,
        "records_per_s": len(ops) / elapsed,
        "failed": failed,
    }


# ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, help="one size (same as --sizes N)")
    parser.add_argument("--sizes", default="20000,100000", help="records, comma separated")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--per-record-ms", type=float, default=0.5)
    parser.add_argument("--baseline-slice", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument(
        "--users", type=int, default=2, help="application users the migration shares"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child)
        return
    sizes = [args.records] if args.records else [int(s) for s in args.sizes.split(",")]
    rows: list[dict[str, Any]] = []
    base_result: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="migrate-e2e-") as tmp:
        root = Path(tmp)
        last_template: Path | None = None
        last_ops: list[tuple[str, str, dict[str, Any]]] = []
        for size in sorted(sizes):
            clients = max(1, round(size / RECORDS_PER_CLIENT))
            template = root / f"template-{size}"
            prep = prepare(template, clients, args.seed)
            run_dir = copy_prepared(template, root / f"run-{size}")
            app, server = serve_emulator(
                run_dir / "data", args.latency_ms, args.per_record_ms, args.users
            )
            try:
                use_every_user(server, run_dir / "project")
                got = migrate(run_dir / "project", child_env(server, args.batch_size))
            finally:
                server.shutdown()
                app.close()
            got.update(size=size, clients=clients, **prep)
            got["records_per_s"] = got["records"] / got["wall_s"]
            got["requests_per_record"] = got["requests"] / got["records"]
            rows.append(got)
            print(json.dumps(got), file=sys.stderr)
            last_ops = journaled_ops(run_dir / "project", got["run_id"], args.baseline_slice)
            if last_template is not None:
                shutil.rmtree(last_template)
            shutil.rmtree(run_dir)
            last_template = template
        assert last_template is not None
        copy = copy_prepared(last_template, root / "baseline")
        app, server = serve_emulator(copy / "data", args.latency_ms, args.per_record_ms)
        try:
            base_result = baseline(server, last_ops)
        finally:
            server.shutdown()
            app.close()
    report(rows, base_result, args)


def report(rows: list[dict[str, Any]], base: dict[str, Any], args: argparse.Namespace) -> None:
    m = machine()
    print(f"machine: {m['nproc']} vCPUs, {m['cpu']}, Python {m['python']}")
    print(
        f"emulator: served over HTTP on loopback, {args.latency_ms:g} ms per request + "
        f"{args.per_record_ms:g} ms per record, default limits (per user); "
        f"batch size {args.batch_size}; the migration shares {args.users} application user(s), "
        "the baseline uses one"
    )
    print(
        f"baseline: {base['records']} operations, one PATCH each, sequential: "
        f"{base['seconds']:.1f} s, {base['records_per_s']:.1f} records/s "
        f"({base['failed']} failed)"
    )
    head = (
        f"{'records':>8} {'clients':>7} {'seconds':>8} {'records/s':>10} {'x base':>7} "
        f"{'requests':>8} {'req/rec':>8} {'peak RSS MB':>11} {'ok':>3}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['records']:>8,} {r['clients']:>7,} {r['wall_s']:>8.1f} "
            f"{r['records_per_s']:>10,.0f} {r['records_per_s'] / base['records_per_s']:>6.1f}x "
            f"{r['requests']:>8,} {r['requests_per_record']:>8.4f} {r['peak_rss_mb']:>11.0f} "
            f"{'yes' if r['ok'] else 'NO':>3}"
        )
    print(json.dumps({"machine": m, "baseline": base, "runs": rows}, indent=1))


if __name__ == "__main__":
    main()
