"""Runs of the load, wired from settings: migrate, delta and the sample's load.

This is where the pieces meet: the confirmed map (checked against the source), the
tenant's metadata snapshot, the transform context from a first pass over the bundle, the
load order, the journal and the clients. The commands call :func:`run_load`.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.errors import ConfigError, MapError, SourceError
from crm_ferry.load.engine import (
    LoadContext,
    Loader,
    LoadResult,
    TransformerLike,
    open_for_load,
)
from crm_ferry.load.journal import Journal, secure_dir
from crm_ferry.load.match import (
    Remap,
    match_existing,
    save_matches,
    saved_matches,
    seed_before_images,
)
from crm_ferry.load.planner import LOOKUP_TYPES, LoadPlan, plan_order
from crm_ferry.load.refstore import RefStore
from crm_ferry.mapping.spec import MappingSpec, digest
from crm_ferry.model import Client, Record
from crm_ferry.progress import NO_PROGRESS, Progress
from crm_ferry.settings import Settings
from crm_ferry.sources.bundle import Bundle
from crm_ferry.transform.context import ContextBuilder, TransformContext
from crm_ferry.transform.engine import Transformer
from crm_ferry.transform.ops import target_id
from crm_ferry.transform.schema import OrgSettings, TargetSchema, tables_for


def map_digest(spec: MappingSpec) -> str:
    """What a sample is accepted for: every decision of the map, not its status lines."""
    data = dataclasses.asdict(spec)
    for key in ("status", "confirmed_by", "confirmed_at"):
        data.pop(key, None)
    return digest(data)


def source_path(settings: Settings, source: Path | None) -> Path:
    path = settings.resolve(source) if source is not None else settings.source
    if path is None:
        raise ConfigError(
            "no source bundle given",
            hint="pass --source PATH or set `path` in the source section of ferry.toml",
        )
    if not Path(path).exists():
        raise SourceError(f"{path}: no such folder or zip file")
    return Path(path)


@contextmanager
def connected(
    settings: Settings, client: DataverseClient | None
) -> Iterator[list[DataverseClient]]:
    """The clients of the run: the one given (tests, demo), or every configured user."""
    if client is not None:
        yield [client]
        return
    from crm_ferry.dataverse.connect import pool_from_settings

    pool = pool_from_settings(settings)
    try:
        yield list(pool.clients)
    finally:
        for c in pool.clients:
            c.close()


@dataclass(frozen=True)
class Prepared:
    spec: MappingSpec
    schema: TargetSchema
    plan: LoadPlan


def prepare(
    settings: Settings, client: DataverseClient, *, source: Path, check_source: bool = True
) -> Prepared:
    """The confirmed, current map and the target snapshot, or a MapError saying what to do."""
    from crm_ferry.mapping.check import require_loadable_map

    profile = None
    if check_source:
        from crm_ferry.mapping.profile import profile_source
        from crm_ferry.sources.bundle import open_bundle

        with open_bundle(source, column_map=settings.column_map) as b:
            profile = profile_source(b)
    spec = require_loadable_map(settings, profile=profile)
    md = client.metadata
    org = OrgSettings.read(client)
    schema = TargetSchema.from_metadata(md, tables_for(spec), org=org)

    def lookup_targets(table: str, column: str) -> Sequence[str]:
        info = schema.table(table)
        return info.targets_of(column) if info is not None else ()

    return Prepared(spec, schema, plan_order(spec, lookup_targets))


def build_context(bundle: Bundle, store: RefStore | None = None) -> TransformContext:
    """The cross-record facts transform needs, from a first pass over the parent objects
    (kept in ``store``, on disk, when one is given)."""
    builder = ContextBuilder(store.table if store is not None else None)
    for obj in ContextBuilder.OBJECTS:
        if obj in bundle.objects:
            for item in bundle.read(obj):
                if isinstance(item, Record):
                    builder.add(item)

    def read_attachment(relpath: str) -> bytes:
        with bundle.open_attachment(relpath) as fh:
            return fh.read()

    return builder.build(read_attachment=read_attachment, default_currency=bundle.manifest.currency)


def require_sample_gate(journal: Journal, spec: MappingSpec) -> dict[str, Any]:
    accepted = journal.accepted_sample(map_digest(spec))
    if accepted is None:
        raise MapError(
            "no accepted sample for the confirmed map: the full migration is gated on one",
            hint="run `crm-ferry sample`, review its report, then `crm-ferry sample accept "
            "--by NAME` (or pass --skip-sample-gate, which the journal records)",
        )
    return accepted


def run_load(
    settings: Settings,
    *,
    kind: str = "migrate",
    source: Path | None = None,
    client: DataverseClient | None = None,
    include: Callable[[Record], bool] | None = None,
    progress: Progress = NO_PROGRESS,
    skip_sample_gate: bool = False,
    check_source: bool = True,
    note: str | None = None,
) -> LoadResult:
    """Load a bundle (the configured source, or ``source``) as a journaled run of ``kind``."""
    path = source_path(settings, source)
    secure_dir(settings.project_dir / "runs")
    with connected(settings, client) as clients, Journal.for_project(settings.project_dir) as j:
        prep = prepare(settings, clients[0], source=path, check_source=check_source)
        if kind == "migrate":
            if skip_sample_gate:
                note = (note + "; " if note else "") + "sample gate skipped (--skip-sample-gate)"
            else:
                require_sample_gate(j, prep.spec)
        with (
            open_for_load(path, prep.spec, settings.column_map) as bundle,
            RefStore(settings.project_dir / "runs") as store,
        ):
            context = build_context(bundle, store)
            namespace = j.namespace
            remap = _matches(j, clients[0], prep.spec, bundle, namespace, context.clients)

            def make() -> TransformerLike:
                inner = Transformer(prep.spec, prep.schema, namespace, context)
                return Remap(inner, remap) if remap else inner

            loader = Loader(
                LoadContext(
                    spec=prep.spec,
                    plan=prep.plan,
                    journal=j,
                    clients=clients,
                    make_transformer=make,
                    progress=progress,
                    primary_ids={n: t.primary_id for n, t in prep.schema.tables.items()},
                )
            )
            result = loader.run(bundle, kind=kind, source=str(path), include=include, note=note)
        rejects = j.rejects(result.run_id)
        run_dir = secure_dir(settings.project_dir / "runs" / result.run_id)
        _write_private(run_dir / "rejects.jsonl", "".join(json.dumps(r) + "\n" for r in rejects))
        _write_private(run_dir / "plan.json", json.dumps(prep.plan.as_dict(), indent=2))
        _write_private(run_dir / "load.json", json.dumps(result.as_dict(), indent=2))
        return result


MATCHED_ROLES = ("contact", "account")
NOT_RESTORED = frozenset({"overriddencreatedon"})


def _matches(
    j: Journal,
    client: DataverseClient,
    spec: MappingSpec,
    bundle: Bundle,
    namespace: uuid.UUID,
    client_ids: Iterable[str],
) -> dict[str, str]:
    """Our row id → the existing row a client was matched to (earlier runs' and new ones)."""
    saved = saved_matches(j.db)
    if spec.options.get("match_existing", True) is not False:
        ours = {target_id(namespace, role, cid) for cid in client_ids for role in MATCHED_ROLES}
        fresh = match_existing(
            client,
            (
                c
                for c in bundle.read("clients")
                if isinstance(c, Client)
                and not any((role, c.id) in saved for role in MATCHED_ROLES)
            ),
            ours=ours,
            practice_column=f"{spec.publisher_prefix}_practiceid",
        )
        columns = {
            role: [
                fm.column
                for fm in t.mapped()
                if fm.column
                and fm.type not in LOOKUP_TYPES | {"Owner"}
                and fm.column not in NOT_RESTORED
            ]
            for role, t in spec.targets.items()
            if role in MATCHED_ROLES
        }
        seed_before_images(j.db, client, fresh, columns, "match")
        save_matches(j.db, fresh)
        saved.update(fresh.ids)
    return {target_id(namespace, role, sid): rid for (role, sid), rid in saved.items()}


def _write_private(path: Path, text: str) -> None:
    import os

    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
