"""The row readers, one per file format: every row of a file, as a record or a reject.

* CSV: cells by :class:`~crm_ferry.sources.csvrows.CsvRows` (its line numbers, its row
  problems), one plan for the header line, then one generated row function per file.
* JSON Lines: one object per line, decoded without :func:`json.loads`' extra checks.
* JSON: a top-level array, streamed element by element (:func:`json_array`).

Each reader counts the rows it reads (:attr:`ObjectCounts.read`); the builder counts the
accepted and rejected ones.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from crm_ferry.errors import SourceError
from crm_ferry.model import Record, Reject
from crm_ferry.sources.bundle._convert import shown
from crm_ferry.sources.bundle._records import RecordBuilder, generic_row
from crm_ferry.sources.bundle._storage import BundleFile, Storage
from crm_ferry.sources.csvrows import (
    FIELD_LIMIT,
    LINE_LIMIT,
    CsvRows,
    RowProblem,
    size_text,
    skip_line,
    too_long,
)

_JSON_CHUNK = 1 << 16


def read_rows(
    storage: Storage,
    bf: BundleFile,
    builder: RecordBuilder,
    cmap: Mapping[str, str],
    line_limit: int = LINE_LIMIT,
) -> Iterator[Record | Reject]:
    """Every row of ``bf``, in order; ``cmap`` is its column map (header -> field); a line
    longer than ``line_limit`` bytes is a reject naming it. (A workbook's sheet is read by
    :func:`~crm_ferry.sources.bundle._sheets.read_sheet`.)"""
    if bf.format == "csv":
        return _read_csv(storage, bf, builder, cmap, line_limit)
    if bf.format == "jsonl":
        return _read_jsonl(storage, bf, builder, cmap, line_limit)
    return _read_json(storage, bf, builder, cmap)


def _read_csv(
    storage: Storage,
    bf: BundleFile,
    builder: RecordBuilder,
    cmap: Mapping[str, str],
    line_limit: int,
) -> Iterator[Record | Reject]:
    rows = CsvRows(lambda: storage.open(bf.name), bf.name, line_limit)
    plan = builder.plan_for_headers(rows.header, cmap)
    counts = builder.counts
    row = builder.row_builder(plan) or generic_row(builder, plan)
    for item in rows:
        counts.read += 1
        if type(item) is RowProblem:
            yield _row_reject(builder, rows.header, item)
            continue
        line, cells = item  # type: ignore[misc]
        yield row(line, cells)


def _row_reject(builder: RecordBuilder, header: Sequence[str], problem: RowProblem) -> Reject:
    """The reject of a row the CSV reader could not take (its column named when known)."""
    column = header[problem.cell] if problem.cell is not None else None
    value = shown(problem.value) if problem.value is not None else None
    return builder.reject(problem.line, column, value, problem.reason)


def _read_jsonl(
    storage: Storage,
    bf: BundleFile,
    builder: RecordBuilder,
    cmap: Mapping[str, str],
    line_limit: int,
) -> Iterator[Record | Reject]:
    decode = json.JSONDecoder().raw_decode
    with storage.open(bf.name) as stream:
        line = 0
        while raw := stream.readline(line_limit + 6):  # a BOM and a CRLF over the limit
            line += 1
            if line == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if len(raw) > line_limit and len(raw.rstrip(b"\r\n")) > line_limit:
                if not raw.endswith(b"\n"):
                    skip_line(stream)
                builder.counts.read += 1
                yield builder.reject(line, None, None, too_long(line, line_limit))
                continue
            if not raw.strip():
                continue
            builder.counts.read += 1
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield builder.reject(line, None, None, "not valid UTF-8")
                continue
            try:
                obj, end = decode(text, _skip_ws(text))  # json.loads without its checks
                if end != len(text) and not text[end:].isspace():
                    raise json.JSONDecodeError("Extra data", text, end)
            except json.JSONDecodeError as exc:
                reason = f"not valid JSON ({exc.msg} at column {exc.colno})"
                yield builder.reject(line, None, None, reason)
                continue
            yield builder.from_json(line, obj, cmap)


def _skip_ws(text: str) -> int:
    """Index of the first character that is not JSON whitespace."""
    if text[:1] not in " \t\r\n":
        return 0
    return len(text) - len(text.lstrip(" \t\r\n"))


def _read_json(
    storage: Storage, bf: BundleFile, builder: RecordBuilder, cmap: Mapping[str, str]
) -> Iterator[Record | Reject]:
    with storage.open(bf.name) as stream:
        for position, element in enumerate(json_array(stream, bf.name), start=1):
            builder.counts.read += 1
            if isinstance(element, JsonBroken):
                yield builder.reject(position, None, None, element.reason)
                return
            yield builder.from_json(position, element, cmap)


# ---------------------------------------------------------------------------
# JSON arrays, element by element


@dataclass(frozen=True, slots=True)
class JsonBroken:
    """Where a JSON array stops being readable (the last item :func:`json_array` yields)."""

    reason: str


def json_array(stream: BinaryIO, name: str) -> Iterator[Any]:
    """Elements of a top-level JSON array without loading the whole file.

    A syntax error inside the array cannot be stepped over reliably, so it yields one
    :class:`JsonBroken` (a reject at that element's position, saying the rest of the
    file was not read) and stops.
    """
    text = io.TextIOWrapper(stream, encoding="utf-8-sig")
    decoder = json.JSONDecoder()
    buf = ""
    pos = 0
    eof = False
    chunk = _JSON_CHUNK

    def fill() -> bool:
        nonlocal buf, pos, eof
        if eof:
            return False
        try:
            more = text.read(chunk)
        except UnicodeDecodeError as exc:
            raise _Broken(f"not valid UTF-8 ({exc.reason})") from exc
        if not more:
            eof = True
            return False
        buf = buf[pos:] + more
        pos = 0
        return True

    def skip_ws() -> str:
        nonlocal pos
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n":
                pos += 1
            if pos < len(buf):
                return buf[pos]
            if not fill():
                return ""

    try:
        if skip_ws() != "[":
            raise SourceError(f"{name}: expected a JSON array of objects")
        pos += 1
        first = True
        while True:
            c = skip_ws()
            if c == "]":
                return
            if not first:
                if c != ",":
                    raise _Broken(f"expected ',' or ']' but found {c!r}" if c else "unexpected end")
                pos += 1
                skip_ws()
            first = False
            while True:
                try:
                    value, end = decoder.raw_decode(buf, pos)
                except json.JSONDecodeError as exc:
                    if len(buf) - pos > FIELD_LIMIT:
                        raise _Broken(
                            f"an element is longer than {size_text(FIELD_LIMIT)}"
                        ) from None
                    if fill():
                        chunk = min(chunk * 2, 1 << 24)
                        continue
                    raise _Broken(f"not valid JSON ({exc.msg})") from None
                if end >= len(buf) and fill():  # a number cut at the end of the buffer
                    continue
                break
            pos = end
            chunk = _JSON_CHUNK
            yield value
    except _Broken as exc:
        yield JsonBroken(f"{exc}; the rest of the file was not read")
    finally:
        text.detach()


class _Broken(Exception):
    pass
