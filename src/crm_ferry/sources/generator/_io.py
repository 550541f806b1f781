"""Row writers for generated bundles: CSV, JSON Lines and JSON arrays, reproducibly.

Values are rendered one way only (money as ``123.45``, booleans as ``true``/``false``,
naive timestamps as ``YYYY-MM-DDTHH:MM:SS``) and JSON keys are sorted, so the same rows
always give the same bytes.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

Row = Mapping[str, Any]


def money(cents: int) -> str:
    """Cents as a decimal string with two places (``-1234`` -> ``-12.34``)."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def _plain(value: Any) -> Any:
    if isinstance(value, date):  # datetime is a date too; both render as ISO 8601
        return (
            value.isoformat(timespec="seconds")
            if isinstance(value, datetime)
            else (value.isoformat())
        )
    return value


def _cell(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    if kind is datetime:
        return value.isoformat(timespec="seconds")  # type: ignore[no-any-return]
    if kind is date:
        return value.isoformat()  # type: ignore[no-any-return]
    return str(value)


class CsvOut:
    """A CSV file written row by row; ``bom`` and ``crlf`` imitate a spreadsheet export."""

    def __init__(
        self, path: Path, fields: Sequence[str], *, bom: bool = False, crlf: bool = False
    ) -> None:
        self.fields = tuple(fields)
        self.count = 0
        self._fh: IO[str] = path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="")
        self._w = csv.writer(self._fh, lineterminator="\r\n" if crlf else "\n")
        self._w.writerow(self.fields)

    def write(self, row: Row) -> None:
        self._w.writerow([_cell(row.get(f)) for f in self.fields])
        self.count += 1

    def close(self) -> None:
        self._fh.close()


class JsonlOut:
    """A JSON Lines file written row by row, keys sorted, every field of ``fields`` present."""

    def __init__(self, path: Path, fields: Sequence[str]) -> None:
        self.fields = tuple(fields)
        self.count = 0
        self._fh: IO[str] = path.open("w", encoding="utf-8", newline="\n")

    def write(self, row: Row) -> None:
        obj = {f: _plain(row.get(f)) for f in self.fields}
        self._fh.write(json.dumps(obj, sort_keys=True, ensure_ascii=False) + "\n")
        self.count += 1

    def close(self) -> None:
        self._fh.close()


def write_json(path: Path, value: Any) -> None:
    """A whole JSON document (the small configuration objects, the manifest)."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, indent=2, default=_plain)
    path.write_text(text + "\n", encoding="utf-8", newline="\n")
