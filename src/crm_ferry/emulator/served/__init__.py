"""An emulated tenant served from a tenant snapshot (``crm-ferry emulator serve --snapshot``).

The served tenant is exactly the snapshot's for the tables the snapshot holds: their
definitions (columns with type, length, range, precision, format, required level and
create/update validity; choices and global option sets; state/status pairs; relationships
with their navigation properties and cascades; Active alternate keys) replace the built-in
tables of those names, custom tables are added; its rows are the snapshot's users, teams,
business units, currencies, price lists, products, units, publishers and solutions, and its
organization settings (base currency, upload limit, blocked attachments). **Tables the
snapshot does not hold stay as the built-in tenant has them** (:mod:`..tenant`), and so do
the relationships between them.

Start-up refuses a snapshot the emulator cannot represent, naming every table, column or
property concerned (:class:`~crm_ferry.errors.ConfigError`): nothing is dropped.
:mod:`.definitions` turns the definitions into the schema model, :mod:`.readback` checks
that each fact reads back through the metadata API as the snapshot has it, :mod:`.rows`
makes the rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from crm_ferry.emulator.schema import Schema
from crm_ferry.emulator.served.definitions import Problems, schema_from
from crm_ferry.emulator.served.document import FORMAT, VERSION, TenantSnapshot, load_snapshot
from crm_ferry.emulator.served.readback import check_readback
from crm_ferry.emulator.served.rows import rows_from
from crm_ferry.errors import ConfigError

__all__ = [
    "FORMAT",
    "VERSION",
    "TenantSnapshot",
    "load_snapshot",
    "served_rows",
    "served_schema",
]

SHOWN: Final = 20
"""Problems an error lists (the count says how many more)."""


def served_schema(snapshot: TenantSnapshot, bulk_tables: Iterable[str]) -> Schema:
    """The schema of the tenant ``snapshot`` holds; :class:`ConfigError` naming what the
    emulator cannot represent."""
    problems = Problems()
    tables = snapshot.tables
    schema = schema_from(tables, snapshot.section("global_option_sets"), bulk_tables, problems)
    if not problems.items:
        check_readback(schema, tables, problems)
    _raise(snapshot, problems)
    return schema


def served_rows(snapshot: TenantSnapshot, schema: Schema) -> list[tuple[str, dict[str, Any]]]:
    """The first rows of the tenant ``snapshot`` holds, in the order they are written."""
    problems = Problems()
    rows = rows_from(snapshot.document, schema, problems)
    _raise(snapshot, problems)
    return rows


def _raise(snapshot: TenantSnapshot, problems: Problems) -> None:
    if not problems.items:
        return
    shown = problems.items[:SHOWN]
    more = len(problems.items) - len(shown)
    lines = "\n".join(f"  - {p}" for p in shown) + (f"\n  … and {more} more" if more else "")
    raise ConfigError(
        f"the emulator cannot serve the tenant snapshot {snapshot.path}: it holds what the "
        f"emulator does not represent:\n{lines}",
        hint="serve the built-in tenant instead (without --snapshot), or take the snapshot of a "
        "tenant without these features",
    )
