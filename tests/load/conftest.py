"""A provisioned migration project, built once per test process and copied for each test.

Building it (generate, invite the coaches, propose, confirm, provision) takes seconds; a
copy of its emulator data folder and project folder takes milliseconds. Each test gets its
own emulator (SQLite under its tmp_path) and its own project (journal, map, runs). The delta
tests start from ``migrated``: a copy of the same project after one full ``migrate``.

The templates are built on SQLite; when the tests run on PostgreSQL
(:mod:`helpers.backend`, ``CRM_FERRY_TEST_JOURNAL``) every copy a test gets has its journal
moved to a fresh database of its own (``crm-ferry journal copy``), and its settings, read
after the move, name that database: so do the ``crm-ferry`` processes a test starts, whose
environment holds the password.
"""

from __future__ import annotations

import os
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
from helpers.backend import BACKEND, JournalHomes
from helpers.load import CLIENTS, SEED, Project
from helpers.postgres import PASSWORD_ENV, PostgresServer
from helpers.project import build_provisioned


@pytest.fixture(scope="session")
def journal_homes(request: pytest.FixtureRequest) -> Iterator[JournalHomes]:
    """Where the load tests' journals go (:data:`helpers.backend.BACKEND`). On PostgreSQL
    the password is in the environment for the whole session, so that what a module's
    fixture builds can use it too (each test's own environment gets it again below)."""
    if not BACKEND.postgres:
        yield JournalHomes(BACKEND, None)
        return
    if BACKEND.missing:
        pytest.fail(f"the load tests were asked to run on PostgreSQL: {BACKEND.missing}")
    server: PostgresServer = request.getfixturevalue("postgres_server")
    before = os.environ.get(PASSWORD_ENV)
    os.environ[PASSWORD_ENV] = server.password
    homes = JournalHomes(BACKEND, server)
    yield homes
    homes.drop()
    if before is None:
        os.environ.pop(PASSWORD_ENV, None)
    else:
        os.environ[PASSWORD_ENV] = before


@pytest.fixture(autouse=True)
def _journal_password(
    _no_ambient_ferry_env: None, journal_homes: JournalHomes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The journal's password in each test's environment (and its subprocesses'), when the
    journals are on PostgreSQL (the ambient ``CRM_FERRY_*`` are cleared first)."""
    if journal_homes.server is not None:
        monkeypatch.setenv(PASSWORD_ENV, journal_homes.server.password)


@pytest.fixture
def journal_home(journal_homes: JournalHomes) -> Iterator[Callable[[Path], Settings]]:
    """``place(project_dir)``: the project's settings, its journal moved first to a
    database of this test's when the tests run on PostgreSQL (dropped after the test). For
    the tests that build a project of their own."""
    homes = JournalHomes(journal_homes.backend, journal_homes.server)
    yield homes.place
    homes.drop()
    strays = homes.strays()
    assert not strays, f"the test opened a SQLite journal in a project on PostgreSQL: {strays}"


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
    tmp_path: Path,
    opened: list[tuple[EmulatorApp, DataverseClient]],
    place: Callable[[Path], Settings],
) -> Callable[[Path, str], Project]:
    def open_copy(source: Path, name: str) -> Project:
        root = tmp_path / f"{name}-{len(opened)}"
        shutil.copytree(source, root)
        settings = place(root / "project")
        app = EmulatorApp(data_dir=root / "data")
        client = embedded_client(app)
        opened.append((app, client))
        return Project(root, root / "bundle", settings, app, client, root / "data")

    return open_copy


@pytest.fixture
def make_project(
    template: Path, tmp_path: Path, journal_home: Callable[[Path], Settings]
) -> Iterator[Callable[[str], Project]]:
    opened: list[tuple[EmulatorApp, DataverseClient]] = []
    open_copy = _opener(tmp_path, opened, journal_home)

    def make(name: str = "p") -> Project:
        return open_copy(template, name)

    yield make
    for app, client in opened:
        client.close()
        app.close()


@pytest.fixture
def migrated(
    migrated_template: Path, tmp_path: Path, journal_home: Callable[[Path], Settings]
) -> Iterator[Project]:
    """A copy of the migrated project: its journal holds the ``migrate`` run."""
    opened: list[tuple[EmulatorApp, DataverseClient]] = []
    yield _opener(tmp_path, opened, journal_home)(migrated_template, "m")
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
def documents_project(
    documents_template: Path, tmp_path: Path, journal_home: Callable[[Path], Settings]
) -> Iterator[Project]:
    """A copy of :func:`documents_template` (its bundle shared: it is only read)."""
    root = tmp_path / "p"
    # the bundle (200 MB) is only read: shared; the project and the tenant are copied
    shutil.copytree(documents_template, root, ignore=shutil.ignore_patterns("bundle"))
    (root / "bundle").symlink_to(documents_template / "bundle", target_is_directory=True)
    settings = journal_home(root / "project")
    app = EmulatorApp(data_dir=root / "data")
    client = embedded_client(app)
    yield Project(root, root / "bundle", settings, app, client, root / "data")
    client.close()
    app.close()
