"""A workbook's sheet read as the CSV reader would have read the same list saved as CSV.

Each cell becomes the text a CSV export would hold, so the same header resolution,
converters and reject rules apply (:func:`read_sheet` hands the cells to the file's
generated row function, as :mod:`~crm_ferry.sources.bundle._formats` does for CSV). Rows are
numbered as Excel numbers them, and records and rejects name the file and the sheet:
``bundle.xlsx[Clients]:14 [DOB]``.

Cells, by what Excel stored (:func:`cell_text`):

* **Text** stays as it is (``'00123``, ``1,234.50`` typed as text) and goes to the parsers.
* **Numbers**: a date format makes a date or a moment. In a ``date`` column it is the day
  (``2024-03-01``; with a time of day other than midnight, the moment, which the date
  parser refuses as it would in CSV); in a ``ts`` column the moment (``2024-03-01T09:30:00``,
  midnight for a date-only cell), naive, read in the manifest's time zone like CSV text.
  A number in a ``date`` or ``ts`` column without a date format is a reject naming the
  cell. Otherwise a number is shown with its format's decimals when it has fixed ones
  (``12.3`` under ``0.00`` is ``12.30``; rounded half away from zero, as Excel shows it),
  else with Excel's 15 significant digits (``0.30000000000000004`` is ``0.3``) and never as
  ``123.0``; no thousands separators, no exponent. A whole number of more than 15 digits
  in a text or id column is a reject: Excel has already lost its last digits.
* **Booleans** are ``true`` / ``false``; **error cells** (``#N/A``, ``#VALUE!``) are a
  reject naming the cell.

The header (:class:`SheetRows`): the first row that is not empty, its cells' text with
line breaks and runs of spaces made one space and the ends trimmed. When a merged cell of
that row spans several columns (``Address`` over ``line1`` / ``line2`` / ``City``), the
header is two rows: each column under the merged cell takes its own sub-header from the
next row, or the merged text and the sub-header together when only that is a known column
(``Address`` + ``Line 1`` -> ``address_line1``; ``Address`` + ``City`` -> ``city``); any
other column takes the text of the first row, or of the second when the first is empty.
The columns end with the last header that is not empty.

Rows: empty rows after the last one holding a value (Excel's used range is often larger
than the data) are not rows of the list: not read, not rejected. An empty row before it
counts as read and is rejected as the CSV line ``,,,`` is (``id is required``); so is a
row Excel did not store at all (a gap in the row numbers). A value in a column without a
header is a reject naming the cell.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any

from crm_ferry.model import Record, Reject
from crm_ferry.sources import schema
from crm_ferry.sources.bundle._columns import Plan, resolve_header
from crm_ferry.sources.bundle._convert import compile_row_converter, shown
from crm_ferry.sources.bundle._records import EMPTY, RecordBuilder, generic_row
from crm_ferry.sources.bundle._storage import BundleFile
from crm_ferry.sources.bundle._xlsx import CellValue, NumberFormat, RawCell, SheetInfo, Workbook
from crm_ferry.sources.bundle._xlsx import column_letters as letters

_DIGITS15 = Context(prec=15, rounding=ROUND_HALF_UP)
_FIFTEEN = Decimal(10) ** 15
_FIFTEEN_INT = 10**15
_NUMERIC = frozenset({schema.MONEY, schema.DECIMAL, schema.INT})
_DATES = frozenset({schema.DATE, schema.TS})
_EPOCH = datetime(1899, 12, 30)
_EPOCH_EARLY = datetime(1899, 12, 31)
_EPOCH_1904 = datetime(1904, 1, 1)
_LAST_SERIAL = 2958466  # 10000-01-01: past Excel's last day
_DAY_MS = 86_400_000


class CellProblem(ValueError):
    """A cell whose value cannot be the text of a CSV cell (an error, a lost number)."""


def cell_ref(col: int, row: int) -> str:
    """``C14``: the cell at column ``col`` (0-based) of Excel's row ``row``."""
    return f"{letters(col)}{row}"


def _moment(serial: float, date1904: bool, ref: str) -> datetime:
    if not 0 <= serial < _LAST_SERIAL:
        raise CellProblem(f"cell {ref} holds {serial}, outside Excel's dates")
    if not date1904 and 60 <= serial < 61:
        raise CellProblem(f"cell {ref} holds Excel's 29 February 1900, a day that never was")
    days = int(serial)
    ms = round((serial - days) * _DAY_MS)
    base = _EPOCH_1904 if date1904 else (_EPOCH if serial >= 61 else _EPOCH_EARLY)
    return base + timedelta(days=days, milliseconds=ms)


def _iso(moment: datetime | time) -> str:
    return moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")


def _number(value: int | float, fmt: NumberFormat, kind: schema.Kind | None, ref: str) -> str:
    """The text of a number cell: Decimal of the float's shortest form (``repr``: the
    digits Excel wrote, never the binary value's long tail)."""
    exact = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
    if not exact.is_finite():
        raise CellProblem(f"cell {ref} holds {value!r}, not an Excel number")
    if fmt.decimals is not None:
        places = fmt.decimals + (2 if fmt.kind == "percent" else 0)
        try:
            amount = exact.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
        except InvalidOperation:
            raise CellProblem(f"cell {ref} holds {value!r}, too large a number") from None
        return format(amount, "f")
    number = _DIGITS15.plus(exact)
    if abs(number) >= _FIFTEEN and kind not in _NUMERIC and number == number.to_integral():
        raise CellProblem(
            f"cell {ref} holds the number {format(number, 'f')}, of more than 15 digits: Excel "
            "keeps 15, so its last digits are lost; store such values as text in the export"
        )
    return format(number.normalize(), "f")


def cell_text(cell: RawCell, kind: schema.Kind | None, row: int, date1904: bool) -> str:
    """The text of ``cell`` (in Excel's row ``row``) as a CSV export holds it, for a column
    of ``kind`` (None: not a field); :class:`CellProblem` when there is none (see the
    module docstring)."""
    col, t, fmt, value = cell
    if t == "s":
        return str(value)
    if t == "b":
        return "true" if value else "false"
    if t == "e":
        raise CellProblem(f"cell {cell_ref(col, row)} holds the Excel error {value}")
    if not isinstance(value, int | float):  # "d": an ISO 8601 cell, parsed by openpyxl
        return _iso_cell(value, kind)
    if fmt.kind in ("date", "datetime", "time"):
        key = (value, fmt, kind)
        text = _DATED.get(key)
        if text is None:
            text = _dated(value, fmt, kind, cell_ref(col, row), date1904)
            if len(_DATED) < _MEMO and not date1904:
                _DATED[key] = text
        return text
    if kind in _DATES:
        raise CellProblem(
            f"cell {cell_ref(col, row)} holds the number {value} without a date format, not "
            "a date: format the column as a date in Excel, or write the dates as YYYY-MM-DD"
        )
    if fmt.decimals is None and type(value) is int and 0 <= value < _FIFTEEN_INT:
        return str(value)
    return _number(value, fmt, kind, cell_ref(col, row))


def _iso_cell(value: CellValue, kind: schema.Kind | None) -> str:
    """The text of a ``t="d"`` cell (ISO 8601 in the file): a date, a moment (its day in
    a ``date`` column when it is midnight), a time of day or a duration."""
    if isinstance(value, datetime):
        midnight = value.hour == value.minute == value.second == value.microsecond == 0
        return value.date().isoformat() if kind == schema.DATE and midnight else _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return _iso(value)
    if isinstance(value, timedelta):
        minutes, seconds = divmod(int(value.total_seconds()), 60)
        return f"{minutes // 60:02d}:{minutes % 60:02d}:{seconds:02d}"
    return str(value)


_DATED: dict[tuple[int | float, NumberFormat, schema.Kind | None], str] = {}
"""Text of a date cell by its serial, format and column kind (dates repeat; a cell whose
text cannot be made raises, and is never remembered)."""
_MEMO = 50_000


def _dated(
    value: int | float, fmt: NumberFormat, kind: schema.Kind | None, ref: str, d1904: bool
) -> str:
    moment = _moment(value, d1904, ref)
    midnight = moment.hour == moment.minute == moment.second == moment.microsecond == 0
    if fmt.kind == "time" and (kind in _DATES):
        raise CellProblem(f"cell {ref} holds a time of day or a duration ({fmt.code}), not a date")
    if kind == schema.DATE or (kind != schema.TS and fmt.kind == "date"):
        return moment.date().isoformat() if midnight or kind != schema.DATE else _iso(moment)
    if fmt.kind == "time":
        hours = int(value * 24) if "[h" in fmt.code.lower() else moment.hour
        return f"{hours:02d}:{moment.minute:02d}:{moment.second:02d}"
    return _iso(moment)


def header_text(text: str) -> str:
    """A header cell's text: line breaks and runs of spaces are one space, ends trimmed."""
    return " ".join(text.split())


class SheetRows:
    """The header and the rows of one sheet (see the module docstring)."""

    def __init__(
        self, workbook: Workbook, bf: BundleFile, cmap: Mapping[str, str] | None = None
    ) -> None:
        self.workbook = workbook
        self.where = bf.where
        self.object = bf.object
        sheet = next(s for s in workbook.sheets if s.name == bf.sheet)
        self._sheet: SheetInfo = sheet
        self._rows = workbook.rows(sheet)
        self._pushed: tuple[int, list[RawCell]] | None = None
        self.header: list[str] = []
        self.first_body_row = 1
        self._read_header(cmap or {})

    def _next(self) -> tuple[int, list[RawCell]] | None:
        if self._pushed is not None:
            row, self._pushed = self._pushed, None
            return row
        return next(self._rows, None)

    def _texts(self, number: int, cells: list[RawCell]) -> dict[int, str]:
        out: dict[int, str] = {}
        for cell in cells:
            try:
                text = cell_text(cell, None, number, self.workbook.date1904)
            except CellProblem:
                text = str(cell[3])
            text = header_text(text)
            if text:
                out[cell[0]] = text
        return out

    def _read_header(self, cmap: Mapping[str, str]) -> None:
        while (found := self._next()) is not None:
            number, cells = found
            top = self._texts(number, cells)
            if top:
                break
        else:
            return
        width = max(top) + 1
        self.first_body_row = number + 1
        gaps = len(top) < width
        below = self._next()
        sub: dict[int, str] = {}
        if below is not None:
            sub = self._texts(*below) if below[0] == number + 1 else {}
            gaps = gaps or any(col >= width for col in sub)
        groups = self._groups(number, top) if gaps and sub else {}
        if not groups:
            self._pushed = below
            self.header = [top.get(col, "") for col in range(width)]
            return
        self.first_body_row = number + 2
        width = max(width, max(sub) + 1, max(c2 for _, c2 in groups.values()) + 1)
        header: list[str] = []
        for col in range(width):
            group = next((text for c1, (text, c2) in groups.items() if c1 <= col <= c2), None)
            mine = sub.get(col, "")
            if group is None:
                own = top.get(col, "")
                header.append(f"{own} {mine}" if own and mine else own or mine)
            elif not mine or self._known(mine, cmap) or not self._known(f"{group} {mine}", cmap):
                header.append(mine or group)
            else:
                header.append(f"{group} {mine}")
        while header and not header[-1]:
            header.pop()
        self.header = header

    def _groups(self, number: int, top: dict[int, str]) -> dict[int, tuple[str, int]]:
        """First column -> (merged text, last column) of the header row's merged cells
        spanning several columns (the text is the merged range's first cell's)."""
        return {
            c1: (top.get(c1, ""), c2)
            for r1, c1, _r2, c2 in self.workbook.merged(self._sheet)
            if r1 == number and c2 > c1
        }

    def _known(self, header: str, cmap: Mapping[str, str]) -> bool:
        return resolve_header(self.object, header, cmap)[0] != "extra"

    # -- rows -------------------------------------------------------------------

    def rows(
        self, kinds: Sequence[schema.Kind | None]
    ) -> Iterator[tuple[int, list[str], list[tuple[int, str, str]] | None]]:
        """(Excel's row number, the cells' text, the cells' problems or None) of every row
        of the list: (column, value as stored, reason) per problem; an empty row after
        the last row holding a value is not one (see the module docstring)."""
        width = len(self.header)
        date1904 = self.workbook.date1904
        expected = self.first_body_row
        empty: list[tuple[int, int]] = []
        while (found := self._next()) is not None:
            number, raw = found
            if number < self.first_body_row:
                continue
            if number > expected:
                empty.append((expected, number))
            expected = number + 1
            cells = [""] * width
            problems: list[tuple[int, str, str]] | None = None
            filled = False
            for cell in raw:
                col = cell[0]
                stored = cell[3]
                if cell[1] == "s" and col < width and isinstance(stored, str):
                    value = stored
                else:
                    kind = kinds[col] if col < width else None
                    try:
                        value = cell_text(cell, kind, number, date1904)
                    except CellProblem as exc:
                        problems = (problems or []) + [(col, str(stored), str(exc))]
                        filled = True
                        continue
                    if col >= width:
                        if value.strip():
                            reason = (
                                f"cell {cell_ref(col, number)} holds a value, but its column "
                                "has no header; give the column a header or clear the cell"
                            )
                            problems = (problems or []) + [(col, value, reason)]
                            filled = True
                        continue
                cells[col] = value
                if not filled and value and not value.isspace():
                    filled = True
            if not filled:
                empty.append((number, number + 1))
                continue
            for start, stop in empty:
                for n in range(start, stop):
                    yield n, [""] * width, None
            empty.clear()
            yield number, cells, problems


def _kinds(obj: str, plan: Plan, width: int) -> list[schema.Kind | None]:
    kinds: list[schema.Kind | None] = [None] * width
    for idx, name, _, _ in plan.fields:
        kinds[idx] = schema.FIELDS[obj][name]
    return kinds


def read_sheet(
    workbook: Workbook, bf: BundleFile, builder: RecordBuilder, cmap: Mapping[str, str]
) -> Iterator[Record | Reject]:
    """Every row of ``bf``'s sheet, in order, as a record or a reject, counted in
    ``builder.counts`` (see the module docstring)."""
    sheet = SheetRows(workbook, bf, cmap)
    plan = builder.plan_for_headers(sheet.header, cmap)
    counts = builder.counts
    row = builder.row_builder(plan) or generic_row(builder, plan)
    kinds = _kinds(bf.object, plan, len(sheet.header))
    bad_row = _ProblemRow(builder, plan, sheet.header)
    for number, cells, problems in sheet.rows(kinds):
        counts.read += 1
        if problems is None:
            yield row(number, cells)
        else:
            yield bad_row(number, cells, problems)


class _ProblemRow:
    """The reject of a row holding a cell that has no text (:class:`CellProblem`): the
    record builder's own checks (id, duplicates), with the cell's problem reported first
    and the other bad values after it, as for any bad value."""

    def __init__(self, builder: RecordBuilder, plan: Plan, header: list[str]) -> None:
        self.builder = builder
        self.plan = plan
        self.header = header
        self._convert = compile_row_converter(plan.fields, memos=builder.memos)
        keys = ("client_id", "key") if builder.obj == "client_properties" else ("id",)
        self._keys = {idx for idx, name, _, _ in plan.fields if name in keys}
        """The columns of the row's id: a problem there leaves the row without one."""

    def __call__(
        self, line: int, cells: list[str], problems: list[tuple[int, str, str]]
    ) -> Record | Reject:
        values, errors = self._convert(cells)
        found: list[tuple[str, str, str]] = []
        for col, value, reason in problems:
            column = self.header[col] if col < len(self.header) else letters(col)
            found.append((column, shown(value), reason))
            if col in self._keys:  # no id to check: the problem is the reject
                return self.builder.reject(line, column, shown(value), reason)
        custom: dict[str, str] | None = None
        if self.plan.custom:
            custom = {key: cells[i] for i, key in self.plan.custom if cells[i].strip()}
        extra: Mapping[str, str] = EMPTY
        if self.plan.extra:
            extra = {h: cells[i] for i, h in self.plan.extra if cells[i]}
        return self.builder.finish(line, values, found + (errors or []), custom, extra)


def sheet_table(
    workbook: Workbook, bf: BundleFile, cmap: Mapping[str, str]
) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header and (row number, cells' text) of every row of ``bf``'s sheet, a cell
    without text (:class:`CellProblem`) as an empty one: what the map proposer profiles."""
    sheet = SheetRows(workbook, bf, cmap)
    kinds: list[Any] = []
    for header in sheet.header:
        target, name = resolve_header(bf.object, header, cmap)
        kinds.append(schema.FIELDS[bf.object].get(name) if target == "field" else None)

    def cells() -> Iterator[tuple[int, list[str]]]:
        for number, texts, problems in sheet.rows(kinds):
            for col, _, _ in problems or ():
                if col < len(texts):
                    texts[col] = ""
            yield number, texts

    return list(sheet.header), cells()


def sheet_record(workbook: Workbook, bf: BundleFile) -> dict[str, str]:
    """A sheet of one record (the manifest): its header's fields -> the first row's text."""
    sheet = SheetRows(workbook, bf)
    kinds: list[schema.Kind | None] = [None] * len(sheet.header)
    for _, cells, _ in sheet.rows(kinds):
        return {h: v.strip() for h, v in zip(sheet.header, cells, strict=True) if h and v.strip()}
    return {}
