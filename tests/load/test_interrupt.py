"""Ctrl-C: `crm-ferry migrate` sent SIGINT mid-load stops cleanly (exit 130, the run marked
interrupted, a JSON result), and the next `migrate` continues the same run to the end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from crm_ferry.commands._project import journal_target, open_journal
from crm_ferry.emulator import EmulatorApp
from crm_ferry.emulator.app import EmulatorConfig, LatencyConfig
from crm_ferry.emulator.server import serve
from crm_ferry.journal import journal_exists
from helpers.load import Project

pytestmark = pytest.mark.slow


def _migrate(project: Project, info: dict[str, object]) -> subprocess.Popen[str]:
    user = info["clients"][0]  # type: ignore[index]
    env = {
        **os.environ,
        "CRM_FERRY_DATAVERSE_URL": str(info["url"]),
        "CRM_FERRY_DATAVERSE_TENANT": str(info["tenant"]),
        "CRM_FERRY_DATAVERSE_CLIENT_ID": user["client_id"],
        "CRM_FERRY_DATAVERSE_AUTHORITY": str(info["url"]),
        "CRM_FERRY_CLIENT_SECRET": user["client_secret"],
        "CRM_FERRY_LOAD_BATCH_SIZE": "25",
        # two requests at a time: the load lasts seconds, so Ctrl-C comes while it sends
        "CRM_FERRY_LOAD_MAX_CONCURRENCY": "2",
    }
    args = ["--project", str(project.settings.project_dir), "migrate", "--skip-sample-gate"]
    return subprocess.Popen(
        [sys.executable, "-m", "crm_ferry", *args, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # Ctrl-C as at a terminal, however the tests were started: a shell starts a command
        # sent to the background with SIGINT ignored, and a child inherits that
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _sending(project: Project, timeout: float = 60) -> None:
    """Wait until the run has journaled operations and sent some of them (looked at often:
    on a quiet machine the whole load takes a few seconds, and Ctrl-C must come before its
    end)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        time.sleep(0.05)
        if not journal_exists(journal_target(project.settings)):
            continue
        with open_journal(project.settings) as j:
            runs = [r for r in j.runs() if r.kind == "migrate"]
            if runs and j.state_counts(runs[-1].run_id).get("done", 0) > 0:
                return
    raise AssertionError("the migration did not start sending")


def test_ctrl_c_marks_the_run_interrupted_and_migrate_continues_it(
    make_project: Callable[[str], Project],
) -> None:
    project = make_project("sigint")
    project.client.close()
    project.app.close()
    app = EmulatorApp(
        EmulatorConfig(latency=LatencyConfig(per_request_ms=40)), data_dir=project.data_dir
    )
    server = serve(app)
    try:
        info = server.as_dict()
        proc = _migrate(project, info)
        _sending(project)
        interrupted_at = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        took = time.monotonic() - interrupted_at
        assert proc.returncode == 130, f"{took:.1f} s after Ctrl-C: {err[-3000:]}"
        stopped = json.loads(out)
        assert stopped["state"] == "interrupted"
        assert stopped["error"]["type"] == "Interrupted"
        assert "run `crm-ferry migrate` again to continue" in stopped["error"]["hint"]
        with open_journal(project.settings) as j:
            run = j.run(stopped["run_id"])
            assert run.state == "interrupted"
            assert j.state_counts(run.run_id).get("pending", 0) > 0
        again = _migrate(project, info)
        out, err = again.communicate(timeout=300)
        assert again.returncode == 0, err[-3000:]
        result = json.loads(out)
        assert (result["run_id"], result["resumed"], result["state"]) == (
            stopped["run_id"],
            True,
            "done",
        )
        assert result["failures"] == []
    finally:
        server.shutdown()
        app.close()
