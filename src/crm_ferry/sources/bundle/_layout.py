"""Which file, or which sheet of which workbook, holds each object of a bundle.

* A file named by its object (``clients.csv``, ``sessions.jsonl``, ``reports.json``).
* A workbook named by its object (``clients.xlsx``): its first worksheet holds the object;
  its other sheets are listed as ignored.
* Any other workbook (``export.xlsx``, or the bundle itself when it is one workbook): each
  sheet named like an object holds it (``clients``, ``Clients``, ``Client Properties``:
  case, spaces, ``_`` and ``-`` ignored), a sheet named ``manifest`` holds the manifest
  (a header row of its fields, one row of values), and every other sheet is listed as
  ignored with the reason, never dropped silently.

An object found twice (``clients.csv`` and a ``Clients`` sheet, or two sheets) is refused,
naming both. The workbooks stay open (:attr:`Layout.workbooks`) for the reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from crm_ferry.errors import SourceError
from crm_ferry.model import RECORD_TYPES, REQUIRED_OBJECTS
from crm_ferry.sources import schema
from crm_ferry.sources.bundle._storage import (
    FORMATS,
    MEMBER_LIMIT,
    RATIO_LIMIT,
    BundleFile,
    Storage,
    WorkbookFile,
    Zip,
)
from crm_ferry.sources.bundle._xlsx import Workbook

BundleKind = Literal["folder", "zip", "workbook"]

MANIFEST_SHEET = "manifest"


@dataclass(frozen=True, slots=True)
class IgnoredSheet:
    """A sheet (or a workbook's lock file) that holds no object of the bundle."""

    file: str
    sheet: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "sheet": self.sheet, "reason": self.reason}


@dataclass(slots=True)
class Layout:
    """What :func:`find_objects` found."""

    kind: BundleKind
    files: dict[str, BundleFile]
    """Object -> its file (and sheet), in read order (parents first)."""
    ignored: list[IgnoredSheet] = field(default_factory=list)
    manifest_sheet: BundleFile | None = None
    workbooks: dict[str, Workbook] = field(default_factory=dict)
    """File name -> the open workbook (close with :meth:`close`)."""

    def close(self) -> None:
        for workbook in self.workbooks.values():
            workbook.close()
        self.workbooks.clear()


_BY_SHEET = {schema.normalise_header(obj): obj for obj in RECORD_TYPES}


def sheet_object(sheet: str) -> str | None:
    """The object a sheet named ``sheet`` holds (``Client Properties`` ->
    ``client_properties``), or None."""
    return _BY_SHEET.get(schema.normalise_header(sheet.strip()))


def find_objects(
    storage: Storage,
    path: Path,
    *,
    member_limit: int = MEMBER_LIMIT,
    ratio_limit: float = RATIO_LIMIT,
) -> Layout:
    """Every object's file or sheet (see the module docstring).

    Raises :class:`SourceError` for an object found twice, or without users and clients.
    """
    kind: BundleKind = (
        "workbook"
        if isinstance(storage, WorkbookFile)
        else "zip"
        if isinstance(storage, Zip)
        else "folder"
    )
    layout = Layout(kind, {})
    try:
        _find(storage, layout, member_limit, ratio_limit)
        _check_required(storage, path, layout)
    except BaseException:
        layout.close()
        raise
    layout.files = {obj: layout.files[obj] for obj in schema.READ_ORDER if obj in layout.files}
    return layout


def _find(storage: Storage, layout: Layout, member_limit: int, ratio_limit: float) -> None:
    for name in storage.names():
        pure = PurePosixPath(name)
        fmt = FORMATS.get(pure.suffix.lower())
        stem = pure.stem.lower()
        if fmt == "xlsx" and name.startswith("~$"):
            reason = "an Excel lock file (the workbook is open in Excel); not read"
            layout.ignored.append(IgnoredSheet(name, None, reason))
        elif fmt == "xlsx":
            workbook = Workbook(
                storage.open(name), name, member_limit=member_limit, ratio_limit=ratio_limit
            )
            layout.workbooks[name] = workbook
            _sheets(layout, name, workbook, stem if stem in RECORD_TYPES else None)
        elif fmt is not None and stem in RECORD_TYPES:
            _add(layout, BundleFile(stem, name, fmt))


def _sheets(layout: Layout, name: str, workbook: Workbook, named: str | None) -> None:
    """The objects of one workbook: ``named`` (the object its file is named by) in its
    first worksheet, else one per sheet named like an object."""
    taken = False
    for sheet in workbook.sheets:
        if sheet.part is None:
            layout.ignored.append(IgnoredSheet(name, sheet.name, "a chart sheet: no cells"))
            continue
        if named is not None:
            if not taken:
                taken = True
                _add(layout, BundleFile(named, name, "xlsx", sheet.name))
            else:
                reason = f"{name} is named after {named}: only its first sheet is read"
                layout.ignored.append(IgnoredSheet(name, sheet.name, reason))
            continue
        obj = sheet_object(sheet.name)
        if obj is not None:
            _add(layout, BundleFile(obj, name, "xlsx", sheet.name))
        elif schema.normalise_header(sheet.name) == MANIFEST_SHEET:
            found = BundleFile(MANIFEST_SHEET, name, "xlsx", sheet.name)
            if layout.manifest_sheet is not None:
                raise _twice(MANIFEST_SHEET, layout.manifest_sheet, found)
            layout.manifest_sheet = found
        else:
            reason = "not named like an object of the bundle (clients, sessions, ...)"
            layout.ignored.append(IgnoredSheet(name, sheet.name, reason))


def _add(layout: Layout, bf: BundleFile) -> None:
    first = layout.files.get(bf.object)
    if first is not None:
        raise _twice(bf.object, first, bf)
    layout.files[bf.object] = bf


def _twice(obj: str, first: BundleFile, second: BundleFile) -> SourceError:
    what = "files" if first.sheet is None and second.sheet is None else "sources"
    return SourceError(
        f"two {what} for {obj}: {first.where} and {second.where}",
        hint="keep one of them in the bundle (or rename the sheet that is not the object)",
    )


def _check_required(storage: Storage, path: Path, layout: Layout) -> None:
    missing = [obj for obj in REQUIRED_OBJECTS if obj not in layout.files]
    if not missing:
        return
    found = ", ".join(storage.names()) or "nothing"
    sheets = [f"{i.file}[{i.sheet}]" for i in layout.ignored if i.sheet is not None]
    if sheets:
        found += "; sheets not read: " + ", ".join(sheets)
    raise SourceError(
        f"{path}: no {' and no '.join(missing)} file in the bundle (found: {found})",
        hint="a bundle needs users and clients, as .csv, .jsonl or .json files or as "
        "sheets of a workbook named users and clients",
    )
