"""The proposed map being built, the decisions behind it, and the tenant it is built for.

A :class:`Draft` starts from the default map (:func:`~crm_ferry.mapping.defaults.default_document`);
the proposer's steps (headers, custom properties, value maps) fill it in and record each
choice as a :class:`Decision` or :class:`ValueDecision`; :meth:`Draft.proposal` hands the
result over as a :class:`Proposal`. :class:`Tenant` reads the tenant's tables and columns
once each. A tenant without the Sales ``invoice`` table gets the custom
``{prefix}_invoice`` fallback (:meth:`Draft.invoice_fallback`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crm_ferry.dataverse.errors import NotFound
from crm_ferry.dataverse.metadata import ColumnInfo, Metadata
from crm_ferry.mapping.defaults import (
    INVOICE_LABELS,
    default_document,
    fallback_invoice_targets,
    option_values,
    target_entry,
)
from crm_ferry.mapping.profile import SourceProfile

__all__ = ["Decision", "Draft", "Proposal", "Tenant", "ValueDecision", "round_up"]


@dataclass(frozen=True, slots=True)
class Decision:
    """One header of one object → one role's column (or none), how sure, and why."""

    object: str
    header: str | None
    field_key: str
    """Canonical field, ``custom:<key>`` or ``extra:<header>``."""
    role: str
    table: str
    column: str | None
    confidence: float
    reason: str


@dataclass(frozen=True, slots=True)
class ValueDecision:
    """One source value of a value map → an option (None: a person must pick)."""

    value_map: str
    value: str
    option: int | None
    confidence: float
    reason: str


@dataclass(frozen=True, slots=True)
class Proposal:
    document: dict[str, Any]
    """A plain map document in the shape of :func:`default_document`."""
    decisions: list[Decision] = field(default_factory=list)
    value_decisions: list[ValueDecision] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Tenant:
    """The tenant's tables and columns, each read once."""

    def __init__(self, metadata: Metadata) -> None:
        self.metadata = metadata
        self._has: dict[str, bool] = {}
        self._cols: dict[str, dict[str, ColumnInfo]] = {}

    def has(self, table: str) -> bool:
        if table not in self._has:
            self._has[table] = self.metadata.has_table(table)
        return self._has[table]

    def columns(self, table: str) -> dict[str, ColumnInfo]:
        if table not in self._cols:
            try:
                self._cols[table] = dict(self.metadata.columns(table)) if self.has(table) else {}
            except NotFound:
                self._cols[table] = {}
        return self._cols[table]


class Draft:
    """The map document being proposed for one source profile and one tenant."""

    def __init__(self, profile: SourceProfile, tenant: Tenant, p: str, threshold: float) -> None:
        self.profile = profile
        self.tenant = tenant
        self.p = p
        """The publisher prefix of new tables and columns."""
        self.doc = default_document(p)
        self.doc["confirm_threshold"] = threshold
        self.targets: dict[str, dict[str, Any]] = self.doc["targets"]
        self.value_maps: dict[str, dict[str, Any]] = self.doc["value_maps"]
        self.decisions: list[Decision] = []
        self.value_decisions: list[ValueDecision] = []
        self.notes: list[str] = []

    def proposal(self) -> Proposal:
        return Proposal(self.doc, self.decisions, self.value_decisions, self.notes)

    # -- tables --------------------------------------------------------------------

    def invoice_fallback(self) -> None:
        """Invoices and their lines to custom tables when the tenant has no invoice table."""
        if self.tenant.has("invoice"):
            return
        p = self.p
        labels = list(INVOICE_LABELS.values())
        values = option_values(labels)
        options = {v: label for label, v in values.items()}
        for t in fallback_invoice_targets(p):
            self.targets[t.role] = target_entry(t, p, {"invoice_status": options})
        self.value_maps["invoice_status"] = {
            "column": f"{p}_invoice.{p}_invoicestatus",
            "policy": "fail",
            "values": {src: values[label] for src, label in INVOICE_LABELS.items()},
        }
        pay = self.targets.get("payment", {}).get("fields", {}).get("invoice_id")
        if pay and isinstance(pay.get("create"), dict):
            pay["create"]["target_table"] = f"{p}_invoice"
        self.doc["options"]["invoice_lines"] = f"{p}_invoicelineitem"
        self.notes.append(
            f"the tenant has no invoice table: invoices go to the custom {p}_invoice table "
            f"and their lines to {p}_invoicelineitem"
        )

    def table_note(self, table: str) -> str:
        if not self.tenant.has("invoice") and table.startswith(f"{self.p}_invoice"):
            return "; fallback table: the tenant has no invoice table"
        return ""

    def column_ok(self, role: str, entry: Mapping[str, Any]) -> tuple[bool, str]:
        """Whether a default column exists in the tenant or is created by the map."""
        target = self.targets[role]
        table = target["table"]
        column = entry.get("column")
        if not column:
            return True, ""
        if entry.get("create"):
            return True, ""
        if target.get("create") and not self.tenant.has(table):
            return True, ""
        if not self.tenant.has(table):
            return False, f"table {table} is not in the tenant"
        if column in self.tenant.columns(table):
            return True, ""
        return False, f"column {table}.{column} is not in the tenant; pick another"


def round_up(n: int, step: int = 50) -> int:
    """A column length for values up to ``n`` characters: the next multiple of ``step``."""
    return max(step, -(-n // step) * step)
