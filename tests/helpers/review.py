"""A project to review: a generated bundle, the emulator, and a proposed map (as
``map propose`` writes it, comments and all), with the review application on top.

The template is built once per test process; each test gets a copy (its own emulator data,
journal and ``mapping.yaml``) and a :class:`ReviewState` on it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import httpx

from crm_ferry import commands
from crm_ferry.commands.demo import invite_coaches
from crm_ferry.commands.emulator import embedded_client
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.emulator import EmulatorApp
from crm_ferry.journal import Journal
from crm_ferry.review import ReviewServer, ReviewState
from crm_ferry.review.guard import TOKEN_HEADER
from crm_ferry.settings import Settings
from crm_ferry.sources.generator import generate_bundle

CLIENTS = 40
SEED = 5


@dataclass
class ReviewProject:
    root: Path
    bundle: Path
    settings: Settings
    app: EmulatorApp
    client: DataverseClient
    state: ReviewState
    server: ReviewServer | None = None

    @property
    def map_path(self) -> Path:
        return self.settings.project_dir / "mapping.yaml"

    def serve(self) -> ReviewServer:
        """The review server of this project on loopback (started once)."""
        if self.server is None:
            self.server = ReviewServer(self.state).start()
        return self.server

    def web(self, *, token: bool = True) -> httpx.Client:
        """A client of the review server; ``token``: every request carries it."""
        headers = {TOKEN_HEADER: self.state.token} if token else {}
        return httpx.Client(base_url=self.serve().base_url, headers=headers, timeout=30)

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
        self.client.close()
        self.app.close()


def build_proposed(base: Path, *, clients: int = CLIENTS, seed: int = SEED) -> Path:
    """``base/bundle``, ``base/data`` (the emulator, coaches invited) and ``base/project``
    (``map propose`` done, nothing confirmed)."""
    generate_bundle(base / "bundle", clients=clients, seed=seed)
    with EmulatorApp(data_dir=base / "data") as app, embedded_client(app) as client:
        invite_coaches(app, base / "bundle")
        commands.init(Settings.load(base), directory=base / "project", source="../bundle")
        commands.map_propose(Settings.load(base / "project"), client=client)
    Journal.for_project(base / "project").close()
    return base


def open_copy(template: Path, root: Path, *, ignore: tuple[str, ...] = ()) -> ReviewProject:
    """A copy of ``template`` under ``root`` (leaving out the files named ``ignore``)."""
    shutil.copytree(template, root, ignore=shutil.ignore_patterns(*ignore) if ignore else None)
    app = EmulatorApp(data_dir=root / "data")
    client = embedded_client(app)
    settings = Settings.load(root / "project")
    return ReviewProject(
        root, root / "bundle", settings, app, client, ReviewState(settings, client)
    )
