"""The files of a bundle: a folder or a zip, and which file holds which object.

A bundle is a folder or a ``.zip`` (optionally with everything under one top folder) with
one file per object, named by the object (``clients.csv``, ``sessions.jsonl``,
``reports.json``, ...), or one Excel workbook (:class:`WorkbookFile`). :func:`open_storage`
opens any kind; :func:`~crm_ferry.sources.bundle._layout.find_objects` names the file (and
sheet) of every object present.

Nothing outside the bundle is ever opened. A path the bundle names (an object file, a
``files`` row's ``path``, a zip member) must be plain relative POSIX form
(:func:`path_problem`: no absolute path, ``..``, drive letter, backslash or NUL); in a
folder it must resolve, symlinks followed, to a regular file under the bundle root that
has no other hard link; in a zip it must not be a symlink member, and a member may not
declare more than :data:`MEMBER_LIMIT` bytes or expand more than :data:`RATIO_LIMIT`
times, nor give more bytes than it declares. :class:`OutsideBundle` says which rule a
path breaks.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Literal

from crm_ferry.errors import SourceError
from crm_ferry.model import RECORD_TYPES
from crm_ferry.sources.csvrows import size_text

Format = Literal["csv", "jsonl", "json", "xlsx"]

FORMATS: dict[str, Format] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
}
"""File suffix (lower case) -> the format of an object file (``xlsx``: an Excel workbook,
whose sheets are read by :mod:`~crm_ferry.sources.bundle._sheets`)."""
WORKBOOK_SUFFIXES = frozenset({".xlsx", ".xlsm"})

MEMBER_LIMIT = 4 << 30
"""Largest size a zip member may declare (4 GiB): over it, the member is refused unread."""
RATIO_LIMIT = 100
"""Largest expansion of a zip member over :data:`RATIO_FROM` bytes (declared size over
compressed size); exports compress about 5 to 20 times, a zip bomb a thousand times."""
RATIO_FROM = 1 << 20
"""Members declaring less than this (1 MiB) are not held to :data:`RATIO_LIMIT`."""
_LIMIT_HINT = (
    "check the export: re-export the bundle, or unzip it and point crm-ferry at the folder"
)


class OutsideBundle(SourceError):
    """A path the bundle names leads outside it, or to something that is not a plain file
    of the bundle; :attr:`reason` says which rule it breaks."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(
            f"{name!r} is not inside the bundle: {reason}",
            hint="only files inside the bundle folder or zip are read; put the file "
            "itself there, or leave the row out of the export",
        )
        self.name = name
        self.reason = reason


def path_problem(relpath: str) -> str | None:
    """Why ``relpath`` cannot name a file inside the bundle, or None when it can.

    Accepted: relative POSIX form (``files/ab12.pdf``). Refused: an empty path, an absolute
    one (``/etc/passwd``, ``//server/share``), ``..`` anywhere, a drive letter (``C:``), a
    backslash, a NUL or another control character."""
    if not relpath or not relpath.strip():
        return "the path is empty"
    if "\x00" in relpath:
        return "the path holds a NUL character"
    if any(ord(c) < 32 for c in relpath):
        return "the path holds a control character"
    if relpath.startswith("/"):
        return "the path is absolute; paths are relative to the bundle"
    parts = relpath.split("/")
    if ":" in parts[0]:
        return "the path names a drive (a Windows path); paths are relative to the bundle"
    if "\\" in relpath:
        return "the path holds a backslash (a Windows path); paths are relative, with /"
    if ".." in parts:
        return "the path climbs out with '..'; paths stay inside the bundle"
    if all(p in ("", ".") for p in parts):
        return "the path names no file"
    return None


@dataclass(frozen=True, slots=True)
class BundleFile:
    """One object's file inside the bundle."""

    object: str
    name: str
    """The file name inside the bundle, e.g. ``clients.csv``."""
    format: Format
    sheet: str | None = None
    """For a workbook: the sheet holding the object."""

    @property
    def where(self) -> str:
        """How records and rejects name the file: ``clients.csv``, or for a workbook its
        name and the sheet's, ``bundle.xlsx[Clients]``."""
        return self.name if self.sheet is None else f"{self.name}[{self.sheet}]"


class Storage:
    """Files of the bundle by their path relative to the bundle root (POSIX form).

    :meth:`open` and :meth:`size` raise :class:`OutsideBundle` for a path that leads
    outside the bundle (see the module's docstring); :meth:`size` is None for a path that
    is simply not there."""

    def names(self) -> list[str]:
        raise NotImplementedError

    def open(self, name: str) -> BinaryIO:
        raise NotImplementedError

    def size(self, name: str) -> int | None:
        raise NotImplementedError

    def problem(self, name: str) -> str | None:
        """Why ``name`` may not be read (see :class:`OutsideBundle`), or None."""
        try:
            self.size(name)
        except OutsideBundle as exc:
            return exc.reason
        return None

    def close(self) -> None:
        """Release whatever the storage holds open."""


class Folder(Storage):
    """The files under ``root``; ``label`` names it in reasons (``the bundle``), and
    ``find_inner`` looks one folder down for an export that sits there."""

    def __init__(self, root: Path, *, label: str = "the bundle", find_inner: bool = True) -> None:
        self.root = root
        self.label = label
        if find_inner and not _has_objects(self.names()):
            # An unzipped export often sits one folder down (export/export-2024/...).
            inner = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
            candidates = [p for p in inner if _has_objects(f.name for f in p.iterdir())]
            if len(candidates) == 1:
                self.root = candidates[0]

        self._real = self.root.resolve()

    def names(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_file())

    def _path(self, name: str) -> tuple[Path, os.stat_result] | None:
        """The file at ``name`` resolved (symlinks followed) and its status; None when
        there is none; :class:`OutsideBundle` when it is not a plain file of the bundle."""
        problem = path_problem(name)
        if problem is not None:
            raise OutsideBundle(name, problem)
        path = self.root.joinpath(*PurePosixPath(name).parts)
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):  # absent, or a symlink loop
            return None
        if not real.is_relative_to(self._real):
            via = "a symlink" if _through_symlink(self.root, name) else "a path"
            raise OutsideBundle(name, f"{via} to {real}, outside {self.label} {self._real}")
        try:
            st = real.stat()
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        if st.st_nlink > 1:
            raise OutsideBundle(
                name,
                f"a hard link ({st.st_nlink} names for one file): it may be a file "
                f"outside {self.label}; copy the file into {self.label} instead",
            )
        return real, st

    def open(self, name: str) -> BinaryIO:
        found = self._path(name)
        if found is None:
            raise SourceError(
                f"{name}: not in the bundle {self.root}", hint="check the file is in the bundle"
            )
        real, st = found
        fh = real.open("rb")
        now = os.fstat(fh.fileno())
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):  # replaced in between
            fh.close()
            raise OutsideBundle(name, "the file changed while it was being opened")
        return fh

    def size(self, name: str) -> int | None:
        found = self._path(name)
        return found[1].st_size if found is not None else None


class Zip(Storage):
    def __init__(
        self,
        path: Path,
        *,
        member_limit: int = MEMBER_LIMIT,
        ratio_limit: float = RATIO_LIMIT,
    ) -> None:
        try:
            self.zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise SourceError(
                f"{path}: not a readable zip file ({exc})",
                hint="check the file is the export's zip, or unzip it and give the folder",
            ) from exc
        self.path = path
        self.member_limit = member_limit
        self.ratio_limit = ratio_limit
        self.refused: dict[str, str] = {}
        """Member name -> why it is never read (its name or its kind, see path_problem)."""
        members: dict[str, zipfile.ZipInfo] = {}
        for info in self.zf.infolist():
            raw = info.orig_filename
            problem = path_problem(raw)
            if problem is None and stat.S_ISLNK(info.external_attr >> 16):
                problem = "a symlink member: it may point outside the bundle"
            if problem is not None:
                self.refused[raw] = problem
                continue
            if (
                not info.is_dir()
                and not info.filename.startswith("__MACOSX/")
                and not PurePosixPath(info.filename).name.startswith(".")
            ):
                members[info.filename] = info
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

    def _info(self, name: str) -> zipfile.ZipInfo | None:
        problem = path_problem(name) or self.refused.get(self.prefix + name)
        if problem is not None:
            raise OutsideBundle(name, problem)
        return self.members.get(name)

    def open(self, name: str) -> BinaryIO:
        info = self._info(name)
        if info is None:
            raise SourceError(
                f"{name}: not in the bundle {self.path}", hint="check the file is in the zip"
            )
        return checked_member(self.zf, info, str(self.path), self.member_limit, self.ratio_limit)

    def size(self, name: str) -> int | None:
        info = self._info(name)
        return info.file_size if info is not None else None

    def close(self) -> None:
        self.zf.close()


class _Raw(io.RawIOBase):
    """A zip member's bytes, never more than it declares, errors as :class:`SourceError`.

    ``zipfile`` stops at the declared size and checks the CRC at the end; a member whose
    data is longer than declared fails that check, and a damaged one fails to inflate:
    both become a :class:`SourceError` naming the member."""

    def __init__(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> None:
        self._zf = zf
        self._info = info
        self._where = where
        self._inner = self._open()

    def _open(self) -> BinaryIO:
        try:
            return self._zf.open(self._info)  # type: ignore[return-value]
        except (zipfile.BadZipFile, zlib.error, NotImplementedError, OSError) as exc:
            raise self._error(exc) from exc

    def _error(self, exc: BaseException) -> SourceError:
        return SourceError(
            f"{self._where}: {self._info.filename} cannot be unzipped ({exc}); it is "
            f"damaged, or holds more than the {self._info.file_size:,} bytes it declares",
            hint=_LIMIT_HINT,
        )

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            data = self._inner.read(len(buffer))
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise self._error(exc) from exc
        n = len(data)
        buffer[:n] = data
        return n

    def seek(self, offset: int, whence: int = 0) -> int:
        try:
            return self._inner.seek(offset, whence)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise self._error(exc) from exc

    def tell(self) -> int:
        return self._inner.tell()

    def close(self) -> None:
        self._inner.close()
        super().close()


def checked_member(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    where: str,
    member_limit: int = MEMBER_LIMIT,
    ratio_limit: float = RATIO_LIMIT,
) -> BinaryIO:
    """A buffered binary stream of one zip member (see :class:`_Raw`), refused unread by
    :func:`check_member`; ``where`` names the zip in errors (a bundle's zip, or a workbook)."""
    check_member(info, where, member_limit, ratio_limit)
    return io.BufferedReader(_Raw(zf, info, where), 1 << 16)


def check_member(
    info: zipfile.ZipInfo,
    where: str,
    member_limit: int = MEMBER_LIMIT,
    ratio_limit: float = RATIO_LIMIT,
) -> None:
    """Raise :class:`SourceError` when the zip member ``info`` declares more than
    ``member_limit`` bytes or expands more than ``ratio_limit`` times."""
    name = info.filename
    if info.file_size > member_limit:
        raise SourceError(
            f"{where}: {name} is larger than {size_text(member_limit)} once "
            f"unzipped ({info.file_size:,} bytes declared); it was not read",
            hint=_LIMIT_HINT,
        )
    packed = max(info.compress_size, 1)
    if info.file_size > RATIO_FROM and info.file_size / packed > ratio_limit:
        raise SourceError(
            f"{where}: {name} expands {info.file_size / packed:,.0f} times "
            f"({info.compress_size:,} bytes to {info.file_size:,}), over the limit of "
            f"{ratio_limit:g} times (a zip bomb?); it was not read",
            hint=_LIMIT_HINT,
        )


def _through_symlink(root: Path, name: str) -> bool:
    """Whether some component of ``name`` under ``root`` is a symlink."""
    path = root
    for part in PurePosixPath(name).parts:
        path = path / part
        if path.is_symlink():
            return True
    return False


class WorkbookFile(Storage):
    """A bundle that is one Excel workbook: the workbook itself, and no other file (so no
    attachments: :meth:`problem` says to give the folder instead)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name

    def names(self) -> list[str]:
        return [self.name]

    def no_files(self) -> str:
        return (
            f"the bundle is the single workbook {self.name}, which holds no attached files: "
            "give the folder that holds the workbook and its files/ folder instead "
            "(--source, or [source] path)"
        )

    def open(self, name: str) -> BinaryIO:
        if name != self.name:
            raise SourceError(f"{name}: not in the bundle: {self.no_files()}")
        return self.path.open("rb")

    def size(self, name: str) -> int | None:
        return self.path.stat().st_size if name == self.name else None

    def problem(self, name: str) -> str | None:
        return None if name == self.name else self.no_files()


def open_storage(
    path: Path, *, member_limit: int = MEMBER_LIMIT, ratio_limit: float = RATIO_LIMIT
) -> Storage:
    """The folder, the zip file or the workbook (``.xlsx``, ``.xlsm``) at ``path``
    (``member_limit`` and ``ratio_limit``: the caps on a zip member's declared size and
    expansion)."""
    if path.is_dir():
        return Folder(path)
    if path.is_file() and path.suffix.lower() in WORKBOOK_SUFFIXES:
        return WorkbookFile(path)
    if path.is_file() and path.suffix.lower() == ".xls":
        raise SourceError(
            f"{path}: an Excel 97-2003 workbook (.xls), which crm-ferry does not read",
            hint="open it in Excel and save it as an Excel Workbook (.xlsx)",
        )
    if path.is_file():
        return Zip(path, member_limit=member_limit, ratio_limit=ratio_limit)
    raise SourceError(
        f"{path}: no such folder or zip file",
        hint="give the export bundle's folder, .zip or .xlsx (--source, or [source] path)",
    )


def safe_relpath(relpath: str) -> str | None:
    """``relpath`` in normal POSIX form, or None when :func:`path_problem` refuses it."""
    if path_problem(relpath) is not None:
        return None
    return str(PurePosixPath(relpath))


def _has_objects(names: Iterable[str]) -> bool:
    """Whether any of these file names is an object file of the bundle (any workbook may
    be: its sheets are named like the objects)."""
    for name in names:
        pure = PurePosixPath(name)
        suffix = pure.suffix.lower()
        if suffix in WORKBOOK_SUFFIXES and not pure.name.startswith("~$"):
            return True
        if suffix in FORMATS and pure.stem.lower() in RECORD_TYPES:
            return True
    return False
