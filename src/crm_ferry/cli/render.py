"""How results look on a terminal: one renderer per result type, and progress bars.

Each ``render_*`` takes the typed result a :mod:`crm_ferry.commands` verb returned and prints
it as rich tables that fit 80 columns without cutting ids a user must type; ``--json``
bypasses these and prints ``result.as_dict()``. Progress goes to stderr (records/s, ETA).
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich import box
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

from crm_ferry import commands
from crm_ferry.commands.worker import LEASE_S
from crm_ferry.errors import FerryError
from crm_ferry.journal import RecordedDifference
from crm_ferry.mapping.spec import Problem
from crm_ferry.reconcile.classify import ID_LENGTH, Difference, class_counts
from crm_ferry.reconcile.reconciliation import Reconciliation
from crm_ferry.reconcile.verify import Proof
from crm_ferry.settings import SECRET_ENV
from crm_ferry.sources.discover import FINDING_KINDS
from crm_ferry.sources.downloads import LinkedSummary
from crm_ferry.sources.groups import GroupSummary

__all__ = [
    "RateColumn",
    "RichProgressReporter",
    "console",
    "err_console",
    "print_error",
    "progress_reporter",
    "render_check",
    "render_confirm",
    "render_demo",
    "render_demo_step",
    "render_discovery",
    "render_doctor",
    "render_dump",
    "render_generate",
    "render_init",
    "render_journal_copy",
    "render_load",
    "render_low_confidence",
    "render_preview",
    "render_propose",
    "render_provision",
    "render_purge",
    "render_references",
    "render_rehearsal",
    "render_rehearsal_start",
    "render_rehearsal_step",
    "render_rollback",
    "render_runs",
    "render_sample",
    "render_sample_accept",
    "render_scoping",
    "render_server",
    "render_show",
    "render_verify",
    "render_verify_accept",
    "render_verify_pending",
]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def _print_path(label: str, path: object, after: str = "") -> None:
    """``label path after`` on one line that is never wrapped or cut inside the path (a
    path is copied and typed back; the terminal folds a long line whole)."""
    tail = f" {escape(after)}" if after else ""
    console.print(f"{escape(label)} {escape(str(path))}{tail}", soft_wrap=True)


def print_error(exc: FerryError) -> None:
    # messages and hints name files, fields and TOML sections ("[source]"): not markup
    err_console.print(f"[bold red]error:[/] {escape(exc.message)}", soft_wrap=True)
    if exc.hint:
        err_console.print(f"[yellow]what to do:[/] {escape(exc.hint)}", soft_wrap=True)


# ---------------------------------------------------------------------------
# Progress


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

    def describe(self, task: str, text: str) -> None:
        """Show ``text`` on the line of ``task``."""
        if task in self._tasks:
            self._progress.update(self._tasks[task], description=text)


class NamingProgress:
    """Progress whose ``table <name>`` tasks are shown on the line of the task counting
    the tables (``tables: contact``), not as a line each."""

    WIDTH = 40

    def __init__(self, inner: RichProgressReporter) -> None:
        self._inner = inner
        self._current = ""

    def start(self, task: str, total: int | None = None) -> None:
        if task.startswith("table "):
            text = f"{self._current}: {task.removeprefix('table ')}"
            self._inner.describe(self._current, text[: self.WIDTH])
            return
        self._current = task
        self._inner.start(task, total)

    def advance(self, task: str, amount: int = 1) -> None:
        if not task.startswith("table "):
            self._inner.advance(task, amount)

    def finish(self, task: str) -> None:
        if not task.startswith("table "):
            self._inner.describe(task, task)
            self._inner.finish(task)


def naming_progress(inner: RichProgressReporter) -> NamingProgress:
    """:class:`NamingProgress` over ``inner``."""
    return NamingProgress(inner)


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
# generate, discover, demo, references


def render_generate(result: commands.GenerateResult) -> None:
    _print_path("Bundle written to", result.out)
    table = Table()
    table.add_column("file")
    table.add_column("records", justify="right")
    for name, count in sorted(result.files.items()):
        table.add_row(name, f"{count:,}")
    console.print(table)
    _print_path(f"{result.bytes:,} bytes; seed {result.seed}; ground truth", result.ground_truth)
    if result.downloads is not None:
        _print_path("Linked files downloaded to", result.downloads)


def render_discovery(result: commands.SourceDiscovery) -> None:
    _print_path("Source:", result.source)
    table = Table(title="Objects")
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
            (f"{o.file} [{o.sheet}]" if o.sheet else o.file) or "-",
            f"{o.read:,}",
            f"{o.accepted:,}",
            f"[red]{o.rejected:,}[/]" if o.rejected else "0",
        )
        totals = [totals[0] + o.read, totals[1] + o.accepted, totals[2] + o.rejected]
    table.add_section()
    table.add_row("total", "", *(f"{n:,}" for n in totals))
    console.print(table)
    if result.bundle_kind == "workbook":
        console.print("The bundle is one Excel workbook: each object is a sheet of it.")
    for sheet in result.ignored_sheets:
        where = f"{sheet.file} [{sheet.sheet}]" if sheet.sheet else sheet.file
        console.print(f"[yellow]Not read:[/] {where}: {sheet.reason}")
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
    if result.linked_files is not None:
        _render_linked(result.linked_files)
    if result.groups is not None:
        _render_groups(result.groups)
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
        _print_path("Rejected rows:", result.rejects_path)


def _render_linked(linked: LinkedSummary) -> None:
    how = ", ".join(f"by {k} {n:,}" for k, n in linked.matched.items() if n) or "none"
    where = linked.folder or "none set ([source] files)"
    console.print(
        f"Linked files: {linked.linked:,}, matched {sum(linked.matched.values()):,} ({how}), "
        f"missing {linked.missing:,}, ambiguous {linked.ambiguous:,}; downloads folder: "
        f"{escape(where)}",
        soft_wrap=True,
    )
    if linked.problems:
        lt = Table(title="Linked files not found in the downloads folder")
        for col in ("file", "name", "belongs to", "status", "why"):
            lt.add_column(col)
        for p in linked.problems:
            lt.add_row(
                p.file_id,
                escape(p.name or p.url or "(no name)"),
                escape(p.belongs_to),
                p.status,
                escape(p.reason),
            )
        console.print(lt)
        console.print(f"[yellow]what to do:[/] {escape(linked.advice)}", soft_wrap=True)
    for path, why in linked.refused.items():
        console.print(f"  refused in the downloads folder: {escape(path)}: {escape(why)}")


def _render_groups(groups: GroupSummary) -> None:
    gt = Table(
        title=f"Client groups: {groups.clients_gained:,} clients gained "
        f"{groups.tags_added:,} tags from their groups"
    )
    for col, justify in (
        ("group", "left"),
        ("name", "left"),
        ("members", "right"),
        ("tags", "left"),
        ("clients gained", "right"),
    ):
        gt.add_column(col, justify=justify)  # type: ignore[arg-type]
    for g in groups.groups:
        gt.add_row(
            g.id, escape(g.name or ""), f"{g.members:,}", escape("; ".join(g.tags)),
            f"{g.clients_gained:,}",
        )  # fmt: skip
    console.print(gt)


def render_scoping(r: commands.ScopingReport) -> None:
    render_discovery(r.source)
    t, e, g = r.tenant, r.estimate, r.grade
    if t.snapshot is not None:
        console.print(
            f"[yellow]The tenant audit is read from {escape(t.snapshot.describe())}[/]; the "
            "tenant was not contacted",
            soft_wrap=True,
        )
    tt = Table(title=f"Tenant: {t.url}" + (" (snapshot)" if t.snapshot is not None else ""))
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
    basis = "" if e.latency_basis == "measured" else f" ({e.latency_basis}, not measured)"
    tt.add_row("latency", f"{t.latency_ms:,.1f} ms per request{basis}")
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
    _print_path("Scoping report:", r.html_path, f"(and {r.json_path})")


def render_demo_step(step: commands.DemoStep) -> None:
    err_console.print(f"[green]✓[/] {step.name:<17} {step.seconds:6.1f} s  {step.detail}")


def render_demo(r: commands.DemoFlow) -> None:
    console.rule("crm-ferry demo")
    if r.shortcuts:
        console.print("[yellow]Decided by the demo (a person decides these):[/]")
        for s in r.shortcuts:
            console.print(f"  {s}")
    render_load(r.results["migrate"])
    render_load(r.results["delta"])
    _render_proof(r.results["verify"].proof)
    render_rollback(r.results["rollback_preview"])
    table = Table(title="Steps")
    for col in ("step", "seconds", "what happened"):
        table.add_column(col, justify="right" if col == "seconds" else "left")
    for st in r.steps:
        table.add_row(st.name, f"{st.seconds:.1f}", st.detail)
    console.print(table)
    _print_path("Everything is under", r.workdir)
    console.print("Reports:")
    for name, path in r.reports.items():
        _print_path(f"  {name}:", path)


def render_references(r: commands.ReferencesResult) -> None:
    _print_path("References written to", r.out_dir)
    table = Table()
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
    for guide, n in r.redacted.items():
        console.print(f"[yellow]{n} credential-looking fields redacted, listed in {guide}.md[/]")


# ---------------------------------------------------------------------------
# rehearse

_STEP_MARKS = {
    "ok": "[green]✓[/]",
    "failed": "[red]✗[/]",
    "differences": "[yellow]![/]",
    "skipped": "[dim]-[/]",
    "kept": "[dim]-[/]",
}
_STEP_RESULTS = {
    "ok": "[green]ok[/]",
    "failed": "[red]FAILED[/]",
    "differences": "[yellow]differences[/]",
    "skipped": "[dim]skipped[/]",
    "kept": "[dim]kept[/]",
}
_COUNT_LABELS = {
    "migration_differences": "migration differences",
    "source_defects": "source defects",
    "rejected_by_the_map": "rejected by the map",
    "schema_reversed": "schema operations reversed",
    "rows_left": "rows left",
}


def _step_counts(step: commands.RehearsalStep) -> str:
    return ", ".join(f"{n:,} {_COUNT_LABELS.get(k, k)}" for k, n in step.counts.items())


def render_rehearsal_start(r: commands.Rehearsal) -> None:
    err_console.print(f"Rehearsing against {escape(r.snapshot.describe())}", soft_wrap=True)
    err_console.print(f"  in {escape(str(r.folder))}", soft_wrap=True)


def render_rehearsal_step(step: commands.RehearsalStep) -> None:
    """One step's outcome, as it finishes (on stderr, with the progress)."""
    counts = f"  {escape(_step_counts(step))}" if step.counts else ""
    err_console.print(
        f"{_STEP_MARKS[step.result]} {step.name:<10} {step.seconds:6.1f} s{counts}", soft_wrap=True
    )
    if step.detail:
        err_console.print(f"  {escape(step.detail)}", soft_wrap=True)


def render_rehearsal(r: commands.Rehearsal) -> None:
    table = Table(title="Rehearsal", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("step", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("counts")
    table.add_column("time", justify="right", no_wrap=True)
    for s in r.steps:
        table.add_row(
            s.name, _STEP_RESULTS[s.result], escape(_step_counts(s)), f"{s.seconds:.1f} s"
        )
    table.add_section()
    table.add_row("total", "", "", f"{sum(s.seconds for s in r.steps):.1f} s")
    console.print(table)
    console.print(f"Against {escape(r.snapshot.describe())}", soft_wrap=True)
    _print_path("Its journal, reports and emulator data are in", r.folder)
    for name, path in r.reports.items():
        _print_path(f"  {name} report:", path)
    if r.kept:
        console.print("The migrated data is kept (--keep); look at it with:")
        _print_path(" ", r.serve_command)


# ---------------------------------------------------------------------------
# The emulator and doctor


def render_review(info: Mapping[str, Any]) -> None:
    if info["exposed"]:
        err_console.print(
            f"[bold yellow]warning:[/] listening on {escape(info['host'])}, not only on this "
            "machine: anyone who can reach it and learns the address below can read and edit "
            "this project's map. Stop with Ctrl-C and start without --host unless you mean it."
        )
    console.print(f"Review page at [bold]{escape(info['url'])}[/]")
    console.print("  (the address carries this start's token: open it as it is; Ctrl-C to stop)")


def render_server(info: dict[str, Any]) -> None:
    lines = [
        f"Dataverse emulator at [bold]{info['url']}[/]",
        f"  Web API    {info['api_url']}",
        *(
            [f"  Graph      {info['graph_url']}  SharePoint {', '.join(info['sharepoint_sites'])}"]
            if info.get("graph_url")
            else []
        ),
        f"  tenant     {info['tenant']}",
        f"  authority  {info['authority']}",
        *(f"  client     {c['client_id']}  secret {c['client_secret']}" for c in info["clients"]),
        f"  ({info['note']})",
        *(
            [f"  certificate {escape(info['certificate'])} (self-signed; trust it as below)"]
            if info.get("certificate")
            else []
        ),
    ]
    connect = info["connect"]
    lines += [
        escape("In the project's ferry.toml (replacing its [dataverse] table):"),
        *(f"  {escape(line)}" for line in connect["ferry_toml"].splitlines()),
        "And in the shell that runs crm-ferry (the secrets are never in ferry.toml):",
        *(f"  export {k}={shlex.quote(v)}" for k, v in connect["secrets"].items()),
        "Or, leaving ferry.toml as it is, in the shell only (one application user):",
        *(f"  export {k}={shlex.quote(v)}" for k, v in connect["env"].items()),
        "Or a new project connected to it (then the secret as above):",
        f"  {escape(connect['init'])}",
        "Ctrl-C to stop.",
    ]
    for line in lines:
        console.print(line, soft_wrap=True)


def render_dump(result: dict[str, Any]) -> None:
    tables = result.get("records", result)
    for name, rows in sorted(tables.items()):
        count = f"{len(rows):,} rows" if isinstance(rows, list | dict) else str(rows)
        console.print(f"{name:<32} {count}")


def render_doctor(r: commands.DoctorResult) -> None:
    marks = {"pass": "[green]pass[/]", "warn": "[yellow]warn[/]", "fail": "[red]FAIL[/]"}
    console.print(f"Dataverse environment {r.url}")
    for c in r.checks:
        mark = marks.get(c.status, "skip")
        console.print(f"  {mark}  {c.name:<20} {escape(c.detail)}", soft_wrap=True)
        if c.hint and c.status == "fail":
            console.print(f"        [yellow]what to do:[/] {escape(c.hint)}", soft_wrap=True)
    console.print("ready to migrate" if r.ok else "[red]blocking problems found[/]")


def render_snapshot(r: commands.SnapshotResult) -> None:
    _print_path("Tenant snapshot written to", r.path)
    console.print(f"  environment  {escape(r.environment_url)}", soft_wrap=True)
    console.print(f"  taken at     {r.taken_at}; tables from {escape(r.map_source)}")
    table = Table(box=box.SIMPLE)
    table.add_column("captured")
    table.add_column("count", justify="right")
    for name, count in r.counts.items():
        table.add_row(name, f"{count:,}")
    console.print(table)
    if r.absent:
        console.print(
            "Not in the tenant (left out): " + escape(", ".join(r.absent)), soft_wrap=False
        )


# ---------------------------------------------------------------------------
# init and the map


def render_init(r: commands.InitResult) -> None:
    _print_path("Migration project in", r.project_dir)
    for name in r.created:
        console.print(f"  created  {name}")
    for name in r.kept:
        console.print(f"  kept     {name} (already there)")
    folder = r.project_dir.absolute()
    steps = [] if folder == Path.cwd() else [(f"cd {folder}", "or pass --project DIR to each")]
    steps += [
        ("edit ferry.toml", "[dataverse] url, tenant, client_id; authority for the emulator"),
        (f"export {SECRET_ENV}=…", "the app's client secret, or store it in the OS keyring"),
        ("crm-ferry doctor", "reachable, sign-in, privileges, limits"),
        ("crm-ferry discover", "then `crm-ferry map propose`"),
    ]
    width = max(len(step) for step, _ in steps)
    console.print("Next:")
    for step, why in steps:
        console.print(f"  {escape(step.ljust(width))}  [dim]{escape(why)}[/]", soft_wrap=True)


def _print_problems(problems: Sequence[Problem]) -> None:
    for p in problems:
        mark = ("error", "red") if p.severity == "error" else ("warning", "yellow")
        console.print(Text.assemble(mark, f" {p.where()}: {p.message}"), soft_wrap=True)


def render_propose(r: commands.ProposeResult) -> None:
    verb = "Wrote" if r.created else ("Updated" if r.diff else "Unchanged:")
    _print_path(verb, r.path, f"(status: {r.status})")
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


def render_show(r: commands.ShowResult) -> None:
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


def render_check(r: commands.CheckResult) -> None:
    _print_problems(r.problems)
    if r.ok:
        console.print(f"{r.path.name}: no errors ({len(r.problems)} warning(s))")
    else:
        console.print(f"[red]{r.path.name}: {len(r.errors)} error(s)[/]")


def render_confirm(r: commands.ConfirmResult) -> None:
    console.print(f"{r.path.name} confirmed by {r.confirmed_by} at {r.confirmed_at}")
    if r.low_confidence:
        console.print(
            f"  accepted as they are: {len(r.low_confidence)} line(s) under the threshold"
        )
    _print_problems(r.warnings)


def render_low_confidence(lines: Sequence[commands.MapLine]) -> None:
    """The lines under the confirm threshold, before the person is asked (on stderr)."""
    err_console.print(f"{len(lines)} line(s) under the confirm threshold need a look:")
    for ln in lines:
        err_console.print(
            f"  {escape(ln.source)} → {escape(f'{ln.table}.{ln.column}')} "
            f"({ln.confidence:.2f}): {escape(ln.reason)}",
            soft_wrap=True,
        )


# ---------------------------------------------------------------------------
# provision


def render_provision(r: commands.ProvisionResult) -> None:
    for w in r.warnings:  # wrapped between words: names and settings stay whole
        console.print(f"[yellow]warning:[/] {escape(w)}")
    p = r.plan
    if p is not None and (r.action == "dry-run" or p.ops):
        dry = " (dry run: nothing changed)" if r.action == "dry-run" else ""
        title = f"Provisioning plan{dry}"
        # table and name (what a user types into mapping.yaml) are never cut: where they
        # would be at this width, each operation is a line of its own instead
        table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
        for col in ("#", "op", "table", "name"):
            table.add_column(col, no_wrap=True)
        table.add_column("details / reverse")
        typed: list[str] = []
        stacked = [title]
        for i, op in enumerate(p.ops, start=1):
            name = str(op.params.get("schema_name") or op.name)
            details = f"{op.details}; reverse {op.reverse.kind}"
            table.add_row(str(i), op.kind, escape(op.table), escape(name), escape(details))
            typed += [op.table, name, *op.schema_names()]
            stacked += [
                f"{i:>3} {op.kind} {escape(op.table)} {escape(name)}",
                f"    {escape(details)}",
            ]
        _print_fitting(table, typed, stacked)
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
            style = "green" if undone.outcome == "reversed" else "dim"
            console.print(f"  [{style}]{escape(undone.summary)}[/]", soft_wrap=True)
        if rb.reversed:
            console.print(f"{len(rb.reversed)} operation(s) reversed, run {rb.run_id}")


# ---------------------------------------------------------------------------
# The load and its proof


def render_load(r: commands.LoadResult) -> None:
    title = f"{r.kind} {r.run_id}" + (" (resumed)" if r.resumed else "")
    if r.kind == "delta" and r.changes:
        _render_delta(r, title)
        return
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
    _render_skips(r)
    _print_path("rejects and the run report:", f"runs/{r.run_id}/")


def _render_skips(r: commands.LoadResult) -> None:
    """What each aggregate took, added and skipped, and every skip with its reason; the
    values cut under ``truncate: true``, per column."""
    for where, n in sorted(r.truncated.items()):
        console.print(
            f"[yellow]truncated[/] {n:,} value(s) of {where} (truncate: true; each in "
            f"runs/{r.run_id}/truncations.jsonl)"
        )
    for role, tally in r.aggregated.items():
        console.print(
            f"{role}: {tally.get('sessions', 0):,} session(s) taken, "
            f"{tally.get('added', 0):,} added, {tally.get('skipped', 0):,} skipped"
        )
    skips = [*r.left_out, *r.skips]
    for skip in skips[:20]:
        console.print(
            f"[yellow]skipped[/] {skip.file}:{skip.line} {skip.object}/{skip.source_id} "
            f"(no {skip.role}): {escape(skip.reason)}"
        )
    if len(skips) > 20:
        console.print(f"… and {len(skips) - 20:,} more skipped (all of them in load.json)")


_DELTA_COLUMNS = ("changed", "added", "unchanged", "removed")
_REMOVAL_DONE = {"deactivate": "deactivated", "delete": "deleted"}


def _render_delta(r: commands.LoadResult, title: str) -> None:
    """Per object: records changed, added, unchanged and removed from the source (and
    rejected, failed), then what the removal policy did with the removed records' rows."""
    table = Table(title=title)
    for col in ("object", *_DELTA_COLUMNS, "rejected", "failed"):
        table.add_column(col, justify="left" if col == "object" else "right")
    for obj, change in r.changes.items():
        counts = r.objects.get(obj) or r.objects.get(f"{obj} (aggregated)")
        table.add_row(
            obj,
            *(f"{change.get(k, 0):,}" for k in _DELTA_COLUMNS),
            f"{counts.rejected:,}" if counts else "0",
            f"{counts.failed:,}" if counts else "0",
        )
    console.print(table)
    unbalanced = [k for k, c in r.objects.items() if not c.balanced]
    if unbalanced:
        console.print(f"[red]counts do not add up[/] for {', '.join(unbalanced)}")
    rate = f"{r.records / r.seconds:,.0f} records/s" if r.seconds else ""
    console.print(f"{r.requests:,} requests in {r.seconds:,.1f} s {rate}")
    removal = r.removal
    policy = removal.policy if removal is not None else "report"
    for obj, gone in r.disappeared.items():
        shown = ", ".join(gone[:8]) + (" …" if len(gone) > 8 else "")
        n = removal.objects.get(obj) if removal is not None else None
        if policy == "report" or n is None:
            console.print(
                f"[yellow]{len(gone):,} {obj} no longer in the source[/] (kept in Dynamics; "
                f"--removed deactivate or delete acts on them): {shown}"
            )
            continue
        parts = [f"{n.done:,} of {n.rows:,} rows {_REMOVAL_DONE[policy]}"]
        parts += [
            f"{v:,} {label}"
            for v, label in (
                (n.failed, "failed"),
                (n.pending, "not sent"),
                (n.already, "needed nothing"),
                (n.kept, "left as they are"),
            )
            if v
        ]
        console.print(
            f"[yellow]{len(gone):,} {obj} no longer in the source[/]: {'; '.join(parts)}: {shown}"
        )
    if removal is not None:
        for obj, back in removal.returned.items():
            console.print(
                f"{back.records:,} {obj} back in the source: {back.done:,} of {back.rows:,} "
                "rows an earlier delta deactivated made active again"
                + (f"; {back.failed:,} failed" if back.failed else "")
            )
        for k in removal.kept[:10]:
            console.print(
                f"  kept {k['table']} {k['row']} ({k['object']}/{k['id']}): {k['reason']}"
            )
        if len(removal.kept) > 10:
            console.print(f"  … and {len(removal.kept) - 10:,} more (see --json)")
    for f in r.failures[:20]:
        console.print(
            f"[red]failed[/] {f['table']} {f['id']} ({f['source']}): {escape(f['error'])}"
        )
    _render_skips(r)
    _print_path("rejects and the run report:", f"runs/{r.run_id}/")


def render_rollback(r: commands.RollbackReport) -> None:
    title = "Rollback preview" if r.preview else "Rollback"
    if r.preview:
        table = Table(title=title)
        for col in ("run", "delete", "restore", "write again"):
            table.add_column(col, justify="left" if col == "run" else "right")
        rows = []
        for res in r.results:
            planned = res.planned.values()
            rows.append(
                (
                    res.run_id,
                    f"{sum(v['delete'] for v in planned):,}",
                    f"{sum(v['restore'] for v in planned):,}",
                    f"{sum(v['recreate'] for v in planned):,}",
                )
            )
        _print_run_table(table, rows, ("delete", "restore", "write again"), title)
        return
    table = Table(title=title)
    for col in ("run", "deleted", "restored", "rewritten", "gone", "kept", "failed"):
        table.add_column(col, justify="left" if col == "run" else "right")
    done = [
        (
            res.run_id,
            f"{res.deleted:,}",
            f"{res.restored:,}",
            f"{res.recreated:,}",
            f"{res.already_gone:,}",
            f"{len(res.conflicts):,}",
            f"{len(res.failures):,}",
        )
        for res in r.results
    ]
    _print_run_table(
        table, done, ("deleted", "restored", "rewritten", "gone", "kept", "failed"), title
    )
    for res in r.results:
        for c in res.conflicts[:20]:
            console.print(
                f"[yellow]kept[/] {c['table']} {c['id']}: {_kept_reason(c)}", soft_wrap=True
            )
        if len(res.conflicts) > 20:
            console.print(f"… and {len(res.conflicts) - 20:,} more (all of them in --json)")
        for f in res.failures[:20]:
            console.print(
                f"[red]failed[/] {f['action']} {f['table']} {f['id']}: {escape(str(f['error']))}",
                soft_wrap=True,
            )
        if len(res.failures) > 20:
            console.print(f"… and {len(res.failures) - 20:,} more (all of them in --json)")
        for w in res.warnings[:10]:
            console.print(f"[yellow]warning[/] {escape(w)}", soft_wrap=True)
    if r.schema is not None:
        render_provision(r.schema)


def _print_run_table(
    table: Table, rows: Sequence[tuple[str, ...]], labels: Sequence[str], title: str
) -> None:
    """Rows of (run id, counts…) as ``table``, or as one line per run where the table
    would cut a run id at this width."""
    if not rows:
        console.print("nothing to roll back")
        return
    for row in rows:
        table.add_row(escape(row[0]), *row[1:])
    stacked = [title] + [
        f"{escape(run_id)}: " + ", ".join(f"{n} {k}" for k, n in zip(labels, counts, strict=True))
        for run_id, *counts in rows
    ]
    _print_fitting(table, [row[0] for row in rows], stacked)


def _kept_reason(c: Mapping[str, Any]) -> str:
    text = str(c.get("reason", "kept"))
    if c.get("columns"):
        text += f" ({', '.join(c['columns'])})"
    if c.get("modified_by"):
        text += f" by {c['modified_by']}"
        if c.get("modified_on"):
            text += f" on {c['modified_on']}"
    pointing = c.get("pointing") or []
    if pointing:
        shown = ", ".join(f"{p['table']} {p['id']}" for p in pointing[:3])
        text += f": {shown}" + (" …" if len(pointing) > 3 else "")
    return escape(text)


_STATE_STYLE = {
    "running": "cyan",
    "interrupted": "yellow",
    "done": "green",
    "failed": "red",
    "rolled back": "dim",
    "partly rolled back": "yellow",
}


def _fits(table: Table, typed: Sequence[str]) -> bool:
    """Whether ``table``, at the console's width, shows every one of ``typed`` (run ids,
    paths, counts: what a user types or reads back) whole on one line."""
    lines = console.render_lines(table, console.options, pad=False)
    text = ["".join(segment.text for segment in line) for line in lines]
    return all(any(t in line for line in text) for t in typed)


def _print_fitting(table: Table, typed: Sequence[str], stacked: Sequence[str]) -> None:
    """``table`` when nothing in ``typed`` would be cut at this width, else the same facts
    as ``stacked`` lines (wrapped between words only: an id keeps a line of its own)."""
    if _fits(table, typed):
        console.print(table)
        return
    for line in stacked:
        console.print(line)


def render_runs(r: commands.RunsResult) -> None:
    # the full run id (it is typed to roll back or purge) heads each run's cell, with its
    # state, times and note below it: the numbers fit beside it in 80 columns; where they
    # would not (huge counts), each run is its own block of lines instead
    table = Table(title="Runs", box=box.SIMPLE_HEAD, pad_edge=False, expand=False)
    widest = max((len(info.run_id) for info in r.runs), default=3)
    table.add_column("run", min_width=widest)
    for col in ("written", "unchanged", "rejected", "failed"):
        table.add_column(col, justify="right")
    typed: list[str] = []
    stacked: list[str] = []
    for info in r.runs:
        state = r.state(info).replace("_", " ")
        lines = [
            escape(info.run_id),
            f"[{_STATE_STYLE.get(state, 'default')}]{state}[/]"
            + (" (purged)" if info.purged_at else ""),
            f"[dim]started {info.started_at}[/]",
        ]
        if info.finished_at:
            lines.append(f"[dim]ended {info.finished_at}[/]")
        if info.note:
            lines.append(f"[dim]{escape(info.note)}[/]")
        counts = r.outcomes(info)
        numbers = [""] * 4 if counts is None else [f"{n:,}" for n in counts.values()]
        if counts is not None and counts["failed"]:
            numbers[3] = f"[red]{numbers[3]}[/]"
        table.add_row("\n".join(lines), *numbers, end_section=True)
        typed.append(info.run_id)
        stacked += [lines[0], *(f"  {line}" for line in lines[1:])]
        if counts is not None:
            typed += [f"{n:,}" for n in counts.values()]
            stacked.append(
                "  " + "  ".join(f"{k} {v}" for k, v in zip(counts, numbers, strict=True))
            )
    _print_fitting(table, typed, ["Runs", *stacked])
    render_sending(r)
    sent = [i for i in r.runs if i.run_id in r.workers and i not in r.sending()]
    if sent and not r.sending():
        last = sent[-1]  # the latest run sent by workers: who sent what
        console.print(f"[dim]workers of {last.run_id}:[/]")
        render_workers(r.workers[last.run_id])


def render_sending(r: commands.RunsResult) -> None:
    """The runs being written: per table, operations done of all; and per run sent by
    workers, its slices and each worker (what it sends, how far, how fast)."""
    for info in r.sending():
        tables = r.tables.get(info.run_id, {})
        table = Table(title=f"Sending {info.run_id}", box=box.SIMPLE_HEAD, pad_edge=False)
        for col in ("table", "done", "pending", "failed"):
            table.add_column(col, justify="left" if col == "table" else "right")
        for name, counts in sorted(tables.items()):
            failed = counts.get("failed", 0)
            table.add_row(
                escape(name),
                f"{counts.get('done', 0):,}",
                f"{counts.get('pending', 0):,}",
                f"[red]{failed:,}[/]" if failed else "0",
            )
        console.print(table)
        if info.run_id in r.slices:
            left, total = r.slices[info.run_id]
            console.print(f"slices: {total - left:,} of {total:,} done")
        render_workers(r.workers.get(info.run_id, []))


def watch_runs(read: Callable[[], commands.RunsResult], *, interval: float, as_json: bool) -> None:
    """Show the runs being written again every ``interval`` seconds until none is (or
    Ctrl-C), then the list of runs; with ``as_json``, one JSON line each time."""
    try:
        while True:
            result = read()
            sending = result.sending()
            if as_json:
                print(json.dumps(result.as_dict(), default=str), flush=True)
            elif sending:
                console.clear()
                render_sending(result)
            if not sending:
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        return
    if not as_json:
        render_runs(result)


def render_workers(workers: Sequence[Any]) -> None:
    """Each worker of a run: its id (as typed), where it runs, what it does now."""
    if not workers:
        return
    table = Table(title="Workers", box=box.SIMPLE_HEAD, pad_edge=False)
    widest = max(len(w.worker_id) for w in workers)
    table.add_column("worker", min_width=widest, no_wrap=True)
    for col in ("state", "table", "done", "failed", "ops/s"):
        table.add_column(col, justify="left" if col in ("state", "table") else "right")
    for w in workers:
        gone = w.state in ("waiting", "sending") and w.silent_s >= LEASE_S
        state = "gone" if gone else w.state
        style = "red" if state in ("gone", "failed") else "default"
        table.add_row(
            escape(w.worker_id),
            f"[{style}]{state}[/]",
            escape(w.table or ""),
            f"{w.ops_done:,}",
            f"[red]{w.ops_failed:,}[/]" if w.ops_failed else "0",
            f"{w.rate:,.0f}",
        )
    console.print(table)


def render_worker(r: commands.WorkerResult) -> None:
    o = r.outcome
    table = Table(title=f"Worker {o.worker_id}", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("run", min_width=len(o.run_id))
    for col in ("slices", "done", "failed", "seconds"):
        table.add_column(col, justify="right")
    failed = f"[red]{o.failed:,}[/]" if o.failed else "0"
    table.add_row(escape(o.run_id), f"{o.slices:,}", f"{o.done:,}", failed, f"{o.seconds:,.1f}")
    console.print(table)
    console.print(f"[dim]as {', '.join(r.users)}; {o.state}[/]")


def render_journal_copy(r: commands.JournalCopyResult) -> None:
    table = Table(title="Journal copied", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in r.tables.items():
        table.add_row(name, f"{n:,}")
    table.add_row("[bold]all[/]", f"[bold]{r.rows:,}[/]", end_section=True)
    console.print(table)
    console.print("Every table holds the same rows in both.")
    # the URL and the paths are copied and typed back: each whole on its line
    _print_path("The journal is now at", r.target)
    _print_path("[journal] url set in", r.config)
    if r.moved_to is not None:
        _print_path(f"{r.source} renamed", r.moved_to.name)
        console.print(
            "so that nothing reads the stale copy; it holds client data: delete it once the "
            "new journal serves."
        )
    if r.left is not None:
        _print_path("Left as it was:", r.left)
        console.print("The project no longer reads it: drop that database once the new one serves.")


def render_purge(r: commands.PurgeResult) -> None:
    console.print(
        f"Removed record contents from {r.operations:,} journaled operations and "
        f"{len(r.folders)} run folder(s); ids, operations, counts and times are kept."
    )


def _render_proof(p: Proof) -> None:
    table = Table(title="Field-level diff")
    for col in ("table", "match", "mismatch", "missing", "extra"):
        table.add_column(col, justify="left" if col == "table" else "right")
    for tbl, v in p.as_dict()["verdicts_by_table"].items():
        table.add_row(tbl, *(f"{v.get(k, 0):,}" for k in ("match", "mismatch", "missing", "extra")))
    console.print(table)
    failed = [c for c in p.checks if not c.passed]
    console.print(f"{len(p.checks):,} cross-record checks, {len(failed):,} not passed")
    for c in failed[:15]:
        console.print(
            f"  [yellow]{escape(c.name)}[/] ({c.classification}) {escape(c.table)} "
            f"{escape(c.record)}: {escape(c.detail)}",
            soft_wrap=True,
        )


DIFFERENCES_SHOWN = 50
"""Differences listed on the console (the report lists every one)."""


def _difference_table(
    title: str, rows: Sequence[tuple[str, str, str, str, str, str]], total: int
) -> None:
    """Differences as a table whose id column is never cut (ids are typed back)."""
    table = Table(title=title)
    table.add_column("id", no_wrap=True, min_width=ID_LENGTH, style="bold")
    table.add_column("class")
    table.add_column("table", overflow="fold")
    table.add_column("record", overflow="fold")
    table.add_column("column", overflow="fold")
    table.add_column("status")
    for row in rows[:DIFFERENCES_SHOWN]:
        table.add_row(*(escape(cell) for cell in row[:5]), row[5])
    console.print(table)
    if total > DIFFERENCES_SHOWN:
        console.print(f"… and {total - DIFFERENCES_SHOWN:,} more in the report")


def _render_differences(differences: Sequence[Difference], title: str) -> None:
    if not differences:
        console.print("[green]no differences[/]")
        return
    rows = [
        (
            d.id,
            d.classification,
            d.table,
            d.record,
            d.column,
            "[red]NEW[/]"
            if d.accepted is None
            else f"[green]accepted[/] by {escape(d.accepted.by)}",
        )
        for d in sorted(differences, key=lambda d: d.accepted is not None)
    ]
    _difference_table(title, rows, len(rows))


def _render_recorded(differences: Sequence[RecordedDifference], title: str, status: str) -> None:
    rows = [(d.diff_id, d.classification, d.table, d.record, d.column, status) for d in differences]
    _difference_table(title, rows, len(rows))


def _render_classes(recon: Reconciliation) -> None:
    table = Table(title="Differences by class")
    for col in ("class", "new", "accepted", "total"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for cls, per in class_counts(recon.differences).items():
        table.add_row(cls, f"{per['new']:,}", f"{per['accepted']:,}", f"{per['total']:,}")
    console.print(table)


def _render_fields(recon: Reconciliation) -> None:
    table = Table(title="Field-level diff")
    for col in ("table", "compared", "match", "differ"):
        table.add_column(col, justify="left" if col == "table" else "right")
    for tbl, f in recon.fields()["by_table"].items():
        table.add_row(tbl, f"{f['compared']:,}", f"{f['match']:,}", f"{f['differences']:,}")
    console.print(table)


def _render_objects(recon: Reconciliation, title: str) -> None:
    table = Table(title=title)
    for col in ("object", "source", "loaded", "rejected", "skipped"):
        table.add_column(col, justify="left" if col == "object" else "right")
    for obj, t in recon.objects.items():
        table.add_row(obj, f"{t.source:,}", f"{t.loaded:,}", f"{t.rejected:,}", f"{t.skipped:,}")
    console.print(table)


def _amount(value: Any) -> str:
    return f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"


def _render_header(recon: Reconciliation) -> None:
    env, mp = recon.environment, recon.map
    console.print(f"{recon.title} {recon.recon_id}", soft_wrap=True)
    console.print(f"  environment  {escape(env.name)} ({env.url})", soft_wrap=True)
    confirmed = f", confirmed by {escape(mp.confirmed_by or '')} at {mp.confirmed_at}"
    console.print(
        f"  map          {mp.digest} ({mp.status}{confirmed if mp.confirmed_by else ''})",
        soft_wrap=True,
    )
    for run in recon.runs:
        console.print(f"  run          {run.run_id} ({run.kind}, {run.state})", soft_wrap=True)


def render_sample(r: commands.SampleResult) -> None:
    render_load(r.load)
    f = r.facts
    console.print(
        f"Sample: {f['requested size']:,} records asked for; {f['records chosen']:,} records "
        f"of {f['clients chosen']:,} clients chosen; {f['records loaded']:,} loaded, "
        f"{f['records rejected']:,} rejected"
        + (f", {f['records skipped']:,} skipped" if f.get("records skipped") else "")
        + f"; strata covered {f['strata covered']}",
        soft_wrap=True,
    )
    _render_header(r.recon)
    _render_fields(r.recon)
    _render_classes(r.recon)
    _render_differences(r.recon.differences, "Differences of the sample")
    _print_path("report:", r.report.html)
    console.print(
        "accept it with `crm-ferry sample accept --by NAME` (every difference), or name "
        "differences: `crm-ferry sample accept --by NAME --reason TEXT ID …`",
        soft_wrap=True,
    )


def _render_accepted(o: commands.AcceptOutcome) -> None:
    if o.accepted:
        a = o.accepted[0]
        _render_recorded(
            [x.difference for x in o.accepted],
            f"Accepted by {a.accepted_by} at {a.accepted_at}",
            "accepted",
        )
        console.print(f"reason: {escape(a.reason)}", soft_wrap=True)
    else:
        console.print("No difference was accepted now.")
    for x in o.already:
        console.print(
            f"  {x.difference.diff_id} was accepted before, by {escape(x.accepted_by)} at "
            f"{x.accepted_at}: {escape(x.reason)}",
            soft_wrap=True,
        )


def render_sample_accept(r: commands.AcceptResult) -> None:
    _render_accepted(r.differences)
    if r.gate_open:
        console.print(
            f"Sample {r.run_id} accepted by {escape(r.accepted_by)} at {r.accepted_at}; "
            "`crm-ferry migrate` may run.",
            soft_wrap=True,
        )
        return
    _render_recorded(r.blocking, "Still to accept before the sample is", "[red]NEW[/]")
    console.print(
        f"[yellow]Sample {r.run_id} is not accepted yet:[/] accept these with `crm-ferry "
        "sample accept --by NAME ID …`, or fix them and make the sample again",
        soft_wrap=True,
    )


def render_verify(r: commands.VerifyResult) -> None:
    recon = r.recon
    _render_header(recon)
    _render_objects(recon, "Records: source vs loaded")
    totals = Table(title="Totals and links")
    for col in ("what", "measure", "value"):
        totals.add_column(col, justify="right" if col == "value" else "left")
    for name, values in r.proof.plain_sums().items():
        for i, (k, v) in enumerate(values.items()):
            totals.add_row(name if i == 0 else "", k, _amount(v))
    console.print(totals)
    _render_fields(recon)
    _render_classes(recon)
    _render_differences(recon.differences, "Differences")
    _print_path("report:", r.report.html, "(and report.json, report.csv)")
    if r.ok:
        console.print(f"[green]every difference is accepted[/] ({len(recon.accepted):,} accepted)")
    else:
        console.print(
            f"[yellow]{len(recon.new):,} difference(s) nobody accepted:[/] fix them, or accept "
            "them with `crm-ferry verify accept --by NAME --reason TEXT ID …`",
            soft_wrap=True,
        )


def render_verify_pending(p: commands.PendingDifferences) -> None:
    """What ``verify accept`` without ids is about to accept (on stderr: it asks first)."""
    if not p.differences:
        err_console.print(f"{p.recon_id}: every difference is accepted already")
        return
    rows = [(d.diff_id, d.classification, d.table, d.record, d.column) for d in p.differences]
    table = Table(title=f"Differences of {p.recon_id} nobody accepted")
    table.add_column("id", no_wrap=True, min_width=ID_LENGTH, style="bold")
    for col in ("class", "table", "record", "column"):
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    err_console.print(table)


def render_verify_accept(o: commands.AcceptOutcome) -> None:
    _render_accepted(o)
    if o.remaining:
        console.print(
            f"[yellow]{len(o.remaining):,} difference(s) of {o.recon_id} are still not "
            "accepted[/] (`crm-ferry verify accept --by NAME --reason TEXT` lists them)",
            soft_wrap=True,
        )
    else:
        console.print(
            f"[green]every difference of {o.recon_id} is accepted[/]: `crm-ferry verify "
            "--check` passes while it finds no new one",
            soft_wrap=True,
        )


# ---------------------------------------------------------------------------
# preview


def _line(text: str, style: str | None = None, *, whole: bool = False) -> None:
    """A line of prose, wrapped between words; ``whole``: a line never wrapped or cut (an
    id, a line of a payload: the terminal folds it whole)."""
    console.print(Text(text, style=style or ""), soft_wrap=whole)


def render_preview(r: commands.PreviewResult) -> None:
    head = f"{r.object}/{r.id}" + (f": {r.name}" if r.name else "")
    _line(head + (f" ({r.kind})" if r.kind else ""), "bold")
    status = {
        "operations": f"{len(r.operations)} operation(s) under the {r.map_status} map",
        "rejected": "rejected: the load would not write it",
        "skipped": "skipped: the map leaves it out",
        "not migrated": f"the map migrates nothing of {r.object}",
        "nothing": "no target of the map takes this record",
    }
    _line(status.get(r.status, r.status), "red" if r.status == "rejected" else None)
    if r.map_errors:
        _line(f"the map has {len(r.map_errors)} error(s); previewed as far as it can be:", "red")
        for p in r.map_errors[:10]:
            _line(f"  {p}")
    if r.fit_problems:
        _line(
            f"the map does not fit the tenant yet: {len(r.fit_problems)} table(s) or "
            "column(s) it names are missing (`crm-ferry provision` creates them)",
            "yellow",
        )
    for j in r.rejects:
        _line(f"reject {j}", "red")
    for s in r.skips:
        _line(f"skipped ({s.role}) {s.file}:{s.line}: {s.reason}", "yellow")
    for n, op in enumerate(r.operations, 1):
        console.print()
        _line(f"{n}. {op.kind} {op.op.table} (role {op.op.role})", "bold")
        _line(f"   {op.op.id}", whole=True)
        _line(f"   {op.how}", "dim")
        for b in op.lookups:
            who = b.name or ""
            if b.source:
                who = f"{who} [{b.source}]" if who else b.source
            _line(f"   {b.column or b.path} → {b.table or '?'} {who}".rstrip())
            _line(f"     {b.row_id}", "dim", whole=True)
        for c in op.choices:
            labels = ", ".join(
                f"{v} {label or '(no such option in the tenant)'}" for v, label in c.labels
            )
            _line(f"   {c.column}: {labels}")
        if op.missing:
            _line("   not in the tenant yet: " + ", ".join(op.missing), "yellow")
        for text in json.dumps(op.shown, indent=2, ensure_ascii=False, default=str).splitlines():
            _line(f"   {text}", whole=True)
    for note in r.notes:
        console.print()
        _line(f"note: {note}", "dim")
    if r.parents or r.children:
        console.print()
    for e in r.parents:
        _line(f"refers to {e.key} {e.name}".rstrip())
    counts: dict[str, int] = {}
    for e in r.children:
        counts[e.key.object] = counts.get(e.key.object, 0) + 1
    if counts:
        shown = ", ".join(f"{obj} {n:,}" for obj, n in counts.items())
        _line(f"referred to by {shown} (--json lists them)")
