"""A provisioned project for the sample and verify tests, built once per test process.

The same pattern as ``tests/load``: generate a bundle (with the planted large file), invite
the coaches, propose, confirm and provision once; each test copies the project and the
emulator's data folder (milliseconds) and gets its own emulator over the copy, optionally
with a fault schedule (the ``corrupt`` fault). Test modules import the fixtures from here::

    from helpers.reconcile import recon_template, recon_project  # noqa: F401
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from crm_ferry.commands.emulator import embedded_client
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.emulator import EmulatorApp
from crm_ferry.emulator.app import EmulatorConfig
from crm_ferry.emulator.faults import FaultSchedule
from crm_ferry.settings import Settings
from crm_ferry.sources.generator import truth_path_for
from helpers.project import build_provisioned
from helpers.templates import BUILT, shared_template

CLIENTS = 40
SEED = 11
"""40 clients hold every planted edge case once (the planting period is the client count
below 100), the large file included; seed 11 is the one the load tests use."""


@dataclass
class ReconProject:
    root: Path
    bundle: Path
    settings: Settings
    app: EmulatorApp
    client: DataverseClient

    @property
    def truth(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(truth_path_for(self.bundle).read_text("utf-8"))
        return data


def build_template(base: Path) -> Path:
    return build_provisioned(base, clients=CLIENTS, seed=SEED, with_large_files=True)


@pytest.fixture(scope="session")
def recon_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once per test session (the pytest-xdist workers share it)."""
    return shared_template(tmp_path_factory, "recon-template", build_template)


def copy_project(
    template: Path, root: Path, *, faults: FaultSchedule | None = None
) -> ReconProject:
    shutil.copytree(template, root, ignore=shutil.ignore_patterns(BUILT))
    config = EmulatorConfig(faults=faults or FaultSchedule())
    app = EmulatorApp(config, data_dir=root / "data")
    return ReconProject(
        root, root / "bundle", Settings.load(root / "project"), app, embedded_client(app)
    )


@pytest.fixture
def recon_project(recon_template: Path, tmp_path: Path) -> Iterator[Callable[..., ReconProject]]:
    """A factory: ``recon_project(faults=FaultSchedule(...))`` → a fresh copy."""
    opened: list[ReconProject] = []

    def make(*, faults: FaultSchedule | None = None) -> ReconProject:
        project = copy_project(recon_template, tmp_path / f"p{len(opened)}", faults=faults)
        opened.append(project)
        return project

    yield make
    for project in opened:
        project.client.close()
        project.app.close()


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""Headless Chromium as root on a machine without network (Debian's chromium package)."""


def chromium_binary() -> str | None:
    """Debian's chromium (or ``CRM_FERRY_CHROMIUM``), if there is one."""
    for candidate in (os.environ.get("CRM_FERRY_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser")
