"""Separately downloaded files: the linked rows of ``files`` matched to a downloads folder.

The Practice keeps contracts and recordings as *linked* files: a ``files`` row with a
``url`` (or only a ``filename``, for a file the practice downloads by hand) and no ``path``
in the bundle (:attr:`~crm_ferry.model.FileRecord.linked`). The user downloads them into
one folder (``[source] files`` in ``ferry.toml``); this module finds each row's file there.

:class:`Downloads` is that folder: every regular file under it, recursively, under the
bundle's safety rules (:class:`~crm_ferry.sources.bundle._storage.Folder`): a file that
resolves outside the folder (through a symlink), a hard link or anything that is not a
regular file is refused with the reason and never read; a symlinked folder is not
followed; hidden files and folders (``.DS_Store``) are passed over.

:func:`match_linked` matches each linked row (:class:`LinkedFile`) on its own facts:

1. its candidates are the files named like it (the row's ``filename``, else the last
   segment of its URL's path, URL-decoded: :attr:`~crm_ferry.model.FileRecord.linked_name`),
   those of the same case first, else ignoring case;
2. of those, the ones that agree with what the row says of its file: ``size_bytes`` (the
   size, from the folder) and ``sha256`` (hashed, streamed, and only for a file whose size
   fits: nothing is hashed that a row does not ask about);
3. names *collide* when several files have the name, or several rows: a row without a
   collision is matched *by name* to its one candidate if it agrees (else it is *missing*,
   saying which fact differs); with one, the one candidate that agrees is matched *by size*
   when the size alone singled it out, else *by hash* (or by name, when the row gives
   neither and the file is the only one of its name); none is *missing*, several are
   *ambiguous* (the candidates are listed);
4. one file serves at most one row, unless those rows give the same ``sha256`` (one
   document linked twice): rows that would share a file otherwise are all *ambiguous*.

Nothing is matched by elimination, and the result is deterministic: files in path order,
rows in the order of the export.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Final, Literal

from crm_ferry.errors import SourceError
from crm_ferry.model import Client, FileRecord
from crm_ferry.sources.bundle import Bundle
from crm_ferry.sources.bundle._reader import ATTACHMENT_LIMIT
from crm_ferry.sources.bundle._storage import Folder, OutsideBundle, path_problem
from crm_ferry.sources.csvrows import size_text

__all__ = [
    "DOWNLOADS_PREFIX",
    "NO_FOLDER",
    "Download",
    "Downloads",
    "How",
    "LinkedFile",
    "LinkedMatch",
    "LinkedProblem",
    "LinkedSummary",
    "MatchStatus",
    "linked_summary",
    "match_linked",
    "read_linked",
    "summarise",
]

How = Literal["name", "size", "hash"]
HOWS: Final[tuple[How, ...]] = ("name", "size", "hash")
MatchStatus = Literal["matched", "missing", "ambiguous"]

DOWNLOADS_PREFIX: Final = "downloads:"
"""What the key of a matched download starts with (``downloads:contracts/a.pdf``): no
path of the bundle can (a ``:`` in its first part is refused), so one reader takes both."""
NO_FOLDER: Final = "no downloads folder is set ([source] files in ferry.toml)"
WHAT_TO_DO: Final = (
    "download each file into the downloads folder ([source] files) under the name the row "
    "gives, or choose what a missing one does: documents.linked in mapping.yaml (skip, "
    "link or fail)"
)


@dataclass(frozen=True, slots=True)
class LinkedFile:
    """What a linked ``files`` row says of its file, and whose it is."""

    id: str
    name: str | None
    """The name it is looked for by (:attr:`~crm_ferry.model.FileRecord.linked_name`)."""
    url: str | None
    client_id: str | None
    session_id: str | None
    size_bytes: int | None
    sha256: str | None
    """Lower case, or None."""
    file: str
    line: int

    @classmethod
    def of(cls, record: FileRecord) -> LinkedFile:
        sha = (record.sha256 or "").strip().lower() or None
        prov = record.provenance
        return cls(
            record.id,
            record.linked_name,
            record.url,
            record.client_id,
            record.session_id,
            record.size_bytes,
            sha,
            prov.file,
            prov.line,
        )


@dataclass(frozen=True, slots=True)
class Download:
    """A file of the downloads folder: its path in it (POSIX) and its size."""

    path: str
    size: int

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name


@dataclass(frozen=True, slots=True)
class LinkedMatch:
    """Where a linked row's file is: matched (its path, how), missing or ambiguous (why)."""

    file: LinkedFile
    status: MatchStatus
    reason: str
    path: str | None = None
    """The matched file, relative to the downloads folder."""
    how: How | None = None
    candidates: tuple[str, ...] = ()
    """The files an ambiguous row fits."""

    @property
    def matched(self) -> bool:
        return self.status == "matched"

    @property
    def key(self) -> str | None:
        """What the load's document reader takes for the matched file
        (:data:`DOWNLOADS_PREFIX` and its path), None when there is none."""
        return None if self.path is None else DOWNLOADS_PREFIX + self.path

    def as_dict(self) -> dict[str, Any]:
        return {
            "file_id": self.file.id,
            "name": self.file.name,
            "status": self.status,
            "path": self.path,
            "how": self.how,
            "reason": self.reason,
            "candidates": list(self.candidates),
        }


class Downloads:
    """The downloads folder: its regular files by name, sizes known, read and hashed
    (streamed, each once) only on request. Raises :class:`SourceError` when ``root`` is
    not a folder."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise SourceError(
                f"{root}: the downloads folder does not exist or is not a folder",
                hint="create it and put the separately downloaded files there, or correct "
                "[source] files in ferry.toml",
            )
        self.root = root
        self._folder = Folder(root, label="the downloads folder", find_inner=False)
        self.refused: dict[str, str] = {}
        """Path in the folder -> why it is never read (outside it, a hard link...)."""
        found: list[Download] = []
        self._scan(found)
        self.files: tuple[Download, ...] = tuple(sorted(found, key=lambda d: d.path))
        self._by_name: dict[str, list[Download]] = {}
        for d in self.files:
            self._by_name.setdefault(d.name.casefold(), []).append(d)
        self._hashes: dict[str, str] = {}

    def _scan(self, found: list[Download]) -> None:
        def unreadable(exc: OSError) -> None:
            where = Path(exc.filename or self.root)
            self.refused[self._rel(where)] = f"cannot be read ({exc.strerror or exc})"

        for top, dirs, names in os.walk(self.root, onerror=unreadable, followlinks=False):
            here = Path(top)
            keep = []
            for d in sorted(dirs):
                if d.startswith("."):
                    continue
                if (here / d).is_symlink():
                    self.refused[self._rel(here / d)] = "a symlinked folder: not followed"
                    continue
                keep.append(d)
            dirs[:] = keep
            for name in sorted(names):
                if name.startswith("."):
                    continue
                rel = self._rel(here / name)
                problem = path_problem(rel)
                if problem is not None:
                    self.refused[rel] = problem
                    continue
                try:
                    size = self._folder.size(rel)
                except OutsideBundle as exc:
                    self.refused[rel] = exc.reason
                    continue
                if size is None:
                    self.refused[rel] = "not a regular file (or a broken symlink)"
                    continue
                found.append(Download(rel, size))

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def named(self, name: str) -> list[Download]:
        """The files called ``name``: those of the same case, else those ignoring case."""
        alike = self._by_name.get(name.casefold(), [])
        same = [d for d in alike if d.name == name]
        return same or alike

    def refused_named(self, name: str) -> list[tuple[str, str]]:
        """Refused paths called ``name`` (ignoring case), with the reason."""
        folded = name.casefold()
        return [
            (p, why)
            for p, why in sorted(self.refused.items())
            if PurePosixPath(p).name.casefold() == folded
        ]

    def sha256(self, path: str) -> str:
        """The SHA-256 of the file at ``path`` (hex), streamed, computed once."""
        known = self._hashes.get(path)
        if known is None:
            digest = hashlib.sha256()
            with self.open(path) as fh:
                while chunk := fh.read(1 << 16):
                    digest.update(chunk)
            known = self._hashes[path] = digest.hexdigest()
        return known

    def size(self, path: str) -> int | None:
        """The size of the file at ``path`` now; None when it is not there, or is refused
        (:meth:`read` says why)."""
        try:
            return self._folder.size(path)
        except OutsideBundle:
            return None

    def open(self, path: str) -> BinaryIO:
        """A binary stream of the file at ``path`` (checked again as it is opened)."""
        return self._folder.open(path)

    def read(self, path: str, *, limit: int = ATTACHMENT_LIMIT) -> bytes:
        """The bytes of the file at ``path``, read whole only when its size is at most
        ``limit``; :class:`SourceError` otherwise, or when it is no longer there or now
        leads outside the folder."""
        size = self._folder.size(path)
        if size is None:
            raise SourceError(
                f"{path} is no longer in the downloads folder {self.root}",
                hint="put the file back, or run discover again to see what is matched",
            )
        if size > limit:
            raise SourceError(
                f"{path} in the downloads folder is {size:,} bytes, over the limit of "
                f"{size_text(limit)}; it was not read",
                hint="load it by hand (or as a SharePoint document), or leave it out",
            )
        with self.open(path) as fh:
            data = fh.read(limit + 1)
        if len(data) > limit:
            raise SourceError(f"{path} grew over {size_text(limit)} while it was read")
        return data


# ---------------------------------------------------------------------------
# Matching


def read_linked(bundle: Bundle) -> list[LinkedFile]:
    """The linked rows of the bundle's ``files`` (accepted ones), in file order."""
    if "files" not in bundle.objects:
        return []
    return [
        LinkedFile.of(item)
        for item in bundle.read("files")
        if isinstance(item, FileRecord) and item.linked
    ]


def match_linked(
    files: Iterable[LinkedFile], downloads: Downloads | None
) -> dict[str, LinkedMatch]:
    """File id -> where its file is, for every linked row (see the module docstring)."""
    rows = list(files)
    if downloads is None:
        return {f.id: LinkedMatch(f, "missing", NO_FOLDER) for f in rows}
    names = Counter(f.name.casefold() for f in rows if f.name)
    out = {f.id: _match_one(f, downloads, names[(f.name or "").casefold()] > 1) for f in rows}
    claims: dict[str, list[str]] = {}
    for m in out.values():
        if m.path is not None:
            claims.setdefault(m.path, []).append(m.file.id)
    for path, ids in claims.items():
        shas = {out[i].file.sha256 for i in ids}
        if len(ids) == 1 or (len(shas) == 1 and None not in shas):
            continue  # one row, or one document linked several times
        reason = (
            f"{path} fits {len(ids)} rows ({', '.join(ids)}) that give no one sha256: "
            "which file is whose cannot be told"
        )
        for i in ids:
            out[i] = LinkedMatch(out[i].file, "ambiguous", reason, candidates=(path,))
    return out


def _match_one(f: LinkedFile, downloads: Downloads, shared: bool) -> LinkedMatch:
    name = f.name
    if not name:
        return LinkedMatch(
            f, "missing", "the row names no file (no filename, and its URL ends in no name)"
        )
    candidates = downloads.named(name)
    if not candidates:
        refused = "".join(f"; {p} is refused: {why}" for p, why in downloads.refused_named(name))
        return LinkedMatch(f, "missing", f"no file named {name!r} in the downloads folder{refused}")
    by_size = [d for d in candidates if f.size_bytes is None or d.size == f.size_bytes]
    fits = [d for d in by_size if not f.sha256 or downloads.sha256(d.path) == f.sha256]
    if not fits:
        return LinkedMatch(f, "missing", _mismatch(f, candidates, by_size))
    if len(fits) > 1:
        paths = tuple(d.path for d in fits)
        return LinkedMatch(
            f,
            "ambiguous",
            f"{len(fits)} files named {name!r} fit the row ({', '.join(paths)}); what it "
            "gives (size_bytes, sha256) does not tell them apart",
            candidates=paths,
        )
    found = fits[0]
    how: How = "name"
    if len(candidates) > 1 or shared:
        if f.size_bytes is not None and len(by_size) == 1:
            how = "size"
        elif f.sha256:
            how = "hash"
    return LinkedMatch(f, "matched", _HOW_TEXT[how], path=found.path, how=how)


_HOW_TEXT: Mapping[How, str] = {
    "name": "the only file of its name",
    "size": "told from the files or rows of the same name by its size",
    "hash": "told from the files or rows of the same name by its SHA-256",
}


def _mismatch(f: LinkedFile, candidates: list[Download], by_size: list[Download]) -> str:
    """Why no file named like ``f`` agrees with it."""
    if not by_size:
        if len(candidates) == 1:
            d = candidates[0]
            return f"{d.path} is {d.size:,} bytes; the row says {f.size_bytes:,}"
        return f"none of the {len(candidates)} files named {f.name!r} is {f.size_bytes:,} bytes"
    if len(by_size) == 1:
        return f"the SHA-256 of {by_size[0].path} is not the row's sha256"
    return f"none of the {len(by_size)} files named {f.name!r} has the row's sha256"


# ---------------------------------------------------------------------------
# What discovery reports


@dataclass(frozen=True, slots=True)
class LinkedProblem:
    """A linked file that is missing or ambiguous, with the record it belongs to."""

    file_id: str
    name: str | None
    status: MatchStatus
    reason: str
    client_id: str | None
    client_name: str | None
    session_id: str | None
    url: str | None
    candidates: tuple[str, ...]
    where: str
    """``files.csv:12``."""

    @property
    def belongs_to(self) -> str:
        """``client cli_1 (Ann Lee)``, ``session ses_7`` or ``no client or session``."""
        if self.session_id:
            return f"session {self.session_id}"
        if self.client_id:
            named = f" ({self.client_name})" if self.client_name else ""
            return f"client {self.client_id}{named}"
        return "no client or session"

    def __str__(self) -> str:
        return (
            f"{self.file_id} {self.name or self.url or '(no name)'} ({self.belongs_to}): "
            f"{self.status}, {self.reason}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "name": self.name,
            "status": self.status,
            "reason": self.reason,
            "client_id": self.client_id,
            "client_name": self.client_name,
            "session_id": self.session_id,
            "url": self.url,
            "candidates": list(self.candidates),
            "where": self.where,
        }


@dataclass(frozen=True, slots=True)
class LinkedSummary:
    """The linked files of a bundle against the downloads folder: how many, how they were
    matched, and every one missing or ambiguous with the record it belongs to."""

    folder: str | None
    linked: int
    matched: Mapping[str, int]
    """How -> rows matched so (``name``, ``size``, ``hash``)."""
    missing: int
    ambiguous: int
    problems: tuple[LinkedProblem, ...]
    refused: Mapping[str, str]
    """Files of the folder that are never read, and why."""
    advice: str = WHAT_TO_DO

    @property
    def unmatched(self) -> int:
        return self.missing + self.ambiguous

    def as_dict(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "linked": self.linked,
            "matched": dict(self.matched),
            "matched_total": sum(self.matched.values()),
            "missing": self.missing,
            "ambiguous": self.ambiguous,
            "problems": [p.as_dict() for p in self.problems],
            "refused": dict(self.refused),
            "advice": self.advice if self.unmatched else None,
        }


def summarise(
    matches: Mapping[str, LinkedMatch],
    downloads: Downloads | None,
    client_names: Mapping[str, str] | None = None,
) -> LinkedSummary:
    """The summary of ``matches``; ``client_names`` names the clients of the problems."""
    names = client_names or {}
    statuses = Counter(m.status for m in matches.values())
    hows = Counter(m.how for m in matches.values() if m.how is not None)
    problems = tuple(
        LinkedProblem(
            m.file.id,
            m.file.name,
            m.status,
            m.reason,
            m.file.client_id,
            names.get(m.file.client_id or ""),
            m.file.session_id,
            m.file.url,
            m.candidates,
            f"{m.file.file}:{m.file.line}",
        )
        for m in matches.values()
        if not m.matched
    )
    return LinkedSummary(
        folder=str(downloads.root) if downloads is not None else None,
        linked=len(matches),
        matched={how: hows[how] for how in HOWS},
        missing=statuses["missing"],
        ambiguous=statuses["ambiguous"],
        problems=problems,
        refused=dict(downloads.refused) if downloads is not None else {},
    )


def linked_summary(
    bundle: Bundle, downloads: Downloads | None, linked: list[LinkedFile] | None = None
) -> LinkedSummary:
    """The bundle's linked files (``linked``: read from it when not given) matched to
    ``downloads``; the clients of those missing or ambiguous are named from a pass over the
    clients, made only when there are any."""
    rows = read_linked(bundle) if linked is None else linked
    matches = match_linked(rows, downloads)
    wanted = {m.file.client_id for m in matches.values() if not m.matched and m.file.client_id}
    names: dict[str, str] = {}
    if wanted:
        for item in bundle.read("clients"):
            if isinstance(item, Client) and item.id in wanted:
                names[item.id] = item.display_name
    return summarise(matches, downloads, names)
