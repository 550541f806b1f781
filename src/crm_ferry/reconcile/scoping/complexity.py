"""How hard the migration is: a grade from A to D, with the reasons that led to it.

:func:`grade` gives points for the volume and the duration of the load, custom properties,
rows that cannot be read, broken references, data-quality findings that need a decision,
coaches without a system user, a missing invoice table, the custom tables against the
licence tier's limit, files that cannot be loaded, and currencies the tenant lacks; the sum
gives the letter (:data:`GRADES`). Some findings are also blockers: what must be settled
before the load.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from crm_ferry.reconcile.scoping.duration import Estimate
from crm_ferry.reconcile.scoping.tenant import TenantAudit
from crm_ferry.sources.discover import FINDING_KINDS, SourceDiscovery

__all__ = ["GRADES", "QUALITY_FINDINGS", "Grade", "GradeReason", "grade"]

GRADES: Final[tuple[tuple[int, str, str], ...]] = (
    (2, "A", "low"),
    (5, "B", "moderate"),
    (8, "C", "high"),
)
"""(highest points, letter, label); more points than the last is D, very high."""

QUALITY_FINDINGS: Final = frozenset(
    {
        "clients.missing_email",
        "clients.duplicate_email",
        "users.inactive_with_clients",
        "invoices.items_total_mismatch",
        "files.missing_in_bundle",
    }
)
"""Findings that need a decision before the load (the others are handled by the map, and
files over the limit are graded against the tenant's own limit)."""


@dataclass(frozen=True, slots=True)
class GradeReason:
    factor: str
    points: int
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"factor": self.factor, "points": self.points, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Grade:
    letter: str
    label: str
    points: int
    reasons: tuple[GradeReason, ...]
    blockers: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "letter": self.letter,
            "label": self.label,
            "points": self.points,
            "reasons": [r.as_dict() for r in self.reasons],
            "blockers": list(self.blockers),
        }


def grade(source: SourceDiscovery, tenant: TenantAudit, est: Estimate) -> Grade:
    """A–D from points, each with the reason that gave it."""
    reasons: list[GradeReason] = []
    blockers: list[str] = []

    def add(factor: str, points: int, detail: str) -> None:
        reasons.append(GradeReason(factor, points, detail))

    records = est.records
    volume = 0 if records < 10_000 else 1 if records < 100_000 else 2 if records < 1_000_000 else 3
    add("volume", volume, f"{records:,} records to write, about {est.minutes:,.1f} minutes")
    if est.minutes > 8 * 60:
        add("duration", 1, f"the load takes over a working day ({est.minutes / 60:,.1f} hours)")

    customs = len(source.custom_properties)
    points = 0 if customs <= 5 else 1 if customs <= 20 else 2
    add("custom properties", points, f"{customs} custom properties, each a new column or choice")

    read = sum(o.read for o in source.objects.values())
    rejected = sum(o.rejected for o in source.objects.values())
    share = rejected / read if read else 0.0
    points = 0 if not rejected else 1 if share <= 0.01 else 2
    add("rejected rows", points, f"{rejected:,} of {read:,} rows cannot be read ({share:.1%})")
    dangling = sum(d.count for d in source.dangling.values())
    add(
        "broken references",
        0 if not dangling else 1,
        f"{dangling:,} references point nowhere ({len(source.dangling)} kinds)",
    )
    quality = {k: f.count for k, f in source.findings.items() if f.count and k in QUALITY_FINDINGS}
    flagged = sum(quality.values())
    detail = ", ".join(f"{n:,} × {FINDING_KINDS.get(k, k)}" for k, n in quality.items())
    add(
        "data-quality findings",
        0 if not flagged else 1 if flagged * 20 <= max(records, 1) else 2,
        detail or "none that need a decision",
    )

    coaches = tenant.coaches
    unowned = coaches.unmatched + coaches.disabled
    points = 0 if not unowned else 1 if unowned * 4 <= max(coaches.total, 1) else 2
    add(
        "owners",
        points,
        f"{coaches.matched} of {coaches.total} coaches matched to system users; "
        f"{coaches.disabled} disabled, {coaches.unmatched} unmatched",
    )
    if not tenant.invoice_table:
        add(
            "invoice table",
            2,
            "no invoice table: invoices and lines need two more custom tables",
        )
    limit = tenant.custom_table_limit
    if limit is not None:
        after = tenant.custom_tables_after
        if after > limit:
            add(
                "custom tables",
                3,
                f"{len(tenant.custom_tables)} used + {len(tenant.new_custom_tables)} needed = "
                f"{after}, over the {limit} the {tenant.tier} tier allows",
            )
            blockers.append(
                f"custom tables: {after} needed, {limit} allowed; free some or change tier"
            )
        else:
            add(
                "custom tables",
                1 if limit - after <= 2 else 0,
                f"{len(tenant.custom_tables)} used + {len(tenant.new_custom_tables)} needed = "
                f"{after} of {limit}",
            )
    files = tenant.files
    add(
        "files",
        0 if not files.excluded else 1,
        f"{files.over_limit} files over {files.max_upload_bytes:,} bytes (Base64), "
        f"{files.blocked} of a blocked type, {files.inline_over_limit + files.inline_blocked} "
        f"inline images excluded",
    )
    missing = tenant.currencies_missing
    if missing:
        add("currencies", 1, f"currencies used by the source but not in the tenant: {missing}")
        blockers.append(f"currencies missing in the tenant: {', '.join(missing)}")
    total = sum(r.points for r in reasons)
    letter, label = next(
        ((letter, label) for top, letter, label in GRADES if total <= top), ("D", "very high")
    )
    ordered = sorted(reasons, key=lambda r: -r.points)
    return Grade(letter, label, total, tuple(ordered), tuple(blockers))
