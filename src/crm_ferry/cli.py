"""The command line: parse flags, call :mod:`crm_ferry.commands`, render the result.

No logic lives here. Errors derived from :class:`crm_ferry.errors.FerryError` are printed
as one message (plus a hint) and mapped to their exit code; ``--traceback`` shows the
full trace instead. ``--json`` on a command prints its result as JSON on stdout.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress
from rich.table import Table
from rich.text import Text

from crm_ferry import __version__, commands
from crm_ferry.dataverse.doctor import DoctorResult
from crm_ferry.errors import CheckFailed, FerryError
from crm_ferry.mapping import workflow as mapflow
from crm_ferry.progress import NO_PROGRESS
from crm_ferry.settings import Settings
from crm_ferry.sources.discover import FINDING_KINDS, SourceDiscovery
from crm_ferry.sources.generator import GenerateResult

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class _Result(Protocol):
    def as_dict(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=_Result)
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class _State:
    project: Path | None = None
    traceback: bool = False
    json: bool = False


class FerryGroup(click.Group):
    """A click group that turns :class:`FerryError` into a message and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FerryError as exc:
            state = ctx.find_object(_State) or _State()
            if state.traceback:
                raise
            _print_error(exc, as_json=state.json)
            sys.exit(exc.exit_code)


def _print_error(exc: FerryError, *, as_json: bool) -> None:
    if as_json:
        body = {"error": {"type": type(exc).__name__, "exit_code": exc.exit_code, **exc.attrs()}}
        click.echo(json.dumps(body, indent=2, default=str))
        return
    # messages and hints name files, fields and TOML sections ("[source]"): not markup
    err_console.print(f"[bold red]error:[/] {escape(exc.message)}", soft_wrap=True)
    if exc.hint:
        err_console.print(f"[yellow]what to do:[/] {escape(exc.hint)}", soft_wrap=True)


def json_option(fn: F) -> F:
    def remember(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
        ctx.ensure_object(_State).json = value
        return value

    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        expose_value=True,
        callback=remember,
        is_eager=True,
        help="Print the result as JSON on stdout.",
    )(fn)


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    state = ctx.ensure_object(_State)
    return Settings.load(state.project, **overrides)


def _emit(result: R, as_json: bool, render: Callable[[R], None]) -> None:
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2, default=str))
    else:
        render(result)


class RichProgressReporter:
    """:class:`crm_ferry.progress.Progress` shown as rich bars with rate and ETA."""

    def __init__(self, progress: RichProgress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    def start(self, task: str, total: int | None = None) -> None:
        if task in self._tasks:
            self._progress.reset(self._tasks[task], total=total)
        else:
            self._tasks[task] = self._progress.add_task(task, total=total)

    def advance(self, task: str, amount: int = 1) -> None:
        if task not in self._tasks:
            self.start(task)
        self._progress.advance(self._tasks[task], amount)

    def finish(self, task: str) -> None:
        if task in self._tasks:
            t = self._tasks[task]
            total = self._progress.tasks[t].total
            completed = self._progress.tasks[t].completed
            self._progress.update(t, total=total if total is not None else completed)


class RateColumn(ProgressColumn):
    """Units per second, e.g. ``12,345 rec/s``."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} rec/s", style="progress.data.speed")


@contextmanager
def progress_reporter(enabled: bool = True) -> Iterator[RichProgressReporter | None]:
    """A progress reporter on stderr (records/s and ETA), or ``None`` when disabled."""
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("{task.description:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with RichProgress(*columns, console=err_console, transient=True) as p:
        yield RichProgressReporter(p)


# ---------------------------------------------------------------------------
# The commands


@click.group(cls=FerryGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--project",
    "-C",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="The migration project folder (default: the current folder).",
)
@click.option("--traceback", is_flag=True, help="Show the full traceback of an error.")
@click.version_option(__version__, prog_name="crm-ferry")
@click.pass_context
def cli(ctx: click.Context, project: Path | None, traceback: bool) -> None:
    """crm-ferry moves a practice from The Practice to Dynamics 365 Sales."""
    state = ctx.ensure_object(_State)
    state.project = project
    state.traceback = traceback


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
@json_option
@click.pass_context
def generate(
    ctx: click.Context,
    out: Path,
    clients: int,
    seed: int,
    as_zip: bool,
    with_large_files: bool,
    as_json: bool,
) -> None:
    """Write a realistic synthetic The Practice export bundle (same seed, same bytes)."""
    result = commands.generate(
        _settings(ctx),
        out=out,
        clients=clients,
        seed=seed,
        as_zip=as_zip,
        with_large_files=with_large_files,
    )
    _emit(result, as_json, _render_generate)


def _render_generate(result: GenerateResult) -> None:
    table = Table(title=f"Bundle written to {result.out}")
    table.add_column("file")
    table.add_column("records", justify="right")
    for name, count in sorted(result.files.items()):
        table.add_row(name, f"{count:,}")
    console.print(table)
    console.print(f"{result.bytes:,} bytes; seed {result.seed}; ground truth {result.ground_truth}")


@cli.command()
@click.option(
    "--source",
    "-s",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="The export bundle (folder or .zip); default: [source] path in ferry.toml.",
)
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
    "is set).",
)
@json_option
@click.pass_context
def discover(
    ctx: click.Context,
    source: Path | None,
    rejects: Path | None,
    target: bool | None,
    as_json: bool,
) -> None:
    """Profile the export bundle: objects, counts, rejects, custom properties, broken links.

    With a target: also audit the tenant, estimate the load's duration and grade the
    migration's complexity, written to runs/scoping-<timestamp>/ (HTML and JSON)."""
    settings = _settings(ctx)
    if target is None:
        target = bool(settings.environment_url)
    with progress_reporter(enabled=not as_json) as progress:
        if target:
            scoping = commands.scope(
                settings, source=source, rejects=rejects, progress=progress or NO_PROGRESS
            )
        else:
            result = commands.discover(
                settings, source=source, rejects=rejects, progress=progress or NO_PROGRESS
            )
    if target:
        _emit(scoping, as_json, render_scoping)
    else:
        _emit(result, as_json, render_discovery)


def render_discovery(result: SourceDiscovery) -> None:
    table = Table(title=f"Source: {result.source}")
    for col, justify in (
        ("object", "left"),
        ("file", "left"),
        ("read", "right"),
        ("accepted", "right"),
        ("rejected", "right"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    totals = [0, 0, 0]
    for name, o in result.objects.items():
        table.add_row(
            name,
            o.file or "-",
            f"{o.read:,}",
            f"{o.accepted:,}",
            f"[red]{o.rejected:,}[/]" if o.rejected else "0",
        )
        totals = [totals[0] + o.read, totals[1] + o.accepted, totals[2] + o.rejected]
    table.add_section()
    table.add_row("total", "", *(f"{n:,}" for n in totals))
    console.print(table)
    if result.dangling:
        dt = Table(title="References that point nowhere")
        dt.add_column("reference")
        dt.add_column("count", justify="right")
        dt.add_column("example")
        for kind, d in result.dangling.items():
            dt.add_row(kind, f"{d.count:,}", d.examples[0] if d.examples else "")
        console.print(dt)
    if result.findings:
        ft = Table(title="Worth a look before loading (valid rows)")
        ft.add_column("finding")
        ft.add_column("count", justify="right")
        ft.add_column("first ids")
        for kind, f in result.findings.items():
            if f.count:
                ft.add_row(
                    FINDING_KINDS.get(kind, kind), f"{f.count:,}", ", ".join(f.source_ids[:3])
                )
        console.print(ft)
    if result.custom_properties:
        ct = Table(title="Custom properties")
        ct.add_column("key")
        ct.add_column("inferred type")
        for key, kind in sorted(result.custom_properties.items()):
            ct.add_row(key, kind)
        console.print(ct)
    if result.top_reject_reasons:
        rt = Table(title="Top reject reasons")
        rt.add_column("reason")
        rt.add_column("rows", justify="right")
        for reason, n in result.top_reject_reasons:
            rt.add_row(reason, f"{n:,}")
        console.print(rt)
    if result.rejects_path:
        console.print(f"Rejected rows: {result.rejects_path}")


def render_scoping(r: commands.ScopingReport) -> None:
    render_discovery(r.source)
    t, e, g = r.tenant, r.estimate, r.grade
    tt = Table(title=f"Tenant: {t.url}")
    tt.add_column("check")
    tt.add_column("finding")
    limit = "no limit" if t.custom_table_limit is None else f"of {t.custom_table_limit}"
    tt.add_row(
        "custom tables",
        f"{len(t.custom_tables)} used {limit} ({t.tier}); +{len(t.new_custom_tables)} needed = "
        f"{t.custom_tables_after}" + (" [red]over the limit[/]" if t.over_table_limit else ""),
    )
    tt.add_row("invoice table", "present" if t.invoice_table else "[red]missing[/]")
    used = ", ".join(f"{c} ({n:,})" for c, n in t.currencies_used.items()) or "none"
    missing = f"; [red]missing {', '.join(t.currencies_missing)}[/]" if t.currencies_missing else ""
    tt.add_row("currencies", f"present {', '.join(t.currencies_present)}; used {used}{missing}")
    c = t.coaches
    tt.add_row(
        "coaches",
        f"{c.matched} matched, {c.disabled} disabled, {c.unmatched} unmatched of {c.total}",
    )
    f = t.files
    tt.add_row(
        "files",
        f"{f.total:,} files, {f.over_limit:,} over {f.max_upload_bytes:,} bytes (Base64), "
        f"{f.blocked:,} blocked type; {f.inline_images:,} inline images",
    )
    tt.add_row("latency", f"{t.latency_ms:,.1f} ms per request")
    console.print(tt)
    et = Table(title="Duration estimate")
    for col in ("role", "table", "operation", "rows", "sent as", "requests", "wall s"):
        et.add_column(col, justify="right" if col in ("rows", "requests", "wall s") else "left")
    for st in e.steps:
        et.add_row(
            st.role,
            st.table,
            st.operation,
            f"{st.rows:,}",
            st.as_dict()["method"],
            f"{st.requests:,}",
            f"{st.wall_seconds:,.1f}",
        )
    console.print(et)
    for line in e.arithmetic():
        console.print(f"  {escape(line)}", soft_wrap=True)
    gt = Table(title=f"Complexity: grade {g.letter} ({g.label}), {g.points} points")
    gt.add_column("factor")
    gt.add_column("points", justify="right")
    gt.add_column("why")
    for reason in g.reasons:
        gt.add_row(reason.factor, str(reason.points), escape(reason.detail))
    console.print(gt)
    for blocker in g.blockers:
        console.print(f"[red]to settle first:[/] {escape(blocker)}", soft_wrap=True)
    console.print(f"Scoping report: {r.html_path} (and {r.json_path})")


@cli.command()
@click.option(
    "--workdir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Where to put the demo's bundle and reports (default: a new temporary folder).",
)
@click.option("--clients", type=int, default=200, show_default=True)
@json_option
@click.pass_context
def demo(ctx: click.Context, workdir: Path | None, clients: int, as_json: bool) -> None:
    """Run the whole flow on a generated bundle against the embedded emulator."""

    def show(step: Any) -> None:
        if not as_json:
            err_console.print(f"[green]✓[/] {step.name:<17} {step.seconds:6.1f} s  {step.detail}")

    with progress_reporter(not as_json) as progress:
        result = commands.demo(
            _settings(ctx),
            workdir=workdir,
            clients=clients,
            progress=progress or NO_PROGRESS,
            on_step=show,
        )

    def render(r: commands.DemoFlow) -> None:
        console.rule("crm-ferry demo")
        if r.shortcuts:
            console.print("[yellow]Decided by the demo (a person decides these):[/]")
            for s in r.shortcuts:
                console.print(f"  {s}")
        _render_load(r.results["migrate"])
        _render_load(r.results["delta"])
        _render_proof(r.results["verify"].proof)
        _render_rollback(r.results["rollback_preview"])
        table = Table(title="Steps")
        for col in ("step", "seconds", "what happened"):
            table.add_column(col, justify="right" if col == "seconds" else "left")
        for st in r.steps:
            table.add_row(st.name, f"{st.seconds:.1f}", st.detail)
        console.print(table)
        console.print(f"Everything is under {r.workdir}")
        console.print("Reports:")
        for name, path in r.reports.items():
            console.print(f"  {name}: {path}")

    _emit(result, as_json, render)


@cli.command()
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder to write into (default: <project>/references).",
)
@json_option
@click.pass_context
def references(ctx: click.Context, out: Path | None, as_json: bool) -> None:
    """Write rebuild guides (automations, integrations, reports), templates, data dictionary."""
    result = commands.references(_settings(ctx), out=out)

    def render(r: commands.ReferencesResult) -> None:
        table = Table(title=f"References written to {r.out_dir}")
        table.add_column("what")
        table.add_column("entries", justify="right")
        for what, n in (
            ("automations (rebuild guide)", r.automations),
            ("email templates", r.templates),
            ("integrations (checklist)", r.integrations),
            ("reports", r.reports),
            ("data dictionary columns", r.dictionary_rows),
        ):
            table.add_row(what, f"{n:,}")
        console.print(table)
        if r.review:
            console.print(f"[yellow]{r.review} entries need a person's decision (marked review)[/]")
        for obj, n in r.rejected.items():
            console.print(f"[red]{n} {obj} rows could not be read and are not in the guides[/]")

    _emit(result, as_json, render)


@cli.group()
def emulator() -> None:
    """The Dataverse-compatible emulator: serve it over HTTP, dump what it stored."""


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key or not rest:
            raise click.BadParameter(f"{value!r}: expected KIND=VALUE", param_hint=what)
        out[key] = rest
    return out


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
    help="Fault probability per request; KIND is throttle, unavailable, deadlock, timeout "
    "or fail_item. Repeatable.",
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
@json_option
@click.pass_context
def emulator_serve(
    ctx: click.Context,
    host: str,
    port: int,
    data_dir: Path | None,
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
    import signal
    import threading

    from crm_ferry.emulator.app import emulator_config

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
    )
    server = commands.emulator_serve(
        _settings(ctx), config=config, data_dir=data_dir, host=host, port=port
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        info = server.as_dict()
        if as_json:
            click.echo(json.dumps(info))  # one line, so a supervising process can read it
        else:
            lines = [
                f"Dataverse emulator at [bold]{info['url']}[/]",
                f"  Web API    {info['api_url']}",
                f"  tenant     {info['tenant']}",
                f"  authority  {info['authority']}",
                *(
                    f"  client     {c['client_id']}  secret {c['client_secret']}"
                    for c in info["clients"]
                ),
                f"  ({info['note']})",
                "Ctrl-C to stop.",
            ]
            for line in lines:
                console.print(line, soft_wrap=True)
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
@json_option
@click.pass_context
def emulator_dump(ctx: click.Context, data_dir: Path, table: str | None, as_json: bool) -> None:
    """Print every row the emulator stored (and its metadata)."""
    result = commands.emulator_dump(_settings(ctx), data_dir=data_dir, table=table)
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
        return
    tables = result.get("records", result)
    for name, rows in sorted(tables.items()):
        count = f"{len(rows):,} rows" if isinstance(rows, list | dict) else str(rows)
        console.print(f"{name:<32} {count}")


@cli.command()
@click.option(
    "--bypass-custom-logic",
    is_flag=True,
    help="Also require the privilege to bypass custom plug-ins during the load.",
)
@json_option
@click.pass_context
def doctor(ctx: click.Context, bypass_custom_logic: bool, as_json: bool) -> None:
    """Check that the environment is reachable, sign-in works and the user may load."""
    result = commands.doctor(_settings(ctx), bypass_custom_logic=bypass_custom_logic)

    def render(r: DoctorResult) -> None:
        marks = {"pass": "[green]pass[/]", "warn": "[yellow]warn[/]", "fail": "[red]FAIL[/]"}
        console.print(f"Dataverse environment {r.url}")
        for c in r.checks:
            mark = marks.get(c.status, "skip")
            console.print(f"  {mark}  {c.name:<20} {c.detail}", soft_wrap=True)
            if c.hint and c.status == "fail":
                console.print(f"        [yellow]what to do:[/] {c.hint}", soft_wrap=True)
        console.print("ready to migrate" if r.ok else "[red]blocking problems found[/]")

    _emit(result, as_json, render)
    if not result.ok:
        sys.exit(5)


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--source", default=None, help="The export bundle (folder or .zip) to record.")
@click.option("--url", "environment_url", default=None, help="The Dataverse environment URL.")
@click.option("--tenant", default=None, help="The Entra tenant (name or id).")
@click.option("--client-id", default=None, help="The app registration's client id.")
@click.option("--solution", default=None, help="Unmanaged solution for new tables/columns.")
@click.option("--prefix", "publisher_prefix", default="new", show_default=True)
@json_option
@click.pass_context
def init(
    ctx: click.Context,
    directory: Path,
    source: str | None,
    environment_url: str | None,
    tenant: str | None,
    client_id: str | None,
    solution: str | None,
    publisher_prefix: str,
    as_json: bool,
) -> None:
    """Create a migration project in DIRECTORY (ferry.toml without secrets, .gitignore, runs/)."""
    result = commands.init(
        _settings(ctx),
        directory=directory,
        source=source,
        environment_url=environment_url,
        tenant=tenant,
        client_id=client_id,
        solution=solution,
        publisher_prefix=publisher_prefix,
    )

    def render(r: mapflow.InitResult) -> None:
        console.print(f"Migration project in [bold]{r.project_dir}[/]")
        for name in r.created:
            console.print(f"  created  {name}")
        for name in r.kept:
            console.print(f"  kept     {name} (already there)")
        console.print("Next: edit ferry.toml, then `crm-ferry discover`, `crm-ferry map propose`.")

    _emit(result, as_json, render)


@cli.group("map")
def map_group() -> None:
    """The map (mapping.yaml): propose it, show it, check it, confirm it."""


_source_option = click.option(
    "--source",
    "-s",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="The export bundle (folder or .zip); default: [source] path in ferry.toml.",
)


def _print_problems(problems: tuple[Any, ...] | list[Any]) -> None:
    for p in problems:
        mark = ("error", "red") if p.severity == "error" else ("warning", "yellow")
        console.print(Text.assemble(mark, f" {p.where()}: {p.message}"), soft_wrap=True)


@map_group.command("propose")
@_source_option
@json_option
@click.pass_context
def map_propose(ctx: click.Context, source: Path | None, as_json: bool) -> None:
    """Propose mapping.yaml (re-proposing keeps your edits and comments and shows the diff)."""
    result = commands.map_propose(_settings(ctx), source=source)

    def render(r: mapflow.ProposeResult) -> None:
        verb = "Wrote" if r.created else ("Updated" if r.diff else "Unchanged:")
        console.print(f"{verb} {r.path} (status: {r.status})")
        styles = {"+": "green", "-": "red", "~": "yellow"}
        for line in r.diff:
            console.print(Text(line, style=styles.get(line[:1], "")), soft_wrap=True)
        for line in r.kept:
            console.print(Text(f"  kept your edit: {line}", style="cyan"), soft_wrap=True)
        if not r.had_base:
            console.print("[yellow]no earlier proposal on record: differing values were kept[/]")
        counts = ", ".join(f"{n} {status}" for status, n in sorted(r.owners.items()))
        console.print(
            f"{r.fields} fields, {r.below_threshold} below the confirm threshold; "
            f"coaches: {counts or 'none'}"
        )
        _print_problems(r.problems)
        console.print("Next: `crm-ferry map show`, edit mapping.yaml, `map confirm --by NAME`.")

    _emit(result, as_json, render)


@map_group.command("show")
@json_option
@click.pass_context
def map_show(ctx: click.Context, as_json: bool) -> None:
    """The map as a table: source → target, type, confidence, reason (doubtful lines first)."""
    result = commands.map_show(_settings(ctx))

    def render(r: mapflow.ShowResult) -> None:
        title = f"{r.path.name}: {r.status}"
        if r.confirmed_by:
            title += f" by {r.confirmed_by} at {r.confirmed_at}"
        table = Table(title=title)
        for col in ("source", "target", "type", "confidence", "reason"):
            right = col == "confidence"
            table.add_column(col, justify="right" if right else "left", overflow="fold")
        for ln in r.lines:
            target = f"{ln.table}.{ln.column}" if ln.column else "[dim]not migrated[/]"
            conf = f"{ln.confidence:.2f}"
            style = "yellow" if ln.below_threshold else None
            table.add_row(ln.source, target, ln.type or "", conf, ln.reason, style=style)
        console.print(table)
        if r.owners:
            ot = Table(title=f"Owners (fallback: {r.fallback or 'none'})")
            for col in ("coach", "email", "user", "status", "reason"):
                ot.add_column(col)
            for cid, o in r.owners.items():
                ot.add_row(cid, o["email"] or "", o["user"] or "", o["status"], o["reason"])
            console.print(ot)
        _print_problems(r.problems)

    _emit(result, as_json, render)


@map_group.command("check")
@_source_option
@json_option
@click.pass_context
def map_check(ctx: click.Context, source: Path | None, as_json: bool) -> None:
    """Check the map against the source and the tenant; exit 7 when any error is found."""
    result = commands.map_check(_settings(ctx), source=source)

    def render(r: mapflow.CheckResult) -> None:
        _print_problems(r.problems)
        if r.ok:
            console.print(f"{r.path.name}: no errors ({len(r.problems)} warning(s))")
        else:
            console.print(f"[red]{r.path.name}: {len(r.errors)} error(s)[/]")

    _emit(result, as_json, render)
    if not result.ok:
        sys.exit(CheckFailed.exit_code)


@map_group.command("confirm")
@click.option("--by", "by", required=True, help="Who reviewed and confirms the map.")
@_source_option
@json_option
@click.pass_context
def map_confirm(ctx: click.Context, by: str, source: Path | None, as_json: bool) -> None:
    """Confirm the map (refused while errors or unresolved owners remain)."""
    result = commands.map_confirm(_settings(ctx), by=by, source=source)

    def render(r: mapflow.ConfirmResult) -> None:
        console.print(f"{r.path.name} confirmed by {r.confirmed_by} at {r.confirmed_at}")
        _print_problems(r.warnings)

    _emit(result, as_json, render)


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
@json_option
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
        _settings(ctx),
        dry_run=dry_run,
        rollback=rollback,
        force=force,
        verbose=verbose,
        tier=tier,
        table_limit=table_limit,
    )
    _emit(result, as_json, render_provision)


def render_provision(r: commands.ProvisionResult) -> None:
    p = r.plan
    if p is not None and (r.action == "dry-run" or p.ops):
        dry = " (dry run: nothing changed)" if r.action == "dry-run" else ""
        table = Table(title=f"Provisioning plan{dry}")
        for col in ("#", "op", "table", "name", "details", "reverse"):
            table.add_column(col)
        for i, op in enumerate(p.ops, start=1):
            table.add_row(str(i), op.kind, op.table, op.name, op.details, op.reverse.kind)
        console.print(table)
        limit = "no limit" if p.table_limit is None else f"limit {p.table_limit}"
        console.print(
            f"custom tables: {p.custom_tables} now + {len(p.new_tables)} new ({p.tier}, {limit})"
        )
    if p is not None and r.verbose and p.skipped:
        for s in p.skipped:
            console.print(f"  [dim]exists[/] {s.kind} {s.table}.{s.name}: {s.reason}")
    if p is not None:
        for w in p.warnings:
            console.print(f"[yellow]warning:[/] {w}", soft_wrap=True)
        for c in p.conflicts:
            console.print(f"[red]conflict:[/] {c}", soft_wrap=True)
    if r.applied is not None:
        a = r.applied
        if not a.applied:
            console.print("Nothing to do: the tenant already has everything the map needs.")
        else:
            for done in a.applied:
                console.print(f"  [green]done[/] {done.op.description}", soft_wrap=True)
            where = f" in solution {a.solution}" if a.solution else ""
            console.print(
                f"{len(a.applied)} operation(s) applied{where}, run {a.run_id}; "
                f"published {', '.join(a.published) or 'nothing'}"
            )
    if r.rolled_back is not None:
        rb = r.rolled_back
        if not rb.reversed:
            console.print("Nothing to roll back: the journal has no provisioned operations.")
        for undone in rb.reversed:
            mark = "[green]undone[/]" if undone.outcome == "reversed" else "[dim]absent[/]"
            console.print(f"  {mark} {undone.reverse.description}", soft_wrap=True)
        if rb.reversed:
            console.print(f"{len(rb.reversed)} operation(s) reversed, run {rb.run_id}")


# ---------------------------------------------------------------------------
# The load and its proof


def _render_load(r: commands.LoadResult) -> None:
    title = f"{r.kind} {r.run_id}" + (" (resumed)" if r.resumed else "")
    table = Table(title=title)
    for col in (
        "object",
        "read",
        "written",
        "unchanged",
        "rejected",
        "failed",
        "skipped",
        "adds up",
    ):
        table.add_column(col, justify="left" if col == "object" else "right")
    for obj, c in r.objects.items():
        d = c.as_dict()
        table.add_row(
            obj,
            *(
                f"{d[k]:,}"
                for k in ("read", "written", "unchanged", "rejected", "failed", "skipped")
            ),
            "yes" if c.balanced else "[red]NO[/]",
        )
    console.print(table)
    rate = f"{r.records / r.seconds:,.0f} records/s" if r.seconds else ""
    console.print(
        f"{r.requests:,} requests in {r.seconds:,.1f} s {rate}; load order: " + " → ".join(r.order)
    )
    for obj, gone in r.disappeared.items():
        console.print(
            f"[yellow]{len(gone)} {obj} no longer in the source[/] (kept in Dynamics): "
            + ", ".join(gone[:10])
            + (" …" if len(gone) > 10 else "")
        )
    for f in r.failures[:20]:
        console.print(
            f"[red]failed[/] {f['table']} {f['id']} ({f['source']}): {escape(f['error'])}"
        )
    console.print(f"rejects and the run report: runs/{r.run_id}/")


@cli.command()
@click.option("--source", type=click.Path(path_type=Path), default=None, help="The bundle.")
@click.option(
    "--skip-sample-gate", is_flag=True, help="Load without an accepted sample (journaled)."
)
@json_option
@click.pass_context
def migrate(ctx: click.Context, source: Path | None, skip_sample_gate: bool, as_json: bool) -> None:
    """Load everything in dependency order; resumes an interrupted run."""
    with progress_reporter(not as_json) as progress:
        result = commands.migrate(
            _settings(ctx),
            source=source,
            skip_sample_gate=skip_sample_gate,
            progress=progress or NO_PROGRESS,
        )
    _emit(result, as_json, _render_load)


@cli.command()
@click.option("--source", type=click.Path(path_type=Path), required=True, help="The new bundle.")
@json_option
@click.pass_context
def delta(ctx: click.Context, source: Path, as_json: bool) -> None:
    """Write what changed in the source since the last run."""
    with progress_reporter(not as_json) as progress:
        result = commands.delta(_settings(ctx), source=source, progress=progress or NO_PROGRESS)
    _emit(result, as_json, _render_load)


@cli.command()
@click.argument("run_id", required=False)
@click.option("--all", "all_runs", is_flag=True, help="Every run, newest first.")
@click.option("--force", is_flag=True, help="Also undo rows edited in Dynamics since the run.")
@click.option("--preview", is_flag=True, help="Only show what would be undone.")
@json_option
@click.pass_context
def rollback(
    ctx: click.Context,
    run_id: str | None,
    all_runs: bool,
    force: bool,
    preview: bool,
    as_json: bool,
) -> None:
    """Undo a run: delete what it created, restore what it changed, newest first."""
    with progress_reporter(not as_json) as progress:
        result = commands.rollback(
            _settings(ctx),
            run_id=run_id,
            all_runs=all_runs,
            force=force,
            preview=preview,
            progress=progress or NO_PROGRESS,
        )
    _emit(result, as_json, _render_rollback)


def _render_rollback(r: commands.RollbackReport) -> None:
    table = Table(title="Rollback preview" if r.preview else "Rollback")
    for col in ("run", "deleted", "restored", "already gone", "conflicts", "failures"):
        table.add_column(col, justify="left" if col == "run" else "right")
    for res in r.results:
        if r.preview:
            planned = res.planned
            dels = sum(v["delete"] for v in planned.values())
            rest = sum(v["restore"] for v in planned.values())
            table.add_row(res.run_id, f"{dels:,}", f"{rest:,}", "", "", "")
        else:
            table.add_row(
                res.run_id,
                f"{res.deleted:,}",
                f"{res.restored:,}",
                f"{res.already_gone:,}",
                str(len(res.conflicts)),
                str(len(res.failures)),
            )
    console.print(table)
    for res in r.results:
        for c in res.conflicts[:20]:
            console.print(
                f"[yellow]conflict[/] {c['table']} {c['id']}: edited in Dynamics since the run "
                f"({', '.join(c['columns'])}); left as it is (use --force to undo anyway)"
            )


@cli.command("runs")
@json_option
@click.pass_context
def runs_(ctx: click.Context, as_json: bool) -> None:
    """List runs with their counts and state."""
    result = commands.runs(_settings(ctx))

    def render(r: commands.RunsResult) -> None:
        table = Table(title="Runs")
        for col in ("run", "kind", "state", "started", "finished", "records", "note"):
            table.add_column(col)
        for info in r.runs:
            objs = info.counts.get("objects", {}) if isinstance(info.counts, dict) else {}
            read = sum(int(v.get("read", 0)) for v in objs.values()) if objs else None
            table.add_row(
                info.run_id,
                info.kind,
                info.state + (" (purged)" if info.purged_at else ""),
                info.started_at,
                info.finished_at or "",
                "" if read is None else f"{read:,}",
                info.note or "",
            )
        console.print(table)

    _emit(result, as_json, render)


@cli.command()
@click.argument("run_id", required=False)
@click.option("--all", "all_runs", is_flag=True, help="Every run.")
@json_option
@click.pass_context
def purge(ctx: click.Context, run_id: str | None, all_runs: bool, as_json: bool) -> None:
    """Remove local copies of record contents; keep the audit trail."""
    result = commands.purge(_settings(ctx), run_id=run_id, all_runs=all_runs)

    def render(r: commands.PurgeResult) -> None:
        console.print(
            f"Removed record contents from {r.operations:,} journaled operations and "
            f"{len(r.folders)} run folder(s); ids, operations, counts and times are kept."
        )

    _emit(result, as_json, render)


@cli.group(invoke_without_command=True)
@click.option("--size", type=int, default=300, show_default=True, help="Records to sample.")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--source", type=click.Path(path_type=Path), default=None, help="The bundle.")
@json_option
@click.pass_context
def sample(ctx: click.Context, size: int, seed: int, source: Path | None, as_json: bool) -> None:
    """Load a stratified sample and write its field-level diff report."""
    if ctx.invoked_subcommand is not None:
        return
    with progress_reporter(not as_json) as progress:
        result = commands.sample(
            _settings(ctx), size=size, seed=seed, source=source, progress=progress or NO_PROGRESS
        )

    def render(r: commands.SampleResult) -> None:
        _render_load(r.load)
        _render_proof(r.proof)
        console.print(f"report: {r.report.html}")
        console.print("accept it with `crm-ferry sample accept --by NAME`")

    _emit(result, as_json, render)


@sample.command("accept")
@click.option("--by", required=True, help="Who accepts the sample report.")
@json_option
@click.pass_context
def sample_accept(ctx: click.Context, by: str, as_json: bool) -> None:
    """Record acceptance of the latest sample for the current map."""
    result = commands.sample_accept(_settings(ctx), by=by)

    def render(r: commands.AcceptResult) -> None:
        console.print(f"Sample {r.run_id} accepted by {r.accepted_by} at {r.accepted_at}.")

    _emit(result, as_json, render)


def _render_proof(p: Any) -> None:
    table = Table(title="Field-level diff")
    for col in ("table", "match", "mismatch", "missing", "extra"):
        table.add_column(col, justify="left" if col == "table" else "right")
    for tbl, v in p.as_dict()["verdicts_by_table"].items():
        table.add_row(tbl, *(f"{v.get(k, 0):,}" for k in ("match", "mismatch", "missing", "extra")))
    console.print(table)
    failed = [c for c in p.checks if not c.passed]
    console.print(f"{len(p.checks):,} cross-record checks, {len(failed):,} not passed")
    for c in failed[:15]:
        console.print(f"  [yellow]{c.name}[/] {c.table} {c.record}: {escape(c.detail)}")


@cli.command()
@click.option("--full", is_flag=True, help="Compare every field of every row.")
@click.option("--fields", type=int, default=None, help="Compare a random N rows (default 200).")
@click.option("--check", is_flag=True, help="Exit non-zero on any difference.")
@click.option("--source", type=click.Path(path_type=Path), default=None, help="The bundle.")
@json_option
@click.pass_context
def verify(
    ctx: click.Context,
    full: bool,
    fields: int | None,
    check: bool,
    source: Path | None,
    as_json: bool,
) -> None:
    """Counts, sums, orphan lookups, duplicates and a field-level diff after a load."""
    result = commands.verify(_settings(ctx), full=full, fields=fields, check=check, source=source)

    def render(r: commands.VerifyResult) -> None:
        table = Table(title="Records: source vs loaded")
        for col in ("object", "source", "loaded", "rejected"):
            table.add_column(col, justify="left" if col == "object" else "right")
        for obj, c in r.objects.items():
            table.add_row(obj, f"{c['source']:,}", f"{c['loaded']:,}", f"{c['rejected']:,}")
        console.print(table)
        _render_proof(r.proof)
        for name, values in r.proof.sums.items():
            console.print(f"{name}: " + ", ".join(f"{k} {v}" for k, v in values.items()))
        console.print(
            ("[green]no differences[/]" if r.ok else "[yellow]differences found[/]")
            + f"; report: {r.report.html}"
        )

    _emit(result, as_json, render)


def main() -> None:
    """Entry point of the ``crm-ferry`` command."""
    cli(prog_name="crm-ferry")
