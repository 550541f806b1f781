"""Projects for the tests of the review's report pages: sampled, migrated and verified, with
planted differences; and a verification of 20,000 compared fields written through the
same writer as ``crm-ferry verify``.

The verified template is built once per test session (under pytest-xdist the workers share
it, the first one builds it under a file lock): a generated bundle (its planted edge cases
are source defects and a file rejected by the map), a sample, then the migration through an
emulator that stores another value than the one sent for every 7th contact's last name
(the ``corrupt`` fault: migration differences), then ``verify --full``. Each test copies it
and gets the review application on its own emulator over the copy. Test modules import
the fixtures from here::

    from helpers.review_reports import verified_template, verified  # noqa: F401
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from crm_ferry import commands
from crm_ferry.commands.emulator import embedded_client
from crm_ferry.emulator import EmulatorApp
from crm_ferry.emulator.app import EmulatorConfig
from crm_ferry.emulator.faults import Corruption, FaultSchedule
from crm_ferry.journal import Journal
from crm_ferry.reconcile.classify import Difference
from crm_ferry.reconcile.diff import DiffRow
from crm_ferry.reconcile.reconciliation import Environment, MapSummary, Reconciliation
from crm_ferry.reconcile.report import write_report
from crm_ferry.reconcile.verify import ObjectTally, Proof
from crm_ferry.review import ReviewState
from crm_ferry.settings import Settings
from helpers.project import build_provisioned
from helpers.review import ReviewProject
from helpers.templates import BUILT, shared_template

CLIENTS = 40
SEED = 11
CORRUPT_EVERY = 7
"""Every 7th contact's last name is stored changed: 40 // 7 contacts of the migration."""


def build_verified(base: Path) -> Path:
    build_provisioned(base, clients=CLIENTS, seed=SEED)
    settings = Settings.load(base / "project")
    with EmulatorApp(data_dir=base / "data") as app, embedded_client(app) as client:
        commands.sample(settings, client=client)
    faults = FaultSchedule(
        corrupt=[Corruption(table="contact", column="lastname", every=CORRUPT_EVERY)]
    )
    config = EmulatorConfig(faults=faults)
    with EmulatorApp(config, data_dir=base / "data") as app, embedded_client(app) as client:
        assert commands.migrate(settings, client=client, skip_sample_gate=True).ok
        commands.verify(settings, client=client, full=True)
    return base


@pytest.fixture(scope="session")
def verified_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_template(tmp_path_factory, "review-verified-template", build_verified)


def open_verified(template: Path, root: Path) -> ReviewProject:
    shutil.copytree(template, root, ignore=shutil.ignore_patterns(BUILT))
    app = EmulatorApp(data_dir=root / "data")
    client = embedded_client(app)
    settings = Settings.load(root / "project")
    return ReviewProject(
        root, root / "bundle", settings, app, client, ReviewState(settings, client)
    )


@pytest.fixture
def verified(verified_template: Path, tmp_path: Path) -> Iterator[ReviewProject]:
    """A sampled, migrated and verified project (its own copy) and its review application."""
    project = open_verified(verified_template, tmp_path / "verified")
    try:
        yield project
    finally:
        project.close()


def large_verification(
    project: ReviewProject, *, rows: int = 20_000, every: int = 10
) -> Reconciliation:
    """A verification of ``rows`` compared fields of ``contact`` (every ``every``-th a
    mismatch, so a migration difference), written and journaled as ``verify`` writes one:
    ``report.json`` / ``.csv`` / ``.html`` under ``runs/verify-large/``, its differences in
    the journal."""
    compared = [
        DiffRow(
            "contact",
            f"00000000-0000-0000-0000-{i:012d}",
            f"clients/cli_{i:06d}",
            ("lastname", "firstname", "emailaddress1", "new_clientstatus")[i % 4],
            f"value {i}",
            f"value {i}",
            f"value {i}" if i % every else f"changed {i}",
            "match" if i % every else "mismatch",
        )
        for i in range(rows)
    ]
    proof = Proof(rows=compared)
    found = [Difference.of_row(r) for r in compared if r.verdict != "match"]
    recon = Reconciliation(
        kind="verify",
        recon_id="verify-large",
        title="Verification of the migration",
        environment=Environment(project.client.url, "large"),
        source=str(project.bundle),
        map=MapSummary("mapping.yaml", "0" * 64, "confirmed", "tests", "2026-01-01T00:00:00Z"),
        runs=[],
        objects={"clients": ObjectTally(rows // 4, rows // 4, 0)},
        proof=proof,
        differences=found,
        facts={"rows written": rows // 4, "rows compared field by field": rows // 4},
    )
    folder = project.settings.project_dir / "runs" / recon.recon_id
    report = write_report(folder, recon)
    with Journal.for_project(project.settings.project_dir) as j:
        j.record_reconciliation(recon.recon_id, "verify", str(report.html), recon.recorded())
    return recon
