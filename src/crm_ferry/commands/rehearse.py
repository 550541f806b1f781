"""``crm-ferry rehearse``: the whole migration rehearsed on the customer's tenant, offline.

provision → sample → migrate → verify → rollback, each the library call its verb makes,
for the project (its confirmed map, its bundle, its settings) against an emulator started
in process from the project's tenant snapshot (``tenant-snapshot.json``, or the file
given; :func:`~crm_ferry.commands.emulator.snapshot_tenant`). The configured tenant is
never contacted: the steps get a client signed in to that emulator, and the settings they
see name the emulator, not the tenant.

A rehearsal keeps to a folder of its own, ``rehearsal/<UTC time>/`` in the project, never
mixed with the real runs: its ``journal.sqlite``, ``runs/`` (the sample's and the
verification's reports, each run's rejects), ``emulator/`` (the served tenant's SQLite
store: ``crm-ferry emulator serve --data`` serves it), the ``mapping.yaml`` it rehearsed, a
``ferry.toml`` that connects to no tenant, and ``rehearsal.json`` (the summary).
``rehearsal/.gitignore`` keeps every rehearsal out of git: they hold client data.

The sample is not accepted on anyone's behalf: ``migrate`` runs with the sample gate
skipped, which its journal records. A step that fails stops the load steps after it (but a
``migrate`` that finished and left something undone is verified all the same); the
rollback (``rollback --all --schema``) runs all the same, unless ``keep``: then the
migrated data stays in the emulator's store to look at. After the rollback the served
tenant's rows are compared with those before the rehearsal: a row left over, or changed,
fails the step. The rehearsal fails (:meth:`Rehearsal.incomplete`) when a step fails
(exit 8) or when ``verify`` finds migration differences (exit 7).
"""

from __future__ import annotations

import json
import shlex
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

from crm_ferry.commands._project import confirmed_map, map_file, require_project, source_path
from crm_ferry.commands.emulator import SnapshotTenant, snapshot_file, snapshot_tenant
from crm_ferry.commands.migrate import run_load
from crm_ferry.commands.provision import provision
from crm_ferry.commands.rollback import rollback
from crm_ferry.commands.sample import sample
from crm_ferry.commands.verify import verify
from crm_ferry.errors import CheckFailed, FerryError, Incomplete, Interrupted
from crm_ferry.mapping.profile import profile_source
from crm_ferry.owner_only import DIR_MODE, secure_dir, write_private
from crm_ferry.progress import NO_PROGRESS, Progress
from crm_ferry.reconcile.classify import MIGRATION, REJECTED, SOURCE_DEFECT
from crm_ferry.reconcile.scoping import SnapshotOrigin
from crm_ferry.settings import CONFIG_FILE, Settings
from crm_ferry.sources.bundle import open_bundle

__all__ = ["REHEARSAL_DIR", "STEPS", "Rehearsal", "RehearsalStep", "rehearse"]

REHEARSAL_DIR: Final = "rehearsal"
"""The project's folder of rehearsals, one ``<UTC time>`` folder each."""
EMULATOR_DIR: Final = "emulator"
"""The served tenant's store in a rehearsal's folder."""
SUMMARY_FILE: Final = "rehearsal.json"

STEPS: Final = ("provision", "sample", "migrate", "verify", "rollback")
_OUTCOMES: Final = ("written", "unchanged", "rejected", "failed", "skipped")
"""What became of the records migrate read (they add up to them)."""

StepResult = Literal["ok", "failed", "differences", "skipped", "kept"]
"""``differences``: verify found migration differences; ``kept``: the rollback was left out
(``--keep``); ``skipped``: an earlier step failed."""


@dataclass
class RehearsalStep:
    """One step of a rehearsal: its result, its counts (records, rows, differences…), how
    long it took, a line saying what it did, and its error when it failed."""

    name: str
    result: StepResult
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    detail: str = ""
    error: FerryError | None = None

    def as_dict(self) -> dict[str, Any]:
        error = self.error
        return {
            "step": self.name,
            "result": self.result,
            "seconds": round(self.seconds, 3),
            "counts": dict(self.counts),
            "detail": self.detail,
            "error": None
            if error is None
            else {
                "type": type(error).__name__,
                "exit_code": error.exit_code,
                "message": error.message,
                "hint": error.hint,
            },
        }


@dataclass
class Rehearsal:
    """What a rehearsal did, step by step, and where it left its journal, reports and the
    served tenant's data."""

    folder: Path
    snapshot: SnapshotOrigin
    kept: bool
    steps: list[RehearsalStep] = field(default_factory=list)
    reports: dict[str, str] = field(default_factory=dict)

    @property
    def emulator_data(self) -> Path:
        return self.folder / EMULATOR_DIR

    @property
    def serve_command(self) -> str:
        """How to look at the served tenant as the rehearsal left it."""
        return f"crm-ferry emulator serve --data {shlex.quote(str(self.emulator_data))}"

    def step(self, name: str) -> RehearsalStep | None:
        return next((s for s in self.steps if s.name == name), None)

    @property
    def ok(self) -> bool:
        return self.incomplete() is None

    def incomplete(self) -> FerryError | None:
        """A failed step (exit 8), else the migration differences verify found (exit 7)."""
        for s in self.steps:
            if s.result == "failed" and s.error is not None:
                return Incomplete(
                    f"the rehearsal's {s.name} failed: {s.error.message}",
                    hint=(s.error.hint + "; " if s.error.hint else "")
                    + f"everything the rehearsal wrote is in {self.folder}; fix the cause, "
                    "then `crm-ferry rehearse` again (a new rehearsal, in a folder of its own)",
                )
        checked = self.step("verify")
        if checked is not None and checked.result == "differences":
            n = checked.counts.get("migration_differences", 0)
            return CheckFailed(
                f"the rehearsal's verify found {n} migration difference(s); see "
                f"{self.reports.get('verify', self.folder)}",
                hint="each is in the report with its id, table, record and column: fix the "
                "map (or the export), then `crm-ferry rehearse` again",
            )
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "folder": str(self.folder),
            "journal": str(self.folder / "journal.sqlite"),
            "emulator_data": str(self.emulator_data),
            "kept": self.kept,
            "serve": self.serve_command,
            "snapshot": self.snapshot.as_dict(),
            "steps": [s.as_dict() for s in self.steps],
            "seconds": round(sum(s.seconds for s in self.steps), 3),
            "reports": dict(self.reports),
        }


def rehearse(
    settings: Settings,
    *,
    snapshot: Path | None = None,
    keep: bool = False,
    size: int = 300,
    progress: Progress = NO_PROGRESS,
    on_start: Callable[[Rehearsal], None] | None = None,
    on_step: Callable[[RehearsalStep], None] | None = None,
) -> Rehearsal:
    """Rehearse the migration against the tenant ``snapshot`` describes (default: the
    project's ``tenant-snapshot.json``) in a new folder ``rehearsal/<UTC time>/``; see the
    module's docstring. ``size``: the sample's. ``on_start`` hears of the folder before the
    first step, ``on_step`` of each step as it finishes."""
    project = require_project(settings)
    path = snapshot_file(settings, snapshot)
    bundle = source_path(settings)
    with open_bundle(bundle, column_map=settings.column_map, line_limit=settings.line_limit) as b:
        confirmed_map(settings, profile=profile_source(b))  # refused as migrate refuses it
    folder = _new_folder(project / REHEARSAL_DIR)
    shutil.copyfile(map_file(settings), folder / map_file(settings).name)
    started = False
    try:
        with snapshot_tenant(path, data_dir=folder / EMULATOR_DIR, key_poll_interval=0.1) as served:
            started = True
            done = Rehearsal(folder, served.origin, keep)
            write_private(folder / CONFIG_FILE, _ferry_toml(project, bundle, served.origin))
            if on_start is not None:
                on_start(done)
            steps = _Steps(done, _served_settings(settings, folder, served), served, size, progress)
            for name in STEPS:
                outcome = steps.run(name)
                done.steps.append(outcome)
                if on_step is not None:
                    on_step(outcome)
    except BaseException:
        if not started:  # a snapshot the emulator refuses: no rehearsal was made
            shutil.rmtree(folder, ignore_errors=True)
        raise
    write_private(folder / SUMMARY_FILE, json.dumps(done.as_dict(), indent=2) + "\n")
    return done


class _Steps:
    """The steps of one rehearsal, each the call its verb makes, timed and counted."""

    def __init__(
        self,
        done: Rehearsal,
        settings: Settings,
        served: SnapshotTenant,
        size: int,
        progress: Progress,
    ) -> None:
        self.done = done
        self.settings = settings
        self.served = served
        self.size = size
        self.progress = progress
        self.failed = False
        self.before: Mapping[str, Any] = served.app.dump()["records"]
        """The served tenant's rows before the first step: what the rollback restores."""
        self.steps: dict[str, Callable[[], RehearsalStep]] = {
            "provision": self._provision,
            "sample": self._sample,
            "migrate": self._migrate,
            "verify": self._verify,
            "rollback": self._rollback,
        }

    def run(self, name: str) -> RehearsalStep:
        if name == "rollback" and self.done.kept:
            return RehearsalStep(
                name, "kept", detail=f"left out (--keep): {self.done.serve_command}"
            )
        if self.failed and name != "rollback":
            return RehearsalStep(name, "skipped", detail="an earlier step failed")
        start = time.perf_counter()
        raised = False
        try:
            with _interrupts(name, self.done.folder):
                step = self.steps[name]()
        except Interrupted:
            raise
        except FerryError as exc:
            step, raised = _failed(name, {}, exc), True
        step.seconds = time.perf_counter() - start
        # a migrate that finished, incomplete, has loaded what it could: verify proves that
        verified_anyway = name == "migrate" and not raised
        if step.result == "failed" and not verified_anyway:
            self.failed = True
        return step

    def _provision(self) -> RehearsalStep:
        result = provision(self.settings, client=self.served.client)
        planned = len(result.plan.ops) if result.plan is not None else 0
        applied = len(result.applied.applied) if result.applied is not None else 0
        counts = {"operations": planned, "applied": applied}
        if result.failure is not None:
            return _failed("provision", counts, result.failure)
        detail = (
            f"{applied} schema operation(s) applied"
            if planned
            else "nothing to do: the tenant of the snapshot has what the map needs"
        )
        return RehearsalStep("provision", "ok", counts=counts, detail=detail)

    def _sample(self) -> RehearsalStep:
        result = sample(
            self.settings, size=self.size, client=self.served.client, progress=self.progress
        )
        self.done.reports["sample"] = str(result.report.html)
        facts = result.facts
        counts = {
            "records": int(facts["records chosen"]),
            "loaded": int(facts["records loaded"]),
            "rejected": int(facts["records rejected"]),
            "differences": len(result.recon.differences),
        }
        problem = result.incomplete()
        if problem is not None:
            return _failed("sample", counts, problem)
        return RehearsalStep("sample", "ok", counts=counts, detail=f"report {result.report.html}")

    def _migrate(self) -> RehearsalStep:
        result = run_load(
            self.settings,
            kind="migrate",
            client=self.served.client,
            progress=self.progress,
            skip_sample_gate=True,
            note=f"rehearsal against {self.done.snapshot.describe()}; nobody accepted its sample",
        )
        objects = result.objects.values()
        counts = {
            "records": result.records,
            **{k: sum(getattr(c, k) for c in objects) for k in _OUTCOMES},
            "requests": result.requests,
        }
        problem = result.incomplete()
        if problem is not None:
            return _failed("migrate", counts, problem)
        detail = f"run {result.run_id}; sample gate skipped: a rehearsal accepts no sample"
        return RehearsalStep("migrate", "ok", counts=counts, detail=detail)

    def _verify(self) -> RehearsalStep:
        result = verify(self.settings, client=self.served.client, progress=self.progress)
        self.done.reports["verify"] = str(result.report.html)
        by_class = Counter(d.classification for d in result.differences)
        facts = result.recon.facts
        counts = {
            "rows": int(facts["rows written"]),
            "compared": int(facts["rows compared field by field"]),
            "migration_differences": by_class[MIGRATION],
            "source_defects": by_class[SOURCE_DEFECT],
            "rejected_by_the_map": by_class[REJECTED],
        }
        found: StepResult = "differences" if by_class[MIGRATION] else "ok"
        return RehearsalStep("verify", found, counts=counts, detail=f"report {result.report.html}")

    def _rollback(self) -> RehearsalStep:
        report = rollback(
            self.settings,
            all_runs=True,
            schema=True,
            client=self.served.client,
            progress=self.progress,
        )
        reversed_ops = 0
        if report.schema is not None and report.schema.rolled_back is not None:
            reversed_ops = sum(
                1 for r in report.schema.rolled_back.reversed if r.outcome == "reversed"
            )
        left = _rows_changed(self.before, self.served.app.dump()["records"])
        counts = {
            "deleted": sum(r.deleted for r in report.results),
            "restored": sum(r.restored for r in report.results),
            "kept": report.conflicts,
            "failed": report.failures,
            "schema_reversed": reversed_ops,
            "rows_left": sum(left.values()),
        }
        problem = report.incomplete()
        if problem is None and report.schema is not None:
            problem = report.schema.incomplete()
        if problem is None and left:
            problem = Incomplete(
                f"after the rollback, {sum(left.values())} row(s) are not as they were before "
                "the rehearsal: " + ", ".join(f"{t} ({n})" for t, n in sorted(left.items())),
                hint="`crm-ferry emulator dump --data DIR --table TABLE` shows them (DIR: the "
                "rehearsal's emulator folder)",
            )
        if problem is not None:
            return _failed("rollback", counts, problem)
        detail = "the tenant's rows are as they were before the rehearsal"
        return RehearsalStep("rollback", "ok", counts=counts, detail=detail)


def _failed(name: str, counts: dict[str, int], error: FerryError) -> RehearsalStep:
    return RehearsalStep(name, "failed", counts=counts, detail=error.message, error=error)


def _rows_changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, int]:
    """Per table, the rows of ``after`` that ``before`` does not hold as they are, and the
    rows of ``before`` gone from ``after`` (a changed row counts once each way)."""
    out: dict[str, int] = {}
    for table in sorted(set(before) | set(after)):
        was = Counter(json.dumps(r, sort_keys=True, default=str) for r in before.get(table, []))
        now = Counter(json.dumps(r, sort_keys=True, default=str) for r in after.get(table, []))
        n = sum(((now - was) + (was - now)).values())
        if n:
            out[table] = n
    return out


@contextmanager
def _interrupts(step: str, folder: Path) -> Iterator[None]:
    """Ctrl-C in a step: the rehearsal's own runs are marked interrupted (by the step), and
    the message says how to go on, which is not the step's own command."""
    try:
        yield
    except (Interrupted, KeyboardInterrupt) as exc:
        raise Interrupted(
            f"crm-ferry rehearse was interrupted in its {step}; what it wrote is in {folder}",
            hint="run `crm-ferry rehearse` again: each rehearsal starts afresh, in a folder of "
            "its own",
            runs=exc.runs if isinstance(exc, Interrupted) else [],
            command="rehearse",
        ) from None


def _served_settings(settings: Settings, folder: Path, served: SnapshotTenant) -> Settings:
    """The project's settings, but for the rehearsal's folder and connected to the served
    tenant: nothing a step reads names the configured tenant."""
    app = served.app
    return settings.with_changes(
        project_dir=folder,
        environment_url=app.base_url,
        tenant=app.tenant,
        client_id=app.default_client[0],
        authority=app.authority,
    )


def _new_folder(parent: Path) -> Path:
    """``parent/<UTC time>`` (``-2``, ``-3`` … when that second is taken), owner-only, and
    ``parent/.gitignore`` keeping every rehearsal out of git."""
    secure_dir(parent)
    ignore = parent / ".gitignore"
    if not ignore.exists():
        ignore.write_text(
            "# crm-ferry: rehearsals hold client data (journal, reports, emulator data)\n*\n",
            encoding="utf-8",
        )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for n in range(1, 1000):
        folder = parent / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        return secure_dir(folder)
    raise FileExistsError(f"no free rehearsal folder under {parent} for {stamp}")


def _ferry_toml(project: Path, bundle: Path, origin: SnapshotOrigin) -> str:
    """The rehearsal folder's ``ferry.toml``: what it is, and the bundle; no ``[dataverse]``
    table, so nothing run in the folder can reach a tenant."""
    return (
        f"# A rehearsal (`crm-ferry rehearse`) of the project {project}\n"
        f"# against {origin.describe()}.\n"
        "# Its journal, runs/ and emulator/ are the rehearsal's own; this folder connects to\n"
        "# no tenant. `crm-ferry --project <this folder> runs` lists its runs.\n"
        "[source]\n"
        f"path = {json.dumps(str(bundle))}\n"
    )
