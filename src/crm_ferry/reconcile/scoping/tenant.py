"""What the tenant offers: read once through a client, then audited against the source.

:func:`read_tenant` asks the tenant what the load depends on (a few requests, nothing
written): the round-trip time of a request (``WhoAmI``), the custom tables it has, whether
it has the invoice table, the system users, and which standard target tables answer the
bulk messages. :func:`audit_tenant` sets that, and the organization's settings (upload
limit, blocked file types, currencies, the price list: read by
:func:`crm_ferry.load.snapshot.read_org_settings`), against the source: custom tables
against the licence tier's limit, the currencies the source uses, the coaches against the
system users, and the files against the upload limit (:class:`TenantAudit`).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from crm_ferry.dataverse.errors import DataverseError
from crm_ferry.mapping.defaults import (
    DefaultTarget,
    default_targets,
    fallback_invoice_targets,
)
from crm_ferry.mapping.owners import Coach, SystemUser, fetch_system_users, resolve_owners
from crm_ferry.reconcile.scoping.counting import FileAudit, SourceCounts
from crm_ferry.transform.schema import OrgSettings

if TYPE_CHECKING:
    from crm_ferry.dataverse.client import DataverseClient

__all__ = [
    "LATENCY_SAMPLES",
    "CoachAudit",
    "SnapshotOrigin",
    "TenantAudit",
    "TenantReading",
    "audit_tenant",
    "measure_latency",
    "read_tenant",
]

LATENCY_SAMPLES: Final = 5
"""``WhoAmI`` round trips measured (after one that signs in)."""


@dataclass(frozen=True, slots=True)
class CoachAudit:
    """Coaches of the bundle against the tenant's system users (by email, then UPN)."""

    counts: Mapping[str, int]
    """Status → coaches: ``matched``, ``disabled``, ``unmatched``."""
    coaches: tuple[dict[str, Any], ...] = ()
    """Per coach: id, email, status, reason (problems first)."""

    @property
    def matched(self) -> int:
        return self.counts.get("matched", 0)

    @property
    def disabled(self) -> int:
        return self.counts.get("disabled", 0)

    @property
    def unmatched(self) -> int:
        return self.counts.get("unmatched", 0)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "matched": self.matched,
            "disabled": self.disabled,
            "unmatched": self.unmatched,
            "coaches": list(self.coaches),
        }


@dataclass(frozen=True, slots=True)
class SnapshotOrigin:
    """The tenant snapshot an audit (or a rehearsal) read the tenant from, instead of the
    tenant itself: its file, the environment it was taken of, and when."""

    path: str
    environment_url: str
    taken_at: str

    def describe(self) -> str:
        """``the snapshot FILE of URL, taken WHEN``."""
        return f"the snapshot {self.path} of {self.environment_url}, taken {self.taken_at}"

    def as_dict(self) -> dict[str, str]:
        return {
            "path": self.path,
            "environment_url": self.environment_url,
            "taken_at": self.taken_at,
        }


@dataclass(frozen=True, slots=True)
class TenantAudit:
    url: str | None
    tier: str
    custom_table_limit: int | None
    custom_tables: tuple[str, ...]
    """Custom tables the tenant has (logical names)."""
    new_custom_tables: tuple[str, ...]
    """Custom tables the default map would create that the tenant lacks."""
    invoice_table: bool
    currencies_present: tuple[str, ...]
    currencies_used: Mapping[str, int]
    """ISO code → source rows (sessions, invoices, packages) naming it; the manifest's
    currency stands for rows without one."""
    coaches: CoachAudit
    files: FileAudit
    bulk_support: Mapping[str, bool | None]
    """Standard target table → answers UpsertMultiple (None: could not be read)."""
    latency_ms: float
    latency_samples: tuple[float, ...] = ()
    dop_hint: int | None = None
    price_list: bool = False
    snapshot: SnapshotOrigin | None = None
    """Read from this tenant snapshot, not from the tenant (which was not contacted)."""

    @property
    def currencies_missing(self) -> tuple[str, ...]:
        present = set(self.currencies_present)
        return tuple(sorted(c for c in self.currencies_used if c not in present))

    @property
    def custom_tables_after(self) -> int:
        return len(self.custom_tables) + len(self.new_custom_tables)

    @property
    def over_table_limit(self) -> bool:
        limit = self.custom_table_limit
        return limit is not None and self.custom_tables_after > limit

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "tier": self.tier,
            "custom_tables": {
                "used": len(self.custom_tables),
                "limit": self.custom_table_limit,
                "names": list(self.custom_tables),
                "needed_by_default_map": list(self.new_custom_tables),
                "after_provisioning": self.custom_tables_after,
                "over_limit": self.over_table_limit,
            },
            "invoice_table": self.invoice_table,
            "price_list": self.price_list,
            "currencies": {
                "present": list(self.currencies_present),
                "used_by_source": dict(self.currencies_used),
                "missing": list(self.currencies_missing),
            },
            "coaches": self.coaches.as_dict(),
            "files": self.files.as_dict(),
            "bulk_support": dict(self.bulk_support),
            "latency_ms": round(self.latency_ms, 3),
            "latency_samples_ms": [round(s, 3) for s in self.latency_samples],
            "dop_hint": self.dop_hint,
            "snapshot": None if self.snapshot is None else self.snapshot.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class TenantReading:
    """What :func:`read_tenant` read from the tenant, before the source is counted."""

    url: str
    latency_ms: float
    """The median of ``latency_samples``, or the figure given instead."""
    latency_samples: tuple[float, ...]
    dop_hint: int | None
    max_batch_bytes: int
    """The client's cut of a request body (notes and files are counted against it)."""
    custom_tables: tuple[str, ...]
    """Custom tables the tenant has (logical names, sorted)."""
    invoice_table: bool
    users: tuple[SystemUser, ...]
    targets: tuple[DefaultTarget, ...]
    """The default map's targets, with the fallback invoice tables when there is none."""
    bulk_support: Mapping[str, bool | None]
    """Standard target table → answers UpsertMultiple (None: could not be read)."""
    snapshot: SnapshotOrigin | None = None
    """Read from an emulator serving this tenant snapshot, not from the tenant."""


def read_tenant(
    client: DataverseClient,
    *,
    prefix: str,
    latency_ms: float | None = None,
    snapshot: SnapshotOrigin | None = None,
    invoice_table: bool | None = None,
) -> TenantReading:
    """Read what the scoping report needs from the tenant (nothing is written).

    ``prefix`` is the publisher prefix of the map's custom tables. ``latency_ms`` replaces
    the measured round trip (``WhoAmI``, :data:`LATENCY_SAMPLES` times). ``snapshot``: the
    client talks to an emulator serving that tenant snapshot; its round trip and
    ``x-ms-dop-hint`` are the emulator's, not the tenant's, so ``latency_ms`` is needed and
    no hint is kept. ``invoice_table``: whether the tenant has the invoice table, when the
    caller knows better than ``client`` (the snapshot's tables).
    """
    if snapshot is not None and latency_ms is None:
        raise ValueError("a tenant read from a snapshot needs latency_ms")
    samples = [] if latency_ms is not None else measure_latency(client)
    latency = latency_ms if latency_ms is not None else statistics.median(samples)
    dop_hint = client.dop_hint if snapshot is None else None
    max_bytes = client.options.max_batch_bytes
    custom = sorted(t.logical_name for t in client.metadata.tables(custom_only=True))
    if invoice_table is None:
        invoice_table = client.metadata.has_table("invoice")
    users = fetch_system_users(client)
    targets = _targets(prefix, invoice_table)
    standard = sorted(
        {t.table for t in targets if not t.table.startswith(f"{prefix}_")}
        | ({"invoice"} if invoice_table else set())
    )
    bulk = _bulk_support(client, [t for t in standard if client.metadata.has_table(t)])
    return TenantReading(
        url=client.url if snapshot is None else snapshot.environment_url,
        latency_ms=latency,
        latency_samples=tuple(samples),
        dop_hint=dop_hint,
        max_batch_bytes=max_bytes,
        custom_tables=tuple(custom),
        invoice_table=invoice_table,
        users=tuple(users),
        targets=tuple(targets),
        bulk_support=bulk,
        snapshot=snapshot,
    )


def audit_tenant(
    reading: TenantReading,
    *,
    org: OrgSettings,
    prefix: str,
    tier: str,
    custom_table_limit: int | None,
    coaches: Sequence[Coach],
    counts: SourceCounts,
    files: FileAudit,
) -> TenantAudit:
    """The tenant against the source: ``org``, its settings; ``tier`` and its
    ``custom_table_limit`` (from :func:`~crm_ferry.provision.plan.table_limit_for`); the
    bundle's ``coaches``; and what :func:`~crm_ferry.reconcile.scoping.counting.count_source`
    counted."""
    resolution = resolve_owners(coaches, reading.users)
    order = {"unmatched": 0, "disabled": 1, "matched": 2}
    coach_rows = sorted(
        (
            {"id": cid, "email": c["email"], "status": c["status"], "reason": c["reason"]}
            for cid, c in resolution.section["coaches"].items()
        ),
        key=lambda r: (order.get(str(r["status"]), 3), str(r["id"])),
    )
    custom = reading.custom_tables
    needed = tuple(
        sorted(
            {
                t.table
                for t in reading.targets
                if t.table.startswith(f"{prefix}_") and t.table not in custom
            }
        )
    )
    return TenantAudit(
        url=reading.url,
        tier=tier,
        custom_table_limit=custom_table_limit,
        custom_tables=custom,
        new_custom_tables=needed,
        invoice_table=reading.invoice_table,
        currencies_present=tuple(sorted(org.currencies)),
        currencies_used=counts.currencies,
        coaches=CoachAudit(resolution.counts(), tuple(coach_rows)),
        files=files,
        bulk_support=reading.bulk_support,
        latency_ms=reading.latency_ms,
        latency_samples=reading.latency_samples,
        dop_hint=reading.dop_hint,
        price_list=org.price_list_id is not None,
        snapshot=reading.snapshot,
    )


def measure_latency(client: DataverseClient, samples: int = LATENCY_SAMPLES) -> list[float]:
    """Round trips of ``WhoAmI`` in milliseconds (after one call that signs in)."""
    client.who_am_i()
    out: list[float] = []
    for _ in range(samples):
        start = time.perf_counter()
        client.who_am_i()
        out.append((time.perf_counter() - start) * 1000)
    return out


def _bulk_support(client: DataverseClient, tables: Sequence[str]) -> dict[str, bool | None]:
    """Whether each standard table answers ``UpsertMultiple`` (the ``sdkmessagefilters``
    query :func:`crm_ferry.dataverse.bulk.write_many` uses; None when it cannot be read)."""
    out: dict[str, bool | None] = {}
    for table in tables:
        try:
            found = list(
                client.query_path(
                    "sdkmessagefilters",
                    params={
                        "$select": "sdkmessagefilterid",
                        "$filter": "sdkmessageid/name eq @message and "
                        "primaryobjecttypecode eq @table",
                        "@message": "'UpsertMultiple'",
                        "@table": f"'{table}'",
                    },
                    page_size=0,
                )
            )
        except DataverseError:
            out[table] = None
            continue
        out[table] = bool(found)
    return out


def _targets(prefix: str, invoice_table: bool) -> list[DefaultTarget]:
    targets = default_targets(prefix)
    if invoice_table:
        return targets
    fallback = {t.role: t for t in fallback_invoice_targets(prefix)}
    return [fallback.get(t.role, t) for t in targets]
