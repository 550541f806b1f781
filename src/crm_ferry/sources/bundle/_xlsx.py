"""Excel workbooks (``.xlsx``, ``.xlsm``) read as streams of cells, never whole.

A workbook is a zip of XML parts (ECMA-376, Office Open XML): ``xl/workbook.xml`` names
the sheets, ``xl/styles.xml`` holds the number formats, ``xl/sharedStrings.xml`` the
texts, and each worksheet part its rows (``<row r="5"><c r="B5" t="s" s="3"><v>…``).
:class:`Workbook` opens one, :meth:`Workbook.rows` streams a sheet's rows as
:class:`RawCell` tuples (type, style's number format, stored value), and
:meth:`Workbook.merged` finds the sheet's merged ranges.

Why not python-calamine, the obvious library: version 0.9 loads a whole sheet before the
first row (in a probe on a 50,000-row, 33-column sheet: 171 MB peak, against about 60 MB
here, most of it the interpreter and crm-ferry), turns error cells (``#N/A``) into empty
cells, and does not say a cell's number format, so an amount shown as ``12.30`` cannot be
told from ``12.3``, nor a number in a date column from a date. openpyxl's read-only mode
streams and says all that, but took about 2.7 times as long on the same sheet. So this
module reads the parts with the standard library (``zipfile``, ``xml.etree``'s C parser);
``bench/workbook_read.py`` measures it against CSV and against python-calamine.

Memory: one segment of rows at a time, plus the workbook's shared-strings table (Excel keeps every
distinct text of the workbook in that one part; any reader must hold or index it) and the
styles. The sheet is parsed a segment of whole rows (about a megabyte of XML) at a time,
each segment a small document of its own, so the rows already read do not pile up (the
segments are cut after a ``</row>`` tag; Excel writes no comments or CDATA in a sheet).

Limits: the parts of the workbook are held to the same caps as the members of a bundle's
zip (declared size, expansion ratio; see :mod:`~crm_ferry.sources.bundle._storage`). A
file that is not a workbook, an old ``.xls`` one, or one protected by a password (such a
file is an OLE compound file holding an ``EncryptedPackage`` stream, not a zip) is a
:class:`~crm_ferry.errors.SourceError` naming it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from posixpath import dirname, join, normpath
from typing import BinaryIO, cast

from crm_ferry.errors import SourceError
from crm_ferry.sources.bundle._storage import checked_member

_MAIN = (
    "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "http://purl.oclc.org/ooxml/spreadsheetml/main",  # Strict Open XML
)
_REL = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "http://purl.oclc.org/ooxml/officeDocument/relationships",
)
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
"""The first bytes of an OLE compound file: an .xls workbook, or a password-protected one."""
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")
_CHUNK = 1 << 16
_SEGMENT = 1 << 20
"""Bytes of sheet XML parsed as one document (whole rows; see :meth:`Workbook.rows`)."""
_ROW_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?row>")
_SHEET_DATA = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?sheetData\b[^>]*?(/?)>")
_MERGE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?mergeCell\b[^>]*?\bref=\"([A-Z]+\d+):([A-Z]+\d+)\"")
_ROOT = re.compile(rb"<((?:[A-Za-z_][\w.-]*:)?worksheet)\b")
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


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

RawCell = tuple[int, str, NumberFormat, str]
"""One cell as stored: its column (0-based), its type (``s``: a shared string, already
resolved; ``str``: a formula's text; ``inlineStr``; ``b``; ``e``: an error such as
``#N/A``; ``d``: ISO 8601; ``n``: a number), its number format, and its stored text."""

_BUILTIN: dict[int, str] = {
    0: "General", 1: "0", 2: "0.00", 3: "#,##0", 4: "#,##0.00", 9: "0%", 10: "0.00%",
    11: "0.00E+00", 12: "# ?/?", 13: "# ??/??", 14: "mm-dd-yy", 15: "d-mmm-yy", 16: "d-mmm",
    17: "mmm-yy", 18: "h:mm AM/PM", 19: "h:mm:ss AM/PM", 20: "h:mm", 21: "h:mm:ss",
    22: "m/d/yy h:mm", 37: "#,##0 ;(#,##0)", 38: "#,##0 ;[Red](#,##0)",
    39: "#,##0.00;(#,##0.00)", 40: "#,##0.00;[Red](#,##0.00)", 45: "mm:ss",
    46: "[h]:mm:ss", 47: "mmss.0", 48: "##0.0E+0", 49: "@",
}  # fmt: skip
"""The built-in number formats (ECMA-376 part 1, 18.8.30); ids 27-36 and 50-58 are
locale-dependent date formats (East Asian calendars) and read as dates."""
_LOCALE_DATES = frozenset({*range(27, 37), *range(50, 59)})
_QUOTED = re.compile(r'"[^"]*"|\\.|_.|\*.')
_BRACKETS = re.compile(r"\[(?!h\]|hh\]|m\]|mm\]|s\]|ss\])[^\]]*\]", re.IGNORECASE)


def number_format(code: str, fmt_id: int | None = None) -> NumberFormat:
    """What the format ``code`` shows (its first section, the one for positive numbers)."""
    if fmt_id in _LOCALE_DATES:
        return NumberFormat(code, "date")
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
    """The worksheet's part in the zip; None for a chart or dialog sheet (no cells)."""
    hidden: bool = False


def column_index(letters: str) -> int:
    """``A`` -> 0, ``Z`` -> 25, ``AA`` -> 26."""
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def column_letters(index: int) -> str:
    """0 -> ``A``, 26 -> ``AA`` (the inverse of :func:`column_index`)."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


def _unescape(text: str) -> str:
    """OOXML's ``_xHHHH_`` escapes (a carriage return is stored as ``_x000D_``)."""
    return _ESCAPE.sub(lambda m: chr(int(m[1], 16)), text) if "_x" in text else text


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
            try:
                self._zip = zipfile.ZipFile(stream)
            except (zipfile.BadZipFile, OSError, ValueError) as exc:
                raise SourceError(
                    f"{name}: not an Excel workbook ({exc})",
                    hint="save the file from Excel as an Excel Workbook (.xlsx)",
                ) from exc
            try:
                self.date1904 = False
                self.sheets = self._read_sheets()
            except BaseException:
                self._zip.close()
                raise
        except BaseException:
            stream.close()
            raise
        self._formats: list[NumberFormat] | None = None
        self._strings: list[str] | None = None

    def close(self) -> None:
        self._zip.close()
        self._stream.close()

    # -- the parts ---------------------------------------------------------------

    def _open(self, part: str) -> BinaryIO:
        try:
            info = self._zip.getinfo(part)
        except KeyError:
            raise SourceError(
                f"{self.name}: the workbook has no part {part} (it is damaged)",
                hint="open it in Excel and save it again as .xlsx",
            ) from None
        return checked_member(self._zip, info, self.name, *self._limits)

    def _parse(self, part: str) -> ET.Element:
        with self._open(part) as stream:
            try:
                return ET.parse(stream).getroot()
            except ET.ParseError as exc:
                raise self._damaged(part, exc) from exc

    def _damaged(self, part: str, exc: Exception) -> SourceError:
        return SourceError(
            f"{self.name}: {part} cannot be read ({exc}); the workbook is damaged",
            hint="open it in Excel and save it again as .xlsx",
        )

    def _rels(self, part: str) -> dict[str, tuple[str, str]]:
        """Relationship id -> (type's last word, target part) of ``part``."""
        folder, base = dirname(part), part.rsplit("/", 1)[-1]
        rels_part = join(folder, "_rels", base + ".rels") if folder else f"_rels/{base}.rels"
        if rels_part not in self._zip.NameToInfo:
            return {}
        out: dict[str, tuple[str, str]] = {}
        for rel in self._parse(rels_part).iter(f"{_PKG_REL}Relationship"):
            target = rel.get("Target", "")
            if rel.get("TargetMode") == "External":
                continue
            path = target.lstrip("/") if target.startswith("/") else normpath(join(folder, target))
            out[rel.get("Id", "")] = (rel.get("Type", "").rsplit("/", 1)[-1], path)
        return out

    def _read_sheets(self) -> list[SheetInfo]:
        if "[Content_Types].xml" not in self._zip.NameToInfo:
            raise SourceError(
                f"{self.name}: a zip file, but not an Excel workbook (no [Content_Types].xml)",
                hint="give the workbook itself, or the bundle's folder or zip",
            )
        main = next(
            (p for kind, p in self._rels("").values() if kind == "officeDocument"),
            "xl/workbook.xml",
        )
        self._main = main
        root = self._parse(main)
        ns = _namespace(root.tag, _MAIN)
        pr = root.find(f"{{{ns}}}workbookPr")
        self.date1904 = pr is not None and pr.get("date1904", "0").lower() in ("1", "true")
        rels = self._rels(main)
        self._parts = dict(rels.values())
        sheets: list[SheetInfo] = []
        for el in root.iter(f"{{{ns}}}sheet"):
            rid = next((v for k, v in el.attrib.items() if k.endswith("}id")), "")
            kind, part = rels.get(rid, ("", ""))
            sheets.append(
                SheetInfo(
                    el.get("name", ""),
                    part if kind == "worksheet" else None,
                    el.get("state", "visible") != "visible",
                )
            )
        return sheets

    @property
    def formats(self) -> list[NumberFormat]:
        """Number format of each cell style (``s`` of a cell), from ``styles.xml``."""
        if self._formats is None:
            self._formats = self._read_formats()
        return self._formats

    def _read_formats(self) -> list[NumberFormat]:
        part = self._parts.get("styles")
        if part is None or part not in self._zip.NameToInfo:
            return [GENERAL]
        root = self._parse(part)
        ns = _namespace(root.tag, _MAIN)
        codes = dict(_BUILTIN)
        for el in root.iter(f"{{{ns}}}numFmt"):
            codes[int(el.get("numFmtId", "0"))] = el.get("formatCode", "General")
        xfs = root.find(f"{{{ns}}}cellXfs")
        out: list[NumberFormat] = []
        seen: dict[int, NumberFormat] = {}
        for xf in xfs if xfs is not None else ():
            fid = int(xf.get("numFmtId", "0"))
            if fid not in seen:
                seen[fid] = number_format(codes.get(fid, "General"), fid)
            out.append(seen[fid])
        return out or [GENERAL]

    @property
    def strings(self) -> list[str]:
        """The shared strings (``t="s"`` cells hold an index into it)."""
        if self._strings is None:
            self._strings = self._read_strings()
        return self._strings

    def _read_strings(self) -> list[str]:
        part = self._parts.get("sharedStrings")
        if part is None or part not in self._zip.NameToInfo:
            return []
        out: list[str] = []
        with self._open(part) as stream:
            parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(("end",))
            si = t = rph = ""
            try:
                while data := stream.read(_CHUNK):
                    parser.feed(data)
                    for _, el in _events(parser):
                        tag = el.tag
                        if not si:
                            ns = _namespace(tag, _MAIN)
                            si, t, rph = f"{{{ns}}}si", f"{{{ns}}}t", f"{{{ns}}}rPh"
                        if tag == si:
                            out.append(_text_of(el, t, rph))
                            el.clear()
                parser.close()
            except ET.ParseError as exc:
                raise self._damaged(part, exc) from exc
        return out

    # -- a sheet -------------------------------------------------------------------

    def merged(self, sheet: SheetInfo) -> list[tuple[int, int, int, int]]:
        """The merged ranges of ``sheet``: (first row, first column, last row, last
        column), rows 1-based as Excel numbers them, columns 0-based.

        They are written after the cells, so this reads the part once more, scanning its
        bytes for ``<mergeCell ref=…>`` (no XML parsing)."""
        if sheet.part is None:
            return []
        out: list[tuple[int, int, int, int]] = []
        tail = b""
        with self._open(sheet.part) as stream:
            while data := stream.read(1 << 20):
                block = tail + data
                for m in _MERGE.finditer(block):
                    (r1, c1), (r2, c2) = _split_ref(m[1]), _split_ref(m[2])
                    out.append((r1, c1, r2, c2))
                cut = block.rfind(b"<")
                tail = block[cut:] if cut >= 0 else b""
                if tail.count(b">"):
                    tail = b""
        return out

    def rows(self, sheet: SheetInfo) -> Iterator[tuple[int, list[RawCell]]]:
        """(Excel's row number, its cells) of every row stored in ``sheet``, in order.

        Rows and cells that hold nothing are not stored by Excel, so numbers may jump; a
        cell without an ``r`` follows the one before it."""
        if sheet.part is None:
            return
        strings = self.strings
        formats = self.formats
        with self._open(sheet.part) as stream:
            try:
                yield from self._row_stream(stream, strings, formats)
            except ET.ParseError as exc:
                raise self._damaged(sheet.part, exc) from exc

    def _row_stream(
        self, stream: BinaryIO, strings: list[str], formats: list[NumberFormat]
    ) -> Iterator[tuple[int, list[RawCell]]]:
        """The rows of a worksheet part, parsed a segment of whole rows at a time: each
        segment (about :data:`_SEGMENT` bytes) is made a document of its own (the part's
        start, the rows, the closing tags) and parsed by the C parser into a small tree,
        so no Python code runs per XML event and memory holds one segment."""
        prefix, pending = _up_to_sheet_data(stream)
        if prefix is None:
            return
        closing = _closing(prefix)
        ns = "{" + _namespace_in(prefix) + "}"
        row_tag, v_tag, t_tag, rph_tag = f"{ns}row", f"{ns}v", f"{ns}t", f"{ns}rPh"
        is_tag, sheet_data = f"{ns}is", f"{ns}sheetData"
        fmt_of = {str(i): f for i, f in enumerate(formats)}.get
        n_strings = len(strings)
        columns: dict[str, int] = {}
        number = 0
        eof = False
        while pending or not eof:
            want = _SEGMENT
            while not eof and len(pending) < want:
                data = stream.read(_SEGMENT)
                eof = not data
                pending += data
                if len(pending) >= want and not eof and not _last_row_end(pending):
                    want += _SEGMENT  # one row longer than a segment: read on
            if eof:
                document, pending = prefix + pending, b""
            else:
                cut = _last_row_end(pending)
                document, pending = prefix + pending[:cut] + closing, pending[cut:]
            data_el = ET.fromstring(document).find(sheet_data)
            for el in data_el if data_el is not None else ():
                if el.tag != row_tag:
                    continue
                r = el.get("r")
                number = int(r) if r else number + 1
                cells: list[RawCell] = []
                col = -1
                for c in el:
                    get = c.get
                    ref = get("r")
                    if ref is not None:
                        letters = ref.rstrip("0123456789")
                        found = columns.get(letters)
                        col = (
                            found
                            if found is not None
                            else columns.setdefault(letters, column_index(letters))
                        )
                    else:
                        col += 1
                    t = get("t") or "n"
                    s = get("s")
                    fmt = fmt_of(s, GENERAL) if s is not None else GENERAL
                    if t == "inlineStr":
                        inline = c.find(is_tag)
                        value = _text_of(inline, t_tag, rph_tag) if inline is not None else ""
                    else:
                        stored = c.findtext(v_tag)
                        if stored is None:
                            continue  # a formatted cell without a value: empty
                        value = stored
                        if t == "s":
                            index = int(value)
                            value = strings[index] if index < n_strings else ""
                        elif t == "str":
                            value = _unescape(value)
                    cells.append((col, t, fmt, value))
                yield number, cells


def _events(parser: ET.XMLPullParser[ET.Element]) -> Iterator[tuple[str, ET.Element]]:
    """The parser's pending events (all ``end`` events: each an element)."""
    return cast("Iterator[tuple[str, ET.Element]]", parser.read_events())


def _namespace(tag: str, known: tuple[str, ...]) -> str:
    uri = tag[1:].split("}", 1)[0] if tag.startswith("{") else ""
    return uri if uri in known else known[0]


def _namespace_in(prefix: bytes) -> str:
    return _MAIN[1] if _MAIN[1].encode() in prefix else _MAIN[0]


def _text_of(el: ET.Element, t_tag: str, rph_tag: str) -> str:
    """The text of a string item (``<si>`` or ``<is>``): its ``<t>``, or its runs'
    ``<t>`` joined, without phonetic runs (``<rPh>``)."""
    first = el.find(t_tag)
    if first is not None and len(el) == 1:
        return _unescape(first.text or "")
    parts: list[str] = []
    for child in el:
        if child.tag == t_tag:
            parts.append(child.text or "")
        elif child.tag != rph_tag:
            parts.extend(t.text or "" for t in child.iter(t_tag))
    return _unescape("".join(parts))


def _split_ref(ref: bytes) -> tuple[int, int]:
    text = ref.decode("ascii")
    letters = text.rstrip("0123456789")
    return int(text[len(letters) :]), column_index(letters)


def _up_to_sheet_data(stream: BinaryIO) -> tuple[bytes | None, bytes]:
    """(the part's bytes up to and including ``<sheetData>``, the bytes read after it);
    (None, b"") for a sheet without rows."""
    head = b""
    while True:
        data = stream.read(_CHUNK)
        head += data
        m = _SHEET_DATA.search(head)
        if m is not None:
            return (None, b"") if m[1] else (head[: m.end()], head[m.end() :])
        if not data or len(head) > _SEGMENT * 8:
            return None, b""


def _last_row_end(data: bytes) -> int:
    """Just after the last ``</row>`` in ``data`` (0 when there is none)."""
    start = max(0, len(data) - (1 << 18))
    while True:
        end = 0
        for m in _ROW_END.finditer(data, start):
            end = m.end()
        if end or start == 0:
            return end
        start = 0


def _closing(prefix: bytes) -> bytes:
    """The closing tags of ``sheetData`` and of the root, as the part writes them."""
    found = _SHEET_DATA.search(prefix)
    root = _ROOT.search(prefix)
    sheet_data = found[0][1:].split(b">", 1)[0].split()[0] if found else b"sheetData"
    name = root[1] if root else b"worksheet"
    return b"</" + sheet_data.rstrip(b"/") + b"></" + name + b">"


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
