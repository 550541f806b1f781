"""The files of a bundle: a folder or a zip, and which file holds which object.

A bundle is a folder or a ``.zip`` (optionally with everything under one top folder) with
one file per object, named by the object (``clients.csv``, ``sessions.jsonl``,
``reports.json``, ...). :func:`open_storage` opens either kind; :func:`find_files` names
the file of every object present, in read order (parents first).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Literal

from crm_ferry.errors import SourceError
from crm_ferry.model import RECORD_TYPES, REQUIRED_OBJECTS
from crm_ferry.sources import schema

Format = Literal["csv", "jsonl", "json"]

FORMATS: dict[str, Format] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
}
"""File suffix (lower case) -> the format of an object file."""


@dataclass(frozen=True, slots=True)
class BundleFile:
    """One object's file inside the bundle."""

    object: str
    name: str
    """The file name inside the bundle, e.g. ``clients.csv``."""
    format: Format


class Storage:
    """Files of the bundle by their path relative to the bundle root (POSIX form)."""

    def names(self) -> list[str]:
        raise NotImplementedError

    def open(self, name: str) -> BinaryIO:
        raise NotImplementedError

    def size(self, name: str) -> int | None:
        raise NotImplementedError

    def close(self) -> None:
        """Release whatever the storage holds open."""


class Folder(Storage):
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


class Zip(Storage):
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


def open_storage(path: Path) -> Storage:
    """The folder or the zip file at ``path``."""
    if path.is_dir():
        return Folder(path)
    if path.is_file():
        return Zip(path)
    raise SourceError(f"{path}: no such folder or zip file")


def find_files(storage: Storage, path: Path) -> dict[str, BundleFile]:
    """Object -> its file, for every object present, in read order.

    Raises :class:`SourceError` for two files of one object, or without users and clients.
    """
    found: dict[str, BundleFile] = {}
    for name in storage.names():
        pure = PurePosixPath(name)
        fmt = FORMATS.get(pure.suffix.lower())
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


def safe_relpath(relpath: str) -> str | None:
    """``relpath`` in POSIX form, or None when it leaves the bundle (``..``, absolute)."""
    cleaned = relpath.replace("\\", "/").strip()
    pure = PurePosixPath(cleaned)
    if not cleaned or pure.is_absolute() or ".." in pure.parts or ":" in pure.parts[0]:
        return None
    return str(pure)


def _has_objects(names: Iterable[str]) -> bool:
    """Whether any of these file names is an object file of the bundle."""
    for name in names:
        pure = PurePosixPath(name)
        if pure.suffix.lower() in FORMATS and pure.stem.lower() in RECORD_TYPES:
            return True
    return False
