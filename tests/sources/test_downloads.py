"""Linked files matched to the downloads folder: by name (case, URL-decoded), then size and
SHA-256 where names collide, never to a file a wrong hash or size denies, never one file to
two rows (unless they give one sha256), and nothing outside the folder ever read."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from crm_ferry.errors import SourceError
from crm_ferry.model import FileRecord, Provenance
from crm_ferry.sources.downloads import (
    NO_FOLDER,
    Downloads,
    LinkedFile,
    LinkedMatch,
    match_linked,
    summarise,
)

P = Provenance("files.csv", 2)


def row(fid: str, **kw: object) -> LinkedFile:
    fields: dict[str, object] = {"id": fid, "provenance": P, "client_id": "C1"}
    fields.update(kw)
    return LinkedFile.of(FileRecord(**fields))  # type: ignore[arg-type]


def put(root: Path, rel: str, data: bytes) -> bytes:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "downloads"
    root.mkdir()
    return root


def match(folder: Path, *rows: LinkedFile) -> dict[str, LinkedMatch]:
    return match_linked(rows, Downloads(folder))


def test_a_linked_row_is_one_without_a_path_named_by_url_or_filename() -> None:
    def rec(**kw: object) -> FileRecord:
        return FileRecord(id="F", provenance=P, **kw)  # type: ignore[arg-type]

    assert rec(url="https://x.example.com/a.pdf").linked
    assert rec(filename="rec.m4a").linked
    assert not rec(filename="a.pdf", path="files/a.pdf").linked
    assert not rec(filename="  ").linked
    assert rec(
        url="https://x.example.com/d/Coaching%20contract%20%28A%29.pdf?dl=1"
    ).linked_name == ("Coaching contract (A).pdf")
    assert rec(url="https://x.example.com/d/tok/", filename=None).linked_name == "tok"
    assert rec(url="https://x.example.com/", filename=None).linked_name is None
    assert rec(url="https://x.example.com/a.pdf", filename=" Mine.pdf ").linked_name == "Mine.pdf"


def test_by_name_any_folder_depth_and_ignoring_case_when_unambiguous(folder: Path) -> None:
    put(folder, "contracts/2024/Contract.PDF", b"c")
    put(folder, "rec.m4a", b"r")
    found = match(
        folder,
        row("F1", filename="contract.pdf"),
        row("F2", url="https://drive.example.com/d/tok/rec.m4a"),
    )
    assert (found["F1"].status, found["F1"].path, found["F1"].how) == (
        "matched",
        "contracts/2024/Contract.PDF",
        "name",
    )
    assert (found["F2"].path, found["F2"].how) == ("rec.m4a", "name")
    assert found["F1"].key == "downloads:contracts/2024/Contract.PDF"


def test_the_url_s_last_segment_is_url_decoded(folder: Path) -> None:
    put(folder, "Coaching contract (Ann Lee).pdf", b"x")
    url = "https://files.example.com/d/abc/Coaching%20contract%20%28Ann%20Lee%29.pdf"
    (m,) = match(folder, row("F1", url=url)).values()
    assert (m.status, m.path) == ("matched", "Coaching contract (Ann Lee).pdf")


def test_the_same_case_wins_over_other_cases(folder: Path) -> None:
    put(folder, "a/Report.pdf", b"1")
    put(folder, "b/report.pdf", b"22")
    (m,) = match(folder, row("F1", filename="report.pdf")).values()
    assert (m.status, m.path, m.how) == ("matched", "b/report.pdf", "name")
    (m,) = match(folder, row("F1", filename="REPORT.pdf")).values()
    assert m.status == "ambiguous"  # two only ignoring case, nothing else to tell
    assert m.candidates == ("a/Report.pdf", "b/report.pdf")


def test_two_files_of_one_name_are_told_apart_by_size(folder: Path) -> None:
    put(folder, "ann/recording.m4a", b"x" * 10)
    put(folder, "bo/recording.m4a", b"y" * 20)
    found = match(
        folder,
        row("F1", filename="recording.m4a", size_bytes=20),
        row("F2", filename="recording.m4a", size_bytes=10),
    )
    assert (found["F1"].path, found["F1"].how) == ("bo/recording.m4a", "size")
    assert (found["F2"].path, found["F2"].how) == ("ann/recording.m4a", "size")


def test_two_rows_of_one_name_and_one_file_by_size(folder: Path) -> None:
    put(folder, "memo.m4a", b"x" * 10)
    found = match(
        folder,
        row("F1", filename="memo.m4a", size_bytes=10),
        row("F2", filename="memo.m4a", size_bytes=99),
    )
    assert (found["F1"].status, found["F1"].how) == ("matched", "size")
    assert found["F2"].status == "missing"
    assert found["F2"].reason == "memo.m4a is 10 bytes; the row says 99"


def test_same_size_told_apart_by_hash_and_only_candidates_are_hashed(folder: Path) -> None:
    a = put(folder, "ann/memo.m4a", b"a" * 16)
    put(folder, "bo/memo.m4a", b"b" * 16)
    put(folder, "cy/memo.m4a", b"c" * 99)  # the wrong size: never hashed
    downloads = Downloads(folder)
    found = match_linked(
        [row("F1", filename="memo.m4a", size_bytes=16, sha256=sha(a).upper())], downloads
    )
    assert (found["F1"].path, found["F1"].how) == ("ann/memo.m4a", "hash")
    assert sorted(downloads._hashes) == ["ann/memo.m4a", "bo/memo.m4a"]


def test_nothing_is_hashed_when_the_name_alone_decides_without_a_sha(folder: Path) -> None:
    put(folder, "one.pdf", b"1")
    downloads = Downloads(folder)
    found = match_linked([row("F1", filename="one.pdf", size_bytes=1)], downloads)
    assert found["F1"].how == "name"
    assert downloads._hashes == {}


def test_a_wrong_hash_is_not_matched_and_says_so(folder: Path) -> None:
    put(folder, "contract.pdf", b"the real one")
    (m,) = match(folder, row("F1", filename="contract.pdf", sha256="ab" * 32)).values()
    assert m.status == "missing"
    assert m.reason == "the SHA-256 of contract.pdf is not the row's sha256"
    assert m.path is None
    assert m.key is None


def test_one_file_serves_one_row_unless_they_give_one_sha256(folder: Path) -> None:
    data = put(folder, "agreement.pdf", b"signed")
    twice = match(
        folder,
        row("F1", filename="agreement.pdf", sha256=sha(data)),
        row("F2", filename="agreement.pdf", session_id="S1", sha256=sha(data)),
    )
    assert {m.status for m in twice.values()} == {"matched"}
    assert {m.how for m in twice.values()} == {"hash"}
    shared = match(folder, row("F1", filename="agreement.pdf"), row("F2", filename="agreement.pdf"))
    assert {m.status for m in shared.values()} == {"ambiguous"}
    assert shared["F1"].candidates == ("agreement.pdf",)
    assert "fits 2 rows (F1, F2)" in shared["F1"].reason


def test_missing_without_the_file_without_a_name_and_without_a_folder(folder: Path) -> None:
    put(folder, "other.pdf", b"x")
    found = match(folder, row("F1", filename="gone.pdf"), row("F2", url="https://x.example.com/"))
    assert found["F1"].reason == "no file named 'gone.pdf' in the downloads folder"
    assert found["F2"].status == "missing"
    assert "names no file" in found["F2"].reason
    nowhere = match_linked([row("F1", filename="gone.pdf")], None)
    assert (nowhere["F1"].status, nowhere["F1"].reason) == ("missing", NO_FOLDER)


def test_a_symlink_out_of_the_folder_is_refused_never_read(folder: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.pdf"
    secret.write_bytes(b"not yours")
    os.symlink(secret, folder / "contract.pdf")
    outside_dir = tmp_path / "elsewhere"
    outside_dir.mkdir()
    put(outside_dir, "inner.pdf", b"x")
    os.symlink(outside_dir, folder / "linked-dir")
    put(folder, ".DS_Store", b"hidden")
    downloads = Downloads(folder)
    assert downloads.files == ()
    assert "outside the downloads folder" in downloads.refused["contract.pdf"]
    assert downloads.refused["linked-dir"] == "a symlinked folder: not followed"
    (m,) = match_linked([row("F1", filename="contract.pdf")], downloads).values()
    assert m.status == "missing"
    assert "contract.pdf is refused: a symlink to" in m.reason
    with pytest.raises(SourceError, match="outside the downloads folder"):
        downloads.read("contract.pdf")
    assert downloads.size("contract.pdf") is None


def test_a_hard_link_is_refused(folder: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.pdf"
    outside.write_bytes(b"x")
    os.link(outside, folder / "a.pdf")
    downloads = Downloads(folder)
    assert "hard link" in downloads.refused["a.pdf"]


def test_a_symlink_inside_the_folder_is_a_file_of_it(folder: Path) -> None:
    put(folder, "real/a.pdf", b"abc")
    os.symlink(folder / "real" / "a.pdf", folder / "b.pdf")
    downloads = Downloads(folder)
    assert [d.path for d in downloads.files] == ["b.pdf", "real/a.pdf"]
    assert downloads.read("b.pdf") == b"abc"


def test_reading_is_bounded_and_checked_again(folder: Path) -> None:
    put(folder, "big.bin", b"x" * 100)
    downloads = Downloads(folder)
    with pytest.raises(SourceError, match="over the limit"):
        downloads.read("big.bin", limit=10)
    (folder / "big.bin").unlink()
    with pytest.raises(SourceError, match="no longer in the downloads folder"):
        downloads.read("big.bin")


def test_not_a_folder_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist or is not a folder"):
        Downloads(tmp_path / "nope")


def test_the_summary_lists_every_unmatched_with_its_record(folder: Path) -> None:
    put(folder, "a.pdf", b"a")
    matches = match(
        folder,
        row("F1", filename="a.pdf"),
        row("F2", filename="b.pdf", client_id="C2"),
        row("F3", filename="c.m4a", client_id="C2", session_id="S7"),
    )
    summary = summarise(matches, Downloads(folder), {"C2": "Bo Lee"})
    assert (summary.linked, summary.missing, summary.ambiguous) == (3, 2, 0)
    assert summary.matched == {"name": 1, "size": 0, "hash": 0}
    assert [p.belongs_to for p in summary.problems] == ["client C2 (Bo Lee)", "session S7"]
    data = summary.as_dict()
    assert data["matched_total"] == 1
    assert data["problems"][0] == {
        "file_id": "F2",
        "name": "b.pdf",
        "status": "missing",
        "reason": "no file named 'b.pdf' in the downloads folder",
        "client_id": "C2",
        "client_name": "Bo Lee",
        "session_id": None,
        "url": None,
        "candidates": [],
        "where": "files.csv:2",
    }
    assert "documents.linked" in data["advice"]
