"""``crm-ferry migrate`` and ``crm-ferry delta``: journaled loads of the bundle.

This is where the pieces of a load meet: the confirmed map (checked against the source),
the tenant's metadata snapshot, the transform context from a first pass over the bundle,
the load order, the journal and the clients (one per application user). The sample's load
(:mod:`crm_ferry.commands.sample`) runs through :func:`run_load` too.

A ``migrate`` or ``delta`` that rejected more of an object's records than its reject
threshold allows (``[load] reject_threshold``, :mod:`crm_ferry.reconcile.thresholds`) has
loaded what it could and is incomplete all the same: its result says which objects, how
many and why (exit 8 on the command line).

The linked files (no path in the bundle) are matched to the downloads folder (``[source]
files``) before anything loads; with ``documents.linked: fail`` a load refuses to start
while one is missing or ambiguous (:class:`LinkedFilesMissing`, exit 4), listing each with
the record it belongs to.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from crm_ferry.commands._launch import ProcessLauncher
from crm_ferry.commands._project import (
    clients,
    confirmed_map,
    downloads_folder,
    open_journal,
    source_path,
    writing,
)
from crm_ferry.commands._sharepoint import sharepoint_client, sharepoint_plan
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.errors import ConfigError, MapError
from crm_ferry.journal import Journal, RefStore, RunKind, SampleInfo
from crm_ferry.load.context import Documents, build_context
from crm_ferry.load.engine import (
    LoadContext,
    Loader,
    LoadResult,
    TransformerLike,
    open_for_load,
)
from crm_ferry.load.match import Remap, existing_rows
from crm_ferry.load.planner import LoadPlan, plan_order
from crm_ferry.load.removal import REMOVED_POLICIES, RemovedPolicy
from crm_ferry.load.sharepoint import SharePointSender
from crm_ferry.load.snapshot import read_org_settings, read_target_schema
from crm_ferry.load.workers import LEASE_S, SLICE_OPS, WorkerPlan
from crm_ferry.mapping.fingerprint import map_digest
from crm_ferry.mapping.profile import profile_source
from crm_ferry.mapping.spec import MappingSpec
from crm_ferry.model import Record
from crm_ferry.owner_only import secure_dir, write_private
from crm_ferry.progress import NO_PROGRESS, Progress
from crm_ferry.reconcile.thresholds import load_breaches
from crm_ferry.settings import Settings
from crm_ferry.sharepoint import SharePointClient
from crm_ferry.sources.bundle import open_bundle
from crm_ferry.sources.downloads import WHAT_TO_DO, Downloads, summarise
from crm_ferry.sources.schema import READ_ORDER
from crm_ferry.transform.context import TransformContext
from crm_ferry.transform.engine import Transformer
from crm_ferry.transform.schema import TargetSchema, tables_for

__all__ = [
    "LinkedFilesMissing",
    "Prepared",
    "delta",
    "migrate",
    "prepare",
    "require_linked_files",
    "require_sample_gate",
    "run_load",
]

LISTED = 25
"""Linked files named in the message of a refused load (``--json`` has them all)."""

THRESHOLD_KINDS: tuple[RunKind, ...] = ("migrate", "delta")
"""Runs that load the whole bundle: over an object's reject threshold, they are incomplete
(a sample's records are a choice, and its own reconciliation is accepted or not)."""


@dataclass(frozen=True)
class Prepared:
    spec: MappingSpec
    schema: TargetSchema
    plan: LoadPlan


def prepare(
    settings: Settings, client: DataverseClient, *, source: Path, check_source: bool = True
) -> Prepared:
    """The confirmed, current map and the target snapshot, or a MapError saying what to do."""
    profile = None
    if check_source:
        limit = settings.line_limit
        with open_bundle(source, column_map=settings.column_map, line_limit=limit) as b:
            profile = profile_source(b)
    spec = confirmed_map(settings, profile=profile)
    md = client.metadata
    org = read_org_settings(client)
    schema = read_target_schema(md, tables_for(spec), org=org)

    def lookup_targets(table: str, column: str) -> Sequence[str]:
        info = schema.table(table)
        return info.targets_of(column) if info is not None else ()

    return Prepared(spec, schema, plan_order(spec, lookup_targets))


def require_sample_gate(journal: Journal, spec: MappingSpec) -> SampleInfo:
    """The accepted sample of this map, or a MapError: the full migration is gated on one."""
    accepted = journal.accepted_sample(map_digest(spec))
    if accepted is None:
        raise MapError(
            "no accepted sample for the confirmed map: the full migration is gated on one",
            hint="run `crm-ferry sample`, review its report, then `crm-ferry sample accept "
            "--by NAME` (or pass --skip-sample-gate, which the journal records)",
        )
    return accepted


class LinkedFilesMissing(MapError):
    """A load refused to start: the map says ``documents.linked: fail`` and linked files
    are missing from the downloads folder or ambiguous there; ``files`` lists each (file
    id, name, the client or session it belongs to, why) for ``--json``."""

    def __init__(self, message: str, *, hint: str, files: list[dict[str, Any]]) -> None:
        super().__init__(message, hint=hint)
        self.files = files


def require_linked_files(
    spec: MappingSpec, context: TransformContext, downloads: Downloads | None
) -> None:
    """:class:`LinkedFilesMissing` when the map's files are migrated, ``documents.linked``
    is ``fail`` and a linked file was not matched to the downloads folder."""
    if spec.target("attachment") is None or spec.documents.linked != "fail":
        return
    wanted = {m.file.client_id for m in context.linked.values() if not m.matched}
    names = {cid: ref.name for cid in wanted if cid and (ref := context.clients.get(cid))}
    problems = summarise(context.linked, downloads, names).problems
    if not problems:
        return
    shown = "".join(f"\n  {p}" for p in problems[:LISTED])
    more = f"\n  … and {len(problems) - LISTED} more" if len(problems) > LISTED else ""
    raise LinkedFilesMissing(
        f"{len(problems)} linked file(s) are not in the downloads folder "
        f"({downloads.root if downloads is not None else 'none is set'}), and the map says "
        f"documents.linked: fail; nothing was loaded:{shown}{more}",
        hint=f"{WHAT_TO_DO}; then run the command again",
        files=[p.as_dict() for p in problems],
    )


def continue_with(options: Mapping[str, Any]) -> str:
    """The command that continues a load run with these :func:`run_load` options."""
    kind = options.get("kind", "migrate")
    if kind == "delta":
        return f"delta --source {options.get('source') or 'BUNDLE'}"
    return "sample" if kind == "sample" else "migrate"


@writing(continue_with)
def run_load(
    settings: Settings,
    *,
    kind: RunKind = "migrate",
    source: Path | None = None,
    client: DataverseClient | None = None,
    include: Callable[[Record], bool] | None = None,
    progress: Progress = NO_PROGRESS,
    skip_sample_gate: bool = False,
    check_source: bool = True,
    note: str | None = None,
    removed: RemovedPolicy = "report",
    sharepoint: SharePointClient | None = None,
    workers: int = 0,
    lease_s: float = LEASE_S,
    slice_ops: int = SLICE_OPS,
) -> LoadResult:
    """Load a bundle (the configured source, or ``source``) as a journaled run of ``kind``;
    a delta does ``removed`` with the rows of records gone from the source. ``workers``:
    this process plans, and that many worker processes send (:mod:`.worker`)."""
    path = source_path(settings, source)
    downloads = downloads_folder(settings)
    secure_dir(settings.project_dir / "runs")
    with clients(settings, client) as users, open_journal(settings) as j:
        prep = prepare(settings, users[0], source=path, check_source=check_source)
        if kind == "migrate":
            if skip_sample_gate:
                note = (note + "; " if note else "") + "sample gate skipped (--skip-sample-gate)"
            else:
                require_sample_gate(j, prep.spec)
        with (
            open_for_load(path, prep.spec, settings.column_map, settings.line_limit) as bundle,
            RefStore(settings.project_dir / "runs") as store,
            sharepoint_client(settings, prep.spec.documents.uses_sharepoint, sharepoint) as graph,
        ):
            context = build_context(bundle, store, downloads)
            require_linked_files(prep.spec, context, downloads)
            plan = sharepoint_plan(settings, prep.spec, users[0])
            if plan is not None:
                context = replace(context, sharepoint=plan)
            namespace = j.namespace
            remap = existing_rows(j, users[0], prep.spec, bundle, context.clients)

            def make() -> TransformerLike:
                inner = Transformer(prep.spec, prep.schema, namespace, context)
                return Remap(inner, remap) if remap else inner

            loader = Loader(
                LoadContext(
                    spec=prep.spec,
                    plan=prep.plan,
                    journal=j,
                    clients=users,
                    make_transformer=make,
                    progress=progress,
                    primary_ids={n: t.primary_id for n, t in prep.schema.tables.items()},
                    sharepoint=SharePointSender(graph, j) if graph is not None else None,
                    documents=Documents(bundle, downloads),
                    workers=None
                    if not workers
                    else WorkerPlan(
                        ProcessLauncher(settings, workers, lease_s=lease_s),
                        slice_ops=slice_ops,
                        lease_s=lease_s,
                    ),
                )
            )
            result = loader.run(
                bundle, kind=kind, source=str(path), include=include, note=note, removed=removed
            )
        rejects = j.rejects(result.run_id)
        if kind in THRESHOLD_KINDS:
            counts = {  # source objects (aggregates reject nothing of their own)
                obj: (c.read, c.rejected) for obj, c in result.objects.items() if obj in READ_ORDER
            }
            result.over_threshold = load_breaches(counts, rejects, settings.reject_limits)
        run_dir = secure_dir(settings.project_dir / "runs" / result.run_id)
        write_private(
            run_dir / "rejects.jsonl", "".join(json.dumps(r.as_dict()) + "\n" for r in rejects)
        )
        write_private(
            run_dir / "truncations.jsonl",
            "".join(json.dumps(t.as_dict()) + "\n" for t in result.truncations),
        )
        write_private(run_dir / "plan.json", json.dumps(prep.plan.as_dict(), indent=2))
        write_private(run_dir / "load.json", json.dumps(result.as_dict(), indent=2))
        return result


def migrate(
    settings: Settings,
    *,
    source: Path | None = None,
    skip_sample_gate: bool = False,
    client: DataverseClient | None = None,
    progress: Progress = NO_PROGRESS,
    workers: int = 0,
    lease_s: float = LEASE_S,
    slice_ops: int = SLICE_OPS,
) -> LoadResult:
    """Load the whole bundle (resuming an interrupted run), every write journaled
    (``workers``: sent by that many worker processes)."""
    return run_load(
        settings,
        kind="migrate",
        source=source,
        client=client,
        progress=progress,
        workers=workers,
        lease_s=lease_s,
        slice_ops=slice_ops,
        skip_sample_gate=skip_sample_gate,
    )


def delta(
    settings: Settings,
    *,
    source: Path,
    client: DataverseClient | None = None,
    progress: Progress = NO_PROGRESS,
    removed: str | None = None,
    workers: int = 0,
    lease_s: float = LEASE_S,
    slice_ops: int = SLICE_OPS,
) -> LoadResult:
    """Write what changed in ``source`` since the last run (each delta a run of its own,
    reversible on its own); records gone from the source get ``removed`` (default: the
    ``[delta] removed`` setting): ``report``, ``deactivate`` or ``delete``."""
    return run_load(
        settings,
        kind="delta",
        source=source,
        client=client,
        progress=progress,
        removed=removed_policy(removed if removed is not None else settings.delta_removed),
        workers=workers,
        lease_s=lease_s,
        slice_ops=slice_ops,
    )


def removed_policy(value: str) -> RemovedPolicy:
    """``value`` as a removal policy, or a ConfigError saying which ones there are."""
    for policy in REMOVED_POLICIES:
        if value == policy:
            return policy
    raise ConfigError(
        f"{value!r} is not a way to handle records gone from the source",
        hint="use one of " + ", ".join(REMOVED_POLICIES) + " ([delta] removed, or --removed)",
    )
