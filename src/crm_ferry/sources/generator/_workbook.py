"""The workbook variant of a generated bundle: the same rows, as a person's Excel export.

Two layouts (:data:`WorkbookLayout`):

* ``single``: one ``bundle.xlsx`` with a sheet per object (``Users``, ``Clients``,
  ``Client Properties``, ...) and a ``Manifest`` sheet, with the ``files/`` folder beside
  it;
* ``mixed``: the CSV bundle, with clients, sessions and invoices as ``clients.xlsx``,
  ``sessions.xlsx`` and ``invoices.xlsx`` (the object in the first sheet) next to the
  other objects' CSV and JSON files.

Every workbook also has a last sheet ``Read me`` that holds no object (the reader lists it
as ignored).

Cells use Excel's types as an export would: dates and moments are serial numbers with a
date format, amounts numbers shown with two decimals, whole numbers and booleans numbers
and booleans, postal codes with a leading zero text (the "number stored as text" Excel
warns about) and the others numbers; the clients sheet has a merged ``Address`` cell over
the address columns with their names on the row below, and every sheet ends with a few
formatted but empty rows and columns (Excel's used range beyond the data). Values a row
holds as text that is not of its column's type (a planted bad date) stay text.

The bytes are the same for the same rows: the workbook's created and modified time is
fixed (:data:`CREATED`), XlsxWriter writes its zip entries with a fixed time and order.
Rows are written as they come (XlsxWriter's ``constant_memory`` mode), so memory does not
grow with the practice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from crm_ferry.sources import schema

WorkbookLayout = Literal["single", "mixed"]
LAYOUTS: tuple[WorkbookLayout, ...] = ("single", "mixed")
BOOK_NAME = "bundle.xlsx"
MIXED_OBJECTS = ("clients", "sessions", "invoices")
"""The objects written as workbooks of their own in the ``mixed`` layout."""
CREATED = datetime(2025, 1, 1)
"""The workbooks' created and modified time (fixed: same seed, same bytes)."""
ADDRESS = ("address_line1", "address_line2", "city", "state", "postal_code", "country")
"""The client columns under the merged ``Address`` header cell."""
TRAILING_ROWS = 3
"""Formatted empty rows after the data of every sheet."""

_MONEY = re.compile(r"-?\d+\.\d\d")
_PLAIN = re.compile(r"-?(?:0|[1-9]\d{0,14})(?:\.\d*[1-9])?")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def sheet_name(obj: str) -> str:
    """``client_properties`` -> ``Client Properties``."""
    return obj.replace("_", " ").title()


class Books:
    """The workbooks of one generated bundle, and the sheets of the objects they hold."""

    def __init__(self, root: Path, layout: WorkbookLayout, tmpdir: Path) -> None:
        self.root = root
        self.layout = layout
        self.tmpdir = tmpdir
        self._books: dict[str, Book] = {}
        self.where: dict[str, str] = {}
        """Object -> ``file[sheet]`` of each object written to a sheet."""

    def holds(self, obj: str) -> bool:
        """Whether ``obj`` (or ``manifest``) is written to a sheet."""
        return self.layout == "single" or obj in MIXED_OBJECTS

    def _book(self, obj: str) -> Book:
        name = BOOK_NAME if self.layout == "single" else f"{obj}.xlsx"
        book = self._books.get(name)
        if book is None:
            book = self._books[name] = Book(self.root / name, self.tmpdir)
        return book

    def sheet(self, obj: str, fields: Sequence[str]) -> SheetOut:
        book = self._book(obj)
        name = sheet_name(obj)
        self.where[obj] = f"{book.path.name}[{name}]"
        return SheetOut(book, name, obj, fields)

    def rows(self, obj: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """A small object (a configuration list, the manifest) written whole."""
        fields: list[str] = []
        for row in rows:
            fields += [k for k in row if k not in fields]
        out = self.sheet(obj, fields)
        for row in rows:
            out.write(row)
        out.close()

    def close(self) -> None:
        """Write the workbooks (XlsxWriter writes the file when it is closed)."""
        for book in self._books.values():
            note = book.wb.add_worksheet("Read me")  # a sheet that holds no object
            note.write_string(0, 0, "Exported from The Practice.")
            book.wb.close()


class Book:
    """One workbook being written, with the cell formats its sheets share."""

    def __init__(self, path: Path, tmpdir: Path) -> None:
        self.path = path
        self.wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "tmpdir": str(tmpdir)})
        self.wb.set_properties({"created": CREATED, "author": "The Practice"})
        self.wb.set_calc_mode("auto")
        self.day = self.wb.add_format({"num_format": "yyyy-mm-dd"})
        self.moment = self.wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self.money = self.wb.add_format({"num_format": "#,##0.00"})
        self.head = self.wb.add_format({"bold": True, "text_wrap": True})
        self.group = self.wb.add_format({"bold": True, "align": "center"})


class SheetOut:
    """A sheet written row by row, like :class:`~._io.CsvOut` (``write``, ``count``)."""

    def __init__(self, book: Book, name: str, obj: str, fields: Sequence[str]) -> None:
        self.book = book
        self.fields = tuple(fields)
        self.count = 0
        self.ws: Worksheet = book.wb.add_worksheet(name)
        kinds = schema.FIELDS.get(obj, {})
        self.kinds: list[schema.Kind | None] = [kinds.get(f) for f in self.fields]
        self.row = self._header(obj)

    def _header(self, obj: str) -> int:
        """Write the header; the first row of data."""
        ws, head = self.ws, self.book.head
        cols = [i for i, f in enumerate(self.fields) if f in ADDRESS]
        if obj != "clients" or len(cols) < 2:
            for c, f in enumerate(self.fields):
                ws.write_string(0, c, f, head)
            return 1
        first, last = cols[0], cols[-1]
        for c, f in enumerate(self.fields):
            if c == first:
                ws.merge_range(0, first, 0, last, "Address", self.book.group)
            elif not first <= c <= last:
                ws.write_string(0, c, f, head)
        for c in cols:
            ws.write_string(1, c, self.fields[c], head)
        return 2

    def write(self, row: Mapping[str, Any]) -> None:
        r = self.row
        self.row += 1
        self.count += 1
        for c, f in enumerate(self.fields):
            value = row.get(f)
            if value is not None and value != "":
                self._cell(r, c, f, value)

    def _cell(self, r: int, c: int, field: str, value: Any) -> None:
        ws, book = self.ws, self.book
        if isinstance(value, bool):
            ws.write_boolean(r, c, value)
        elif isinstance(value, datetime):
            ws.write_datetime(r, c, value, book.moment)
        elif isinstance(value, date):
            ws.write_datetime(r, c, datetime(value.year, value.month, value.day), book.day)
        elif isinstance(value, int | float):
            ws.write_number(r, c, value)
        elif isinstance(value, list | dict):
            ws.write_string(r, c, json.dumps(value, ensure_ascii=False, sort_keys=True))
        else:
            self._text(r, c, field, str(value))

    def _text(self, r: int, c: int, field: str, text: str) -> None:
        ws, book, kind = self.ws, self.book, self.kinds[c]
        if kind == schema.MONEY and _MONEY.fullmatch(text):
            ws.write_number(r, c, float(text), book.money)
        elif kind in (schema.INT, schema.DECIMAL) and _PLAIN.fullmatch(text):
            ws.write_number(r, c, float(text) if "." in text else int(text))
        elif field == "postal_code" and text.isdigit() and not text.startswith("0"):
            ws.write_number(r, c, int(text))
        elif field.startswith(schema.CUSTOM_PREFIX):
            self._custom(r, c, text)
        else:
            ws.write_string(r, c, text)

    def _custom(self, r: int, c: int, text: str) -> None:
        """A custom property as a person types it: a date, a number, a yes/no, or text."""
        ws = self.ws
        if _ISO_DAY.fullmatch(text):
            day = date.fromisoformat(text)
            ws.write_datetime(r, c, datetime(day.year, day.month, day.day), self.book.day)
        elif _PLAIN.fullmatch(text) and "." not in text:
            ws.write_number(r, c, int(text))
        elif text in ("true", "false"):
            ws.write_boolean(r, c, text == "true")
        else:
            ws.write_string(r, c, text)

    def close(self) -> None:
        """The formatted empty rows and columns past the data (never any value)."""
        width = len(self.fields)
        for r in range(self.row, self.row + TRAILING_ROWS):
            self.ws.write_blank(r, 0, None, self.book.day)
            self.ws.write_blank(r, width + 1, None, self.book.money)
