"""Workers: one run sent by several ``crm-ferry worker`` processes, against the emulator
served over loopback, each worker with its own application user.

Two of four workers are killed (SIGKILL) while they send, one new worker joins: the run
completes, the tenant holds exactly what a run without workers leaves, nothing is pending,
and no row is written after its last operation's outcome was journaled (what a worker taking
over a dead one's slice must not do: it reads the tenant, then sends only what is pending).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from crm_ferry.commands._project import open_journal
from crm_ferry.commands.migrate import run_load
from crm_ferry.emulator import EmulatorApp
from crm_ferry.emulator.app import EmulatorConfig, LatencyConfig
from crm_ferry.emulator.auth import AuthConfig, emulator_clients
from crm_ferry.emulator.server import RunningServer, serve
from crm_ferry.settings import SECRET_ENV, Settings, secret_env_name
from helpers.load import Project, comparable

pytestmark = pytest.mark.slow

_ROW_URL = re.compile(r"/api/data/v9\.2/(\w+)\(([0-9a-fA-F-]{36})\)")


class RecordingApp(EmulatorApp):
    """The emulator, noting when each write request reached it and which rows it named."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writes: list[tuple[float, str, str]] = []
        """(time the request arrived, table, row id) of every row a write named (in its URL,
        its ``$batch`` parts' URLs, or the targets of a bulk message)."""
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method in ("POST", "PATCH", "DELETE", "PUT"):
            at = time.time()
            body = request.content.decode("utf-8", "replace")
            urls = [*_ROW_URL.finditer(str(request.url)), *_ROW_URL.finditer(body)]
            rows = [(self._table_of(m.group(1)) or "", m.group(2).lower()) for m in urls]
            rows += _bulk_targets(body)
            with self._lock:
                self.writes += [(at, t, i) for t, i in rows]
        return super().__call__(request)


def _bulk_targets(body: str) -> list[tuple[str, str]]:
    """(table, row id) of the targets of a bulk message (UpsertMultiple and the like)."""
    if '"Targets"' not in body:
        return []
    try:
        targets = json.loads(body).get("Targets", [])
    except (ValueError, AttributeError):
        return []
    out = []
    for t in targets:
        table = str(t.get("@odata.type", "")).rsplit(".", 1)[-1]
        row = t.get(f"{table}id") or t.get("activityid")
        if row:
            out.append((table, str(row).lower()))
    return out


def _env(server: RunningServer, users: int) -> dict[str, str]:
    info = server.as_dict()
    clients = info["clients"][:users]
    env = {
        **os.environ,
        "CRM_FERRY_DATAVERSE_URL": info["url"],
        "CRM_FERRY_DATAVERSE_TENANT": info["tenant"],
        "CRM_FERRY_DATAVERSE_CLIENT_ID": clients[0]["client_id"],
        "CRM_FERRY_DATAVERSE_AUTHORITY": info["url"],
        "CRM_FERRY_LOAD_BATCH_SIZE": "10",
        SECRET_ENV: clients[0]["client_secret"],
    }
    env.update({secret_env_name(c["client_id"]): c["client_secret"] for c in clients[1:]})
    return env


def _add_users(project_dir: Path, client_ids: list[str]) -> None:
    """``[dataverse] extra_client_ids`` in the project's ferry.toml."""
    toml = project_dir / "ferry.toml"
    text = toml.read_text(encoding="utf-8")
    line = f"extra_client_ids = {json.dumps(client_ids)}\n"
    if "[dataverse]" in text:
        text = text.replace("[dataverse]\n", "[dataverse]\n" + line, 1)
    else:
        text += "\n[dataverse]\n" + line
    toml.write_text(text, encoding="utf-8")


def _cli(project_dir: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "crm_ferry", "--project", str(project_dir), *args, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@contextmanager
def _served(project: Project, users: int) -> Iterator[tuple[RecordingApp, RunningServer]]:
    project.client.close()
    project.app.close()
    config = EmulatorConfig(
        auth=AuthConfig(clients=emulator_clients(users)),
        latency=LatencyConfig(per_request_ms=30),
    )
    app = RecordingApp(config, data_dir=project.data_dir)
    server = serve(app)
    try:
        yield app, server
    finally:
        server.shutdown()
        app.close()


def _wait(what: str, check: Callable[[], Any], timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_four_workers_two_killed_one_joining_leave_what_one_process_leaves(
    make_project: Callable[[str], Project],
) -> None:
    reference = make_project("reference")
    run_load(reference.settings, client=reference.client, skip_sample_gate=True)
    expected = comparable(reference.dump())

    project = make_project("workers")
    settings_dir = project.settings.project_dir
    with _served(project, users=4) as (app, server):
        env = _env(server, users=4)
        _add_users(settings_dir, [c["client_id"] for c in server.as_dict()["clients"][1:4]])
        planner = _cli(
            settings_dir, env, "migrate", "--skip-sample-gate", "--workers", "4",
            "--lease", "2", "--slice-ops", "40",
        )  # fmt: skip
        settings = Settings.load(settings_dir, env=env)
        rng = random.Random(20)
        killed: list[int] = []
        joined: subprocess.Popen[str] | None = None
        try:
            with open_journal(settings) as j:

                def sending() -> list[Any]:
                    runs = [r for r in j.runs() if r.kind == "migrate"]
                    if not runs:
                        return []
                    return [
                        w
                        for w in j.workers(runs[-1].run_id)
                        if w.state == "sending" and w.pid not in killed
                    ]

                for _ in range(2):
                    time.sleep(rng.uniform(0.3, 1.5))
                    victim = rng.choice(_wait("a worker sending", sending))
                    os.kill(victim.pid, signal.SIGKILL)
                    killed.append(victim.pid)
                joined = _cli(settings_dir, env, "worker", "--lease", "2", "--wait", "60")
                _watch_shows_the_workers(settings_dir, env)
                out, err = planner.communicate(timeout=300)
                assert planner.returncode == 0, err[-4000:]
                result = json.loads(out)
                assert result["state"] == "done", out[-3000:]
                assert result["workers"] == 4
                _, joined_err = joined.communicate(timeout=120)
                assert joined.returncode == 0, joined_err[-3000:]
                run_id = result["run_id"]
                assert j.state_counts(run_id).get("pending", 0) == 0
                assert j.slices_left(run_id)[0] == 0
                taken_over = [s for s in j.slices(run_id) if s.claims > 1]
                assert taken_over, "no slice of a killed worker was taken over"
                workers = j.workers(run_id)
                assert len(workers) == 5
                assert {w.pid for w in workers} >= set(killed)
                assert all(op.state == "done" for op in j.ops(run_id))
                last_done = {
                    (t, i.lower()): _epoch(at) for (t, i), at in j.row_outcome_times(run_id).items()
                }
        finally:
            for proc in (planner, joined):
                if proc is not None and proc.poll() is None:
                    proc.kill()
                    proc.communicate()
        # rows no owner is mapped for are the caller's, as in Dataverse: here one of the
        # four application users; in the reference, its one user. Every user as one name
        # (and the users themselves left out: each made its systemuser row signing in).
        users = [app.backend.application_user(c.client_id) for c in emulator_clients(4)]
        got = _as_one_user(comparable(dict(app.dump()["records"])), users)
        expected = _as_one_user(expected, users[:1])
        assert got == expected, _first_differences(got, expected)
        # a write that reached the tenant after every operation on its row was journaled
        # (the journal's times are to the millisecond: 50 ms of slack)
        written = {(t, i) for _, t, i in app.writes}
        assert len(written & set(last_done)) >= 0.9 * len(last_done)  # the record sees them
        late = [
            (t, i, round(at - last_done[(t, i)], 3))
            for at, t, i in app.writes
            if (t, i) in last_done and at > last_done[(t, i)] + 0.05
        ]
        assert not late, f"rows written after their last outcome was journaled: {late[:5]}"


def _watch_shows_the_workers(project_dir: Path, env: dict[str, str]) -> None:
    """``runs --watch --json`` while the run is sent: each line a snapshot, the run with
    its slices and workers; and ``runs`` shows them in 80 columns, worker ids whole."""
    watch = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crm_ferry",
            "--project",
            str(project_dir),
            "runs",
            "--watch",
            "--interval",
            "0.2",
            "--json",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert watch.stdout is not None
        snapshot = json.loads(watch.stdout.readline())
    finally:
        watch.kill()
        watch.communicate()
    (sent,) = [r for r in snapshot["runs"] if r.get("workers")]
    assert sent["live"]
    assert sent["slices"]["total"] > 0
    assert {w["state"] for w in sent["workers"]} & {"sending", "waiting"}
    shown = subprocess.run(
        [sys.executable, "-m", "crm_ferry", "--project", str(project_dir), "runs"],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "80"},
        check=True,
    ).stdout
    assert max(len(line) for line in shown.splitlines()) <= 80, shown
    assert "Workers" in shown
    assert all(w["worker_id"] in shown for w in sent["workers"]), shown


def _as_one_user(
    dump: dict[str, list[str]], users: list[tuple[str, bool] | None]
) -> dict[str, list[str]]:
    ids = [u[0] for u in users if u is not None]
    out = {}
    for table, rows in dump.items():
        changed = []
        for row in rows:
            if table == "systemuser" and '"applicationid": "' in row:
                continue  # the application users themselves (each signed in once)
            for i in ids:
                row = row.replace(i, "<application user>")
            changed.append(row)
        out[table] = sorted(changed)
    return out


def _first_differences(got: dict[str, list[str]], expected: dict[str, list[str]]) -> str:
    diff = {
        t: (
            sorted(set(got.get(t, [])) - set(expected.get(t, [])))[:2],
            sorted(set(expected.get(t, [])) - set(got.get(t, [])))[:2],
        )
        for t in set(got) | set(expected)
        if got.get(t) != expected.get(t)
    }
    return json.dumps(diff, indent=1)[:6000]
