"""One public function per CLI verb. Settings come first; each returns a typed result.

``crm_ferry.cli`` only parses flags, calls these and renders what they return, so
``commands.discover(settings, source=...)`` from Python does exactly what
``crm-ferry discover --source ...`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.dataverse.doctor import DoctorResult
from crm_ferry.demo import DemoFlow as DemoFlow
from crm_ferry.demo import DemoStep
from crm_ferry.emulator.app import EmulatorApp, EmulatorConfig
from crm_ferry.emulator.server import RunningServer, serve
from crm_ferry.errors import ConfigError, EmulatorError
from crm_ferry.load.engine import LoadResult as LoadResult
from crm_ferry.load.journal import RunInfo
from crm_ferry.load.rollback import RollbackResult
from crm_ferry.mapping import workflow as mapflow
from crm_ferry.progress import NO_PROGRESS, Progress
from crm_ferry.provision.workflow import ProvisionResult as ProvisionResult
from crm_ferry.reconcile.scoping import ScopingReport as ScopingReport
from crm_ferry.reconcile.workflow import AcceptResult as AcceptResult
from crm_ferry.reconcile.workflow import SampleResult as SampleResult
from crm_ferry.reconcile.workflow import VerifyResult as VerifyResult
from crm_ferry.references.writer import ReferencesResult as ReferencesResult
from crm_ferry.settings import Settings
from crm_ferry.sources.discover import SourceDiscovery, discover_source
from crm_ferry.sources.generator import GenerateResult, generate_bundle


def generate(
    settings: Settings,
    *,
    out: Path,
    clients: int,
    seed: int = 1,
    as_zip: bool = False,
    with_large_files: bool = False,
) -> GenerateResult:
    """Write a synthetic The Practice export bundle with ``clients`` clients."""
    if clients < 1:
        raise ConfigError(f"--clients must be at least 1, not {clients}")
    return generate_bundle(
        settings.resolve(out),
        clients=clients,
        seed=seed,
        as_zip=as_zip,
        with_large_files=with_large_files,
    )


def discover(
    settings: Settings,
    *,
    source: Path | None = None,
    rejects: Path | None = None,
    progress: Progress = NO_PROGRESS,
) -> SourceDiscovery:
    """Profile the export bundle: objects, counts, rejects, custom properties, dangling links."""
    path = source if source is not None else settings.source
    if path is None:
        raise ConfigError(
            "no source bundle given",
            hint="pass --source PATH or set [source] path in ferry.toml",
        )
    return discover_source(
        settings.resolve(path),
        settings,
        rejects_path=settings.resolve(rejects) if rejects is not None else None,
        progress=progress,
    )


def scope(
    settings: Settings,
    *,
    source: Path | None = None,
    rejects: Path | None = None,
    client: DataverseClient | None = None,
    progress: Progress = NO_PROGRESS,
) -> ScopingReport:
    """``discover`` with a target: the source profile, the tenant audit, a duration estimate
    and a complexity grade, written to ``runs/scoping-<timestamp>/`` (HTML and JSON)."""
    from crm_ferry.reconcile.scoping import scope as run_scope

    return run_scope(settings, source=source, rejects=rejects, client=client, progress=progress)


def demo(
    settings: Settings,
    *,
    workdir: Path | None = None,
    clients: int = 200,
    progress: Progress = NO_PROGRESS,
    on_step: Callable[[DemoStep], None] | None = None,
) -> DemoFlow:
    """The whole migration on a generated bundle against the embedded emulator:
    generate, discover, propose, confirm (a demo shortcut), provision, sample, migrate,
    verify, delta, rollback preview and references."""
    from crm_ferry.demo import run_demo

    return run_demo(settings, workdir=workdir, clients=clients, progress=progress, on_step=on_step)


def references(settings: Settings, *, out: Path | None = None) -> ReferencesResult:
    """Write the rebuild guides, the email template reference and the data dictionary.

    Reads the source bundle from the settings and the map from ``mapping.yaml`` (which need
    not be confirmed); writes into ``out`` (default: ``<project>/references``).
    """
    from crm_ferry.mapping.spec import MAP_FILE, MapDocument
    from crm_ferry.references import REFERENCES_DIR, write_references
    from crm_ferry.sources.bundle import open_bundle

    if settings.source is None:
        raise ConfigError(
            "no source bundle configured",
            hint="set path in the source table of ferry.toml (or CRM_FERRY_SOURCE_PATH)",
        )
    spec = MapDocument.load(settings.project_dir / MAP_FILE).spec()
    target = settings.resolve(out) if out is not None else settings.project_dir / REFERENCES_DIR
    with open_bundle(settings.resolve(settings.source), column_map=settings.column_map) as b:
        return write_references(b, spec, target)


def emulator_serve(
    settings: Settings,
    *,
    config: EmulatorConfig | None = None,
    data_dir: Path | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> RunningServer:
    """Serve the Dataverse emulator over HTTP in the background; ``.shutdown()`` stops it.

    ``data_dir`` keeps the data in SQLite under that folder; without it, in memory.
    """
    app = EmulatorApp(config, data_dir=settings.resolve(data_dir) if data_dir else None)
    try:
        return serve(app, host=host, port=port)
    except BaseException:
        app.close()
        raise


def emulator_dump(
    settings: Settings, *, data_dir: Path, table: str | None = None
) -> dict[str, Any]:
    """Every row the emulator stored under ``data_dir`` (of one table, if given)."""
    folder = settings.resolve(data_dir)
    if not folder.is_dir():
        raise EmulatorError(
            f"no emulator data in {folder}",
            hint="pass the folder given to `crm-ferry emulator serve --data`",
        )
    with EmulatorApp(data_dir=folder) as app:
        return dict(app.dump(table))


def doctor(
    settings: Settings,
    *,
    transport: Any = None,
    bypass_custom_logic: bool = False,
) -> DoctorResult:
    """Check reachability, sign-in, WhoAmI, privileges and limits of the configured environment.

    ``transport`` (an ``httpx`` transport) lets tests and the demo talk to the emulator in
    process. The result's ``ok`` is false when a blocking problem was found.
    """
    from crm_ferry.dataverse.connect import (
        credential_from_settings,
        options_from_settings,
        require_environment,
    )
    from crm_ferry.dataverse.doctor import run_doctor

    url, _ = require_environment(settings)
    credential = credential_from_settings(settings, transport=transport)
    return run_doctor(
        url,
        credential,
        transport=transport,
        options=options_from_settings(settings),
        bypass_custom_logic=bypass_custom_logic,
    )


# ---------------------------------------------------------------------------
# init and the map (logic in crm_ferry.mapping.workflow)


def init(
    settings: Settings,
    *,
    directory: Path,
    source: str | None = None,
    environment_url: str | None = None,
    tenant: str | None = None,
    client_id: str | None = None,
    solution: str | None = None,
    publisher_prefix: str = "new",
) -> mapflow.InitResult:
    """Create a migration project: ferry.toml (no secrets), .gitignore, runs/ (owner-only)."""
    return mapflow.init_project(
        settings.resolve(directory),
        source=source,
        environment_url=environment_url,
        tenant=tenant,
        client_id=client_id,
        solution=solution,
        publisher_prefix=publisher_prefix,
    )


def map_propose(
    settings: Settings, *, client: DataverseClient | None = None, source: Path | None = None
) -> mapflow.ProposeResult:
    """Propose mapping.yaml from the source and the tenant, merging with an existing map."""
    return mapflow.propose_map(settings, client=client, source=source)


def map_show(settings: Settings) -> mapflow.ShowResult:
    """The map's decisions, the ones below the confirm threshold first."""
    return mapflow.show_map(settings)


def map_check(
    settings: Settings, *, client: DataverseClient | None = None, source: Path | None = None
) -> mapflow.CheckResult:
    """Every problem of the map against the source and the tenant, with its place."""
    return mapflow.check_project_map(settings, client=client, source=source)


def map_confirm(
    settings: Settings,
    *,
    by: str,
    client: DataverseClient | None = None,
    source: Path | None = None,
) -> mapflow.ConfirmResult:
    """Confirm the map as ``by``; refused while errors or unresolved owners remain."""
    return mapflow.confirm_map(settings, by=by, client=client, source=source)


def provision(
    settings: Settings,
    *,
    dry_run: bool = False,
    rollback: bool = False,
    force: bool = False,
    verbose: bool = False,
    tier: str | None = None,
    table_limit: int | None = None,
    client: DataverseClient | None = None,
) -> ProvisionResult:
    """Create what the confirmed map needs in the tenant (``dry_run``: only plan it), journaled;
    ``rollback`` reverses it, refusing to drop data unless ``force``."""
    from crm_ferry.provision.workflow import provision_project

    return provision_project(
        settings,
        dry_run=dry_run,
        rollback_=rollback,
        force=force,
        verbose=verbose,
        tier=tier,
        table_limit=table_limit,
        client=client,
    )


# ---------------------------------------------------------------------------
# The load and its proof


def migrate(
    settings: Settings,
    *,
    source: Path | None = None,
    skip_sample_gate: bool = False,
    client: DataverseClient | None = None,
    progress: Progress = NO_PROGRESS,
) -> LoadResult:
    """Load the whole bundle (resuming an interrupted run), every write journaled."""
    from crm_ferry.load.run import run_load

    return run_load(
        settings,
        kind="migrate",
        source=source,
        client=client,
        progress=progress,
        skip_sample_gate=skip_sample_gate,
    )


def delta(
    settings: Settings,
    *,
    source: Path,
    client: DataverseClient | None = None,
    progress: Progress = NO_PROGRESS,
) -> LoadResult:
    """Write what changed in ``source`` since the last run; report what disappeared."""
    from crm_ferry.load.run import run_load

    return run_load(settings, kind="delta", source=source, client=client, progress=progress)


def rollback(
    settings: Settings,
    *,
    run_id: str | None = None,
    all_runs: bool = False,
    force: bool = False,
    preview: bool = False,
    client: DataverseClient | None = None,
    progress: Progress = NO_PROGRESS,
) -> RollbackReport:
    """Undo one run (or every run, newest first) from the journal, in reverse load order."""
    from crm_ferry.load.journal import Journal
    from crm_ferry.load.rollback import Rollback
    from crm_ferry.load.run import connected

    if not run_id and not all_runs:
        raise ConfigError("say which run to roll back", hint="pass a RUN id or --all")
    with connected(settings, client) as clients, Journal.for_project(settings.project_dir) as j:
        rb = Rollback(j, clients[0], progress=progress)
        targets = (
            [r.run_id for r in reversed(j.runs()) if _rollbackable(r.kind, r.state)]
            if all_runs
            else [str(run_id)]
        )
        results = [rb.preview(t) if preview else rb.run(t, force=force) for t in targets]
    return RollbackReport(results, preview)


def _rollbackable(kind: str, state: str) -> bool:
    return kind != "rollback" and state not in ("rolled_back",)


@dataclass(frozen=True)
class RollbackReport:
    results: list[RollbackResult]
    preview: bool = False

    @property
    def conflicts(self) -> int:
        return sum(len(r.conflicts) for r in self.results)

    def as_dict(self) -> dict[str, Any]:
        return {"preview": self.preview, "runs": [r.as_dict() for r in self.results]}


@dataclass(frozen=True)
class RunsResult:
    runs: list[RunInfo]

    def as_dict(self) -> dict[str, Any]:
        return {"runs": [r.as_dict() for r in self.runs]}


def runs(settings: Settings) -> RunsResult:
    """Every run in the journal with its kind, state and counts."""
    from crm_ferry.load.journal import Journal

    with Journal.for_project(settings.project_dir) as j:
        return RunsResult(j.runs())


@dataclass(frozen=True)
class PurgeResult:
    run_id: str | None
    operations: int
    folders: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "operations": self.operations, "folders": self.folders}


def purge(settings: Settings, *, run_id: str | None = None, all_runs: bool = False) -> PurgeResult:
    """Remove local copies of record contents (payloads, rejected values, run files) of one
    run or all; ids, operations, counts and timestamps stay as the audit trail."""
    import shutil

    from crm_ferry.load.journal import Journal

    if not run_id and not all_runs:
        raise ConfigError("say which run to purge", hint="pass a RUN id or --all")
    with Journal.for_project(settings.project_dir) as j:
        ids = [r.run_id for r in j.runs()] if all_runs else [j.run(str(run_id)).run_id]
        n = j.purge(None if all_runs else run_id)
    removed = []
    for rid in ids:
        folder = settings.project_dir / "runs" / rid
        if folder.is_dir():
            for child in folder.iterdir():
                if child.is_dir():
                    shutil.rmtree(child)
                else:
                    child.unlink()
            removed.append(str(folder))
    return PurgeResult(None if all_runs else run_id, n, removed)


def sample(
    settings: Settings,
    *,
    size: int = 300,
    seed: int = 1,
    source: Path | None = None,
    client: DataverseClient | None = None,
    progress: Progress = NO_PROGRESS,
) -> SampleResult:
    """Load a stratified, referentially closed sample and write its field-level report."""
    from crm_ferry.reconcile.workflow import run_sample

    return run_sample(
        settings, size=size, seed=seed, source=source, client=client, progress=progress
    )


def sample_accept(settings: Settings, *, by: str) -> AcceptResult:
    """Record that ``by`` accepted the latest sample for the current map."""
    from crm_ferry.reconcile.workflow import accept_sample

    return accept_sample(settings, by=by)


def verify(
    settings: Settings,
    *,
    full: bool = False,
    fields: int | None = None,
    check: bool = False,
    source: Path | None = None,
    client: DataverseClient | None = None,
) -> VerifyResult:
    """Counts, sums, orphans, duplicates and a field-level diff; ``check``: fail on any."""
    from crm_ferry.reconcile.workflow import run_verify

    return run_verify(settings, full=full, fields=fields, check=check, source=source, client=client)
