"""Reading a The Practice export bundle: streaming, typed, and honest about what it refuses.

>>> with open_bundle("export.zip") as bundle:            # doctest: +SKIP
...     for item in bundle.read("clients"):
...         if isinstance(item, Reject):
...             print(item)      # clients.csv:14 [DOB]: '31/02/1990': not a date (...)
...         else:
...             use(item)        # a crm_ferry.model.Client

A bundle is a folder or a ``.zip`` (optionally with everything under one top folder) with
one file per object, named by the object (``clients.csv``, ``sessions.jsonl``,
``reports.json``, ...); an object may also be a sheet of an Excel workbook in it
(``clients.xlsx``, or an ``export.xlsx`` with a sheet per object), and the bundle may be
one workbook (``export.xlsx``). Every row read becomes exactly one :class:`~crm_ferry.model.Record`
or one :class:`~crm_ferry.model.Reject`; :meth:`Bundle.read` counts both and checks
``read == accepted + rejected`` when the file ends. Each column of a file goes to a field,
a custom property or :attr:`Record.extra` by the rules of :func:`resolve_header`.

The parts, in the order a row goes through them:

* ``_reader``: :func:`open_bundle` and :class:`Bundle` (the manifest, objects, attachments);
* ``_storage``: the bundle's files, in a folder, a zip or a single workbook;
* ``_layout``: which file, or which sheet of which workbook, holds which object;
* ``_formats``: the row readers per format (CSV, JSON Lines, JSON array);
* ``_xlsx`` and ``_sheets``: workbooks streamed cell by cell, and a sheet's cells as the
  text a CSV export of it would hold (Excel's dates, numbers, errors, merged headers);
* ``_columns``: header resolution, from a header line or JSON keys to a plan of columns;
* ``_convert``: generated functions converting a row's cells into typed values;
* ``_records``: ids, duplicates and bad values checked, records and rejects built.
"""

from crm_ferry.sources.bundle._columns import resolve_header
from crm_ferry.sources.bundle._layout import BundleKind, IgnoredSheet
from crm_ferry.sources.bundle._reader import Bundle, ReaderInvariantError, open_bundle
from crm_ferry.sources.bundle._records import ObjectCounts
from crm_ferry.sources.bundle._storage import BundleFile, Format

__all__ = [
    "Bundle",
    "BundleFile",
    "BundleKind",
    "Format",
    "IgnoredSheet",
    "ObjectCounts",
    "ReaderInvariantError",
    "open_bundle",
    "resolve_header",
]
