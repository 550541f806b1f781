"""Completed, paid sessions → one won opportunity per client, service type and currency.

Opportunities are aggregates: :meth:`Opportunities.collect` adds each session the
``opportunity`` target's ``rows`` filter takes to its total, and
:meth:`Opportunities.finish` yields, once every session is seen, the upsert of each
opportunity and its ``WinOpportunity`` action (:data:`~crm_ferry.transform.ops.PHASE_STATE`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from crm_ferry.mapping.spec import Target
from crm_ferry.model import RecordKey, Session
from crm_ferry.transform.build import Builder, rows_match
from crm_ferry.transform.ops import Operation
from crm_ferry.transform.row import Row
from crm_ferry.transform.schema import TableSchema
from crm_ferry.transform.values import wire_date, wire_datetime, wire_decimal

__all__ = ["Opportunities"]


@dataclass(slots=True)
class _Aggregate:
    client_id: str
    service_type_id: str
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

    def collect(self, record: Session) -> None:
        """Add a session to its opportunity's total (if the target takes it)."""
        b = self._b
        target = b.spec.target("opportunity")
        if target is None or not rows_match(target.rows, record):
            return
        if not record.client_id or not record.service_type_id:
            return
        if record.client_id not in b.context.clients:
            return
        currency = (record.currency or b.context.default_currency or "").upper()
        key = (record.client_id, record.service_type_id, currency)
        agg = self._totals.get(key)
        if agg is None:
            agg = self._totals[key] = _Aggregate(
                record.client_id, record.service_type_id, currency or None
            )
        agg.total += record.price or Decimal(0)
        agg.count += 1
        if record.created_at and (
            agg.first_created is None or record.created_at < agg.first_created
        ):
            agg.first_created = record.created_at
        if record.start_at and (agg.last_start is None or record.start_at > agg.last_start):
            agg.last_start = record.start_at
            agg.owner = b.spec.owners.owner_of(record.coach_id)
        elif agg.owner is None:
            agg.owner = b.spec.owners.owner_of(record.coach_id)

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
        service = b.context.service_types.get(agg.service_type_id, agg.service_type_id)
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
