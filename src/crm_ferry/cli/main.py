"""The commands: parse flags, call :mod:`crm_ferry.commands`, render the result.

No logic lives here. Errors derived from :class:`crm_ferry.errors.FerryError` are printed
as one message (plus a hint) and mapped to their exit code; ``--traceback`` shows the
full trace instead. ``--json`` on a command prints its result as JSON on stdout.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import webbrowser
from pathlib import Path
from typing import Any

import click

from crm_ferry import __version__, commands
from crm_ferry.cli import render
from crm_ferry.cli.options import (
    FerryGroup,
    State,
    command_options,
    emit,
    project_option,
    project_settings,
    settings_of,
    snapshot_option,
    source_option,
    traceback_option,
)
from crm_ferry.commands.worker import LEASE_S, SLICE_OPS, WAIT_S
from crm_ferry.emulator.app import emulator_config
from crm_ferry.errors import MapError
from crm_ferry.progress import NO_PROGRESS
from crm_ferry.review import ReviewServer, ReviewState
from crm_ferry.review.server import DEFAULT_HOST
from crm_ferry.settings import REMOVED_POLICIES

__all__ = ["cli", "main"]


@click.group(cls=FerryGroup, context_settings={"help_option_names": ["-h", "--help"]})
@project_option
@traceback_option
@click.version_option(__version__, prog_name="crm-ferry")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """crm-ferry moves a practice from The Practice to Dynamics 365 Sales."""
    # one State for the whole command line: the subcommand's options set it too
    ctx.ensure_object(State)


@cli.command()
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder to write the bundle into (or the zip file's stem with --zip).",
)
@click.option("--clients", "-n", type=int, default=200, show_default=True, help="Clients.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed.")
@click.option("--zip", "as_zip", is_flag=True, help="Write a .zip instead of a folder.")
@click.option(
    "--with-large-files", is_flag=True, help="Add one attachment over 5 MB (upload-limit case)."
)
@click.option(
    "--documents",
    is_flag=True,
    help="Add files of 6, 40 and 150 MB and one of a blocked type (about 200 MB on disk).",
)
@click.option(
    "--linked-files",
    is_flag=True,
    help="Add linked files (contracts by URL, recordings by name) and write their downloads "
    "beside the bundle (<bundle>.downloads/), all but one.",
)
@click.option("--groups", is_flag=True, help="Add client groups with tags (groups.csv).")
@click.option(
    "--workbook",
    type=click.Choice(["single", "mixed"]),
    is_flag=False,
    flag_value="single",
    default=None,
    help="Write the bundle with Excel workbooks: one bundle.xlsx with a sheet per object "
    "(--workbook, or --workbook=single), or clients, sessions and invoices as .xlsx beside "
    "the other files (--workbook=mixed).",
)
@click.option(
    "--with-bad-rows", is_flag=True, help="Plant rows the reader must reject (bad values etc.)."
)
@command_options
@click.pass_context
def generate(
    ctx: click.Context,
    out: Path,
    clients: int,
    seed: int,
    as_zip: bool,
    with_large_files: bool,
    documents: bool,
    linked_files: bool,
    groups: bool,
    workbook: str | None,
    with_bad_rows: bool,
    as_json: bool,
) -> None:
    """Write a realistic synthetic The Practice export bundle (same seed, same bytes)."""
    result = commands.generate(
        settings_of(ctx),
        out=out,
        clients=clients,
        seed=seed,
        as_zip=as_zip,
        with_large_files=with_large_files,
        documents=documents,
        linked_files=linked_files,
        groups=groups,
        workbook="mixed" if workbook == "mixed" else workbook is not None,
        bad_rows=with_bad_rows,
    )
    emit(result, as_json, render.render_generate)


@cli.command()
@source_option()
@click.option(
    "--rejects",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write every rejected row (file, line, column, value, reason) to this JSON Lines file.",
)
@click.option(
    "--target/--no-target",
    default=None,
    help="Also audit the tenant and write the scoping report (default: when [dataverse] url "
    "is set, or with --snapshot).",
)
@snapshot_option(
    "Audit the tenant this snapshot (written by `crm-ferry snapshot`) describes instead of "
    "the configured tenant, which is not contacted; the report names the snapshot."
)
@click.option(
    "--latency-ms",
    type=click.FloatRange(min=0.0),
    default=None,
    metavar="MS",
    help="The round trip per request the estimate uses, instead of measuring it (with "
    "--snapshot, instead of assuming 100 ms).",
)
@command_options
@click.pass_context
def discover(
    ctx: click.Context,
    source: Path | None,
    rejects: Path | None,
    target: bool | None,
    snapshot: Path | None,
    latency_ms: float | None,
    as_json: bool,
) -> None:
    """Profile the export bundle: objects, counts, rejects, custom properties, broken links.

    With a target: also audit the tenant (or, with --snapshot, a tenant snapshot), estimate
    the load's duration and grade the migration's complexity, written to
    runs/scoping-<timestamp>/ (HTML and JSON)."""
    settings = settings_of(ctx)
    if target is False and (snapshot is not None or latency_ms is not None):
        raise click.UsageError(
            "--snapshot and --latency-ms are for the tenant audit, which --no-target leaves out"
        )
    if target is None:
        target = bool(settings.environment_url) or snapshot is not None or latency_ms is not None
    with render.progress_reporter(enabled=not as_json) as progress:
        if target:
            scoping = commands.scope(
                settings,
                source=source,
                rejects=rejects,
                snapshot=snapshot,
                latency_ms=latency_ms,
                progress=progress or NO_PROGRESS,
            )
        else:
            result = commands.discover(
                settings, source=source, rejects=rejects, progress=progress or NO_PROGRESS
            )
    if target:
        emit(scoping, as_json, render.render_scoping)
    else:
        emit(result, as_json, render.render_discovery)


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--source",
    default=None,
    help="The export bundle (folder or .zip) to record; it must exist (a path from here, "
    "recorded relative to the project).",
)
@click.option("--url", "environment_url", default=None, help="The Dataverse environment URL.")
@click.option("--tenant", default=None, help="The Entra tenant (name or id).")
@click.option("--client-id", default=None, help="The app registration's client id.")
@click.option(
    "--authority",
    default=None,
    metavar="URL",
    help="Where the app signs in ([dataverse] authority; default "
    "https://login.microsoftonline.com/<tenant>); for the emulator, the one "
    "`crm-ferry emulator serve` prints.",
)
@click.option("--solution", default=None, help="Unmanaged solution for new tables/columns.")
@click.option("--prefix", "publisher_prefix", default="new", show_default=True)
@command_options
@click.pass_context
def init(
    ctx: click.Context,
    directory: Path,
    source: str | None,
    environment_url: str | None,
    tenant: str | None,
    client_id: str | None,
    authority: str | None,
    solution: str | None,
    publisher_prefix: str,
    as_json: bool,
) -> None:
    """Create a migration project in DIRECTORY (ferry.toml without secrets, .gitignore, runs/)."""
    result = commands.init(
        settings_of(ctx),
        directory=directory,
        source=source,
        environment_url=environment_url,
        tenant=tenant,
        client_id=client_id,
        solution=solution,
        publisher_prefix=publisher_prefix,
        authority=authority,
    )
    emit(result, as_json, render.render_init)


@cli.command()
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the snapshot to this file (default: tenant-snapshot.json in the project).",
)
@command_options
@click.pass_context
def snapshot(ctx: click.Context, out: Path | None, as_json: bool) -> None:
    """Capture the tenant: the map's tables and those they relate to, users, currencies,
    price lists, settings, publishers and solutions (no records, no secrets) in one file."""
    with render.progress_reporter(enabled=not as_json) as progress:
        result = commands.snapshot(
            settings_of(ctx),
            out=out,
            progress=render.naming_progress(progress) if progress else NO_PROGRESS,
        )
    emit(result, as_json, render.render_snapshot)


@cli.command()
@snapshot_option(
    "The tenant snapshot to rehearse against (default: tenant-snapshot.json in the project, "
    "written by `crm-ferry snapshot`)."
)
@click.option(
    "--keep",
    is_flag=True,
    help="Leave out the rollback: the migrated data stays in the rehearsal's emulator folder, "
    "to look at with `crm-ferry emulator serve --data DIR`.",
)
@click.option("--size", type=int, default=300, show_default=True, help="Records to sample.")
@command_options
@click.pass_context
def rehearse(
    ctx: click.Context, snapshot: Path | None, keep: bool, size: int, as_json: bool
) -> None:
    """Rehearse provision, sample, migrate, verify and rollback against an emulator serving
    the tenant snapshot (the configured tenant is never contacted), in rehearsal/<time>/.

    Exit 8 when a step fails, 7 when verify finds migration differences."""
    settings = project_settings(ctx)
    with render.progress_reporter(not as_json) as progress:
        result = commands.rehearse(
            settings,
            snapshot=snapshot,
            keep=keep,
            size=size,
            progress=progress or NO_PROGRESS,
            on_start=None if as_json else render.render_rehearsal_start,
            on_step=None if as_json else render.render_rehearsal_step,
        )
    emit(result, as_json, render.render_rehearsal)


@cli.group("map")
@project_option
@traceback_option
def map_group() -> None:
    """The map (mapping.yaml): propose it, show it, check it, confirm it."""


@map_group.command("propose")
@source_option()
@command_options
@click.pass_context
def map_propose(ctx: click.Context, source: Path | None, as_json: bool) -> None:
    """Propose mapping.yaml (re-proposing keeps your edits and comments and shows the diff)."""
    result = commands.map_propose(project_settings(ctx), source=source)
    emit(result, as_json, render.render_propose)


@map_group.command("show")
@command_options
@click.pass_context
def map_show(ctx: click.Context, as_json: bool) -> None:
    """The map as a table: source → target, type, confidence, reason (doubtful lines first)."""
    emit(commands.map_show(project_settings(ctx)), as_json, render.render_show)


@map_group.command("check")
@source_option()
@command_options
@click.pass_context
def map_check(ctx: click.Context, source: Path | None, as_json: bool) -> None:
    """Check the map against the source and the tenant; exit 4 (the map's code) when any
    error is found."""
    result = commands.map_check(project_settings(ctx), source=source)
    emit(result, as_json, render.render_check)
    if not result.ok:
        sys.exit(MapError.exit_code)


@cli.command("preview")
@click.argument("obj", metavar="OBJECT")
@click.argument("record_id", metavar="ID")
@source_option()
@command_options
@click.pass_context
def preview(
    ctx: click.Context, obj: str, record_id: str, source: Path | None, as_json: bool
) -> None:
    """What one source record becomes under the current map (confirmed or not), before
    anything loads: its operations, payloads, lookups and rejects (OBJECT as the export
    names it: clients, sessions, invoices, ...)."""
    result = commands.preview(project_settings(ctx), obj, record_id, source=source)
    emit(result, as_json, render.render_preview)


def stdin_is_terminal() -> bool:
    """Whether a person can be asked (stdin is a terminal)."""
    return sys.stdin.isatty()


@map_group.command("confirm")
@click.option("--by", "by", required=True, help="Who reviewed and confirms the map.")
@click.option(
    "--accept-low-confidence",
    is_flag=True,
    help="Accept the lines under the confirm threshold as they are (else listed and refused, "
    "or asked at a terminal).",
)
@source_option()
@command_options
@click.pass_context
def map_confirm(
    ctx: click.Context, by: str, accept_low_confidence: bool, source: Path | None, as_json: bool
) -> None:
    """Confirm the map (refused while errors or unresolved owners remain, and while lines
    under the confidence threshold remain that nobody accepted)."""

    def ask(lines: list[commands.MapLine]) -> bool:
        render.render_low_confidence(lines)
        return click.confirm(
            f"Accept these {len(lines)} line(s) as they are, as {by.strip()}?", err=True
        )

    interactive = not as_json and stdin_is_terminal()
    result = commands.map_confirm(
        project_settings(ctx),
        by=by,
        source=source,
        accept_low_confidence=accept_low_confidence,
        ask=ask if interactive else None,
    )
    emit(result, as_json, render.render_confirm)


@cli.command()
@click.option("--dry-run", is_flag=True, help="Only print the operations; change nothing.")
@click.option("--rollback", is_flag=True, help="Reverse what provisioning created (journaled).")
@click.option("--force", is_flag=True, help="With --rollback: drop tables/columns holding data.")
@click.option(
    "--tier",
    type=click.Choice(["professional", "enterprise", "premium"]),
    default=None,
    help="Licence tier (custom-table limit); default [dataverse] tier or professional (15).",
)
@click.option("--table-limit", type=int, default=None, help="Custom-table limit (overrides tier).")
@click.option("--verbose", "-v", is_flag=True, help="Also list what exists already.")
@command_options
@click.pass_context
def provision(
    ctx: click.Context,
    dry_run: bool,
    rollback: bool,
    force: bool,
    tier: str | None,
    table_limit: int | None,
    verbose: bool,
    as_json: bool,
) -> None:
    """Create the tables, columns, choices, lookups and keys the confirmed map needs."""
    if dry_run and rollback:
        raise click.UsageError("--dry-run and --rollback do not go together")
    result = commands.provision(
        project_settings(ctx),
        dry_run=dry_run,
        rollback=rollback,
        force=force,
        verbose=verbose,
        tier=tier,
        table_limit=table_limit,
    )
    emit(result, as_json, render.render_provision)


@cli.group(invoke_without_command=True)
@click.option("--size", type=int, default=300, show_default=True, help="Records to sample.")
@click.option("--seed", type=int, default=1, show_default=True)
@source_option()
@command_options
@click.pass_context
def sample(ctx: click.Context, size: int, seed: int, source: Path | None, as_json: bool) -> None:
    """Load a stratified sample and write its field-level diff report."""
    if ctx.invoked_subcommand is not None:
        return
    settings = project_settings(ctx)
    with render.progress_reporter(not as_json) as progress:
        result = commands.sample(
            settings, size=size, seed=seed, source=source, progress=progress or NO_PROGRESS
        )
    emit(result, as_json, render.render_sample)


@sample.command("accept")
@click.argument("ids", nargs=-1, metavar="[ID]...")
@click.option("--by", required=True, help="Who accepts the sample report.")
@click.option(
    "--reason", default=None, help="Why the differences are accepted (recorded with them)."
)
@command_options
@click.pass_context
def sample_accept(
    ctx: click.Context, ids: tuple[str, ...], by: str, reason: str | None, as_json: bool
) -> None:
    """Accept the latest sample for the current map: every difference, or the IDs given.

    The sample is accepted (and `migrate` may run) once every difference that is not a
    source defect is."""
    result = commands.sample_accept(project_settings(ctx), by=by, reason=reason, ids=ids or None)
    emit(result, as_json, render.render_sample_accept)


def workers_options(fn: Any) -> Any:
    """``--workers N``, ``--lease SECONDS`` and ``--slice-ops N`` of the verbs that load."""
    fn = click.option(
        "--slice-ops",
        type=click.IntRange(min=1),
        default=SLICE_OPS,
        show_default=True,
        help="With --workers: operations per slice (what a worker leases at a time).",
    )(fn)
    fn = click.option(
        "--lease",
        type=click.FloatRange(min=1.0),
        default=LEASE_S,
        show_default=True,
        help="Seconds a worker holds a slice unless it renews it (a dead worker's slice "
        "goes to another after this).",
    )(fn)
    return click.option(
        "--workers",
        type=click.IntRange(min=0),
        default=0,
        help="Send with N worker processes on this machine, each with its share of the "
        "application users (this process plans and waits); default: send here.",
    )(fn)


@cli.command()
@source_option()
@click.option(
    "--skip-sample-gate", is_flag=True, help="Load without an accepted sample (journaled)."
)
@workers_options
@command_options
@click.pass_context
def migrate(
    ctx: click.Context,
    source: Path | None,
    skip_sample_gate: bool,
    workers: int,
    lease: float,
    slice_ops: int,
    as_json: bool,
) -> None:
    """Load everything in dependency order; resumes an interrupted run."""
    settings = project_settings(ctx)
    with render.progress_reporter(not as_json) as progress:
        result = commands.migrate(
            settings,
            source=source,
            skip_sample_gate=skip_sample_gate,
            progress=progress or NO_PROGRESS,
            workers=workers,
            lease_s=lease,
            slice_ops=slice_ops,
        )
    emit(result, as_json, render.render_load)


@cli.command()
@click.option(
    "--run", "run_id", default=None, help="The run to send (default: the one being sent)."
)
@click.option(
    "--client-id",
    "client_ids",
    multiple=True,
    help="An application user to send as (repeatable; default: every one of the project).",
)
@click.option(
    "--lease",
    type=click.FloatRange(min=1.0),
    default=LEASE_S,
    show_default=True,
    help="Seconds this worker holds a slice unless it renews it.",
)
@click.option(
    "--wait",
    "wait_s",
    type=click.FloatRange(min=0.0),
    default=WAIT_S,
    show_default=True,
    help="Seconds to wait for a run to send (one still being planned).",
)
@command_options
@click.pass_context
def worker(
    ctx: click.Context,
    run_id: str | None,
    client_ids: tuple[str, ...],
    lease: float,
    wait_s: float,
    as_json: bool,
) -> None:
    """Send slices of the run being migrated, beside its other workers (same project
    settings, same PostgreSQL journal); stops when none is left."""
    settings = project_settings(ctx)
    stop = threading.Event()

    def on_term(signum: int, frame: Any) -> None:
        stop.set()  # finish the slice being sent, give the rest back

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        result = commands.run_worker(
            settings,
            run_id=run_id,
            client_ids=client_ids,
            lease_s=lease,
            wait_s=wait_s,
            stop=stop,
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
    emit(result, as_json, render.render_worker)


@cli.command()
@source_option(required=True, help="The new export bundle (folder or .zip).")
@click.option(
    "--removed",
    type=click.Choice(REMOVED_POLICIES),
    default=None,
    help="Records gone from the source: report them, deactivate their rows, or delete them "
    "(children first). Default: [delta] removed in ferry.toml, else report.",
)
@workers_options
@command_options
@click.pass_context
def delta(
    ctx: click.Context,
    source: Path,
    removed: str | None,
    workers: int,
    lease: float,
    slice_ops: int,
    as_json: bool,
) -> None:
    """Write what changed in the source since the last run; per object, records changed,
    added, unchanged and removed from the source (each delta is a run of its own)."""
    settings = project_settings(ctx)
    with render.progress_reporter(not as_json) as progress:
        result = commands.delta(
            settings,
            source=source,
            removed=removed,
            progress=progress or NO_PROGRESS,
            workers=workers,
            lease_s=lease,
            slice_ops=slice_ops,
        )
    emit(result, as_json, render.render_load)


@cli.group(invoke_without_command=True)
@click.option("--full", is_flag=True, help="Compare every field of every row.")
@click.option("--fields", type=int, default=None, help="Compare a random N rows (default 200).")
@click.option("--check", is_flag=True, help="Exit 7 on any difference nobody accepted.")
@source_option()
@command_options
@click.pass_context
def verify(
    ctx: click.Context,
    full: bool,
    fields: int | None,
    check: bool,
    source: Path | None,
    as_json: bool,
) -> None:
    """Counts, sums, orphan lookups, duplicates and a field-level diff after a load, every
    difference classified, in one report (HTML, JSON, CSV)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = project_settings(ctx)  # a wrong folder is said before any progress is drawn
    with render.progress_reporter(not as_json) as progress:
        result = commands.verify(
            settings,
            full=full,
            fields=fields,
            check=check,
            source=source,
            progress=progress or NO_PROGRESS,
        )
    emit(result, as_json, render.render_verify)


@verify.command("accept")
@click.argument("ids", nargs=-1, metavar="[ID]...")
@click.option("--by", required=True, help="Who accepts the differences.")
@click.option("--reason", required=True, help="Why they are accepted (recorded with them).")
@click.option("--yes", "-y", is_flag=True, help="Without IDs: accept them all without asking.")
@command_options
@click.pass_context
def verify_accept(
    ctx: click.Context, ids: tuple[str, ...], by: str, reason: str, yes: bool, as_json: bool
) -> None:
    """Accept differences of the latest verification: the IDs given, or (none given) every
    one nobody accepted, listed and confirmed first."""
    settings = project_settings(ctx)
    if not ids:
        pending = commands.verify_pending(settings)
        if pending.differences and not yes:
            render.render_verify_pending(pending)
            click.confirm(
                f"Accept these {len(pending.differences)} difference(s) as {by.strip()}?",
                abort=True,
                err=True,
            )
        ids = tuple(d.diff_id for d in pending.differences)
    result = commands.verify_accept(settings, by=by, reason=reason, ids=list(ids))
    emit(result, as_json, render.render_verify_accept)


@cli.command()
@click.argument("run_id", required=False)
@click.option("--all", "all_runs", is_flag=True, help="Every run, newest first.")
@click.option("--force", is_flag=True, help="Also undo rows edited in Dynamics since the run.")
@click.option("--preview", is_flag=True, help="Only show what would be undone.")
@click.option(
    "--schema",
    is_flag=True,
    help="With --all: then reverse provisioning too (tables, columns, relationships).",
)
@command_options
@click.pass_context
def rollback(
    ctx: click.Context,
    run_id: str | None,
    all_runs: bool,
    force: bool,
    preview: bool,
    schema: bool,
    as_json: bool,
) -> None:
    """Undo a run: delete what it created, restore what it changed, newest first."""
    settings = project_settings(ctx)
    with render.progress_reporter(not as_json) as progress:
        result = commands.rollback(
            settings,
            run_id=run_id,
            all_runs=all_runs,
            force=force,
            preview=preview,
            schema=schema,
            progress=progress or NO_PROGRESS,
        )
    emit(result, as_json, render.render_rollback)


@cli.command("runs")
@click.option(
    "--watch",
    is_flag=True,
    help="Keep showing the runs being written (every worker's progress) until none is.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.2),
    default=1.0,
    show_default=True,
    help="With --watch: seconds between refreshes.",
)
@command_options
@click.pass_context
def runs(ctx: click.Context, watch: bool, interval: float, as_json: bool) -> None:
    """List runs with their counts and state (--watch: follow the runs being written)."""
    settings = project_settings(ctx)
    if not watch:
        emit(commands.runs(settings), as_json, render.render_runs)
        return
    render.watch_runs(lambda: commands.runs(settings), interval=interval, as_json=as_json)


@cli.group("journal")
@project_option
@traceback_option
def journal_group() -> None:
    """The project's journal: move it to a PostgreSQL database (for workers)."""


@journal_group.command("copy")
@click.option(
    "--to",
    "to",
    required=True,
    metavar="URL",
    help="The empty database: postgresql://USER@HOST:PORT/DATABASE, no password in it (that "
    "comes from CRM_FERRY_JOURNAL_PASSWORD or the keyring).",
)
@command_options
@click.pass_context
def journal_copy(ctx: click.Context, to: str, as_json: bool) -> None:
    """Move the journal to the PostgreSQL database at URL and make it the project's
    ([journal] url in ferry.toml); a journal.sqlite is renamed out of the way."""
    emit(commands.journal_copy(project_settings(ctx), to=to), as_json, render.render_journal_copy)


@cli.command()
@click.argument("run_id", required=False)
@click.option("--all", "all_runs", is_flag=True, help="Every run.")
@command_options
@click.pass_context
def purge(ctx: click.Context, run_id: str | None, all_runs: bool, as_json: bool) -> None:
    """Remove local copies of record contents; keep the audit trail."""
    result = commands.purge(project_settings(ctx), run_id=run_id, all_runs=all_runs)
    emit(result, as_json, render.render_purge)


@cli.command()
@click.option(
    "--out",
    "-o",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder to write into (default: <project>/references).",
)
@command_options
@click.pass_context
def references(ctx: click.Context, out_dir: Path | None, as_json: bool) -> None:
    """Write rebuild guides (automations, integrations, reports), templates, data dictionary."""
    result = commands.references(project_settings(ctx), out=out_dir)
    emit(result, as_json, render.render_references)


@cli.command()
@click.option("--port", type=int, default=0, help="Port to listen on (default: any free port).")
@click.option(
    "--host",
    default=DEFAULT_HOST,
    show_default=True,
    help="Interface to listen on; anything but loopback lets other machines knock (warned).",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the browser.")
@source_option()
@command_options
@click.pass_context
def review(
    ctx: click.Context,
    port: int,
    host: str,
    open_browser: bool,
    source: Path | None,
    as_json: bool,
) -> None:
    """Serve the review page: the map with the tenant's labels, preview, sample, verify
    and runs, in a browser on this machine, until Ctrl-C."""
    state = ReviewState.open(project_settings(ctx), source=source)
    server = ReviewServer(state, host=host, port=port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        server.start()
        info = {"url": server.url, "host": server.host, "port": server.port}
        info["exposed"] = server.exposed
        if as_json:
            click.echo(json.dumps(info))
        else:
            render.render_review(info)
        if open_browser:
            webbrowser.open(server.url)
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        state.close()


@cli.command()
@click.option(
    "--workdir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Where to put the demo's bundle and reports (default: a new temporary folder).",
)
@click.option("--clients", type=int, default=200, show_default=True, help="Clients to generate.")
@command_options
@click.pass_context
def demo(ctx: click.Context, workdir: Path | None, clients: int, as_json: bool) -> None:
    """Run the whole flow on a generated bundle against the embedded emulator."""
    with render.progress_reporter(not as_json) as progress:
        result = commands.demo(
            settings_of(ctx),
            workdir=workdir,
            clients=clients,
            progress=progress or NO_PROGRESS,
            on_step=None if as_json else render.render_demo_step,
        )
    emit(result, as_json, render.render_demo)


@cli.command()
@click.option(
    "--bypass-custom-logic",
    is_flag=True,
    help="Also require the privilege to bypass custom plug-ins during the load.",
)
@command_options
@click.pass_context
def doctor(ctx: click.Context, bypass_custom_logic: bool, as_json: bool) -> None:
    """Check that the environment is reachable, sign-in works and the user may load."""
    result = commands.doctor(settings_of(ctx), bypass_custom_logic=bypass_custom_logic)
    emit(result, as_json, render.render_doctor)
    if not result.ok:
        sys.exit(5)


@cli.group()
@project_option
@traceback_option
def emulator() -> None:
    """The Dataverse-compatible emulator: serve it over HTTP, dump what it stored."""


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key or not rest:
            raise click.BadParameter(f"{value!r}: expected KIND=VALUE", param_hint=what)
        pairs[key] = rest
    return pairs


@emulator.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=int, default=0, help="Port to listen on (default: any free port).")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Keep the data in SQLite under this folder (default: in memory).",
)
@click.option(
    "--tls",
    "tls_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Serve HTTPS with a self-signed certificate made in this folder at start-up "
    "(for clients that refuse plain HTTP, such as Microsoft's Python SDK).",
)
@click.option("--latency-ms", type=float, default=0.0, help="Simulated time per request.")
@click.option("--per-record-ms", type=float, default=0.0, help="Simulated time per record.")
@click.option("--requests-per-window", type=int, default=None, help="Default 6000.")
@click.option("--window-seconds", type=float, default=None, help="Default 300.")
@click.option("--max-execution-ms", type=int, default=None, help="Default 1200000.")
@click.option("--max-concurrent", type=int, default=None, help="Default 52.")
@click.option("--dop-hint", type=int, default=None, help="x-ms-dop-hint value (default 4).")
@click.option("--no-limits", is_flag=True, help="Turn service-protection limits off.")
@click.option(
    "--users",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Application clients that may sign in, each with its own limits.",
)
@click.option("--fault-seed", type=int, default=0, show_default=True)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="KIND=P",
    help="Fault probability per request; KIND is throttle, unavailable, deadlock, timeout, "
    "fail_item or lost (a write carried out, its answer lost). Repeatable.",
)
@click.option(
    "--fault-at",
    multiple=True,
    metavar="KIND=N[,N...]",
    help="Fault these (1-based) Web API requests. Repeatable.",
)
@click.option("--fault-retry-after", type=int, default=None, help="Retry-After of a 429 burst.")
@click.option("--fault-hold-seconds", type=float, default=None, help="Hold before a timeout.")
@click.option("--fault-item", type=int, default=None, help="Item that fail_item fails.")
@click.option(
    "--fault-corrupt",
    multiple=True,
    metavar="TABLE.COLUMN[:N][@ID]",
    help="Store another value in COLUMN of every Nth row written to TABLE (or of rows "
    "holding ID) while the request succeeds, e.g. contact.lastname:10. Repeatable.",
)
@click.option(
    "--snapshot",
    "snapshot",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    metavar="FILE",
    help="Serve the tenant of this snapshot (tenant-snapshot.json, written by `crm-ferry "
    "snapshot`): its tables, columns, choices, keys, users, currencies and settings in place "
    "of the built-in tenant's; the tables it does not hold stay built-in. A snapshot the "
    "emulator cannot represent is refused at start-up, naming what.",
)
@command_options
@click.pass_context
def emulator_serve(
    ctx: click.Context,
    host: str,
    port: int,
    data_dir: Path | None,
    snapshot: Path | None,
    tls_dir: Path | None,
    latency_ms: float,
    per_record_ms: float,
    requests_per_window: int | None,
    window_seconds: float | None,
    max_execution_ms: int | None,
    max_concurrent: int | None,
    dop_hint: int | None,
    no_limits: bool,
    users: int,
    fault_seed: int,
    faults: tuple[str, ...],
    fault_at: tuple[str, ...],
    fault_retry_after: int | None,
    fault_hold_seconds: float | None,
    fault_item: int | None,
    fault_corrupt: tuple[str, ...],
    as_json: bool,
) -> None:
    """Serve the emulator over HTTP until Ctrl-C or SIGTERM."""
    try:
        probabilities = {k: float(v) for k, v in _pairs(faults, "--fault").items()}
        at = {k: [int(n) for n in v.split(",")] for k, v in _pairs(fault_at, "--fault-at").items()}
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    config = emulator_config(
        latency_ms=latency_ms,
        per_record_ms=per_record_ms,
        requests_per_window=requests_per_window,
        window_seconds=window_seconds,
        max_execution_ms=max_execution_ms,
        max_concurrent=max_concurrent,
        dop_hint=dop_hint,
        limits=not no_limits,
        fault_seed=fault_seed,
        fault_probabilities=probabilities,
        fault_at=at,
        fault_retry_after_s=fault_retry_after,
        fault_hold_s=fault_hold_seconds,
        fault_item=fault_item,
        fault_corrupt=fault_corrupt,
        users=users,
        snapshot=settings_of(ctx).resolve(snapshot) if snapshot is not None else None,
    )
    server = commands.emulator_serve(
        settings_of(ctx), config=config, data_dir=data_dir, host=host, port=port, tls_dir=tls_dir
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        info = server.as_dict()
        info["connect"] = commands.emulator_connection(server).as_dict()
        if as_json:
            click.echo(json.dumps(info))  # one line, so a supervising process can read it
        else:
            render.render_server(info)
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.app.close()


@emulator.command("dump")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="The folder given to `emulator serve --data`.",
)
@click.option("--table", default=None, help="Only this table (logical name).")
@command_options
@click.pass_context
def emulator_dump(ctx: click.Context, data_dir: Path, table: str | None, as_json: bool) -> None:
    """Print every row the emulator stored (and its metadata)."""
    result = commands.emulator_dump(settings_of(ctx), data_dir=data_dir, table=table)
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
    else:
        render.render_dump(result)


def main() -> None:
    """Entry point of the ``crm-ferry`` command."""
    cli(prog_name="crm-ferry")
