"""The transformer: one canonical record + the map + the target snapshot → operations.

>>> t = Transformer(spec, schema, namespace, context)           # doctest: +SKIP
>>> for record in records:                                      # doctest: +SKIP
...     out = t.transform(record)    # list[Operation], list[Reject] or list[Skipped]
>>> aggregates = list(t.finish())          # opportunities and their WinOpportunity actions

Pure: no network, no files. Attachment bytes come through ``context.read_attachment``.
Every row gets a deterministic primary key (:func:`~crm_ferry.transform.ops.target_id`),
lookups are ``<navigation property>@odata.bind`` references read from the snapshot, and
any value the target cannot take rejects the record with the field, the value and why.

The :class:`Transformer` checks the map against the snapshot, then hands each record to the
builder of its role by the record's type (:mod:`crm_ferry.transform.roles`); the builders
share the steps of :class:`~crm_ferry.transform.build.Builder`, and values are converted by
the table of :mod:`crm_ferry.transform.convert`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from crm_ferry.errors import MapError, SourceError
from crm_ferry.mapping.spec import MappingSpec
from crm_ferry.model import (
    Activity,
    Client,
    Family,
    FileRecord,
    Invoice,
    InvoiceItem,
    Payment,
    Record,
    RecordKey,
    Reject,
    ServiceType,
    Session,
    SessionNote,
)
from crm_ferry.transform.build import LOOKUP_TYPES, Builder
from crm_ferry.transform.context import TransformContext
from crm_ferry.transform.ops import Operation
from crm_ferry.transform.roles import (
    activities,
    contacts,
    invoices,
    notes,
    sessions,
    simple,
)
from crm_ferry.transform.roles.opportunities import Opportunities, Skipped
from crm_ferry.transform.row import Rejected, Skip, Truncation
from crm_ferry.transform.schema import TargetSchema
from crm_ferry.transform.values import to_text

__all__ = ["Transformer"]

RoleBuilder = Callable[[Any], list[Operation]]
"""A role builder bound to one transform: ``build(record) -> operations``."""


class Transformer:
    """Turns canonical records into :class:`Operation` lists for one map and one tenant.

    ``strict`` (default) raises :class:`MapError` at construction when the map names
    tables or columns the snapshot does not have (provisioning has not run), or when
    invoices are mapped and no price list is known; with ``strict=False`` those problems
    are listed in :attr:`problems` and the affected records are rejected one by one.
    """

    def __init__(
        self,
        spec: MappingSpec,
        schema: TargetSchema,
        namespace: uuid.UUID,
        context: TransformContext | None = None,
        *,
        strict: bool = True,
    ) -> None:
        self.spec = spec
        self.schema = schema
        self.namespace = namespace
        self.context = context or TransformContext()
        b = self._build = Builder(spec, schema, namespace, self.context)
        self._opportunities = Opportunities(b)
        self._roles: dict[type[Record], RoleBuilder] = {
            Client: partial(contacts.client, b),
            Session: partial(sessions.session, b, self._opportunities),
            SessionNote: partial(notes.note, b),
            Invoice: partial(invoices.invoice, b),
            InvoiceItem: partial(invoices.line, b),
            Payment: partial(invoices.payment, b),
            Activity: partial(activities.activity, b),
            FileRecord: partial(notes.attachment, b),
            Family: partial(simple.household, b),
            ServiceType: partial(simple.service_type, b),
        }
        """Record type → its role builder (other types: added as they are met)."""
        self._truncations: list[Truncation] = []
        self.problems: list[str] = self._check()
        if strict and self.problems:
            raise MapError(
                f"the map does not fit the target ({len(self.problems)} problem(s)):\n"
                + "\n".join(f"  {p}" for p in self.problems),
                hint="run `crm-ferry provision` so the tenant has every mapped table and column",
            )

    # ------------------------------------------------------------------------------------
    # Checks of the map against the snapshot

    def _check(self) -> list[str]:
        problems: list[str] = []
        for t in self.spec.targets.values():
            if not t.enabled:
                continue
            info = self.schema.table(t.table)
            if info is None:
                problems.append(f"targets.{t.role}: table {t.table!r} is not in the tenant")
                continue
            for fm in t.mapped():
                assert fm.column is not None
                col = info.column(fm.column)
                where = f"targets.{t.role}.fields.{fm.source}"
                if col is None:
                    problems.append(f"{where}: column {t.table}.{fm.column} is not in the tenant")
                    continue
                if col.type in LOOKUP_TYPES and not info.targets_of(fm.column):
                    problems.append(f"{where}: lookup {t.table}.{fm.column} has no relationship")
                vm = self.spec.value_maps.get(fm.value_map or "")
                keep = vm is not None and vm.policy == "keep_text"
                if keep and vm is not None and self._build.values.text_column(vm, t.table) is None:
                    problems.append(
                        f"value_maps.{vm.name}.text_column: {vm.text_column!r} is not a "
                        f"column of {t.table} (policy keep_text needs it)"
                    )
        invoice = self.spec.target("invoice")
        if (
            invoice is not None
            and invoice.table == "invoice"
            and self.schema.table(invoice.table) is not None
            and not self.schema.org.price_list_id
        ):
            problems.append(
                "targets.invoice: no price list (pricelevelid) is known; provisioning "
                "creates 'The Practice import', or pass OrgSettings(price_list_id=...)"
            )
        return problems

    # ------------------------------------------------------------------------------------
    # Entry points

    def transform(self, record: Record) -> list[Operation] | list[Reject] | list[Skipped]:
        """The operations for one record, or the reasons it cannot be loaded, or the one
        :class:`Skipped` saying why the map leaves it out (``documents.linked: skip``).

        A record no enabled target takes (users, packages, ...) gives ``[]``.
        """
        cuts = self._build.values.cuts
        cuts.clear()
        try:
            build = self._roles.get(type(record))
            if build is None:
                build = self._roles[type(record)] = self._role_of(type(record))
            out = build(record)
        except Skip as exc:  # not written: nothing may point to it
            self._build.failed.add(record.key)
            prov = record.provenance
            return [Skipped(record.OBJECT, record.id, prov.file, prov.line, exc.role, exc.reason)]
        except Rejected as exc:
            self._build.failed.add(record.key)
            return [self._reject(record, exc.field, exc.value, exc.reason)]
        except SourceError as exc:  # the bundle refused something this record needs
            self._build.failed.add(record.key)
            return [self._reject(record, None, None, str(exc))]
        except OverflowError as exc:  # a value beyond what dates and numbers hold
            self._build.failed.add(record.key)
            return [self._reject(record, None, None, f"a value is out of range ({exc})")]
        if cuts:
            self._truncations.extend(self._truncation(record, cut) for cut in cuts)
            cuts.clear()
        return out

    def take_truncations(self) -> list[Truncation]:
        """The values cut under ``truncate: true`` by the records transformed since the
        last call (a rejected record's are not among them), in order; the list is emptied."""
        taken, self._truncations = self._truncations, []
        return taken

    def _truncation(self, record: Record, cut: tuple[str, str, str, int, int, str]) -> Truncation:
        field_, table, column, length, kept, text = cut
        return Truncation(
            object=record.OBJECT,
            source_id=record.id,
            file=record.provenance.file,
            line=record.provenance.line,
            field=field_,
            table=table,
            column=column,
            length=length,
            kept=kept,
            value=text if len(text) <= 200 else text[:197] + "...",
        )

    def mark_rejected(self, key: RecordKey) -> None:
        """Tell the transformer a record was rejected elsewhere (by the reader, or by an
        earlier run), so records that point to it are rejected instead of written with a
        lookup to a row that will not exist. Records it rejects itself are marked already
        (parents must be transformed before their children: the load order)."""
        self._build.failed.add(key)

    def finish(self) -> Iterator[Operation]:
        """Aggregates over every record seen: one opportunity per client, service type (where
        the session has one) and currency of completed, paid sessions, and its
        WinOpportunity action. Yielded one aggregate at a time: a large practice has
        thousands, with their payloads."""
        yield from self._opportunities.finish()

    @property
    def skips(self) -> list[Skipped]:
        """Records an aggregate took that added nothing to it, each with the reason (a paid
        session without a client): reported, and counted in :meth:`aggregated`."""
        return list(self._opportunities.skipped)

    def aggregated(self) -> dict[str, dict[str, int]]:
        """Per aggregate role: the records it took, added and skipped (taken = added +
        skipped), once :meth:`finish` is done."""
        if self.spec.target("opportunity") is None:
            return {}
        return {"opportunity": self._opportunities.tally()}

    # ------------------------------------------------------------------------------------

    def _role_of(self, kind: type[Record]) -> RoleBuilder:
        """The builder of a record type the table does not name: its base class's, else
        a row in each target of its object."""
        for base in kind.__mro__[1:]:
            found = self._roles.get(base)
            if found is not None:
                return found
        return partial(simple.others, self._build)

    def _reject(self, record: Record, field_: str | None, value: Any, reason: str) -> Reject:
        shown = None if value is None else to_text(value)
        return Reject(
            object=record.OBJECT,
            file=record.provenance.file,
            line=record.provenance.line,
            column=field_,
            value=shown,
            reason=reason,
            source_id=record.id,
        )
