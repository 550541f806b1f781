"""The tenant snapshot: a tenant's metadata, users and settings read into one JSON file.

``read_tables`` (:mod:`~crm_ferry.snapshot.metadata`) reads the definitions of the tables
a map touches and of the tables they relate to; ``read_directory``
(:mod:`~crm_ferry.snapshot.directory`) the users, teams, business units, currencies, price
lists and their products, the organization's settings, publishers and solutions;
:mod:`~crm_ferry.snapshot.document` puts them in the versioned, deterministic file. It reads
only through crm-ferry's own client, so it works the same on the emulator and on a real
tenant; it holds no customer record and no secret.
"""

from __future__ import annotations

from crm_ferry.snapshot.directory import COLUMNS, read_directory
from crm_ferry.snapshot.document import (
    FORMAT,
    SNAPSHOT_FILE,
    VERSION,
    counts,
    dumps,
    snapshot_document,
    write_snapshot,
)
from crm_ferry.snapshot.metadata import TablesReading, label_text, read_tables

__all__ = [
    "COLUMNS",
    "FORMAT",
    "SNAPSHOT_FILE",
    "VERSION",
    "TablesReading",
    "counts",
    "dumps",
    "label_text",
    "read_directory",
    "read_tables",
    "snapshot_document",
    "write_snapshot",
]
