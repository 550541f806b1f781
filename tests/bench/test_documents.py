"""bench/documents.py: its files, its bookkeeping, and a quick run end to end.

The quick run (``--quick``: 20 small files, 2 large ones of 5 and 12 MB) serves the emulator
in a child process and checks that each path used the mechanism it is named after, by its
request count: one request per small document, a block upload of 4 MB blocks, upload
sessions of 10 MiB fragments, and every document read back and matched.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from crm_ferry.dataverse.errors import DataverseError

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def documents() -> Iterator[ModuleType]:
    """bench/documents.py as a module (it imports ``machine`` from bench/)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(BENCH))
        spec = importlib.util.spec_from_file_location("bench_documents", BENCH / "documents.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        mp.setitem(sys.modules, spec.name, module)  # its dataclasses look their module up
        spec.loader.exec_module(module)
        yield module


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_files_are_the_same_for_a_seed(documents: ModuleType, tmp_path: Path) -> None:
    made = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        folder = tmp_path / name
        folder.mkdir()
        made.append(
            documents.make_files(folder, small=6, large=3, large_mb=(1, 2), seed=seed, clients=2)
        )
    (small, large), (small_again, large_again), (other_small, _) = made
    assert [d.sha256 for d in small + large] == [d.sha256 for d in small_again + large_again]
    assert [d.sha256 for d in small] != [d.sha256 for d in other_small]
    for d in small + large:
        assert d.path.stat().st_size == d.size
        assert _sha256(d.path) == d.sha256
    assert all(10_000 <= d.size <= 200_000 for d in small)
    assert [d.size for d in large] == [1_000_000, 1_500_000, 2_000_000]
    assert [d.client for d in small] == [0, 1, 0, 1, 0, 1]


def test_each_kind_starts_with_its_signature(documents: ModuleType, tmp_path: Path) -> None:
    small, _ = documents.make_files(tmp_path, small=3, large=1, large_mb=(1, 1), seed=1, clients=1)
    heads = [d.path.read_bytes()[:4] for d in small]
    assert heads == [b"%PDF", b"\x89PNG", b"PK\x03\x04"]
    assert [d.name.rsplit(".", 1)[1] for d in small] == ["pdf", "png", "docx"]
    assert small[2].mimetype.endswith("wordprocessingml.document")


def test_a_file_is_written_piece_by_piece(documents: ModuleType, tmp_path: Path) -> None:
    """Never asked for more random bytes than one piece at a time."""
    asked: list[int] = []

    class Spy(random.Random):
        def randbytes(self, n: int) -> bytes:
            asked.append(n)
            return bytes(super().randbytes(n))

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(random, "Random", Spy)
        digest = documents.write_file(tmp_path / "f", 2 * documents.PIECE + 5, "s", b"%PDF")
    assert asked == [documents.PIECE, documents.PIECE, 5]
    assert _sha256(tmp_path / "f") == digest


def test_large_mb_is_a_size_or_a_range(documents: ModuleType) -> None:
    assert documents.parse_range("25-60") == (25, 60)
    assert documents.parse_range("40") == (40, 40)
    for bad in ("60-25", "0", "big"):
        with pytest.raises(argparse.ArgumentTypeError, match="MIN"):
            documents.parse_range(bad)


def test_what_goes_wrong_is_reported_by_file(documents: ModuleType, tmp_path: Path) -> None:
    small, _ = documents.make_files(tmp_path, small=3, large=1, large_mb=(1, 1), seed=1, clients=1)

    def work(doc: Any) -> str | None:
        if doc.name.endswith(".png"):
            raise DataverseError("the service said no")
        if doc.name.endswith(".docx"):
            return "the note holds 0 bytes"
        return None

    failed = documents.each(2, small, work)
    assert failed == [
        "small-0001.png: DataverseError: the service said no",
        "small-0002.docx: the note holds 0 bytes",
    ]


@pytest.mark.slow
def test_a_quick_run(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    run = subprocess.run(
        [
            sys.executable,
            str(BENCH / "documents.py"),
            "--quick",
            "--latency-ms",
            "5",
            "--json",
            out,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "every document was written, read back and matched" in run.stdout
    figures = json.loads(out.read_text())
    assert figures["files"]["small"] == 20
    assert figures["files"]["large_MB"] == 17.0
    paths = {r["path"]: r for r in figures["write"] + figures["read"]}
    assert len(paths) == 9
    requests = {name: r["requests"] for name, r in paths.items()}
    assert requests == {
        # the bulk-support probe and one UpsertMultiple of the 20 notes
        "small notes, UpsertMultiple (engine)": 2,
        "small notes, one POST each": 20,
        # 5 MB: Initialize, 2 blocks of 4 MiB, Commit; 12 MB: 3 blocks
        "large notes, blocks": 9,
        "small files, SharePoint simple upload": 20,
        # createUploadSession and a fragment per 10 MiB
        "large files, SharePoint upload session": 5,
        "read small notes (blocks of 4 MB)": 40,
        "read large notes (blocks of 4 MB)": 7,
        # the /content redirect and one ranged GET per 10 MiB
        "read small files, SharePoint": 40,
        "read large files, SharePoint": 5,
    }
    for r in paths.values():
        assert r["ok"] == r["documents"]
        assert not r["failed"]
        assert r["documents_per_s"] > 0
        assert r["MB_per_s"] > 0
        assert r["throttled"] == 0
    # a note's body is Base64: a third more bytes on the wire than in the file
    assert paths["large notes, blocks"]["wire_MB"] > 1.3 * 17.0
    assert set(figures["ratios"]) >= {"blocks_vs_one_body_MB_per_s", "session_vs_simple_MB_per_s"}
