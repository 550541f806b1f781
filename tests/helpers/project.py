"""A provisioned migration project on a generated bundle, built as the demo builds one.

Building it (generate, invite the coaches, propose, confirm, provision) takes seconds; a
copy of its emulator data folder and project folder takes milliseconds, so the load and
reconcile tests build one per test process and copy it for each test.
"""

from __future__ import annotations

from pathlib import Path

from crm_ferry import commands
from crm_ferry.commands.demo import invite_coaches, shortcut_confirm
from crm_ferry.commands.emulator import embedded_client
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.emulator import EmulatorApp
from crm_ferry.journal import Journal
from crm_ferry.settings import Settings
from crm_ferry.sources.generator import generate_bundle


def build_unprovisioned(base: Path, *, clients: int, seed: int) -> Path:
    """``base/bundle``, ``base/project`` (map confirmed, nothing provisioned yet) and
    ``base/data`` (the emulator's SQLite files)."""
    generate_bundle(base / "bundle", clients=clients, seed=seed)
    with EmulatorApp(data_dir=base / "data") as app, embedded_client(app) as client:
        _confirmed(app, client, base)
    Journal.for_project(base / "project").close()
    return base


def _confirmed(app: EmulatorApp, client: DataverseClient, base: Path) -> Settings:
    invite_coaches(app, base / "bundle")
    commands.init(Settings.load(base), directory=base / "project", source="../bundle")
    settings = Settings.load(base / "project")
    commands.map_propose(settings, client=client)
    shortcut_confirm(base / "project")
    commands.map_confirm(settings, by="tests", client=client, accept_low_confidence=True)
    return settings


def build_provisioned(
    base: Path, *, clients: int, seed: int, with_large_files: bool = False, **options: bool
) -> Path:
    """``base/bundle``, ``base/project`` (map confirmed, schema provisioned) and ``base/data``
    (the emulator's SQLite files); ``options`` go to the generator (``linked_files``,
    ``groups``: with linked files, ``base/bundle.downloads`` too)."""
    generate_bundle(
        base / "bundle", clients=clients, seed=seed, with_large_files=with_large_files, **options
    )
    with EmulatorApp(data_dir=base / "data") as app, embedded_client(app) as client:
        settings = _confirmed(app, client, base)
        commands.provision(settings, client=client)
    # the project's id namespace is made once: every copy writes the same ids
    Journal.for_project(base / "project").close()
    return base
