"""Crash safety: `crm-ferry migrate` killed with SIGKILL at random points, then resumed,
leaves the tenant exactly as an uninterrupted run does, with nothing written twice."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from crm_ferry import commands
from crm_ferry.commands._project import open_journal
from crm_ferry.commands.migrate import run_load
from crm_ferry.emulator import EmulatorApp
from crm_ferry.emulator.app import EmulatorConfig, LatencyConfig
from crm_ferry.emulator.server import serve
from helpers.load import Project, comparable

pytestmark = pytest.mark.slow


def _env(info: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        "CRM_FERRY_DATAVERSE_URL": info["url"],
        "CRM_FERRY_DATAVERSE_TENANT": info["tenant"],
        "CRM_FERRY_DATAVERSE_CLIENT_ID": info["client_id"],
        "CRM_FERRY_DATAVERSE_AUTHORITY": info["url"],
        "CRM_FERRY_CLIENT_SECRET": info["client_secret"],
        "CRM_FERRY_LOAD_BATCH_SIZE": "25",
    }


def _migrate(project: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crm_ferry",
            "--project",
            str(project),
            "migrate",
            "--skip-sample-gate",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_killed_migrations_resume_to_the_uninterrupted_result(
    make_project: Callable[[str], Project],
) -> None:
    reference = make_project("reference")
    run_load(reference.settings, client=reference.client, skip_sample_gate=True)
    expected = comparable(reference.dump())

    crashed = make_project("crashed")
    crashed.client.close()
    crashed.app.close()
    config = EmulatorConfig(latency=LatencyConfig(per_request_ms=40))
    app = EmulatorApp(config, data_dir=crashed.data_dir)
    server = serve(app)
    try:
        info = server.as_dict()
        client = info["clients"][0]
        env = _env(
            {
                "url": info["url"],
                "tenant": info["tenant"],
                "client_id": client["client_id"],
                "client_secret": client["client_secret"],
            }
        )
        rng = random.Random(5)
        kills = 0
        finished: subprocess.Popen[str] | None = None
        for _ in range(3):
            proc = _migrate(crashed.settings.project_dir, env)
            time.sleep(rng.uniform(1.5, 4.0))
            if proc.poll() is not None:
                finished = proc  # this attempt ended the run before it could be killed
                break
            proc.send_signal(signal.SIGKILL)
            kills += 1
            proc.communicate(timeout=60)
        assert kills >= 1, "the migration finished before the first kill: kill earlier"
        with open_journal(crashed.settings) as j:
            # a kill that landed after the last write but before the process exited leaves
            # the run done: a migrate then would start a new (empty) run, not resume it
            done = [r.state for r in j.runs() if r.kind == "migrate"] == ["done"]
        if finished is not None or not done:
            final = finished or _migrate(crashed.settings.project_dir, env)
            out, err = final.communicate(timeout=300)
            assert final.returncode == 0, err[-3000:]
            result = json.loads(out)
            assert result["state"] == "done"
        with open_journal(crashed.settings) as j:
            runs = [r for r in j.runs() if r.kind == "migrate"]
            assert len(runs) == 1  # every attempt resumed the one run
            assert j.state_counts(runs[0].run_id).get("pending", 0) == 0
        got = comparable(dict(app.dump()["records"]))
        diff = {
            t: (
                sorted(set(got.get(t, [])) - set(expected.get(t, [])))[:2],
                sorted(set(expected.get(t, [])) - set(got.get(t, [])))[:2],
            )
            for t in set(got) | set(expected)
            if got.get(t) != expected.get(t)
        }
        assert not diff, json.dumps(diff, indent=1)[:6000]
    finally:
        server.shutdown()
        app.close()
    assert commands  # the CLI is what ran
