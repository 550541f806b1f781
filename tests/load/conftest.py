"""A provisioned migration project, built once per test process and copied for each test.

Building it (generate, invite the coaches, propose, confirm, provision) takes seconds; a
copy of its emulator data folder and project folder takes milliseconds. Each test gets its
own emulator (SQLite under its tmp_path) and its own project (journal, map, runs). The delta
tests start from ``migrated``: a copy of the same project after one full ``migrate``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from crm_ferry.commands.emulator import embedded_client
from crm_ferry.commands.migrate import run_load
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.emulator import EmulatorApp
from crm_ferry.limits import LARGEST_MAX_UPLOAD
from crm_ferry.settings import Settings
from helpers.load import CLIENTS, SEED, Project
from helpers.project import build_provisioned


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_provisioned(tmp_path_factory.mktemp("template"), clients=CLIENTS, seed=SEED)


@pytest.fixture(scope="session")
def migrated_template(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The provisioned project after one full ``migrate`` (where the delta tests start)."""
    root = tmp_path_factory.mktemp("migrated") / "project-migrated"
    shutil.copytree(template, root)
    with EmulatorApp(data_dir=root / "data") as app, embedded_client(app) as client:
        result = run_load(Settings.load(root / "project"), client=client, skip_sample_gate=True)
        assert result.ok
        assert not result.failures
    return root


def _opener(
    tmp_path: Path, opened: list[tuple[EmulatorApp, DataverseClient]]
) -> Callable[[Path, str], Project]:
    def open_copy(source: Path, name: str) -> Project:
        root = tmp_path / f"{name}-{len(opened)}"
        shutil.copytree(source, root)
        app = EmulatorApp(data_dir=root / "data")
        client = embedded_client(app)
        opened.append((app, client))
        return Project(
            root, root / "bundle", Settings.load(root / "project"), app, client, root / "data"
        )

    return open_copy


@pytest.fixture
def make_project(template: Path, tmp_path: Path) -> Iterator[Callable[[str], Project]]:
    opened: list[tuple[EmulatorApp, DataverseClient]] = []
    open_copy = _opener(tmp_path, opened)

    def make(name: str = "p") -> Project:
        return open_copy(template, name)

    yield make
    for app, client in opened:
        client.close()
        app.close()


@pytest.fixture
def migrated(migrated_template: Path, tmp_path: Path) -> Iterator[Project]:
    """A copy of the migrated project: its journal holds the ``migrate`` run."""
    opened: list[tuple[EmulatorApp, DataverseClient]] = []
    yield _opener(tmp_path, opened)(migrated_template, "m")
    for app, client in opened:
        client.close()
        app.close()


@pytest.fixture
def project(make_project: Callable[[str], Project]) -> Project:
    return make_project("p")


@pytest.fixture(scope="session")
def documents_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A provisioned project whose bundle has files of 6, 40 and 150 MB and a blocked type,
    its tenant's upload limit raised to the largest Dataverse allows."""
    base = build_provisioned(
        tmp_path_factory.mktemp("documents"), clients=30, seed=5, documents=True
    )
    with EmulatorApp(data_dir=base / "data") as app, embedded_client(app) as client:
        org = next(iter(client.query("organization", select=["organizationid"], top=1)))
        client.update(
            "organization", org["organizationid"], {"maxuploadfilesize": LARGEST_MAX_UPLOAD}
        )
    return base


@pytest.fixture
def documents_project(documents_template: Path, tmp_path: Path) -> Iterator[Project]:
    """A copy of :func:`documents_template` (its bundle shared: it is only read)."""
    root = tmp_path / "p"
    # the bundle (200 MB) is only read: shared; the project and the tenant are copied
    shutil.copytree(documents_template, root, ignore=shutil.ignore_patterns("bundle"))
    (root / "bundle").symlink_to(documents_template / "bundle", target_is_directory=True)
    app = EmulatorApp(data_dir=root / "data")
    client = embedded_client(app)
    yield Project(
        root, root / "bundle", Settings.load(root / "project"), app, client, root / "data"
    )
    client.close()
    app.close()
