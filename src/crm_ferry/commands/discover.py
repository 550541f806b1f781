"""``crm-ferry discover``: profile the export bundle, and with a target, scope the migration.

Without a target: objects, counts, rejects, inferred custom-property types and references
that point nowhere (:func:`discover`). With one (:func:`scope`): also the tenant audit, a
duration estimate and a complexity grade, written to ``runs/scoping-<timestamp>/``.

``discover --snapshot FILE`` audits the tenant a snapshot describes (``crm-ferry
snapshot``), served in process, instead of the configured tenant, which is not contacted;
the report says which snapshot, of which environment, taken when. What a snapshot cannot
tell is said too: the round trip is assumed
(:data:`~crm_ferry.reconcile.scoping.ASSUMED_LATENCY_MS`) unless given, the emulator's
``x-ms-dop-hint`` is not the tenant's, and only the custom tables the snapshot holds (the
map's and those they relate to) are counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from crm_ferry.commands._project import (
    connected,
    downloads_folder,
    extra_client_ids,
    source_path,
)
from crm_ferry.commands.emulator import snapshot_file, snapshot_tenant
from crm_ferry.commands.provision import tier_settings
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.load.snapshot import read_org_settings
from crm_ferry.mapping.owners import collect_coaches
from crm_ferry.owner_only import make_private_dirs, secure_file
from crm_ferry.progress import NO_PROGRESS, Progress
from crm_ferry.provision.plan import table_limit_for
from crm_ferry.reconcile.scoping import (
    ASSUMED_LATENCY_MS,
    LatencyBasis,
    ScopingReport,
    SnapshotOrigin,
    audit_tenant,
    count_source,
    estimate,
    grade,
    read_tenant,
    scoping_dir,
    write_scoping,
)
from crm_ferry.settings import Settings
from crm_ferry.sources.bundle import open_bundle
from crm_ferry.sources.discover import SourceDiscovery, discover_source

__all__ = ["discover", "scope"]


def discover(
    settings: Settings,
    *,
    source: Path | None = None,
    rejects: Path | None = None,
    progress: Progress = NO_PROGRESS,
) -> SourceDiscovery:
    """Profile the export bundle: objects, counts, rejects, custom properties, dangling links,
    the linked files against the downloads folder (``[source] files``) and the client groups.

    ``rejects``: where every rejected row is written (JSON Lines), owner-only (0600, in
    folders made 0700): the rows hold client data."""
    return discover_source(
        source_path(settings, source),
        column_map=settings.column_map,
        rejects_path=_rejects_file(settings, rejects),
        progress=progress,
        line_limit=settings.line_limit,
        downloads=downloads_folder(settings),
    )


def _rejects_file(settings: Settings, rejects: Path | None) -> Path | None:
    """The rejects file, created owner-only before discovery writes a row into it."""
    if rejects is None:
        return None
    path = settings.resolve(rejects)
    make_private_dirs(path.parent)
    return secure_file(path)


def scope(
    settings: Settings,
    *,
    source: Path | None = None,
    client: DataverseClient | None = None,
    out_dir: Path | None = None,
    latency_ms: float | None = None,
    rejects: Path | None = None,
    snapshot: Path | None = None,
    progress: Progress = NO_PROGRESS,
) -> ScopingReport:
    """Profile the source, audit the tenant, estimate and grade; write the scoping report.

    ``client`` defaults to one built from the settings. ``latency_ms`` replaces the
    measured round trip (``WhoAmI``,
    :data:`~crm_ferry.reconcile.scoping.tenant.LATENCY_SAMPLES` times). ``out_dir``
    defaults to ``<project>/runs/scoping-<UTC timestamp>/``. ``rejects``: where discovery
    writes every rejected row (JSON Lines), as ``crm-ferry discover --rejects`` does.
    ``snapshot``: audit the tenant of this snapshot file (from the project folder) instead,
    served in process; no client is built and the tenant is not contacted.
    """
    if snapshot is not None and client is not None:
        raise ValueError("scope audits a snapshot or a client's tenant, not both")
    path = source_path(settings, source)
    served = snapshot_file(settings, snapshot) if snapshot is not None else None
    tier, limit = table_limit_for(*tier_settings(settings))
    discovery = discover_source(
        path,
        column_map=settings.column_map,
        rejects_path=_rejects_file(settings, rejects),
        progress=progress,
        line_limit=settings.line_limit,
        downloads=downloads_folder(settings),
    )
    prefix = settings.publisher_prefix
    batch_size = settings.batch_size
    basis: LatencyBasis = "measured" if latency_ms is None else "given"
    with _tenant(settings, client, served) as (dv, origin, invoice_table):
        if origin is not None and latency_ms is None:
            latency_ms, basis = ASSUMED_LATENCY_MS, "assumed"
        reading = read_tenant(
            dv,
            prefix=prefix,
            latency_ms=latency_ms,
            snapshot=origin,
            invoice_table=invoice_table,
        )
        org = read_org_settings(dv)
        with open_bundle(
            path, column_map=settings.column_map, line_limit=settings.line_limit
        ) as bundle:
            coaches = collect_coaches(bundle)
            counts, files = count_source(
                bundle,
                org=org,
                batch_size=batch_size,
                max_batch_bytes=reading.max_batch_bytes,
                progress=progress,
            )
    tenant = audit_tenant(
        reading,
        org=org,
        prefix=prefix,
        tier=tier,
        custom_table_limit=limit,
        coaches=coaches,
        counts=counts,
        files=files,
    )
    est = estimate(
        counts,
        reading.targets,
        prefix=prefix,
        batch_size=batch_size,
        max_batch_bytes=reading.max_batch_bytes,
        max_concurrency=settings.max_concurrency,
        users=1 + len(extra_client_ids(settings)),
        latency_ms=reading.latency_ms,
        bulk_support=reading.bulk_support,
        invoice_table=reading.invoice_table,
        latency_basis=basis,
    )
    report = ScopingReport(
        source=discovery,
        counts=counts,
        tenant=tenant,
        estimate=est,
        grade=grade(discovery, tenant, est),
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    folder = scoping_dir(
        settings.project_dir / "runs",
        settings.resolve(out_dir) if out_dir is not None else None,
    )
    return write_scoping(report, folder)


@contextmanager
def _tenant(
    settings: Settings, client: DataverseClient | None, snapshot: Path | None
) -> Iterator[tuple[DataverseClient, SnapshotOrigin | None, bool | None]]:
    """The client of the audit, the snapshot it reads (None: the tenant itself) and, from a
    snapshot, whether the tenant has the invoice table (the emulator has its own besides)."""
    if snapshot is None:
        with connected(settings, client) as dv:
            yield dv, None, None
        return
    with snapshot_tenant(snapshot) as served:
        yield served.client, served.origin, "invoice" in served.tables
