"""The worker processes ``migrate --workers N`` starts on this machine (see
:mod:`crm_ferry.commands.worker`): each a ``crm-ferry worker`` with its share of the
application users, its output in ``runs/<run id>/worker-<n>.log``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import IO

from crm_ferry.commands._project import extra_client_ids, require_environment
from crm_ferry.errors import ConfigError
from crm_ferry.load.workers import LEASE_S
from crm_ferry.owner_only import secure_dir
from crm_ferry.settings import Settings

__all__ = ["ProcessLauncher", "user_shares"]

STOP_WAIT_S = 30.0
"""How long the planner waits for its workers to stop (they finish the slice they send)."""


def user_shares(users: Sequence[str], workers: int) -> list[list[str]]:
    """The application users of each of ``workers`` workers: dealt out in turn (worker i
    gets users i, i + n, …); with fewer users than workers, each worker gets one and
    some share it (their budgets then add up to that user's)."""
    if not users:
        raise ConfigError(
            "no application user is configured",
            hint="set [dataverse] client_id (and extra_client_ids for more users) in ferry.toml",
        )
    if len(users) >= workers:
        return [list(users[i::workers]) for i in range(workers)]
    return [[users[i % len(users)]] for i in range(workers)]


class ProcessLauncher:
    """Starts ``crm-ferry worker`` processes on this machine for one run (the
    :class:`~crm_ferry.load.workers.Launcher` of ``migrate --workers``)."""

    def __init__(self, settings: Settings, workers: int, *, lease_s: float = LEASE_S) -> None:
        if workers < 1:
            raise ConfigError(f"--workers {workers}: at least 1", hint="pass --workers 1 or more")
        require_environment(settings)  # workers reach the tenant themselves: it needs a URL
        main = settings.client_id or ""
        self.shares = user_shares([main, *extra_client_ids(settings)], workers)
        self.settings = settings
        self.lease_s = lease_s
        self.processes: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []

    @property
    def count(self) -> int:
        return len(self.shares)

    def command(self, run_id: str, users: Sequence[str]) -> list[str]:
        """The command line of one worker."""
        line = [sys.executable, "-m", "crm_ferry", "worker", "--project"]
        line += [str(self.settings.project_dir), "--run", run_id, "--lease", str(self.lease_s)]
        for user in users:
            line += ["--client-id", user]
        return line

    def start(self, run_id: str) -> None:
        folder = secure_dir(self.settings.project_dir / "runs" / run_id)
        for n, users in enumerate(self.shares, start=1):
            log = open(folder / f"worker-{n}.log", "ab")  # noqa: SIM115 - closed in stop()
            self._logs.append(log)
            self.processes.append(
                subprocess.Popen(
                    self.command(run_id, users),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, "CRM_FERRY_WORKER": str(n)},
                )
            )

    def running(self) -> int:
        return sum(1 for p in self.processes if p.poll() is None)

    def stop(self) -> None:
        for p in self.processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)  # it finishes its slice and gives the rest back
        deadline = time.monotonic() + STOP_WAIT_S
        for p in self.processes:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for log in self._logs:
            log.close()
        self._logs.clear()
