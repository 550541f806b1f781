"""The role builders: one canonical record → the operations of its target rows.

One module per kind of target row, each a function ``(builder, record) -> operations``
on a :class:`~crm_ferry.transform.build.Builder`; the
:class:`~crm_ferry.transform.engine.Transformer` dispatches each record to its builder by
its type.

* :mod:`~.contacts`: clients → contacts and accounts;
* :mod:`~.sessions`: sessions → session rows (or appointments);
* :mod:`~.opportunities`: completed, paid sessions → won opportunities (aggregates);
* :mod:`~.notes`: session notes and files → notes with their documents;
* :mod:`~.invoices`: invoices, invoice lines, payments;
* :mod:`~.activities`: calls, e-mails and meetings → completed activities with parties;
* :mod:`~.simple`: households, service types, and the targets of any other object.
"""

from __future__ import annotations

from crm_ferry.transform.roles import (
    activities,
    contacts,
    invoices,
    notes,
    opportunities,
    sessions,
    simple,
)

__all__ = [
    "activities",
    "contacts",
    "invoices",
    "notes",
    "opportunities",
    "sessions",
    "simple",
]
