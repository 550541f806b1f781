"""Reading a The Practice export bundle: streaming, typed, and honest about what it refuses.

>>> with open_bundle("export.zip") as bundle:            # doctest: +SKIP
...     for item in bundle.read("clients"):
...         if isinstance(item, Reject):
...             print(item)      # clients.csv:14 [DOB]: '31/02/1990': not a date (...)
...         else:
...             use(item)        # a crm_ferry.model.Client

A bundle is a folder or a ``.zip`` (optionally with everything under one top folder) with
one file per object, named by the object (``clients.csv``, ``sessions.jsonl``,
``reports.json``, ...). Every row read becomes exactly one :class:`~crm_ferry.model.Record`
or one :class:`~crm_ferry.model.Reject`; :meth:`Bundle.read` counts both and checks
``read == accepted + rejected`` when the file ends.

Header resolution, for each column of a file (first match wins):

1. the file's column map from ``ferry.toml`` (header as written -> canonical field);
2. a canonical field name of the object (case, spaces, ``_`` and ``-`` ignored);
3. an alias from the contract (``Email Address``, ``DOB``, ``Zip``...);
4. ``custom:<key>`` -> :attr:`Client.custom` (clients only);
5. anything else, and a second column resolving to a field already taken, goes to
   :attr:`Record.extra` under its header as written. A header written twice keeps both
   columns: the second becomes ``<header>_2`` (and so on), never overwriting the first.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path, PurePosixPath
from types import MappingProxyType, TracebackType
from typing import Any, BinaryIO, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm_ferry.errors import ConfigError, SourceError
from crm_ferry.model import RECORD_TYPES, REQUIRED_OBJECTS, Manifest, Provenance, Record, Reject
from crm_ferry.sources import schema
from crm_ferry.sources.csvrows import CsvRows, RowProblem
from crm_ferry.sources.fastinit import compiled, positional_maker, record_maker
from crm_ferry.sources.values import (
    Converter,
    TimeParsers,
    converter_for,
    is_pure,
    split_full_name,
    to_str,
    to_text,
)

Format = Literal["csv", "jsonl", "json"]

_FORMATS: dict[str, Format] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
}
_EMPTY: Mapping[str, str] = MappingProxyType({})
_JSON_CHUNK = 1 << 16
_MASK64 = (1 << 64) - 1
_MEMO = 2048
"""At most this many results are remembered per pure converter (see compile_row_converter)."""
_JSON_PLANS = 256
"""At most this many key sets (one compiled converter each) are cached per JSON file."""


class ReaderInvariantError(RuntimeError):
    """``read != accepted + rejected`` for a file: a bug in the reader, never a data problem."""


@dataclass(frozen=True, slots=True)
class BundleFile:
    """One object's file inside the bundle."""

    object: str
    name: str
    """The file name inside the bundle, e.g. ``clients.csv``."""
    format: Format


@dataclass(slots=True)
class ObjectCounts:
    """Rows of one file: every row read is either accepted or rejected."""

    read: int = 0
    accepted: int = 0
    rejected: int = 0


# ---------------------------------------------------------------------------
# Storage: a folder or a zip


class _Storage:
    """Files of the bundle by their path relative to the bundle root (POSIX form)."""

    def names(self) -> list[str]:
        raise NotImplementedError

    def open(self, name: str) -> BinaryIO:
        raise NotImplementedError

    def size(self, name: str) -> int | None:
        raise NotImplementedError

    def close(self) -> None:
        """Release whatever the storage holds open."""


class _Folder(_Storage):
    def __init__(self, root: Path) -> None:
        self.root = root
        if not _has_objects(self.names()):
            # An unzipped export often sits one folder down (export/export-2024/...).
            inner = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
            candidates = [p for p in inner if _has_objects(f.name for f in p.iterdir())]
            if len(candidates) == 1:
                self.root = candidates[0]

    def names(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_file())

    def _path(self, name: str) -> Path | None:
        path = self.root.joinpath(*PurePosixPath(name).parts)
        return path if path.is_file() else None

    def open(self, name: str) -> BinaryIO:
        path = self._path(name)
        if path is None:
            raise SourceError(f"{name}: not in the bundle {self.root}")
        return path.open("rb")

    def size(self, name: str) -> int | None:
        path = self._path(name)
        return path.stat().st_size if path is not None else None


class _Zip(_Storage):
    def __init__(self, path: Path) -> None:
        try:
            self.zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise SourceError(f"{path}: not a readable zip file ({exc})") from exc
        members = {
            info.filename: info
            for info in self.zf.infolist()
            if not info.is_dir()
            and not info.filename.startswith("__MACOSX/")
            and not PurePosixPath(info.filename).name.startswith(".")
        }
        self.prefix = ""
        if not _has_objects(n for n in members if "/" not in n):
            # Everything may sit under one top folder (a zipped folder); pick the one
            # folder whose direct children are object files.
            tops = {
                name.split("/", 1)[0]
                for name in members
                if name.count("/") == 1 and _has_objects([name.split("/", 1)[1]])
            }
            if len(tops) == 1:
                self.prefix = tops.pop() + "/"
        self.members = {
            name[len(self.prefix) :]: info
            for name, info in members.items()
            if name.startswith(self.prefix)
        }

    def names(self) -> list[str]:
        return sorted(n for n in self.members if "/" not in n)

    def open(self, name: str) -> BinaryIO:
        info = self.members.get(name)
        if info is None:
            raise SourceError(f"{name}: not in the bundle")
        return self.zf.open(info)  # type: ignore[return-value]

    def size(self, name: str) -> int | None:
        info = self.members.get(name)
        return info.file_size if info is not None else None

    def close(self) -> None:
        self.zf.close()


def _has_objects(names: Iterable[str]) -> bool:
    """Whether any of these file names is an object file of the bundle."""
    for name in names:
        pure = PurePosixPath(name)
        if pure.suffix.lower() in _FORMATS and pure.stem.lower() in RECORD_TYPES:
            return True
    return False


def _safe_relpath(relpath: str) -> str | None:
    """``relpath`` in POSIX form, or None when it leaves the bundle (``..``, absolute)."""
    cleaned = relpath.replace("\\", "/").strip()
    pure = PurePosixPath(cleaned)
    if not cleaned or pure.is_absolute() or ".." in pure.parts or ":" in pure.parts[0]:
        return None
    return str(pure)


# ---------------------------------------------------------------------------
# The bundle


class Bundle:
    """An open export bundle. Use :func:`open_bundle`; close it (or use ``with``)."""

    def __init__(
        self,
        path: Path,
        storage: _Storage,
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
        self._builder: _Builder | None = None
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
        builder = self._builder = _Builder(
            bf, self._zone, self.manifest, counts, accepted, self._parsers, self._memos
        )
        if bf.format == "csv":
            items = self._read_csv(bf, builder)
        elif bf.format == "jsonl":
            items = self._read_jsonl(bf, builder)
        else:
            items = self._read_json(bf, builder)
        yield from items  # the builder counts accepted and rejected rows
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
        safe = _safe_relpath(relpath)
        return self._storage.size(safe) if safe is not None else None

    def open_attachment(self, relpath: str) -> BinaryIO:
        """A binary stream of the file at ``relpath``; close it when done."""
        safe = _safe_relpath(relpath)
        if safe is None or self._storage.size(safe) is None:
            raise SourceError(f"attachment {relpath!r} is not inside the bundle {self.path}")
        return self._storage.open(safe)

    # -- formats -----------------------------------------------------------

    def _read_csv(self, bf: BundleFile, builder: _Builder) -> Iterator[Record | Reject]:
        rows = CsvRows(lambda: self._storage.open(bf.name), bf.name)
        plan = builder.plan_for_headers(rows.header, self._column_map.get(bf.object, {}))
        counts = builder.counts
        row = builder.row_builder(plan)
        if row is not None:
            for item in rows:
                counts.read += 1
                if type(item) is RowProblem:
                    yield _row_reject(builder, rows.header, item)
                    continue
                line, cells = item  # type: ignore[misc]
                yield row(line, cells)
            return
        convert = compile_row_converter(plan.fields, memos=builder.memos)
        custom = plan.custom
        extra = plan.extra
        finish = builder.finish
        for item in rows:
            counts.read += 1
            if type(item) is RowProblem:
                yield _row_reject(builder, rows.header, item)
                continue
            line, cells = item  # type: ignore[misc]
            values, errors = convert(cells)
            custom_values: dict[str, str] | None = None
            if custom:
                custom_values = {key: cells[i] for i, key in custom if cells[i].strip()}
            extra_values: Mapping[str, str] = _EMPTY
            if extra:
                extra_values = {h: cells[i] for i, h in extra if cells[i]}
            yield finish(line, values, errors, custom_values, extra_values)

    def _read_jsonl(self, bf: BundleFile, builder: _Builder) -> Iterator[Record | Reject]:
        decode = json.JSONDecoder().raw_decode
        with self._storage.open(bf.name) as stream:
            line = 0
            for raw in stream:
                line += 1
                if line == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
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
                yield builder.from_json(line, obj, self._column_map.get(bf.object, {}))

    def _read_json(self, bf: BundleFile, builder: _Builder) -> Iterator[Record | Reject]:
        cmap = self._column_map.get(bf.object, {})
        with self._storage.open(bf.name) as stream:
            for position, element in enumerate(_json_array(stream, bf.name), start=1):
                builder.counts.read += 1
                if isinstance(element, _JsonBroken):
                    yield builder.reject(position, None, None, element.reason)
                    return
                yield builder.from_json(position, element, cmap)


# ---------------------------------------------------------------------------
# Rows -> records

RowConverter = Callable[[list[str]], tuple[dict[str, Any], list[tuple[str, str, str]] | None]]


def _field_lines(
    fields: list[tuple[int, str, Converter, str]],
    namespace: dict[str, Any],
    *,
    json: bool,
    memos: dict[Converter, dict[str, Any]] | None,
    target: Callable[[int, str], str] = lambda n, name: f"values[{name!r}]",
) -> list[str]:
    """The body of a generated row function converting ``fields`` from ``cells``: each
    value goes to ``target(n, name)`` (a dict item or a local), each error to ``errors``."""
    lines: list[str] = []
    for n, (idx, name, conv, header) in enumerate(fields):
        namespace[f"c{n}"] = conv
        namespace[f"h{n}"] = header
        lines.append(f"    raw = cells[{idx}]")
        if json and conv is to_str:
            lines += [
                "    if type(raw) is str:",
                "        raw = raw.strip()",
                "        if raw:",
                f"            {target(n, name)} = raw",
                "    elif raw is not None:",
                "        try:",
                f"            {target(n, name)} = c{n}(raw)",
                "        except ValueError as exc:",
                "            if errors is None:",
                "                errors = []",
                f"            errors.append((h{n}, shown(raw), str(exc)))",
            ]
        elif json:
            lines += [
                "    if raw is not None and (type(raw) is not str or (raw and not raw.isspace())):",
                "        try:",
                f"            {target(n, name)} = c{n}(raw)",
                "        except ValueError as exc:",
                "            if errors is None:",
                "                errors = []",
                f"            errors.append((h{n}, shown(raw), str(exc)))",
            ]
        elif conv is to_str:
            lines += [
                "    if raw:",
                "        raw = raw.strip()",
                "        if raw:",
                f"            {target(n, name)} = raw",
            ]
        elif isinstance(parsers := getattr(conv, "__self__", None), TimeParsers) and (
            getattr(conv, "__func__", None) is TimeParsers.ts
        ):
            # A timestamp: a known date followed by a known time of day is looked up
            # (see TimeParsers._remember); anything else goes through the converter.
            namespace[f"t{n}"] = parsers.times.get
            namespace[f"d{n}"] = parsers.days.get
            lines += [
                "    if raw:",
                f"        t = t{n}(raw[10:])",
                f"        d = d{n}(raw[:10]) if t is not None else None",
                "        if d is not None:",
                f"            {target(n, name)} = d + t",
                "        elif not raw.isspace():",
                "            try:",
                f"                {target(n, name)} = c{n}(raw)",
                "            except ValueError as exc:",
                "                if errors is None:",
                "                    errors = []",
                f"                errors.append((h{n}, raw, str(exc)))",
            ]
        elif conv is to_text:
            lines += [
                "    if raw and not raw.isspace():",  # to_text(raw) is raw itself
                f"        {target(n, name)} = raw",
            ]
        elif is_pure(conv):
            # Values repeat (amounts, dates, statuses): each result is remembered by its
            # text, up to _MEMO texts per converter, shared by the columns using it.
            memo = {} if memos is None else memos.setdefault(conv, {})
            namespace[f"m{n}"] = memo
            namespace[f"g{n}"] = memo.get
            lines += [
                "    if raw:",
                f"        value = g{n}(raw)",
                "        if value is not None:",
                f"            {target(n, name)} = value",
                "        elif not raw.isspace():",
                "            try:",
                f"                value = c{n}(raw)",
                "            except ValueError as exc:",
                "                if errors is None:",
                "                    errors = []",
                f"                errors.append((h{n}, raw, str(exc)))",
                "            else:",
                f"                {target(n, name)} = value",
                f"                if len(m{n}) < {_MEMO}:",
                f"                    m{n}[raw] = value",
            ]
        else:
            lines += [
                "    if raw and not raw.isspace():",
                "        try:",
                f"            {target(n, name)} = c{n}(raw)",
                "        except ValueError as exc:",
                "            if errors is None:",
                "                errors = []",
                f"            errors.append((h{n}, raw, str(exc)))",
            ]
    return lines


def compile_row_converter(
    fields: list[tuple[int, str, Converter, str]],
    *,
    json: bool = False,
    memos: dict[Converter, dict[str, Any]] | None = None,
) -> RowConverter:
    """One function per file turning a row's cells into typed values and value errors.

    The function is generated (as ``dataclasses`` generates ``__init__``) with one
    straight-line block per column, so a row costs no loop, no tuple unpacking and no
    converter call for plain strings. Blank cells are skipped (null); each converter's
    :class:`ValueError` becomes ``(header as written, raw value, reason)``. With ``json``
    the cells are JSON values: null is skipped, and every value goes through its converter
    (numbers and booleans are not strings).
    """
    namespace: dict[str, Any] = {"shown": _shown}
    lines = ["def convert(cells):", "    values = {}", "    errors = None"]
    lines += _field_lines(fields, namespace, json=json, memos=memos)
    lines.append("    return values, errors")
    exec(compiled("\n".join(lines)), namespace)
    convert: RowConverter = namespace["convert"]
    return convert


def _no_converter(cells: list[Any]) -> tuple[dict[str, Any], None]:
    raise AssertionError("a generated row function converts these cells")


_JsonPlan = tuple[
    RowConverter,
    list[tuple[int, str]],
    list[tuple[int, str]],
    Callable[[int, list[Any]], Record | Reject] | None,
]
"""(converter, custom keys, extra keys, generated row function or None) of one key set."""


@dataclass(frozen=True, slots=True)
class _Plan:
    fields: list[tuple[int, str, Converter, str]]
    """(cell index, canonical field, converter, header as written)."""
    custom: list[tuple[int, str]]
    extra: list[tuple[int, str]]


class _Builder:
    """Turns one file's rows (cells or JSON objects) into records or rejects."""

    def __init__(
        self,
        bf: BundleFile,
        zone: tzinfo,
        manifest: Manifest,
        counts: ObjectCounts,
        accepted: set[int] | None = None,
        parsers: TimeParsers | None = None,
        memos: dict[Converter, dict[str, Any]] | None = None,
    ) -> None:
        self.bf = bf
        self.obj = bf.object
        self.file = bf.name
        self.kinds = schema.FIELDS[bf.object]
        self.converters = {
            name: converter_for(kind, zone, manifest.date_format, parsers=parsers)
            for name, kind in self.kinds.items()
        }
        self.memos: dict[Converter, dict[str, Any]] = {} if memos is None else memos
        self.counts = counts
        self.ids: dict[int, int] = {}
        """Id hash -> line first seen on (negative when rejected), for duplicate ids.

        A plain dict (about 100 bytes per id, freed when the file ends): looking an id up
        and storing it is two C calls per row."""
        self._provenance = positional_maker(Provenance)
        self._plain = self.obj not in _SPECIAL_BUILD
        """Whether records of this object are built from their values as they are."""
        self.accepted = accepted
        self._json_plans: dict[tuple[str, ...], _JsonPlan] = {}
        self.split = False
        """Whether the last client built got first/last name by splitting full_name."""
        self._written: dict[str, str] = {}
        """Canonical field -> the header it was read from, for rejects."""

    # -- header resolution ---------------------------------------------------

    def resolve(self, header: str, cmap: Mapping[str, str]) -> tuple[str, str]:
        """("field", name) | ("custom", key) | ("extra", header) for one header."""
        target = cmap.get(header)
        if target is None:
            norm = schema.normalise_header(header)
            for written, field_name in cmap.items():
                if schema.normalise_header(written) == norm:
                    target = field_name
                    break
        if target is not None:
            if target.startswith(schema.CUSTOM_PREFIX):
                return "custom", target[len(schema.CUSTOM_PREFIX) :].strip()
            return "field", target
        norm = schema.normalise_header(header)
        name = schema.CANONICAL[self.obj].get(norm) or schema.ALIASES[self.obj].get(norm)
        if name is not None:
            return "field", name
        if self.obj == "clients" and header.lower().startswith(schema.CUSTOM_PREFIX):
            key = header[len(schema.CUSTOM_PREFIX) :].strip()
            if key:
                return "custom", key
        return "extra", header

    def plan_for_headers(self, headers: list[str], cmap: Mapping[str, str]) -> _Plan:
        fields: list[tuple[int, str, Converter, str]] = []
        custom: list[tuple[int, str]] = []
        extra: list[tuple[int, str]] = []
        taken: set[str] = set()
        seen: dict[str, int] = {}
        for idx, written in enumerate(headers):
            norm = schema.normalise_header(written)
            seen[norm] = seen.get(norm, 0) + 1
            header = written if seen[norm] == 1 else f"{written}_{seen[norm]}"
            kind, name = self.resolve(written, cmap) if seen[norm] == 1 else ("extra", header)
            if kind == "field" and name not in taken:
                taken.add(name)
                self._written[name] = header
                fields.append((idx, name, self.converters[name], header))
            elif kind == "custom":
                custom.append((idx, name))
            else:
                extra.append((idx, header))
        self._check_ids(taken, headers)
        return _Plan(fields, custom, extra)

    def _check_ids(self, taken: set[str], headers: list[str]) -> None:
        needed = schema.REQUIRED_FIELDS.get(self.obj, ("id",))
        missing = [f for f in needed if f not in taken]
        if missing and headers:
            raise SourceError(
                f"{self.file}: no {' / '.join(missing)} column (headers: {', '.join(headers)})",
                hint=f"map the right header in ferry.toml under [source.columns.{self.obj}]",
            )

    # -- rows ------------------------------------------------------------------

    def reject(
        self,
        line: int,
        column: str | None,
        value: str | None,
        reason: str,
        source_id: str | None = None,
    ) -> Reject:
        self.counts.rejected += 1
        return Reject(self.obj, self.file, line, column, value, reason, source_id)

    def from_json(self, line: int, obj: Any, cmap: Mapping[str, str]) -> Record | Reject:
        if not isinstance(obj, dict):
            return self.reject(line, None, None, f"not a JSON object (a {type(obj).__name__})")
        signature = tuple(obj)
        plan = self._json_plans.get(signature)
        if plan is None:
            if len(self._json_plans) > _JSON_PLANS:
                self._json_plans.clear()
            plan = self._json_plans[signature] = self._json_plan(signature, cmap)
        convert, custom_keys, extra_keys, row = plan
        cells = list(obj.values())
        if row is not None:
            return row(line, cells)
        values, errors = convert(cells)
        custom: dict[str, str] | None = None
        if custom_keys:
            custom = {}
            for idx, key in custom_keys:
                raw = cells[idx]
                if isinstance(raw, dict) and key == "":  # a nested "custom" object
                    custom.update({str(k): _text(v) for k, v in raw.items() if v is not None})
                elif raw is not None and raw != "":
                    custom[key] = _text(raw)
        extra: dict[str, str] | None = None
        if extra_keys:
            extra = {key: _text(cells[idx]) for idx, key in extra_keys if cells[idx] is not None}
        return self.finish(line, values, errors, custom, extra or _EMPTY)

    def _json_plan(self, keys: tuple[str, ...], cmap: Mapping[str, str]) -> _JsonPlan:
        fields: list[tuple[int, str, Converter, str]] = []
        custom: list[tuple[int, str]] = []
        extra: list[tuple[int, str]] = []
        taken: set[str] = set()
        for idx, key in enumerate(keys):
            kind, name = self.resolve(key, cmap)
            if kind == "field" and name not in taken:
                taken.add(name)
                self._written.setdefault(name, key)
                fields.append((idx, name, self.converters[name], key))
            elif kind == "custom":
                custom.append((idx, name))
            elif key == "custom" and self.obj == "clients":
                custom.append((idx, ""))
            else:
                extra.append((idx, key))
        row = self.row_builder(_Plan(fields, custom, extra), json=True)
        if row is not None:  # the converter is never called
            return _no_converter, custom, extra, row
        convert = compile_row_converter(fields, json=True, memos=self.memos)
        return convert, custom, extra, row

    def finish(
        self,
        line: int,
        values: dict[str, Any],
        errors: list[tuple[str, str, str]] | None,
        custom: dict[str, str] | None,
        extra: Mapping[str, str],
    ) -> Record | Reject:
        """Check the id (present, unique), report the first bad value, build the record."""
        if self._plain:
            rid = values.pop("id", None)
            if not rid:
                return self.reject(line, self._col("id"), None, "id is required")
        elif self.obj == "client_properties":
            client_id, key = values.get("client_id"), values.get("key")
            if not client_id or not key:
                missing = "client_id" if not client_id else "key"
                return self.reject(line, self._col(missing), None, f"{missing} is required")
            rid = f"{client_id}/{key}"
        else:
            rid = values.pop("id", None)
            if not rid:
                return self.reject(line, self._col("id"), None, "id is required")
        h = (hash(rid) & _MASK64) or 1  # id_hash, inlined
        ids = self.ids
        first = ids.get(h)
        if first is not None:
            if self.obj == "client_properties":
                what, column = "duplicate client_id and key", self._col("key")
            else:
                what, column = "duplicate id", self._col("id")
            return self.reject(line, column, rid, f"{what} (first seen on line {abs(first)})", rid)
        if errors:
            ids[h] = -line
            header, raw, reason = errors[0]
            if len(errors) > 1:
                others = ", ".join(e[0] for e in errors[1:])
                reason += f" (also bad: {others})"
            return self.reject(line, header, _shown(raw), reason, rid)
        ids[h] = line
        if self._plain:
            values["id"] = rid
            values["provenance"] = self._provenance(self.file, line)
            values["extra"] = extra
            record = self.make(values)
        else:
            try:
                record = self._build(rid, line, values, custom, extra)
            except _MissingField as exc:
                ids[h] = -line
                return self.reject(
                    line, self._col(exc.field), None, f"{exc.field} is required", rid
                )
        accepted = self.accepted
        if accepted is not None:
            accepted.add(h)
        self.counts.accepted += 1
        return record

    def _col(self, name: str) -> str:
        return self._written.get(name, name)

    @functools.cached_property
    def make(self) -> Callable[[Mapping[str, Any]], Record]:
        """Builds this object's record from a dict of its values (when no generated row
        function does it: see :meth:`row_builder`)."""
        return record_maker(RECORD_TYPES[self.obj])

    # -- one generated function per CSV file -----------------------------------

    def row_builder(
        self, plan: _Plan, *, json: bool = False
    ) -> Callable[[int, list[Any]], Record | Reject] | None:
        """For an object whose records are built from their values as they are: one
        generated function turning a row's cells straight into its record or reject.

        It does what ``compile_row_converter`` + :meth:`finish` do, with the values in
        local variables instead of a dict and every slot of the record set directly. None
        for the objects :meth:`_build` handles (or without an id column)."""
        if not (self._plain or self.obj == "activities" or (self.obj == "clients" and not json)):
            return None
        if not any(name == "id" for _, name, _, _ in plan.fields):
            return None
        cls = RECORD_TYPES[self.obj]
        local = {name: f"v{n}" for n, (_, name, _, _) in enumerate(plan.fields)}
        namespace: dict[str, Any] = {
            "shown": _shown,
            "M": _MASK64,
            "new": object.__new__,
            "cls": cls,
            "prov": self._provenance,
            "file": self.file,
            "ids": self.ids,
            "ids_get": self.ids.get,
            "counts": self.counts,
            "accepted_add": self.accepted.add if self.accepted is not None else None,
            "missing_id": self._missing_id,
            "duplicate": self._duplicate,
            "bad_value": self._bad_value,
            "missing_field": self._missing_field,
            "EMPTY": _EMPTY,
            "MISSING": dataclasses.MISSING,
            "text": _text,
        }
        lines = ["def row(line, cells):", "    errors = None"]
        fields = dataclasses.fields(cls)
        defaults = {f.name: f for f in fields}
        for n, (_, name, _, _) in enumerate(plan.fields):
            f = defaults[name]
            if f.default is not dataclasses.MISSING:
                namespace[f"init{n}"] = f.default
                lines.append(f"    v{n} = init{n}")
            else:
                lines.append(f"    v{n} = MISSING")
        lines += _field_lines(
            plan.fields,
            namespace,
            json=json,
            memos=self.memos,
            target=lambda n, name: local[name],
        )
        rid = local["id"]
        lines += [
            f"    rid = {rid}",
            "    if rid is MISSING or not rid:",
            "        return missing_id(line)",
            "    h = (hash(rid) & M) or 1",
            "    first = ids_get(h)",
            "    if first is not None:",
            "        return duplicate(line, rid, first)",
            "    if errors:",
            "        ids[h] = -line",
            "        return bad_value(line, rid, errors)",
        ]
        filled = {"id", "provenance", "type"} if self.obj == "clients" else {"id", "provenance"}
        for f in fields:  # a required field (activities.kind) left blank
            if f.name in filled or f.name not in local:
                continue
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                lines += [
                    f"    if {local[f.name]} is MISSING:",
                    "        ids[h] = -line",
                    f"        return missing_field(line, rid, {f.name!r})",
                ]
        lines.append("    ids[h] = line")
        if plan.extra and json:  # JSON values as text; no value at all is no extra
            lines.append("    extra = {}")
            for idx, header in plan.extra:
                namespace[f"xkey{idx}"] = header
                lines += [
                    f"    raw = cells[{idx}]",
                    "    if raw is not None:",
                    f"        extra[xkey{idx}] = text(raw)",
                ]
            lines.append("    extra = extra or EMPTY")
        elif plan.extra:
            lines.append("    extra = {}")
            for idx, header in plan.extra:
                namespace[f"xkey{idx}"] = header
                lines += [
                    f"    raw = cells[{idx}]",
                    "    if raw:",
                    f"        extra[xkey{idx}] = raw",
                ]
        else:
            lines.append("    extra = EMPTY")
        special: dict[str, str] = {}
        if self.obj == "clients":  # what _build does for a client
            namespace["builder"] = self
            namespace["split_name"] = split_full_name
            namespace["custom_factory"] = defaults["custom"].default_factory
            lines += [
                f"    full = {local.get('full_name', 'None')}",
                f"    first_name = {local.get('first_name', 'None')}",
                f"    last_name = {local.get('last_name', 'None')}",
                "    split = builder.split = bool(full) and not first_name and not last_name",
                "    if split:",
                "        first_name, last_name = split_name(str(full))",
                f"    kind = {local.get('type', 'MISSING')}",
                "    if kind is MISSING:",
                f"        organization = {local.get('organization', 'None')}",
                "        kind = 'organization' if organization else 'individual'",
                "    custom = {}",
            ]
            for idx, key in plan.custom:
                namespace[f"ckey{idx}"] = key
                lines += [
                    f"    raw = cells[{idx}]",
                    "    if raw.strip():",
                    f"        custom[ckey{idx}] = raw",
                ]
            lines += ["    if not custom:", "        custom = custom_factory()"]
            special = {
                "first_name": "first_name",
                "last_name": "last_name",
                "type": "kind",
                "custom": "custom",
            }
        lines.append("    o = new(cls)")
        for n, f in enumerate(fields):
            descriptor = next(k.__dict__[f.name] for k in cls.__mro__ if f.name in k.__dict__)
            namespace[f"set{n}"] = descriptor.__set__
            if f.name == "id":
                value = "rid"
            elif f.name == "provenance":
                value = "prov(file, line)"
            elif f.name == "extra":
                value = "extra"
            elif f.name in special:
                value = special[f.name]
            elif f.name in local:
                value = local[f.name]  # a required one was checked above
                if (
                    f.default is dataclasses.MISSING
                    and f.default_factory is not dataclasses.MISSING
                ):
                    namespace[f"factory{n}"] = f.default_factory
                    value = f"(factory{n}() if {value} is MISSING else {value})"
            elif f.default is not dataclasses.MISSING:
                namespace[f"default{n}"] = f.default
                value = f"default{n}"
            elif f.default_factory is not dataclasses.MISSING:
                namespace[f"factory{n}"] = f.default_factory
                value = f"factory{n}()"
            else:
                return None  # a required field without a column: the generic path says so
            lines.append(f"    set{n}(o, {value})")
        if self.accepted is not None:
            lines.append("    accepted_add(h)")
        lines += ["    counts.accepted += 1", "    return o"]
        exec(compiled("\n".join(lines)), namespace)
        row: Callable[[int, list[Any]], Record | Reject] = namespace["row"]
        return row

    def _missing_field(self, line: int, rid: str, name: str) -> Reject:
        return self.reject(line, self._col(name), None, f"{name} is required", rid)

    def _missing_id(self, line: int) -> Reject:
        return self.reject(line, self._col("id"), None, "id is required")

    def _duplicate(self, line: int, rid: str, first: int) -> Reject:
        what, column = "duplicate id", self._col("id")
        return self.reject(line, column, rid, f"{what} (first seen on line {abs(first)})", rid)

    def _bad_value(self, line: int, rid: str, errors: list[tuple[str, str, str]]) -> Reject:
        header, raw, reason = errors[0]
        if len(errors) > 1:
            others = ", ".join(e[0] for e in errors[1:])
            reason += f" (also bad: {others})"
        return self.reject(line, header, _shown(raw), reason, rid)

    def _build(
        self,
        rid: str,
        line: int,
        values: dict[str, Any],
        custom: dict[str, str] | None,
        extra: Mapping[str, str],
    ) -> Record:
        obj = self.obj
        if obj == "clients":
            if "type" not in values:
                values["type"] = "organization" if values.get("organization") else "individual"
            full = values.get("full_name")
            self.split = bool(full) and not values.get("first_name") and not values.get("last_name")
            if self.split:
                first, last = split_full_name(str(full))
                values["first_name"], values["last_name"] = first, last
            if custom:
                values["custom"] = custom
        elif obj == "client_properties":
            values["key_name"] = values.pop("key")
        elif obj == "activities":
            if "kind" not in values:
                raise _MissingField("kind")
        elif obj in ("automations", "reports"):
            seq = "steps" if obj == "automations" else "metrics"
            if seq in values:
                raw = values[seq]
                values[seq] = tuple(raw) if isinstance(raw, list) else (raw,)
        values["id"] = rid
        values["provenance"] = self._provenance(self.file, line)
        values["extra"] = extra
        return self.make(values)


_SPECIAL_BUILD = frozenset({"clients", "client_properties", "activities", "automations", "reports"})
"""Objects whose records need more than their values (see :meth:`_Builder._build`)."""


class _MissingField(Exception):
    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


def _skip_ws(text: str) -> int:
    """Index of the first character that is not JSON whitespace."""
    if text[:1] not in " \t\r\n":
        return 0
    return len(text) - len(text.lstrip(" \t\r\n"))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _row_reject(builder: _Builder, header: Sequence[str], problem: RowProblem) -> Reject:
    """The reject of a row the CSV reader could not take (its column named when known)."""
    column = header[problem.cell] if problem.cell is not None else None
    value = _shown(problem.value) if problem.value is not None else None
    return builder.reject(problem.line, column, value, problem.reason)


def _shown(value: Any) -> str:
    """A value as shown in a reject: text, at most 200 characters."""
    text = _text(value)
    return text if len(text) <= 200 else text[:197] + "..."


# ---------------------------------------------------------------------------
# JSON arrays, element by element


@dataclass(frozen=True, slots=True)
class _JsonBroken:
    reason: str


def _json_array(stream: BinaryIO, name: str) -> Iterator[Any]:
    """Elements of a top-level JSON array without loading the whole file.

    A syntax error inside the array cannot be stepped over reliably, so it yields one
    :class:`_JsonBroken` (a reject at that element's position, saying the rest of the
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
        yield _JsonBroken(f"{exc}; the rest of the file was not read")
    finally:
        text.detach()


class _Broken(Exception):
    pass


# ---------------------------------------------------------------------------
# Opening


def open_bundle(
    path: Path | str, *, column_map: Mapping[str, Mapping[str, str]] | None = None
) -> Bundle:
    """Open a bundle folder or zip. Raises :class:`SourceError` when it cannot be read at all.

    ``column_map`` is :attr:`crm_ferry.settings.Settings.column_map`: per object, header as
    written -> canonical field (or ``custom:<key>`` for clients).
    """
    path = Path(path)
    cmap = dict(column_map or {})
    _check_column_map(cmap)
    storage: _Storage
    if path.is_dir():
        storage = _Folder(path)
    elif path.is_file():
        storage = _Zip(path)
    else:
        raise SourceError(f"{path}: no such folder or zip file")
    try:
        files = _find_files(storage, path)
        manifest = _read_manifest(storage)
    except BaseException:
        storage.close()
        raise
    return Bundle(path, storage, manifest, files, cmap)


def _find_files(storage: _Storage, path: Path) -> dict[str, BundleFile]:
    found: dict[str, BundleFile] = {}
    for name in storage.names():
        pure = PurePosixPath(name)
        fmt = _FORMATS.get(pure.suffix.lower())
        stem = pure.stem.lower()
        if fmt is None or stem not in RECORD_TYPES:
            continue
        if stem in found:
            raise SourceError(
                f"{path}: two files for {stem}: {found[stem].name} and {name}",
                hint="keep one of them in the bundle",
            )
        found[stem] = BundleFile(stem, name, fmt)
    missing = [obj for obj in REQUIRED_OBJECTS if obj not in found]
    if missing:
        raise SourceError(
            f"{path}: no {' and no '.join(missing)} file in the bundle "
            f"(found: {', '.join(storage.names()) or 'nothing'})",
            hint="a bundle needs users and clients as .csv, .jsonl or .json",
        )
    return {obj: found[obj] for obj in schema.READ_ORDER if obj in found}


def _read_manifest(storage: _Storage) -> Manifest:
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


def _check_column_map(cmap: Mapping[str, Mapping[str, str]]) -> None:
    for obj, columns in cmap.items():
        if obj not in schema.FIELDS:
            raise ConfigError(
                f"ferry.toml [source.columns.{obj}]: {obj!r} is not an object of the bundle",
                hint="objects: " + ", ".join(schema.READ_ORDER),
            )
        for header, target in columns.items():
            if target.startswith(schema.CUSTOM_PREFIX) and obj == "clients":
                continue
            if target not in schema.FIELDS[obj]:
                raise ConfigError(
                    f"ferry.toml [source.columns.{obj}] {header!r} = {target!r}: "
                    f"{obj} has no field {target!r}",
                    hint="fields: " + ", ".join(schema.FIELDS[obj]),
                )
