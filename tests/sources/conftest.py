"""Helpers for the bundle reader's tests: case files live in tests/cases/sources/."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

CASES = Path(__file__).resolve().parents[1] / "cases" / "sources"

BundleMaker = Callable[..., Path]


@pytest.fixture
def cases() -> Path:
    return CASES


@pytest.fixture
def make_bundle(tmp_path: Path) -> BundleMaker:
    """A bundle folder in tmp_path: the shared users.csv plus the given files.

    Keyword arguments map a file name in the bundle to a case file (a path relative to
    the cases folder), to ``bytes`` / ``str`` content, or to None to leave it out.
    """

    def make(name: str = "bundle", **files: str | bytes | Path | None) -> Path:
        root = tmp_path / name
        root.mkdir()
        files.setdefault("users.csv", CASES / "users.csv")
        for target, source in files.items():
            dest = root / target.replace("__", "/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            if source is None:
                continue
            if isinstance(source, bytes):
                dest.write_bytes(source)
            elif isinstance(source, Path):
                shutil.copyfile(source, dest)
            elif "\n" not in source and (CASES / source).is_file():
                shutil.copyfile(CASES / source, dest)
            else:
                dest.write_text(source, encoding="utf-8")
        return root

    return make
