"""Microsoft's table reference, as facts: the emulator's standard tables are made from it.

One JSON file per table in ``tables/`` (format ``crm-ferry/table-reference v1``), read from
Microsoft's table/column reference (repository MicrosoftDocs/powerapps-docs,
``powerapps-docs/developer/data-platform/reference/entities/<table>.md``; the Sales tables, and
the Sales columns of account and contact, from MicrosoftDocs/dynamics-365-customer-engagement,
``ce/developer/entities/<table>.md``). Each file names the page(s) and commit it was read from
(``sources``) and holds facts only: the table's names and ownership; every column with its type,
label, required level, validity for create/update/read (written only when false), length,
format, range, precision, options with labels, state/status pairs and default; the one-to-many
relationships to the other tables of the set, with navigation properties and cascading; the
many-to-many ones.

:mod:`crm_ferry.emulator.reference.build` turns them into the schema model; the acceptance test
(``tests/emulator/test_reference_tables.py``) reads the emulator's metadata API back against
them.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

FORMAT = "crm-ferry/table-reference v1"

TABLES: tuple[str, ...] = (
    "account",
    "contact",
    "opportunity",
    "opportunityclose",
    "invoice",
    "invoicedetail",
    "pricelevel",
    "productpricelevel",
    "product",
    "uom",
    "uomschedule",
    "transactioncurrency",
    "annotation",
    "activitypointer",
    "activityparty",
    "phonecall",
    "email",
    "appointment",
    "task",
    "systemuser",
    "team",
    "businessunit",
    "organization",
    "solution",
    "publisher",
    "sharepointsite",
    "sharepointdocumentlocation",
    "sdkmessage",
    "sdkmessagefilter",
    "fileattachment",
    "activitymimeattachment",
    "asyncoperation",
    "bulkdeleteoperation",
)
"""The standard tables of the emulated tenant: every table crm-ferry writes or reads, and the
ones the metadata API and the platform's jobs rely on."""


@cache
def facts(table: str) -> dict[str, Any]:
    """The reference facts of one table (parsed once per process; do not mutate)."""
    path = resources.files(__package__).joinpath("tables", f"{table}.json")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} file")
    return data


def available() -> tuple[str, ...]:
    """The tables of :data:`TABLES` whose facts are present."""
    folder = resources.files(__package__).joinpath("tables")
    present = {p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json")}
    return tuple(t for t in TABLES if t in present)


__all__ = ["FORMAT", "TABLES", "available", "facts"]
