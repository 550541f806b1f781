"""A provisioned migration project, built once per test process and copied for each test.

Building it (generate, invite the coaches, propose, confirm, provision) takes seconds; a
copy of its emulator data folder and project folder takes milliseconds. Each test gets its
own emulator (SQLite under its tmp_path) and its own project (journal, map, runs).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from load_support import CLIENTS, SEED, Project  # noqa: E402

from crm_ferry import commands  # noqa: E402
from crm_ferry.dataverse.client import DataverseClient  # noqa: E402
from crm_ferry.demo import invite_coaches, shortcut_confirm  # noqa: E402
from crm_ferry.embedded import embedded_client  # noqa: E402
from crm_ferry.emulator import EmulatorApp  # noqa: E402
from crm_ferry.load.journal import Journal  # noqa: E402
from crm_ferry.settings import Settings  # noqa: E402
from crm_ferry.sources.generator import generate_bundle  # noqa: E402


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("template")
    generate_bundle(base / "bundle", clients=CLIENTS, seed=SEED)
    with EmulatorApp(data_dir=base / "data") as app, embedded_client(app) as client:
        invite_coaches(app, base / "bundle")
        commands.init(Settings.load(base), directory=base / "project", source="../bundle")
        settings = Settings.load(base / "project")
        commands.map_propose(settings, client=client)
        shortcut_confirm(base / "project")
        commands.map_confirm(settings, by="tests", client=client)
        commands.provision(settings, client=client)
    # the project's id namespace is made once: every copy writes the same ids
    Journal.for_project(base / "project").close()
    return base


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
