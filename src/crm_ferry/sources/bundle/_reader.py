"""The open bundle: :func:`open_bundle` and :class:`Bundle`.

Opening checks what can be checked at once (the column map, the files present, the
manifest); :meth:`Bundle.read` then streams one object's rows on request, through the row
reader of its file's format, and checks ``read == accepted + rejected`` when the file ends.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from datetime import datetime, tzinfo
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm_ferry.errors import SourceError
from crm_ferry.model import Manifest, Record, Reject
from crm_ferry.sources import schema
from crm_ferry.sources.bundle._columns import check_column_map
from crm_ferry.sources.bundle._formats import read_rows
from crm_ferry.sources.bundle._records import ObjectCounts, RecordBuilder
from crm_ferry.sources.bundle._storage import (
    BundleFile,
    Storage,
    find_files,
    open_storage,
    safe_relpath,
)
from crm_ferry.sources.values import Converter, TimeParsers


class ReaderInvariantError(RuntimeError):
    """``read != accepted + rejected`` for a file: a bug in the reader, never a data problem."""


class Bundle:
    """An open export bundle. Use :func:`open_bundle`; close it (or use ``with``)."""

    def __init__(
        self,
        path: Path,
        storage: Storage,
        manifest: Manifest,
        files: dict[str, BundleFile],
        column_map: Mapping[str, Mapping[str, str]],
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.files = files
        """Object -> its file, for every object present, in read order."""
        self.counts: dict[str, ObjectCounts] = {}
        """Object -> counts of the last complete or ongoing :meth:`read`."""
        self._storage = storage
        self._column_map = column_map
        self._accepted: dict[str, set[int]] = {}
        self._builder: RecordBuilder | None = None
        self._zone: tzinfo = ZoneInfo(manifest.timezone)
        self._parsers = TimeParsers(self._zone, manifest.date_format)
        """Timestamp and date converters shared by every file (see TimeParsers._remember)."""
        self._memos: dict[Converter, dict[str, Any]] = {}
        """Per pure converter, its results by text, shared by every file and column."""

    # -- context manager ---------------------------------------------------

    def __enter__(self) -> Bundle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._storage.close()

    # -- objects -----------------------------------------------------------

    @property
    def objects(self) -> list[str]:
        """The objects present, parents before children."""
        return list(self.files)

    def accepted_ids(self, obj: str) -> AbstractSet[int] | None:
        """After a complete :meth:`read` of a parent object (one others refer to, see
        :data:`crm_ferry.sources.schema.PARENTS`): the :func:`~crm_ferry.sources.idtable.id_hash`
        of every accepted id (rejected rows are not in it). None for other objects.

        A set of 64-bit hashes: about 60 bytes per id instead of a string per id, and
        membership at C speed for the reference checks of every child row."""
        return self._accepted.get(obj)

    def read(self, obj: str) -> Iterator[Record | Reject]:
        """Every row of ``obj``'s file, in order, as a record or a reject (streaming)."""
        bf = self.files.get(obj)
        if bf is None:
            raise SourceError(f"the bundle has no {obj} file", hint=f"present: {self.objects}")
        counts = ObjectCounts()
        self.counts[obj] = counts
        accepted: set[int] | None = set() if obj in schema.PARENTS else None
        builder = self._builder = RecordBuilder(
            bf, self._zone, self.manifest, counts, accepted, self._parsers, self._memos
        )
        cmap = self._column_map.get(bf.object, {})
        yield from read_rows(self._storage, bf, builder, cmap)  # which count every row
        if counts.read != counts.accepted + counts.rejected:
            raise ReaderInvariantError(
                f"{bf.name}: read {counts.read} rows but accepted {counts.accepted} "
                f"and rejected {counts.rejected}"
            )
        if accepted is not None:
            self._accepted[obj] = accepted

    @property
    def name_was_split(self) -> bool:
        """Whether the client just yielded by :meth:`read` had no first and last name in
        the source, so both came from splitting its ``full_name``."""
        return self._builder is not None and self._builder.split

    # -- attachments -------------------------------------------------------

    def has_attachment(self, relpath: str) -> bool:
        """Whether ``relpath`` (e.g. ``files/ab12.pdf``) is a file inside the bundle."""
        return self.attachment_size(relpath) is not None

    def attachment_size(self, relpath: str) -> int | None:
        """Size in bytes of the file at ``relpath`` inside the bundle, or None if absent."""
        safe = safe_relpath(relpath)
        return self._storage.size(safe) if safe is not None else None

    def open_attachment(self, relpath: str) -> BinaryIO:
        """A binary stream of the file at ``relpath``; close it when done."""
        safe = safe_relpath(relpath)
        if safe is None or self._storage.size(safe) is None:
            raise SourceError(f"attachment {relpath!r} is not inside the bundle {self.path}")
        return self._storage.open(safe)


def open_bundle(
    path: Path | str, *, column_map: Mapping[str, Mapping[str, str]] | None = None
) -> Bundle:
    """Open a bundle folder or zip. Raises :class:`SourceError` when it cannot be read at all.

    ``column_map`` (``[source.columns]`` of ``ferry.toml``): per object, header as
    written -> canonical field (or ``custom:<key>`` for clients).
    """
    path = Path(path)
    cmap = dict(column_map or {})
    check_column_map(cmap)
    storage = open_storage(path)
    try:
        files = find_files(storage, path)
        manifest = _read_manifest(storage)
    except BaseException:
        storage.close()
        raise
    return Bundle(path, storage, manifest, files, cmap)


def _read_manifest(storage: Storage) -> Manifest:
    if storage.size("manifest.json") is None:
        return Manifest()
    try:
        with storage.open("manifest.json") as f:
            data = json.loads(f.read().decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SourceError(f"manifest.json: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise SourceError("manifest.json: expected a JSON object")

    def text(field: str) -> str | None:
        value = data.get(field)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise SourceError(f"manifest.json [{field}] {value!r}: expected a string")
        return value.strip()

    timezone = text("timezone") or "UTC"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SourceError(
            f"manifest.json [timezone] {timezone!r}: not an IANA time zone name"
        ) from exc
    exported_raw = text("exported_at")
    exported_at = None
    if exported_raw is not None:
        try:
            exported_at = datetime.fromisoformat(exported_raw)
        except ValueError as exc:
            raise SourceError(
                f"manifest.json [exported_at] {exported_raw!r}: not an ISO 8601 timestamp"
            ) from exc
        if exported_at.tzinfo is None:
            exported_at = exported_at.replace(tzinfo=ZoneInfo(timezone))
    currency = text("currency")
    if currency is not None:
        if len(currency) != 3 or not currency.isalpha() or not currency.isascii():
            raise SourceError(
                f"manifest.json [currency] {currency!r}: not an ISO 4217 code (e.g. USD)"
            )
        currency = currency.upper()
    date_format = (text("date_format") or "iso").lower()
    if date_format not in ("iso", "us"):
        raise SourceError(f"manifest.json [date_format] {date_format!r}: expected 'iso' or 'us'")
    return Manifest(
        platform=text("platform"),
        exported_at=exported_at,
        timezone=timezone,
        currency=currency,
        date_format="us" if date_format == "us" else "iso",
    )
