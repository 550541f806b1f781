"""Owner-only folders and files: the journal, run folders and reports hold client data.

Folders are created 0700 and files 0600 before anything is written to them, so no other
user of the machine can read a record even for the moment between creating and restricting.

Every CSV crm-ferry writes is built by :func:`csv_text`, which neutralises the cells a
spreadsheet would evaluate (OWASP's CSV injection rule, see :func:`neutral_cell`) and quotes
every cell, so a spreadsheet that splits on another list separator (``;``) cannot start a
cell inside one either.
https://owasp.org/www-community/attacks/CSV_Injection
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "FORMULA_STARTS",
    "create_private",
    "csv_text",
    "make_private_dirs",
    "neutral_cell",
    "secure_dir",
    "secure_file",
    "write_atomic",
    "write_private",
]

DIR_MODE = 0o700
FILE_MODE = 0o600


def secure_dir(path: Path) -> Path:
    """Create ``path`` (and parents) owner-only (0700): run folders hold client data."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    os.chmod(path, DIR_MODE)
    return path


def make_private_dirs(path: Path) -> Path:
    """Create the folders of ``path`` that do not exist yet owner-only (0700); folders that
    already exist (``/tmp``, a home folder the user named) keep their mode."""
    missing: list[Path] = []
    here = path
    while not here.exists():
        missing.append(here)
        if here.parent == here:
            break
        here = here.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # made meanwhile by someone else: theirs, not ours to restrict
        os.chmod(folder, DIR_MODE)
    return path


def secure_file(path: Path) -> Path:
    """Make sure ``path`` exists and is owner-only (0600)."""
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, FILE_MODE)
        os.close(fd)
    os.chmod(path, FILE_MODE)
    return path


def create_private(path: Path) -> bool:
    """Create ``path`` owner-only (0600) if it does not exist yet; whether it was created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
    except FileExistsError:
        return False
    os.close(fd)
    os.chmod(path, FILE_MODE)
    return True


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable and writable by the owner only."""
    write_atomic(path, text, mode=FILE_MODE)


def write_atomic(path: Path, text: str, *, mode: int) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically: a reader sees the old file or the new
    one, never half of it; the file has ``mode`` from the start."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


FORMULA_STARTS: Final = frozenset("=+-@\t\r\n\0\uff1d\uff0b\uff0d\uff20")
"""First characters that make a spreadsheet evaluate a cell: OWASP's ``=``, ``+``, ``-``,
``@``, tab and carriage return, their full-width forms (U+FF1D, U+FF0B, U+FF0D, U+FF20),
and line feed and NUL (ASVS 1.2.10)."""


_PLAIN_NUMBER: Final = re.compile(r"-\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
"""A negative number and nothing else: no spreadsheet evaluates it as more than the number,
and a reconciliation's differences and totals must stay numbers a client can sum."""


def neutral_cell(text: str) -> str:
    """``text`` as a spreadsheet shows it without evaluating it: a cell starting with one of
    :data:`FORMULA_STARTS` gets a leading single quote, any other is returned unchanged (as is
    a plain negative number such as ``-12.50``)."""
    if not text or text[0] not in FORMULA_STARTS or _PLAIN_NUMBER.fullmatch(text):
        return text
    return "'" + text


def csv_text(rows: Iterable[Sequence[Any]]) -> str:
    """Rows as CSV text (CRLF line ends, every cell quoted, every cell neutralised with
    :func:`neutral_cell`): how every CSV crm-ferry writes is made. ``None`` is an empty
    cell; other values are written as ``str()`` gives them."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    for row in rows:
        writer.writerow([neutral_cell("" if v is None else str(v)) for v in row])
    return buf.getvalue()
