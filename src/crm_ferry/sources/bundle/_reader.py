"""The open bundle: :func:`open_bundle` and :class:`Bundle`.

Opening checks what can be checked at once (the column map, the files present, the
manifest); :meth:`Bundle.read` then streams one object's rows on request, through the row
reader of its file's format, and checks ``read == accepted + rejected`` when the file ends.

A ``files`` row whose ``path`` may not be read (outside the bundle, see
:mod:`~crm_ferry.sources.bundle._storage`) is a reject of that row naming the reason;
attachments are read whole only when their size, known before reading, is within a limit
(:meth:`Bundle.read_attachment`).

A bundle with client groups (``groups``, ``group_members``) gives every client its
effective tags, its own and its groups' (:attr:`Bundle.groups`,
:mod:`crm_ferry.sources.groups`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from datetime import datetime, tzinfo
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm_ferry.errors import SourceError
from crm_ferry.model import FileRecord, Manifest, Record, Reject
from crm_ferry.sources import schema
from crm_ferry.sources.bundle._columns import check_column_map
from crm_ferry.sources.bundle._formats import read_rows
from crm_ferry.sources.bundle._layout import BundleKind, IgnoredSheet, Layout, find_objects
from crm_ferry.sources.bundle._records import ObjectCounts, RecordBuilder
from crm_ferry.sources.bundle._sheets import read_sheet, sheet_record, sheet_table
from crm_ferry.sources.bundle._storage import (
    MEMBER_LIMIT,
    RATIO_LIMIT,
    OutsideBundle,
    Storage,
    open_storage,
    path_problem,
    safe_relpath,
)
from crm_ferry.sources.csvrows import LINE_LIMIT, size_text
from crm_ferry.sources.groups import GroupIndex
from crm_ferry.sources.values import Converter, TimeParsers

ATTACHMENT_LIMIT = 128 << 20
"""Largest attachment :meth:`Bundle.read_attachment` reads by default (128 MiB, the
largest ``maxuploadfilesize`` Dataverse allows)."""


class ReaderInvariantError(RuntimeError):
    """``read != accepted + rejected`` for a file: a bug in the reader, never a data problem."""


class Bundle:
    """An open export bundle. Use :func:`open_bundle`; close it (or use ``with``)."""

    def __init__(
        self,
        path: Path,
        storage: Storage,
        manifest: Manifest,
        layout: Layout,
        column_map: Mapping[str, Mapping[str, str]],
        *,
        line_limit: int = LINE_LIMIT,
    ) -> None:
        self.path = path
        self.line_limit = line_limit
        """Longest line (bytes) of a CSV or JSON Lines file; a longer one is a reject."""
        self.manifest = manifest
        self.files = layout.files
        """Object -> its file (and sheet, for a workbook), for every object present, in
        read order."""
        self.kind: BundleKind = layout.kind
        """``folder``, ``zip``, or ``workbook`` (the bundle is one Excel workbook)."""
        self.ignored_sheets: list[IgnoredSheet] = layout.ignored
        """The sheets of its workbooks that hold no object, each with the reason."""
        self._layout = layout
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
        self._groups: GroupIndex | None = None

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
        self._layout.close()
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
        groups = self.groups if obj == "clients" else None  # read before the clients start
        counts = ObjectCounts()
        self.counts[obj] = counts
        accepted: set[int] | None = set() if obj in schema.PARENTS else None
        builder = self._builder = RecordBuilder(
            bf, self._zone, self.manifest, counts, accepted, self._parsers, self._memos
        )
        cmap = self._column_map.get(bf.object, {})
        if bf.format == "xlsx":
            rows = read_sheet(self._layout.workbooks[bf.name], bf, builder, cmap)
        else:
            rows = read_rows(self._storage, bf, builder, cmap, self.line_limit)  # counting each
        if obj == "files":
            rows = self._checked_paths(rows, builder)
        elif groups is not None:
            rows = groups.applied(rows)
        yield from rows
        if counts.read != counts.accepted + counts.rejected:
            raise ReaderInvariantError(
                f"{bf.where}: read {counts.read} rows but accepted {counts.accepted} "
                f"and rejected {counts.rejected}"
            )
        if accepted is not None:
            self._accepted[obj] = accepted

    def _checked_paths(
        self, rows: Iterator[Record | Reject], builder: RecordBuilder
    ) -> Iterator[Record | Reject]:
        """``files`` rows, each whose ``path`` may not be read turned into its reject."""
        counts = builder.counts
        for item in rows:
            if type(item) is FileRecord and item.path:
                problem = self.path_problem(item.path)
                if problem is not None:
                    counts.accepted -= 1
                    line = item.provenance.line
                    yield builder.reject(line, builder.column("path"), item.path, problem, item.id)
                    continue
            yield item

    def path_problem(self, relpath: str) -> str | None:
        """Why the bundle will not read ``relpath`` (a ``files`` row's ``path``): outside
        the bundle, or not a plain file of it; None when it may (present or not)."""
        problem = path_problem(relpath)
        if problem is None:
            problem = self._storage.problem(relpath)
        return problem

    def sheet_rows(self, obj: str) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
        """For an object read from a workbook's sheet: its header, and (Excel's row
        number, the cells as the CSV reader would see them) of every row, without the
        checks of :meth:`read` (the map proposer profiles the raw cells)."""
        bf = self.files[obj]
        if bf.format != "xlsx":
            raise SourceError(f"{bf.name} is not a sheet of a workbook")
        cmap = self._column_map.get(obj, {})
        return sheet_table(self._layout.workbooks[bf.name], bf, cmap)

    @property
    def groups(self) -> GroupIndex | None:
        """The client groups (the accepted rows of ``groups`` and ``group_members``, read
        once), or None when the bundle has neither: :meth:`read` gives each member client
        its effective tags, and :attr:`GroupIndex.tally` says what they added."""
        if self._groups is None and ("groups" in self.files or "group_members" in self.files):
            rows: list[Record | Reject] = []
            for obj in ("groups", "group_members"):
                if obj in self.files:
                    rows.extend(self.read(obj))
            self._groups = GroupIndex.from_rows(rows)
        return self._groups

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
        """Size in bytes of the file at ``relpath`` inside the bundle, or None if absent
        or refused (:meth:`path_problem` says why)."""
        safe = safe_relpath(relpath)
        if safe is None:
            return None
        try:
            return self._storage.size(safe)
        except OutsideBundle:
            return None

    def open_attachment(self, relpath: str) -> BinaryIO:
        """A binary stream of the file at ``relpath``; close it when done.

        Raises :class:`SourceError` when it is not inside the bundle (:class:`OutsideBundle`
        when the path leads outside it)."""
        problem = path_problem(relpath)
        if problem is not None:
            raise OutsideBundle(relpath, problem)
        if self._storage.size(relpath) is None:
            raise SourceError(
                f"attachment {relpath!r} is not inside the bundle {self.path}",
                hint="put the file in the bundle at that path, or correct the row's path",
            )
        return self._storage.open(relpath)

    def attachment_chunks(self, relpath: str, size: int = 1 << 20) -> Iterator[bytes]:
        """The file at ``relpath``, read ``size`` bytes at a time (never whole)."""
        with self.open_attachment(relpath) as fh:
            while chunk := fh.read(size):
                yield chunk

    def attachment_sha256(self, relpath: str) -> str:
        """The SHA-256 of the file at ``relpath`` (hex), read piece by piece."""
        digest = hashlib.sha256()
        for chunk in self.attachment_chunks(relpath):
            digest.update(chunk)
        return digest.hexdigest()

    def read_attachment(self, relpath: str, *, limit: int = ATTACHMENT_LIMIT) -> bytes:
        """The bytes of the file at ``relpath``, read whole only when its size (known
        before reading) is at most ``limit``; :class:`SourceError` otherwise, or when the
        file is not inside the bundle. Never reads more than ``limit`` bytes."""
        size = self.attachment_size(relpath)
        if size is not None and size > limit:
            raise SourceError(
                f"attachment {relpath!r} is {size:,} bytes, over the limit of "
                f"{size_text(limit)}; it was not read",
                hint="load it by hand (or as a SharePoint document), or leave it out",
            )
        with self.open_attachment(relpath) as fh:
            data = fh.read(limit + 1)
        if len(data) > limit:
            raise SourceError(
                f"attachment {relpath!r} grew over the limit of {size_text(limit)} while "
                "it was read",
                hint="read the bundle again once nothing writes to it",
            )
        return data


def open_bundle(
    path: Path | str,
    *,
    column_map: Mapping[str, Mapping[str, str]] | None = None,
    line_limit: int = LINE_LIMIT,
    member_limit: int = MEMBER_LIMIT,
    ratio_limit: float = RATIO_LIMIT,
) -> Bundle:
    """Open a bundle folder or zip. Raises :class:`SourceError` when it cannot be read at all.

    ``column_map`` (``[source.columns]`` of ``ferry.toml``): per object, header as
    written -> canonical field (or ``custom:<key>`` for clients). ``line_limit``: the
    longest line of a CSV or JSON Lines file, in bytes (a longer one is a reject naming
    it); ``member_limit`` and ``ratio_limit``: the largest size a zip member may declare
    and how many times it may expand (over them its file is refused unread).
    """
    path = Path(path)
    cmap = dict(column_map or {})
    check_column_map(cmap)
    storage = open_storage(path, member_limit=member_limit, ratio_limit=ratio_limit)
    try:
        layout = find_objects(storage, path, member_limit=member_limit, ratio_limit=ratio_limit)
        try:
            manifest = _read_manifest(storage, layout)
        except BaseException:
            layout.close()
            raise
    except BaseException:
        storage.close()
        raise
    return Bundle(path, storage, manifest, layout, cmap, line_limit=line_limit)


_MANIFEST_LIMIT = 1 << 20
"""A manifest is a few fields: at most this much of it is read."""


def _read_manifest(storage: Storage, layout: Layout) -> Manifest:
    """The manifest: ``manifest.json``, or a workbook's ``manifest`` sheet (never both)."""
    sheet = layout.manifest_sheet
    has_json = storage.size("manifest.json") is not None
    if sheet is not None and has_json:
        raise SourceError(
            f"two manifests: manifest.json and {sheet.where}", hint="keep one of them"
        )
    if sheet is not None:
        return _manifest(sheet_record(layout.workbooks[sheet.name], sheet), sheet.where)
    if not has_json:
        return Manifest()
    try:
        with storage.open("manifest.json") as f:
            data = json.loads(f.read(_MANIFEST_LIMIT).decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SourceError(f"manifest.json: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise SourceError("manifest.json: expected a JSON object")
    return _manifest(data, "manifest.json")


def _manifest(data: Mapping[str, Any], where: str) -> Manifest:
    """The manifest of these fields (``where`` names its file in errors)."""

    def text(field: str) -> str | None:
        value = data.get(field)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise SourceError(f"{where} [{field}] {value!r}: expected a string")
        return value.strip()

    timezone = text("timezone") or "UTC"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SourceError(f"{where} [timezone] {timezone!r}: not an IANA time zone name") from exc
    exported_raw = text("exported_at")
    exported_at = None
    if exported_raw is not None:
        try:
            exported_at = datetime.fromisoformat(exported_raw)
        except ValueError as exc:
            raise SourceError(
                f"{where} [exported_at] {exported_raw!r}: not an ISO 8601 timestamp"
            ) from exc
        if exported_at.tzinfo is None:
            exported_at = exported_at.replace(tzinfo=ZoneInfo(timezone))
    currency = text("currency")
    if currency is not None:
        if len(currency) != 3 or not currency.isalpha() or not currency.isascii():
            raise SourceError(f"{where} [currency] {currency!r}: not an ISO 4217 code (e.g. USD)")
        currency = currency.upper()
    date_format = (text("date_format") or "iso").lower()
    if date_format not in ("iso", "us"):
        raise SourceError(f"{where} [date_format] {date_format!r}: expected 'iso' or 'us'")
    return Manifest(
        platform=text("platform"),
        exported_at=exported_at,
        timezone=timezone,
        currency=currency,
        date_format="us" if date_format == "us" else "iso",
    )
