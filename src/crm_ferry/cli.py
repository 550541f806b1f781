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
from crm_ferry.errors import FerryError
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
    err_console.print(f"[bold red]error:[/] {exc.message}", soft_wrap=True)
    if exc.hint:
        err_console.print(f"[yellow]what to do:[/] {exc.hint}", soft_wrap=True)


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
@json_option
@click.pass_context
def discover(ctx: click.Context, source: Path | None, rejects: Path | None, as_json: bool) -> None:
    """Profile the export bundle: objects, counts, rejects, custom properties, broken links."""
    with progress_reporter(enabled=not as_json) as progress:
        result = commands.discover(
            _settings(ctx), source=source, rejects=rejects, progress=progress or NO_PROGRESS
        )
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
    result = commands.demo(_settings(ctx), workdir=workdir, clients=clients)

    def render(r: commands.DemoResult) -> None:
        console.rule("crm-ferry demo")
        console.print(f"Generated {r.generated.clients:,} clients into {r.generated.out}")
        render_discovery(r.discovery)
        console.print(f"Everything is under {r.workdir}")

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
    fault_seed: int,
    faults: tuple[str, ...],
    fault_at: tuple[str, ...],
    fault_retry_after: int | None,
    fault_hold_seconds: float | None,
    fault_item: int | None,
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


def main() -> None:
    """Entry point of the ``crm-ferry`` command."""
    cli(prog_name="crm-ferry")
