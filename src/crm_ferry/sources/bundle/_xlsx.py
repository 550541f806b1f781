"""Excel workbooks (``.xlsx``, ``.xlsm``) read as streams of cells, never whole, by openpyxl.

:class:`Workbook` opens one with openpyxl's reader in read-only mode (``ExcelReader`` with
``read_only=True, data_only=True, keep_links=False``, which is what ``load_workbook`` runs;
the reader is called directly because it opens the zip before it reads any part, so the
caps below are checked on its own list of members first, and because it says which part
holds each sheet). :meth:`Workbook.rows` streams a sheet's rows (``iter_rows``) as
:class:`RawCell` tuples (column, openpyxl's data type, number format, value), and
:meth:`Workbook.merged` finds the sheet's merged ranges.

What is not left to openpyxl, and why:

* **Dates.** openpyxl's sheet parser turns a number under a date format into a datetime as
  it reads it, but maps serial 60 (Excel's 29 February 1900, a day that never was) onto
  28 February, a serial below 1 onto a time of day even under a date format, and a serial
  past 9999 onto a ``#VALUE!`` error (with a warning). So the workbook's index of date
  styles is emptied before any sheet is read: such cells come as numbers, read by
  :mod:`~crm_ferry.sources.bundle._sheets` by their number format and the workbook's epoch
  (:attr:`Workbook.date1904`, which openpyxl reads from ``workbookPr``).
* **What a number format shows.** openpyxl names a cell's format code (``number_format``);
  :func:`number_format` says what it shows (a date, a moment, fixed decimals, ...), which
  is a rule of the cells, not of the file format. The built-in ids 27-36 and 50-58 (East
  Asian dates, whose codes depend on the locale) have no code in openpyxl (``General``):
  they are dates here.
* **Escapes.** Text keeps OOXML's ``_xHHHH_`` escapes in openpyxl (Excel stores a
  carriage return as ``_x000D_``); they are undone with openpyxl's ``unescape``. openpyxl
  itself drops the escape of an underscore (``_x005F_``) from shared strings, so a text
  that holds the six characters ``_x000D_`` (stored ``_x005F_x000D_``) reads as a carriage
  return: the one text this reader cannot give back as written.
* **Merged ranges.** A read-only sheet does not keep them (they are written after the
  cells), so :meth:`Workbook.merged` runs openpyxl's own sheet parser
  (``WorkSheetParser``) over the part once more and takes the ``mergeCells`` element it
  reads (openpyxl's ``MergeCells``). That parser is told to skip the cells of each row
  (:class:`_MergedRanges`: half the time of a full parse; were openpyxl to stop calling
  the method, the cells would be parsed for nothing, and the ranges would still be
  right). Only a header row with gaps asks for them.
* **Warnings.** openpyxl's warnings (an unsupported extension, a conditional format it
  drops) say what it would lose on saving, which never happens here: they are silenced.
* **Strict Open XML** (Excel's "Strict Open XML Spreadsheet"): openpyxl finds no sheet in
  such a workbook (its parts use other namespaces), so one is refused naming the way out.

Memory: openpyxl's read-only sheets parse one row at a time (``iterparse``, each row
cleared once read); the workbook's shared-strings table (Excel keeps every distinct text of
the workbook in that one part, and any reader must hold or index it) and the styles are
held while the workbook is open.

Limits: the members of the workbook's zip are held to the same caps as the members of a
bundle's zip (declared size, expansion ratio; see :mod:`~crm_ferry.sources.bundle._storage`),
checked before openpyxl reads any of them; ``zipfile`` itself stops a member at its
declared size. A file that is not a workbook, an old ``.xls`` one, or one protected by a
password (such a file is an OLE compound file holding an ``EncryptedPackage`` stream, not a
zip), or a damaged one, is a :class:`~crm_ferry.errors.SourceError` naming it.
"""

from __future__ import annotations

import re
import warnings
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import islice
from typing import Any, BinaryIO, Protocol, cast

from openpyxl.reader.excel import ExcelReader
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils.cell import get_column_letter
from openpyxl.utils.datetime import MAC_EPOCH
from openpyxl.utils.escape import unescape
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._reader import WorkSheetParser

from crm_ferry.errors import SourceError
from crm_ferry.sources.bundle._storage import check_member, checked_member

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
"""The first bytes of an OLE compound file: an .xls workbook, or a password-protected one."""
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")
_STRICT = b"http://purl.oclc.org/ooxml/spreadsheetml/main"
"""The namespace of a Strict Open XML workbook part (ECMA-376 part 1, strict conformance)."""
_BATCH = 512
"""Rows read from openpyxl at a time, with its warnings silenced (see :meth:`Workbook.rows`)."""
_DAMAGED = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    ET.ParseError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    InvalidFileException,
)
"""What openpyxl (and ``zipfile`` under it) raises on a damaged part: bad XML, a value of
the wrong form, an index into a table that is not there, a member that does not inflate."""


@dataclass(frozen=True, slots=True)
class NumberFormat:
    """What a cell's number format says about how its number is shown."""

    code: str
    kind: str
    """``general``, ``fixed`` (a number of decimals), ``percent``, ``text`` (``@``),
    ``date``, ``datetime`` or ``time`` (a time of day or a duration)."""
    decimals: int | None = None
    """For ``fixed`` and ``percent``: the decimals shown."""


GENERAL = NumberFormat("General", "general")
_LOCALE_DATE = NumberFormat("General", "date")

CellValue = str | int | float | bool | datetime | date | time | timedelta
"""A cell's value as openpyxl reads it (a date only from a ``t="d"`` cell: see the module
docstring)."""
RawCell = tuple[int, str, NumberFormat, CellValue]
"""One cell as stored: its column (0-based), openpyxl's data type (``s``: text, whether a
shared string, an inline one or a formula's text; ``n``: a number, int or float; ``b``: a
boolean; ``e``: an error such as ``#N/A``, as text; ``d``: an ISO 8601 date or moment,
parsed), its number format (:data:`GENERAL` but for numbers), and its value."""


class _Cell(Protocol):
    """What is read of an openpyxl ``ReadOnlyCell`` (of an ``EmptyCell``, the padding
    of a row, only the value: None)."""

    @property
    def value(self) -> CellValue | None: ...
    @property
    def data_type(self) -> str: ...
    @property
    def number_format(self) -> str: ...
    @property
    def column(self) -> int: ...
    @property
    def style_array(self) -> StyleArray: ...


_LOCALE_DATES = frozenset({*range(27, 37), *range(50, 59)})
"""The built-in number formats (ECMA-376 part 1, 18.8.30) that are locale-dependent dates."""
_QUOTED = re.compile(r'"[^"]*"|\\.|_.|\*.')
_BRACKETS = re.compile(r"\[(?!h\]|hh\]|m\]|mm\]|s\]|ss\])[^\]]*\]", re.IGNORECASE)


def number_format(code: str) -> NumberFormat:
    """What the format ``code`` shows (its first section, the one for positive numbers)."""
    section = _BRACKETS.sub("", _QUOTED.sub("", code.split(";", 1)[0])).lower()
    if section in ("general", ""):
        return NumberFormat(code, "general")
    if section.strip() == "@":
        return NumberFormat(code, "text")
    has_date = any(ch in section for ch in "yd") or (
        "m" in section and "h" not in section and "s" not in section
    )
    has_time = any(ch in section for ch in "hs") or "[m" in section
    if "e+" in section or "e-" in section or ("/" in section and not has_date):
        return NumberFormat(code, "general")
    if has_date and has_time:
        return NumberFormat(code, "datetime")
    if has_date:
        return NumberFormat(code, "date")
    if has_time:
        return NumberFormat(code, "time")
    point = section.find(".")
    decimals = 0
    if point >= 0:
        for ch in section[point + 1 :]:
            if ch not in "0#?":
                break
            decimals += 1
    return NumberFormat(code, "percent" if "%" in section else "fixed", decimals)


@dataclass(frozen=True, slots=True)
class SheetInfo:
    name: str
    part: str | None
    """The worksheet's part in the zip; None for a chart sheet (no cells)."""
    hidden: bool = False


def column_letters(index: int) -> str:
    """0 -> ``A``, 26 -> ``AA`` (openpyxl's ``get_column_letter``, for a 0-based column)."""
    return get_column_letter(index + 1)


class Workbook:
    """An open workbook: its sheets (:attr:`sheets`), rows on request (:meth:`rows`).

    ``stream`` must be seekable; ``name`` is how errors name the file."""

    def __init__(
        self, stream: BinaryIO, name: str, *, member_limit: int, ratio_limit: float
    ) -> None:
        self.name = name
        self._limits = (member_limit, ratio_limit)
        self._stream = stream
        try:
            head = stream.read(8)
            stream.seek(0)
            if head == OLE_MAGIC:
                raise _ole_error(stream, name)
            self._reader = _open_zip(stream, name)
            try:
                self._read()
            except BaseException:
                self._reader.archive.close()
                raise
        except BaseException:
            stream.close()
            raise

    def _read(self) -> None:
        archive = self._reader.archive
        for info in archive.infolist():
            check_member(info, self.name, *self._limits)
        if "[Content_Types].xml" not in archive.NameToInfo:
            raise SourceError(
                f"{self.name}: a zip file, but not an Excel workbook (no [Content_Types].xml)",
                hint="give the workbook itself, or the bundle's folder or zip",
            )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                self._reader.read()
                found = list(self._reader.parser.find_sheets())
        except OSError as exc:  # openpyxl's word for a package without a workbook part
            raise _not_a_workbook(self.name, exc) from exc
        except (*_DAMAGED, AttributeError) as exc:  # an odd package trips openpyxl itself
            raise self._damaged(None, exc) from exc
        self._refuse_strict()
        book = self._reader.wb
        book._date_formats = frozenset()  # type: ignore[attr-defined]  # see module docstring
        self.date1904 = book.epoch == MAC_EPOCH
        self._worksheets = {
            ws.title: ws for ws in book.worksheets if isinstance(ws, ReadOnlyWorksheet)
        }
        self.sheets = [
            SheetInfo(
                sheet.name,
                None if "chartsheet" in rel.Type else rel.target,
                sheet.state != "visible",
            )
            for sheet, rel in found
        ]
        self._formats: dict[str, NumberFormat] = {}

    def _refuse_strict(self) -> None:
        """A Strict Open XML workbook reads as one without sheets: say what it is."""
        part = self._reader.parser.workbook_part_name
        with self._reader.archive.open(part) as src:
            head = src.read(1 << 12)
        if _STRICT in head:
            raise SourceError(
                f"{self.name}: saved as a Strict Open XML Spreadsheet, which crm-ferry's "
                "workbook reader (openpyxl) does not read",
                hint="open it in Excel and save it as an Excel Workbook (.xlsx)",
            )

    def close(self) -> None:
        self._reader.archive.close()
        self._stream.close()

    def _damaged(self, part: str | None, exc: BaseException) -> SourceError:
        where = f"{self.name}: {part}" if part else self.name
        return SourceError(
            f"{where} cannot be read ({_reason(exc)}); the workbook is damaged",
            hint="open it in Excel and save it again as .xlsx",
        )

    def _sheet(self, sheet: SheetInfo) -> ReadOnlyWorksheet:
        ws = self._worksheets.get(sheet.name)
        if ws is None:
            raise SourceError(
                f"{self.name}: the workbook has no part {sheet.part} for sheet {sheet.name} "
                "(it is damaged)",
                hint="open it in Excel and save it again as .xlsx",
            )
        return ws

    # -- a sheet -------------------------------------------------------------------

    def merged(self, sheet: SheetInfo) -> list[tuple[int, int, int, int]]:
        """The merged ranges of ``sheet``: (first row, first column, last row, last
        column), rows 1-based as Excel numbers them, columns 0-based (see the module
        docstring: a second parse of the sheet)."""
        if sheet.part is None:
            return []
        self._sheet(sheet)
        info = self._reader.archive.getinfo(sheet.part)
        with checked_member(self._reader.archive, info, self.name, *self._limits) as src:
            parser = _MergedRanges(src, [], data_only=True)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    for _ in parser.parse():
                        pass
            except _DAMAGED as exc:
                raise self._damaged(sheet.part, exc) from exc
        found = parser.merged_cells
        return [
            (m.min_row, m.min_col - 1, m.max_row, m.max_col - 1)
            for m in (found.mergeCell if found is not None else ())
        ]

    def rows(self, sheet: SheetInfo) -> Iterator[tuple[int, list[RawCell]]]:
        """(Excel's row number, its cells) of every row of ``sheet`` up to the last one
        stored, in order; a row Excel did not store (it held nothing) has no cells, and
        neither has a cell: empty and formatted-only cells are left out.

        openpyxl is read :data:`_BATCH` rows at a time with its warnings silenced (they
        are raised while it parses, so inside this generator)."""
        if sheet.part is None:
            return
        ws = self._sheet(sheet)
        ws.reset_dimensions()  # a sheet's stored dimension may be wrong: read every row
        rows = self._rows(ws)
        try:
            while True:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    batch = list(islice(rows, _BATCH))
                if not batch:
                    return
                yield from batch
        except _DAMAGED as exc:
            raise self._damaged(sheet.part, exc) from exc

    def _rows(self, ws: ReadOnlyWorksheet) -> Iterator[tuple[int, list[RawCell]]]:
        formats = self._formats
        number = 0
        # ws.rows is ws.iter_rows() (the whole sheet, cells rather than values only),
        # typed in openpyxl's stubs for a worksheet that is not read-only
        for row in cast("Iterator[tuple[_Cell, ...]]", ws.rows):
            number += 1
            cells: list[RawCell] = []
            for cell in row:
                value = cell.value
                if value is None:
                    continue
                t = cell.data_type
                fmt = GENERAL
                if t == "n":
                    code = cell.number_format
                    if code == "General":
                        if cell.style_array.numFmtId in _LOCALE_DATES:
                            fmt = _LOCALE_DATE
                    else:
                        fmt = formats.get(code) or formats.setdefault(code, number_format(code))
                elif t == "s" and isinstance(value, str) and "_x" in value:
                    value = unescape(value)
                cells.append((cell.column - 1, t, fmt, value))
            yield number, cells


class _MergedRanges(WorkSheetParser):
    """openpyxl's sheet parser, the cells of each row skipped: only the elements after
    the cells (the merged ranges) are wanted (see the module docstring)."""

    def parse_row(self, row: object) -> tuple[int, list[dict[str, Any]]]:
        return 0, []


def _open_zip(stream: BinaryIO, name: str) -> ExcelReader:
    """openpyxl's reader over ``stream``, its zip opened (no part read yet)."""
    try:
        return ExcelReader(stream, read_only=True, data_only=True, keep_links=False)
    except (zipfile.BadZipFile, OSError, ValueError, InvalidFileException) as exc:
        raise _not_a_workbook(name, exc) from exc


def _not_a_workbook(name: str, exc: BaseException) -> SourceError:
    return SourceError(
        f"{name}: not an Excel workbook ({exc})",
        hint="save the file from Excel as an Excel Workbook (.xlsx)",
    )


def _reason(exc: BaseException) -> str:
    """What went wrong, in one line: openpyxl wraps a part's bad XML as ``Unable to read
    workbook: could not read stylesheet from ...`` (several lines) over the parser's error."""
    first = str(exc).split("\n", 1)[0]
    action = re.search(r"could not (.+?) from ", first)
    if action is not None and exc.__cause__ is not None:
        return f"could not {action[1]}: {exc.__cause__}"
    return first


def _ole_error(stream: BinaryIO, name: str) -> SourceError:
    """The error for an OLE compound file: a password-protected workbook or an .xls."""
    tail = b""
    while data := stream.read(1 << 20):
        if _ENCRYPTED in tail + data:
            return SourceError(
                f"{name}: the workbook is protected by a password; crm-ferry cannot read it",
                hint="open it in Excel, remove the password (File > Info > Protect Workbook)"
                " and save it again, or export the lists as CSV",
            )
        tail = data[-len(_ENCRYPTED) :]
    return SourceError(
        f"{name}: an Excel 97-2003 workbook (.xls), which crm-ferry does not read",
        hint="open it in Excel and save it as an Excel Workbook (.xlsx)",
    )
