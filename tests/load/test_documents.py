"""Documents of every size into Dataverse: notes whose file is too large for one body go up
in blocks, read back with the same SHA-256, are checked by verify, and leave nothing behind
after a rollback.

The bundle is generated with ``documents=True`` (files of 6, 40 and 150 MB and a ``.url``
shortcut) and the tenant's upload limit is raised to the largest Dataverse allows (128 MB of
Base64 text): the 6 and 40 MB files go in blocks, the 150 MB one is over even that limit and
the shortcut's type is blocked, so both are rejected with the reason.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crm_ferry import commands
from crm_ferry.commands._project import open_journal
from crm_ferry.commands.migrate import run_load
from crm_ferry.dataverse import files as dv_files
from crm_ferry.dataverse.files import download_note_document
from crm_ferry.errors import Interrupted
from crm_ferry.transform.ops import DOCUMENT
from helpers.load import Project, comparable

pytestmark = pytest.mark.slow


@pytest.fixture
def project(documents_project: Project) -> Project:
    return documents_project


def _files(bundle: Path) -> dict[str, dict[str, Any]]:
    with (bundle / "files.csv").open(newline="", encoding="utf-8") as fh:
        return {row["id"]: row for row in csv.DictReader(fh)}


def _sha256(chunks: Iterator[bytes]) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def _notes_of_files(project: Project) -> dict[str, str]:
    """files.csv id → the note written for it."""
    with open_journal(project.settings) as j:
        return {
            e.source_id: e.row_id
            for e in j.idmap()
            if e.source_object == "files" and e.table == "annotation"
        }


def test_large_documents_go_in_blocks_read_back_the_same_and_roll_back(project: Project) -> None:
    before = comparable(project.dump())
    files = _files(project.bundle)
    big = {fid: f for fid, f in files.items() if int(f["size_bytes"] or 0) > 3 * 1024 * 1024}
    assert sorted(int(f["size_bytes"]) // 1_000_000 for f in big.values()) == [6, 40, 150]
    result = run_load(project.settings, client=project.client, skip_sample_gate=True)
    assert not result.failures
    notes = _notes_of_files(project)
    with open_journal(project.settings) as j:
        rejected = {r.source_id: r for r in j.rejects(result.run_id) if r.object == "files"}
    video = next(fid for fid, f in big.items() if f["filename"].endswith(".mp4"))
    shortcut = next(fid for fid, f in files.items() if f["filename"].endswith(".url"))
    assert video in rejected
    assert "upload limit of 131072000" in rejected[video].reason
    assert shortcut in rejected
    assert ".url is blocked" in rejected[shortcut].reason
    for fid in set(big) - {video}:
        size, digest = _sha256(download_note_document(project.client, notes[fid]))
        assert (size, digest) == (int(files[fid]["size_bytes"]), files[fid]["sha256"])
    with open_journal(project.settings) as j:
        sent = {e.source_id: e.payload for e in j.idmap() if e.source_object == "files"}
    for fid in set(big) - {video}:  # the journal names the file; it does not hold it
        assert "documentbody" not in sent[fid]
        assert sent[fid][DOCUMENT]["sha256"] == files[fid]["sha256"]
    small = next(fid for fid in notes if fid not in big)
    assert "documentbody" in sent[small]  # a small one still goes in the note's body

    # verify reads every document back, whatever it samples field by field
    proof = commands.verify(project.settings, client=project.client, fields=5).proof
    documents = [r for r in proof.rows if r.field == "documentbody"]
    assert len(documents) == len(notes) + _inline_images(project)
    assert {r.verdict for r in documents} == {"match"}
    # a document changed in the tenant is a difference verify reports
    fid = next(f for f in notes if int(files[f]["size_bytes"]) > 3 * 1024 * 1024)
    dv_files.upload_note_document(
        project.client, {"annotationid": notes[fid]}, iter([b"not the recording" * 1000])
    )
    proof = commands.verify(project.settings, client=project.client, fields=5).proof
    wrong = [r for r in proof.rows if r.field == "documentbody" and r.verdict != "match"]
    assert [(r.record_id, r.verdict) for r in wrong] == [(notes[fid], "mismatch")]
    assert wrong[0].actual.startswith("17000 bytes, SHA-256 ")

    # rollback: no note and no document left (the changed one too: crm-ferry wrote it)
    report = commands.rollback(project.settings, all_runs=True, client=project.client, force=True)
    assert not report.failures
    assert comparable(project.dump()) == before


def _inline_images(project: Project) -> int:
    with open_journal(project.settings) as j:
        return sum(
            1
            for e in j.idmap()
            if e.source_object == "session_notes" and "documentbody" in (e.payload or {})
        )


def test_an_upload_cut_off_is_sent_again_without_a_second_note(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"blocks": 0}
    upload = dv_files.upload_note_document

    def cut_off(client: Any, note: Any, chunks: Any, **kw: Any) -> Any:
        def counted() -> Iterator[bytes]:
            for chunk in chunks:
                calls["blocks"] += 1
                if calls["blocks"] == 7:  # a few MB into the first large document
                    raise KeyboardInterrupt
                yield chunk

        return upload(client, note, counted(), **kw)

    monkeypatch.setattr("crm_ferry.load.documents.upload_note_document", cut_off)
    with pytest.raises(Interrupted):
        run_load(project.settings, client=project.client, skip_sample_gate=True)
    monkeypatch.setattr("crm_ferry.load.documents.upload_note_document", upload)
    result = run_load(project.settings, client=project.client, skip_sample_gate=True)
    assert result.ok
    assert not result.failures
    files = _files(project.bundle)
    notes = _notes_of_files(project)
    with open_journal(project.settings) as j:
        planned = {e.row_id.lower() for e in j.idmap() if e.table == "annotation"}
    held = [str(r["annotationid"]).lower() for r in project.dump()["annotation"]]
    assert sorted(held) == sorted(planned)  # every note once, and no other note
    for fid, note in notes.items():
        if int(files[fid]["size_bytes"]) > 3 * 1024 * 1024:
            _size, digest = _sha256(download_note_document(project.client, note))
            assert digest == files[fid]["sha256"]
