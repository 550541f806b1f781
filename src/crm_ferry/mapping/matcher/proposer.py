"""The proposer's driver: a source profile and the tenant's metadata in, a proposed map out.

:func:`propose` starts a :class:`~crm_ferry.mapping.matcher.draft.Draft` from the default
map, falls back to custom invoice tables when the tenant has none, then decides the headers
of every object file that feeds a target (:mod:`~crm_ferry.mapping.matcher.headers`), the
custom properties (:mod:`~crm_ferry.mapping.matcher.customs`) and the value maps
(:mod:`~crm_ferry.mapping.matcher.value_maps`).
"""

from __future__ import annotations

from crm_ferry.dataverse.metadata import Metadata
from crm_ferry.mapping.matcher.customs import propose_customs
from crm_ferry.mapping.matcher.draft import Draft, Proposal, Tenant
from crm_ferry.mapping.matcher.headers import propose_headers
from crm_ferry.mapping.matcher.value_maps import propose_value_maps
from crm_ferry.mapping.names import check_prefix
from crm_ferry.mapping.profile import SourceProfile

__all__ = ["PRIMARY_ROLE", "propose"]

PRIMARY_ROLE: dict[str, str] = {
    "families": "household",
    "clients": "contact",
    "service_types": "service_type",
    "sessions": "session",
    "session_notes": "note",
    "invoices": "invoice",
    "invoice_items": "invoice_line",
    "payments": "payment",
    "activities": "activity_call",
    "files": "attachment",
}
"""The role whose table unknown headers of an object are matched against first."""


def propose(
    profile: SourceProfile,
    metadata: Metadata,
    *,
    prefix: str = "new",
    threshold: float = 0.8,
) -> Proposal:
    """Propose the map for ``profile`` against the tenant described by ``metadata``."""
    p = check_prefix(prefix)
    d = Draft(profile, Tenant(metadata), p, threshold)
    d.invoice_fallback()
    for obj, op in profile.objects.items():
        roles = [r for r, t in d.targets.items() if t["source"] == obj]
        if not roles:
            continue
        primary = PRIMARY_ROLE.get(obj, roles[0])
        roles.sort(key=lambda r: r != primary)
        propose_headers(d, obj, list(op.columns), roles)
    propose_customs(d)
    propose_value_maps(d)
    return d.proposal()
