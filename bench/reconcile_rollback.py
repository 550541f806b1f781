"""Verification and rollback at scale: migrate, ``verify --full`` and ``rollback --all`` in one
run against the served emulator, timed, with their ratios to the migration.

    .venv/bin/python bench/reconcile_rollback.py --clients 3000 [--seed 1] [--users 1]
        [--pause SECONDS] [--no-limits] [--py-spy DIR] [--keep DIR]

1. A bundle of ``--clients`` clients is generated and a project prepared as
   tests/helpers/project.py builds one (coaches invited, map proposed, confirmed,
   provisioned) against an in-process emulator storing under a data folder.
2. That data folder is served by ``crm-ferry emulator serve --data DIR`` in a **child
   process** (a real HTTP server on loopback) with its default limits: Microsoft's
   service-protection limits per application user, no simulated latency.
3. ``crm-ferry migrate --skip-sample-gate``, ``crm-ferry verify --full`` and ``crm-ferry
   rollback --all`` run one after the other, each as its own ``crm-ferry`` process signed
   in through MSAL with the environment variables the CLI reads; each is timed from the
   start of its process to its end (``--json`` output parsed for the counts).

It prints seconds and records/s per command, the ratios verify / migrate and rollback /
migrate, and the CPU time of the emulator process (from /proc, Linux only) and of the
command during each. Commands run back to back: what one leaves of the execution-time budget
in the 300 s window is what the next starts with, as on a tenant where they follow each
other. ``--pause 300`` waits one whole window before each command after the first, so that
each starts with its users' whole budget. ``--no-limits`` serves without service-protection
limits: a diagnostic that separates the work itself from waiting out ``429 Retry-After``.
``--py-spy DIR`` samples the emulator process during each command with py-spy (``py-spy
record --format raw``, one file per command; py-spy must be installed, it is not a
dependency of the project). Everything is written under a temporary folder that is deleted
at the end (``--keep DIR`` prepares there and keeps it). Not a test: record the figures in
bench/RESULTS.md ("Verification and rollback at scale").
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from machine import machine
from migrate_e2e import prepare


def serve(
    data: Path, users: int, *, limits: bool = True
) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """``crm-ferry emulator serve`` on a free loopback port, default limits (or none)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [sys.executable, "-m", "crm_ferry", "emulator", "serve", "--json"]
    args += ["--port", str(port), "--data", str(data), "--users", str(users)]
    if not limits:
        args.append("--no-limits")
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise SystemExit("the emulator did not start")
    return proc, json.loads(line)


def use_every_user(info: dict[str, Any], project: Path) -> None:
    """List the emulator's other application users in the project's ``ferry.toml``."""
    extra = [c["client_id"] for c in info["clients"][1:]]
    if not extra:
        return
    toml = project / "ferry.toml"
    text = toml.read_text(encoding="utf-8")
    line = "extra_client_ids = [" + ", ".join(f'"{c}"' for c in extra) + "]\n"
    toml.write_text(text.replace("[dataverse]\n", "[dataverse]\n" + line, 1), encoding="utf-8")


def cli_env(info: dict[str, Any]) -> dict[str, str]:
    from crm_ferry.settings import secret_env_name

    client, *others = info["clients"]
    return {
        **os.environ,
        "CRM_FERRY_DATAVERSE_URL": info["url"],
        "CRM_FERRY_DATAVERSE_TENANT": info["tenant"],
        "CRM_FERRY_DATAVERSE_CLIENT_ID": client["client_id"],
        "CRM_FERRY_DATAVERSE_AUTHORITY": info["url"],
        "CRM_FERRY_CLIENT_SECRET": client["client_secret"],
        **{secret_env_name(c["client_id"]): c["client_secret"] for c in others},
        "PYTHONUNBUFFERED": "1",
    }


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux ``/proc``; None elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_cli(
    name: str,
    args: list[str],
    project: Path,
    env: dict[str, str],
    emulator_pid: int,
    py_spy: Path | None,
) -> tuple[float, dict[str, Any], int, dict[str, float | None]]:
    """One ``crm-ferry`` command: (wall seconds, its --json result, exit code, CPU seconds
    of the emulator and of the command while it ran)."""
    sampler = None
    if py_spy is not None:
        exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        record = ["record", "--pid", str(emulator_pid), "--format", "raw", "--rate", "50"]
        sampler = subprocess.Popen(
            [exe, *record, "--output", str(py_spy / f"{name}.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
    command = [sys.executable, "-m", "crm_ferry", "--project", str(project), *args, "--json"]
    emulator_before = cpu_seconds(emulator_pid)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    emulator_after = cpu_seconds(emulator_pid)
    finished = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu: dict[str, float | None] = {
        "emulator_cpu_s": (
            round(emulator_after - emulator_before, 2)
            if emulator_before is not None and emulator_after is not None
            else None
        ),
        "command_cpu_s": round(
            finished.ru_utime + finished.ru_stime - children.ru_utime - children.ru_stime, 2
        ),
    }
    if sampler is not None:
        sampler.send_signal(signal.SIGINT)
        sampler.wait(60)
    try:
        body = json.loads(proc.stdout) if proc.stdout.strip() else {}
    except ValueError:
        body = {}
    if not body:
        raise SystemExit(f"{name} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return wall, body, proc.returncode, cpu


def migrated_records(result: dict[str, Any]) -> int:
    return sum(int(c.get("written", 0)) for c in result.get("objects", {}).values())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--users", type=int, default=1, help="application users (each limited)")
    parser.add_argument(
        "--no-limits",
        action="store_true",
        help="serve without service-protection limits (a diagnostic: what the work itself takes)",
    )
    parser.add_argument(
        "--pause",
        type=float,
        default=0.0,
        help="seconds to wait before each command after the first (300: a fresh budget)",
    )
    parser.add_argument("--py-spy", type=Path, default=None, help="folder for py-spy samples")
    parser.add_argument("--keep", type=Path, default=None, help="work here and keep it")
    args = parser.parse_args()
    if args.py_spy is not None:
        args.py_spy.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="reconcile-rollback-") as tmp:
        base = args.keep if args.keep is not None else Path(tmp) / "work"
        if base.exists():
            shutil.rmtree(base)
        prep = prepare(base, args.clients, args.seed)
        print(json.dumps({"prepared": prep}), file=sys.stderr)
        proc, info = serve(base / "data", args.users, limits=not args.no_limits)
        figures: dict[str, Any] = {}
        try:
            use_every_user(info, base / "project")
            env = cli_env(info)
            steps = [
                ("migrate", ["migrate", "--skip-sample-gate"]),
                ("verify", ["verify", "--full"]),
                ("rollback", ["rollback", "--all"]),
            ]
            for n, (name, cli_args) in enumerate(steps):
                if n and args.pause > 0:
                    time.sleep(args.pause)
                wall, body, code, cpu = run_cli(
                    name, cli_args, base / "project", env, proc.pid, args.py_spy
                )
                figures[name] = {"seconds": wall, "exit": code, "result": body, **cpu}
                progress = {name: {"seconds": round(wall, 1), "exit": code, **cpu}}
                print(json.dumps(progress), file=sys.stderr)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    report(args, figures)


def report(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    migrate = figures["migrate"]
    verify = figures["verify"]
    rollback = figures["rollback"]
    records = migrated_records(migrate["result"])
    proof = verify["result"].get("proof", {})
    summary = verify["result"].get("summary") or proof.get("summary", {})
    compared = summary.get("rows compared field by field") or sum(
        c.get("found", 0) for c in proof.get("counts", {}).values()
    )
    runs = rollback["result"].get("runs", [])
    undone = sum(int(r.get("deleted", 0)) + int(r.get("restored", 0)) for r in runs)
    gone = sum(int(r.get("already_gone", 0)) for r in runs)
    conflicts = sum(len(r.get("conflicts", [])) for r in runs)
    failures = sum(
        len(r["failures"]) if isinstance(r.get("failures"), list) else int(r.get("failures", 0))
        for r in runs
    )
    m = machine()
    print(f"machine: {m['nproc']} vCPUs, {m['cpu']}, Python {m['python']}")
    print(
        "emulator: `crm-ferry emulator serve --data DIR` in a child process, "
        f"{'no service-protection limits' if args.no_limits else 'default limits'}, "
        f"{args.users} application user(s); {args.clients:,} clients, seed {args.seed}"
        + (f"; {args.pause:.0f} s pause before each command" if args.pause else "")
    )
    rows = [
        ("migrate", migrate["seconds"], records, f"{records:,} records written"),
        (
            "verify --full",
            verify["seconds"],
            compared,
            f"{compared:,} rows read, {summary.get('fields compared', 0):,} fields compared, "
            f"{summary.get('differences', '?')} differences",
        ),
        (
            "rollback --all",
            rollback["seconds"],
            undone + gone,
            f"{undone:,} deleted or restored, {gone:,} already gone, {conflicts} conflicts, "
            f"{failures} failures",
        ),
    ]
    head = (
        f"{'command':<16} {'seconds':>8} {'records/s':>10} {'x migrate':>9} "
        f"{'emulator CPU s':>14} {'command CPU s':>13}  what"
    )
    print(head)
    print("-" * len(head))
    for (name, seconds, n, what), step in zip(rows, (migrate, verify, rollback), strict=True):
        emulator_cpu = step.get("emulator_cpu_s")
        shown = "?" if emulator_cpu is None else f"{emulator_cpu:.1f}"
        print(
            f"{name:<16} {seconds:>8.1f} {n / seconds:>10,.0f} "
            f"{seconds / migrate['seconds']:>8.2f}x {shown:>14} "
            f"{step['command_cpu_s']:>13.1f}  {what}"
        )
    out = {
        "machine": m,
        "clients": args.clients,
        "limits": not args.no_limits,
        "users": args.users,
        "pause_s": args.pause,
        "records": records,
        "seconds": {k: round(v["seconds"], 2) for k, v in figures.items()},
        "emulator_cpu_s": {k: v.get("emulator_cpu_s") for k, v in figures.items()},
        "command_cpu_s": {k: v.get("command_cpu_s") for k, v in figures.items()},
        "exit": {k: v["exit"] for k, v in figures.items()},
        "verify_over_migrate": round(verify["seconds"] / migrate["seconds"], 3),
        "rollback_over_migrate": round(rollback["seconds"] / migrate["seconds"], 3),
        "verify_summary": summary,
        "rollback": {
            "undone": undone,
            "already_gone": gone,
            "conflicts": conflicts,
            "failures": failures,
        },
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
