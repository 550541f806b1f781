"""CSV rows with their physical line numbers, tolerant of what real exports get wrong.

What it accepts: UTF-8 with or without BOM, comma or semicolon (whichever the header line
holds more of), CRLF or LF, quoted fields with embedded newlines. Each row is reported with
the physical line it starts on.

What it reports instead of guessing (:class:`RowProblem`, one per bad row, and reading goes
on):

* **Bytes that are not UTF-8.** A row touching a line that does not decode is a problem
  ``not valid UTF-8`` naming the first cell it affects (the file is read in blocks of
  whole lines; only a block that fails to decode is examined line by line).
* **Wrong cell count.** More or fewer cells than headers.
* **Broken quoting.** An unterminated quote makes the ``csv`` module swallow the following
  lines into one field. The strategy: parse strictly, and treat a row that spans several
  physical lines *and* is unusable (the parser fails: stray quote, end of file inside
  quotes, a field over the size limit; or the cell count is wrong) as a broken quote
  opened on its first line. That first line is reported, and reading restarts on the
  line after it, so every swallowed row is read again on its own. A legitimate multi-line
  row always has the right cell count and is never split. A single-line row the strict
  parser refuses (``"a"b``) is one problem. The one case this cannot see is a stray
  quote that happens to close where a cell ends *and* leaves exactly the right number of
  cells; such a row is accepted with the swallowed lines inside one cell.

Memory: a swallowed stretch is bounded by the field size limit (:data:`FIELD_LIMIT`).
"""

from __future__ import annotations

import bisect
import csv
import io
import itertools
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from crm_ferry.errors import SourceError

FIELD_LIMIT = 32 * 1024 * 1024
"""Largest single field accepted (bodies with inline images can be several MB).

The ``csv`` module's limit is process-wide; the reader raises it to this value (never
lowers it) when it opens a file."""

_BOM = b"\xef\xbb\xbf"
_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A row the reader could not split into cells, or whose cells cannot be trusted."""

    line: int
    reason: str
    cell: int | None = None
    """Index of the cell concerned, when one is."""
    value: str | None = None


Row = tuple[int, list[str]]


class _Lines:
    """Physical lines of a binary stream, decoded one by one (used for the header)."""

    __slots__ = ("bad", "line", "offset", "stream")

    def __init__(self, stream: BinaryIO, line: int, offset: int) -> None:
        self.stream = stream
        self.line = line
        """Number of the last line handed out."""
        self.offset = offset
        """Byte offset just after the last line handed out."""
        self.bad: set[int] = set()

    def __iter__(self) -> Iterator[str]:
        line = self.line
        offset = self.offset
        bad = self.bad
        for raw in self.stream:
            line += 1
            offset += len(raw)
            self.line = line
            self.offset = offset
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                bad.add(line)
                text = raw.decode("utf-8", "replace")
            yield text


class _Blocks:
    """Physical lines of a binary stream for the body of the file, decoded block by block.

    The stream is read in blocks of whole lines; each block is decoded at once and split
    on ``\n`` only, and the ``csv`` reader pulls the lines through ``itertools.chain`` --
    no Python code runs per line. A block that is not valid UTF-8 is decoded with
    replacement characters and its bad lines are noted in :attr:`bad`. The start of
    every block is remembered, so :meth:`seek_line` can find any line again.
    """

    __slots__ = ("bad", "blocks", "first", "stream")

    def __init__(self, stream: BinaryIO, first: int) -> None:
        self.stream = stream
        self.first = first
        """Number of the first line handed out (the stream is positioned on it)."""
        self.bad: set[int] = set()
        self.blocks: list[tuple[int, int]] = []
        """(number of the first line, byte offset) of every block read."""

    def lines(self) -> Iterator[str]:
        return itertools.chain.from_iterable(self._blocks())

    def _blocks(self) -> Iterator[Iterator[str]]:
        stream = self.stream
        line = self.first
        offset = stream.tell()
        rest = b""
        while True:
            data = stream.read(_BLOCK)
            if data:
                if rest:
                    data = rest + data
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    rest = data
                    continue
                block, rest = (data, b"") if cut == len(data) else (data[:cut], data[cut:])
            elif rest:
                block, rest = rest, b""
            else:
                return
            self.blocks.append((line, offset))
            try:
                text = block.decode("utf-8")
            except UnicodeDecodeError:
                text = block.decode("utf-8", "replace")
                for i, raw in enumerate(block.split(b"\n")):
                    try:
                        raw.decode("utf-8")
                    except UnicodeDecodeError:
                        self.bad.add(line + i)
            yield iter(io.StringIO(text, newline="\n"))
            line += block.count(b"\n")
            offset += len(block)

    def seek_line(self, number: int) -> None:
        """Position the stream at the start of line ``number`` (a line already read)."""
        index = bisect.bisect_right(self.blocks, (number, 1 << 62)) - 1
        first, offset = self.blocks[index] if index >= 0 else (self.first, None)
        if offset is None:
            raise ValueError(f"line {number} was not read")
        self.stream.seek(offset)
        for _ in range(number - first):
            self.stream.readline()


class CsvRows:
    """The header and the rows of one CSV file.

    ``open_stream`` returns a fresh binary stream of the file; it must be seekable (plain
    files and zip members are) so a broken quote can be re-read from the line after it.
    """

    def __init__(self, open_stream: Callable[[], BinaryIO], name: str) -> None:
        self._open = open_stream
        self.header: list[str] = []
        self.delimiter = ","
        self._body_offset = 0
        self._header_lines = 0
        with self._open() as stream:
            first = stream.readline()
            bom = len(_BOM) if first.startswith(_BOM) else 0
            try:
                text = first[bom:].decode("utf-8")
            except UnicodeDecodeError as exc:
                raise SourceError(f"{name}:1: the header line is not valid UTF-8 ({exc})") from exc
            self.delimiter = ";" if text.count(";") > text.count(",") else ","
            stream.seek(bom)
            lines = _Lines(stream, 0, bom)
            reader = csv.reader(lines, delimiter=self.delimiter, strict=True)
            _raise_field_limit()
            header: list[str] | None = []
            try:
                while header == []:  # blank lines before the header are skipped
                    header = next(reader, None)
            except csv.Error as exc:
                raise SourceError(
                    f"{name}:{lines.line}: the header line cannot be parsed: {exc}"
                ) from exc
            self.header = [h.strip() for h in header] if header else []
            self._body_offset = lines.offset
            self._header_lines = lines.line

    def __iter__(self) -> Iterator[Row | RowProblem]:
        if not self.header:
            return
        ncols = len(self.header)
        with self._open() as stream:
            stream.seek(self._body_offset)
            blocks = _Blocks(stream, self._header_lines + 1)
            while True:
                problem = yield from self._rows(blocks, ncols)
                if problem is None:
                    return
                yield problem
                # Read on from the line after the one the broken quote opened on.
                blocks.seek_line(problem.line + 1)
                blocks = _Blocks(stream, problem.line + 1)

    def _rows(
        self, blocks: _Blocks, ncols: int
    ) -> Generator[Row | RowProblem, None, RowProblem | None]:
        """Rows until the end of the file (returns None) or a broken quote (returns it)."""
        reader = csv.reader(blocks.lines(), delimiter=self.delimiter, strict=True)
        bad = blocks.bad
        base = blocks.first - 1
        end = base
        while True:
            start = end + 1
            try:
                cells = next(reader, None)
            except csv.Error as exc:
                end = base + reader.line_num
                if end > start:
                    return _broken(start, end, str(exc))
                yield RowProblem(start, f"broken quoting: {exc}")
                continue
            if cells is None:
                return None
            end = base + reader.line_num
            if not cells:  # a blank line is not a row
                continue
            if len(cells) != ncols:
                if end > start:
                    return _broken(start, end, None)
                yield RowProblem(start, f"expected {ncols} cells, found {len(cells)}")
            elif bad and any(n in bad for n in range(start, end + 1)):
                cell = next((i for i, c in enumerate(cells) if "\ufffd" in c), None)
                value = cells[cell] if cell is not None else None
                yield RowProblem(start, "not valid UTF-8", cell, value)
            else:
                yield start, cells


def _broken(start: int, end: int, error: str | None) -> RowProblem:
    detail = f"; {error}" if error else ""
    return RowProblem(
        start,
        "broken quoting: a quote opened on this line is not closed properly"
        f" (the row would swallow lines {start + 1}-{end}{detail});"
        " reading resumes on the next line",
    )


def _raise_field_limit() -> None:
    if csv.field_size_limit() < FIELD_LIMIT:
        csv.field_size_limit(FIELD_LIMIT)
