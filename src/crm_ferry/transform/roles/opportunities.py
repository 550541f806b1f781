"""Completed, paid sessions → one won opportunity per client, service type and currency.

Opportunities are aggregates: :meth:`Opportunities.collect` adds each session the
``opportunity`` target's ``rows`` filter takes to the total of its client, its service
type where it has one (the sessions of a client without one share an opportunity of their
own), and its currency; :meth:`Opportunities.finish` yields, once every session is seen,
the upsert of each opportunity and its ``WinOpportunity`` action
(:data:`~crm_ferry.transform.ops.PHASE_STATE`).

Every session the target takes is counted (:meth:`Opportunities.tally`): it adds its price
to an opportunity, or it is :class:`Skipped` with the reason (no client, a client that is
not in the export or was rejected, no table or customer to write the opportunity to), so
that the sessions taken are the sessions added plus the sessions skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from crm_ferry.mapping.spec import Target
from crm_ferry.model import RecordKey, Session
from crm_ferry.transform.build import Builder, dangling, rows_match
from crm_ferry.transform.ops import Operation
from crm_ferry.transform.row import Row
from crm_ferry.transform.schema import TableSchema
from crm_ferry.transform.values import BadValue, wire_date, wire_datetime, wire_decimal

__all__ = ["NO_SERVICE_NAME", "Opportunities", "Skipped"]

NO_SERVICE_NAME = "Sessions"
"""What the name of an opportunity of sessions without a service type starts with."""


@dataclass(frozen=True, slots=True)
class Skipped:
    """A record a target takes that adds nothing to it, and why (a session no opportunity
    can hold)."""

    object: str
    source_id: str
    file: str
    line: int
    role: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "object": self.object,
            "source_id": self.source_id,
            "file": self.file,
            "line": self.line,
            "role": self.role,
            "reason": self.reason,
        }


@dataclass(slots=True)
class _Aggregate:
    client_id: str
    service_type_id: str
    """Empty for the sessions without a service type."""
    currency: str | None
    total: Decimal = Decimal(0)
    count: int = 0
    first_created: datetime | None = None
    last_start: datetime | None = None
    owner: str | None = None


class Opportunities:
    """The session totals of one transform, and the opportunities they become."""

    def __init__(self, b: Builder) -> None:
        self._b = b
        self._totals: dict[tuple[str, str, str], _Aggregate] = {}
        self.taken = 0
        """Sessions the target took (added or skipped)."""
        self.skipped: list[Skipped] = []
        """Sessions the target took that added to no opportunity, each with the reason."""

    def collect(self, record: Session) -> None:
        """Add a session to its opportunity's total (if the target takes it), or note why
        it cannot add to one."""
        b = self._b
        target = b.spec.target("opportunity")
        if target is None or not rows_match(target.rows, record):
            return
        self.taken += 1
        reason = self._cannot_add(target, record)
        if reason is not None:
            prov = record.provenance
            self.skipped.append(
                Skipped(record.OBJECT, record.id, prov.file, prov.line, target.role, reason)
            )
            return
        assert record.client_id is not None
        service = record.service_type_id or ""
        currency = (record.currency or b.context.default_currency or "").upper()
        key = (record.client_id, service, currency)
        agg = self._totals.get(key)
        if agg is None:
            agg = self._totals[key] = _Aggregate(record.client_id, service, currency or None)
        agg.total += record.price or Decimal(0)
        agg.count += 1
        if record.created_at and (
            agg.first_created is None or record.created_at < agg.first_created
        ):
            agg.first_created = record.created_at
        if record.start_at and (agg.last_start is None or record.start_at > agg.last_start):
            agg.last_start = record.start_at
            agg.owner = b.owner_id(b.coach_of(record))
        elif agg.owner is None:
            agg.owner = b.owner_id(b.coach_of(record))

    def _cannot_add(self, target: Target, record: Session) -> str | None:
        """Why the session cannot add to an opportunity (None: it can)."""
        b = self._b
        info = b.schema.table(target.table)
        if info is None:
            return f"table {target.table!r} is not in the tenant"
        if not record.client_id:
            return "a session with no client (client_id is empty) has no customer to sell to"
        client = b.context.clients.get(record.client_id)
        if client is None:
            return dangling("client", record.client_id)
        if RecordKey("clients", client.id) in b.failed:
            return f"client {client.id!r} was rejected, so no opportunity can point to it"
        try:
            b.client_target(client, info, "customerid")
        except BadValue as exc:
            return str(exc)
        return None

    def tally(self) -> dict[str, int]:
        """Sessions taken, added to an opportunity and skipped (taken = added + skipped)."""
        added = sum(agg.count for agg in self._totals.values())
        return {"sessions": self.taken, "added": added, "skipped": len(self.skipped)}

    def finish(self) -> Iterator[Operation]:
        """Each opportunity and its WinOpportunity action, one aggregate at a time."""
        target = self._b.spec.target("opportunity")
        if target is None:
            return
        info = self._b.schema.table(target.table)
        if info is None:
            return
        for key in sorted(self._totals):
            yield from self._opportunity(target, info, self._totals[key])

    def _opportunity(self, target: Target, info: TableSchema, agg: _Aggregate) -> list[Operation]:
        b = self._b
        client = b.context.clients[agg.client_id]
        service = (
            b.context.service_types.get(agg.service_type_id, agg.service_type_id)
            if agg.service_type_id
            else NO_SERVICE_NAME
        )
        source_id = f"{agg.client_id}/{agg.service_type_id}/{agg.currency or ''}"
        opp_id = b.id("opportunity", source_id)
        source = RecordKey("sessions", source_id)
        row = Row(info)
        name_col = info.primary_name or "name"
        row.set_text(name_col, f"{service} with {client.name}")
        value_cols = [target.column_of("price") or "actualvalue"]
        if info.column("estimatedvalue") is not None:
            value_cols.append("estimatedvalue")
        for col in dict.fromkeys(value_cols):
            if info.column(col) is not None:
                row.set(col, wire_decimal(agg.total))
        count_col = target.column_of("id")
        if count_col and info.column(count_col) is not None:
            row.set(count_col, agg.count)
        kind, ref_id = b.client_target(client, info, "customerid")
        row.bind(b.schema, "customerid", kind, ref_id)
        if agg.currency and info.nav("transactioncurrencyid", "transactioncurrency"):
            currency = b.schema.org.currency_id(agg.currency)
            if currency:
                row.bind(b.schema, "transactioncurrencyid", "transactioncurrency", currency)
        if agg.owner and info.nav("ownerid", "systemuser"):
            row.bind(b.schema, "ownerid", "systemuser", agg.owner)
        if agg.last_start and info.column("estimatedclosedate") is not None:
            row.set("estimatedclosedate", wire_date(agg.last_start.date()))
        if agg.first_created and info.column("overriddencreatedon") is not None:
            row.set("overriddencreatedon", wire_datetime(agg.first_created))
        upsert = b.op(target, row, opp_id, source)
        close: dict[str, Any] = {
            "subject": f"Won: {row.payload[name_col]}"[:200],
            "actualrevenue": wire_decimal(agg.total),
        }
        if agg.last_start:
            close["actualend"] = wire_datetime(agg.last_start)
        try:
            key, ref = b.schema.bind("opportunityclose", "opportunityid", target.table, opp_id)
        except KeyError:
            key, ref = "opportunityid@odata.bind", b.schema.ref(target.table, opp_id)
        close[key] = ref
        payload = {"Status": 3, "OpportunityClose": close}
        win = b.after_rows(target, opp_id, source, "action", payload, action="WinOpportunity")
        return [upsert, win]
