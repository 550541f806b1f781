"""Owner-only folders and files: the journal, run folders and reports hold client data.

Folders are created 0700 and files 0600 before anything is written to them, so no other
user of the machine can read a record even for the moment between creating and restricting.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "create_private",
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
