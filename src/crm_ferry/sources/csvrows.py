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

* **Over-long lines.** A physical line longer than the line limit (:data:`LINE_LIMIT`,
  4 MiB by default) is a problem ``line N is longer than 4 MiB`` and is skipped without
  being held in memory; a row that runs into such a line (a quoted cell spanning it) is a
  problem on its first line, and reading resumes on the line after it, as for a broken
  quote.

Memory: one block of the file at a time (:data:`_BLOCK`), one line of at most the line
limit, and a swallowed stretch bounded by the field size limit (:data:`FIELD_LIMIT`).
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

LINE_LIMIT = 4 * 1024 * 1024
"""Longest physical line (in bytes, without its line break) read by default: a longer one
is a problem naming it, never buffered whole. A parameter of :class:`CsvRows` (and of
:func:`~crm_ferry.sources.bundle.open_bundle`)."""

_BOM = b"\xef\xbb\xbf"
_BLOCK = 1 << 20


def size_text(n: int) -> str:
    """``n`` bytes as people read a limit: ``4 MiB``, ``1 KiB``, else ``1,500 bytes``."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n:,} bytes"


def too_long(line: int, limit: int) -> str:
    """The reason of a line over ``limit`` bytes."""
    return (
        f"line {line} is longer than {size_text(limit)} (the longest line read); it was "
        "skipped: raise [source] line_limit_mib in ferry.toml to read it"
    )


def _line_hint(limit: int) -> str:
    return (
        f"a line over {size_text(limit)} is almost always a damaged export: export the "
        "file again; if the line is real data, open the bundle with a larger line_limit"
    )


def skip_line(stream: BinaryIO, chunk: int = 1 << 16) -> int:
    """Read past the end of the current line in chunks; the bytes skipped (0 at the end)."""
    skipped = 0
    while True:
        part = stream.readline(chunk)
        skipped += len(part)
        if not part or part.endswith(b"\n"):
            return skipped


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

    __slots__ = ("bad", "limit", "line", "name", "offset", "stream")

    def __init__(
        self, stream: BinaryIO, line: int, offset: int, limit: int = LINE_LIMIT, name: str = ""
    ) -> None:
        self.stream = stream
        self.limit = limit
        self.name = name
        self.line = line
        """Number of the last line handed out."""
        self.offset = offset
        """Byte offset just after the last line handed out."""
        self.bad: set[int] = set()

    def __iter__(self) -> Iterator[str]:
        line = self.line
        offset = self.offset
        bad = self.bad
        limit = self.limit
        while True:
            raw = self.stream.readline(limit + 3)
            if not raw:
                return
            line += 1
            if len(raw.rstrip(b"\r\n")) > limit:
                raise SourceError(
                    f"{self.name}:{line}: {too_long(line, limit)}; the header cannot be read",
                    hint=_line_hint(limit),
                )
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
    replacement characters and its bad lines are noted in :attr:`bad`. A line longer than
    ``limit`` bytes is never held: it is read past in chunks, handed out as an empty line,
    and noted in :attr:`long`. The start of every block is remembered, so
    :meth:`seek_line` can find any line again.
    """

    __slots__ = ("bad", "blocks", "first", "limit", "long", "stream")

    def __init__(self, stream: BinaryIO, first: int, limit: int = LINE_LIMIT) -> None:
        self.stream = stream
        self.first = first
        """Number of the first line handed out (the stream is positioned on it)."""
        self.limit = limit
        self.bad: set[int] = set()
        self.long: set[int] = set()
        """Numbers of the lines longer than :attr:`limit` (handed out as empty lines)."""
        self.blocks: list[tuple[int, int]] = []
        """(number of the first line, byte offset) of every block read."""

    def lines(self) -> Iterator[str]:
        return itertools.chain.from_iterable(self._blocks())

    def _blocks(self) -> Iterator[Iterator[str]]:
        stream = self.stream
        limit = self.limit
        line = self.first
        offset = stream.tell()
        rest = bytearray()
        """The start of a line not ended yet (appended to: linear, never re-copied)."""
        while True:
            data = stream.read(_BLOCK)
            if not data:
                if rest:
                    yield from self._emit(bytes(rest), line, offset)
                return
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                rest += data
                if len(rest) > limit:  # the line is too long: read past it
                    length = len(rest) + skip_line(stream)
                    self._long(line, offset)
                    yield iter(("\n",))
                    line += 1
                    offset += length
                    rest = bytearray()
                continue
            if rest:
                rest += data[:cut]
                block = bytes(rest)
                rest = bytearray(data[cut:])
            else:
                block = data if cut == len(data) else data[:cut]
                rest = bytearray(data[cut:]) if cut != len(data) else bytearray()
            yield from self._emit(block, line, offset)
            line += block.count(b"\n")
            offset += len(block)

    def _long(self, line: int, offset: int) -> None:
        self.long.add(line)
        self.blocks.append((line, offset))

    def _emit(self, block: bytes, line: int, offset: int) -> Iterator[Iterator[str]]:
        """The lines of ``block`` (whole lines), those over the limit as empty lines."""
        limit = self.limit
        if len(block) <= limit:
            yield self._decoded(block, line, offset)
            return
        start = pos = 0
        n = line
        size = len(block)
        while pos < size:
            nl = block.find(b"\n", pos)
            end = size if nl < 0 else nl
            after = size if nl < 0 else nl + 1
            if end - pos - (1 if end > pos and block[end - 1] == 13 else 0) > limit:
                if pos > start:
                    yield self._decoded(
                        block[start:pos], line + _count(block, start), offset + start
                    )
                self._long(n, offset + pos)
                yield iter(("\n",))
                start = after
            pos = after
            n += 1
        if start < size:
            yield self._decoded(block[start:], line + _count(block, start), offset + start)

    def _decoded(self, block: bytes, line: int, offset: int) -> Iterator[str]:
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
        return iter(io.StringIO(text, newline="\n"))

    def seek_line(self, number: int) -> None:
        """Position the stream at the start of line ``number`` (a line already read)."""
        index = bisect.bisect_right(self.blocks, (number, 1 << 62)) - 1
        first, offset = self.blocks[index] if index >= 0 else (self.first, None)
        if offset is None:
            raise ValueError(f"line {number} was not read")
        self.stream.seek(offset)
        for _ in range(number - first):
            skip_line(self.stream)


def _count(block: bytes, end: int) -> int:
    """Line breaks in ``block`` before ``end``."""
    return block.count(b"\n", 0, end)


class CsvRows:
    """The header and the rows of one CSV file.

    ``open_stream`` returns a fresh binary stream of the file; it must be seekable (plain
    files and zip members are) so a broken quote can be re-read from the line after it.
    """

    def __init__(
        self, open_stream: Callable[[], BinaryIO], name: str, line_limit: int = LINE_LIMIT
    ) -> None:
        self._open = open_stream
        self.line_limit = line_limit
        self.header: list[str] = []
        self.delimiter = ","
        self._body_offset = 0
        self._header_lines = 0
        with self._open() as stream:
            first = stream.readline(line_limit + 3 + len(_BOM))
            bom = len(_BOM) if first.startswith(_BOM) else 0
            if len(first[bom:].rstrip(b"\r\n")) > line_limit:
                raise SourceError(
                    f"{name}:1: {too_long(1, line_limit)}; the header cannot be read",
                    hint=_line_hint(line_limit),
                )
            try:
                text = first[bom:].decode("utf-8")
            except UnicodeDecodeError as exc:
                raise SourceError(f"{name}:1: the header line is not valid UTF-8 ({exc})") from exc
            self.delimiter = ";" if text.count(";") > text.count(",") else ","
            stream.seek(bom)
            lines = _Lines(stream, 0, bom, line_limit, name)
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
            blocks = _Blocks(stream, self._header_lines + 1, self.line_limit)
            while True:
                problem = yield from self._rows(blocks, ncols)
                if problem is None:
                    return
                yield problem
                # Read on from the line after the one the broken quote opened on.
                blocks.seek_line(problem.line + 1)
                blocks = _Blocks(stream, problem.line + 1, self.line_limit)

    def _rows(
        self, blocks: _Blocks, ncols: int
    ) -> Generator[Row | RowProblem, None, RowProblem | None]:
        """Rows until the end of the file (returns None) or a broken quote (returns it)."""
        reader = csv.reader(blocks.lines(), delimiter=self.delimiter, strict=True)
        bad = blocks.bad
        long = blocks.long
        limit = self.line_limit
        base = blocks.first - 1
        end = base
        while True:
            start = end + 1
            error: csv.Error | None = None
            try:
                cells = next(reader, None)
            except csv.Error as exc:
                error, cells = exc, []
            end = base + reader.line_num
            if long and (over := [n for n in range(start, end + 1) if n in long]):
                if over[0] > start:  # the row runs into a line too long to read
                    return RowProblem(
                        start,
                        f"the row runs into line {over[0]}, which is longer than "
                        f"{size_text(limit)}; reading resumes on the next line",
                    )
                # the row is the empty line standing for the long one (see _Blocks)
                yield RowProblem(start, too_long(start, limit))
                continue
            if error is not None:
                if end > start:
                    return _broken(start, end, str(error))
                yield RowProblem(start, f"broken quoting: {error}")
                continue
            if cells is None:
                return None
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
