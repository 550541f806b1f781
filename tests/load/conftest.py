"""A provisioned migration project, built once per test process and copied for each test.

Building it (generate, invite the coaches, propose, confirm, provision) takes seconds; a
copy of its emulator data folder and project folder takes milliseconds. Each test gets its
own emulator (SQLite under its tmp_path) and its own project (journal, map, runs).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from crm_ferry.commands.emulator import embedded_client
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.emulator import EmulatorApp
from crm_ferry.settings import Settings
from helpers.load import CLIENTS, SEED, Project
from helpers.project import build_provisioned


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_provisioned(tmp_path_factory.mktemp("template"), clients=CLIENTS, seed=SEED)


@pytest.fixture
def make_project(template: Path, tmp_path: Path) -> Iterator[Callable[[str], Project]]:
    opened: list[tuple[EmulatorApp, DataverseClient]] = []

    def make(name: str = "p") -> Project:
        root = tmp_path / f"{name}-{len(opened)}"
        shutil.copytree(template, root)
        app = EmulatorApp(data_dir=root / "data")
        client = embedded_client(app)
        opened.append((app, client))
        return Project(
            root, root / "bundle", Settings.load(root / "project"), app, client, root / "data"
        )

    yield make
    for app, client in opened:
        client.close()
        app.close()


@pytest.fixture
def project(make_project: Callable[[str], Project]) -> Project:
    return make_project("p")
