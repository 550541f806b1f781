"""Uploads and downloads through the SharePoint client, against the emulator's Graph:
sizes around the thresholds, retried faults, a killed upload resumed, an expired session."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from crm_ferry.emulator.app import EmulatorApp
from crm_ferry.emulator.faults import FaultSchedule
from crm_ferry.progress import NullProgress
from crm_ferry.sharepoint import (
    DEFAULT_CHUNK,
    SIMPLE_LIMIT,
    Drive,
    DriveItem,
    LocalFileError,
    SharePointClient,
)
from helpers.clock import FakeClock
from helpers.sharepoint import Recorder, make_file, sha256_of

FRAGMENT = 320 * 1024
SITE = "https://crmferry.sharepoint.com/sites/crm"
SESSION_CHUNK = 13 * FRAGMENT
"""The smallest multiple of 320 KiB that is over the 4 MB of a simple upload."""


def place(client: SharePointClient) -> tuple[Drive, DriveItem]:
    site = client.site(SITE)
    drive, _ = client.ensure_library(site, "contact")
    return drive, client.ensure_folder(drive, "Ada Lovelace_0A1B2C")


def roundtrip(client: SharePointClient, tmp_path: Path, size: int) -> DriveItem:
    drive, folder = place(client)
    path = make_file(tmp_path, size)
    item = client.upload(drive, folder, "report.pdf", path, size)
    assert item.size == size
    assert client.sha256(item) == sha256_of(path)
    assert b"".join(client.download(item)) == path.read_bytes()
    return item


@pytest.mark.parametrize("size", [0, 1, SIMPLE_LIMIT - 1])
def test_small_files_go_in_one_request(
    make_client: object, recorder: Recorder, tmp_path: Path, size: int
) -> None:
    client = make_client(chunk_size=SESSION_CHUNK)  # type: ignore[operator]
    roundtrip(client, tmp_path, size)
    assert not any("createUploadSession" in path for _, path in recorder.requests)


@pytest.mark.parametrize("size", [SESSION_CHUNK, SESSION_CHUNK + 1, 2 * SESSION_CHUNK + 5])
def test_larger_files_go_in_an_upload_session(
    make_client: object, recorder: Recorder, tmp_path: Path, size: int
) -> None:
    client = make_client(chunk_size=SESSION_CHUNK)  # type: ignore[operator]
    roundtrip(client, tmp_path, size)
    puts = [p for m, p in recorder.requests if m == "PUT" and p.startswith("/_files/upload/")]
    assert len(puts) == -(-size // SESSION_CHUNK)
    assert recorder.upload_bytes == size


def test_a_40_mb_file(client: SharePointClient, recorder: Recorder, tmp_path: Path) -> None:
    size = 40 * 1000 * 1000
    roundtrip(client, tmp_path, size)
    puts = [p for m, p in recorder.requests if m == "PUT" and p.startswith("/_files/upload/")]
    assert len(puts) == -(-size // DEFAULT_CHUNK)


def test_the_upload_replaces_a_file_of_the_name(client: SharePointClient, tmp_path: Path) -> None:
    drive, folder = place(client)
    first = client.upload(drive, folder, "a.txt", make_file(tmp_path, 10, seed=1), 10)
    second = client.upload(drive, folder, "a.txt", make_file(tmp_path, 20, seed=2), 20)
    assert second.id == first.id
    assert [i.name for i in client.children(folder)] == ["a.txt"]


def test_a_file_that_is_not_what_was_said(client: SharePointClient, tmp_path: Path) -> None:
    drive, folder = place(client)
    path = make_file(tmp_path, 10)
    with pytest.raises(LocalFileError) as caught:
        client.upload(drive, folder, "a.txt", path, 11)
    assert "has 10 bytes, not the 11 expected" in caught.value.message
    assert caught.value.hint


@pytest.mark.parametrize("kind", ["unavailable", "throttle", "lost"])
def test_a_fault_on_a_middle_chunk_is_retried(
    make_client: object,
    app: EmulatorApp,
    recorder: Recorder,
    clock: FakeClock,
    tmp_path: Path,
    kind: str,
) -> None:
    client = make_client(chunk_size=SESSION_CHUNK)  # type: ignore[operator]
    drive, folder = place(client)
    size = 3 * SESSION_CHUNK
    path = make_file(tmp_path, size)
    sessions: list[str] = []

    def started(url: str) -> None:
        sessions.append(url)
        # the request after the first fragment's: the second (middle) fragment
        second = app.graph_faults.numbered + 2
        app.graph_faults.schedule = FaultSchedule(at={kind: frozenset({second})}, retry_after_s=7)

    item = client.upload(drive, folder, "big.bin", path, size, on_session=started)
    assert app.graph_faults.injected[kind] == 1
    assert client.sha256(item) == sha256_of(path)
    assert len(sessions) == 1
    if kind == "throttle":
        assert client.http.waited == [7]
    else:
        assert len(client.http.waited) == 1  # one backoff, then the same fragment again
    assert recorder.upload_bytes == size + SESSION_CHUNK  # the middle fragment twice
    asked = [p for m, p in recorder.requests if m == "GET" and p.startswith("/_files/upload/")]
    # a lost answer: the service had the fragment, the retry met 416, asked, went on
    assert len(asked) == (1 if kind == "lost" else 0)


class Killed(Exception):
    """The process stops (simulated) after some fragments."""


class StopAfter(NullProgress):
    def __init__(self, fragments: int) -> None:
        self.left = fragments

    def advance(self, task: str, amount: int = 1) -> None:
        self.left -= 1
        if self.left == 0:
            raise Killed


def test_a_killed_upload_resumes_from_the_next_expected_range(
    make_client: object, recorder: Recorder, tmp_path: Path
) -> None:
    client = make_client(chunk_size=SESSION_CHUNK)  # type: ignore[operator]
    drive, folder = place(client)
    size = 4 * SESSION_CHUNK + 123
    path = make_file(tmp_path, size)
    journal: list[str] = []
    with pytest.raises(Killed):
        client.upload(
            drive, folder, "big.bin", path, size, on_session=journal.append, progress=StopAfter(2)
        )
    uploaded = recorder.upload_bytes
    assert uploaded == 2 * SESSION_CHUNK
    assert client.item_by_path(drive, ["Ada Lovelace_0A1B2C", "big.bin"]) is None
    again = make_client(chunk_size=SESSION_CHUNK)  # type: ignore[operator]
    item = again.upload(drive, folder, "big.bin", path, size, resume_url=journal[0])
    assert recorder.upload_bytes - uploaded == size - uploaded
    assert again.sha256(item) == sha256_of(path)


def test_an_expired_session_starts_again_and_leaves_one_item(
    make_client: object, recorder: Recorder, clock: FakeClock, tmp_path: Path
) -> None:
    client = make_client(chunk_size=SESSION_CHUNK)  # type: ignore[operator]
    drive, folder = place(client)
    size = 3 * SESSION_CHUNK
    old = make_file(tmp_path, size, seed=1, name="old.bin")
    client.upload(drive, folder, "big.bin", old, size)
    path = make_file(tmp_path, size, seed=2)
    journal: list[str] = []
    with pytest.raises(Killed):
        client.upload(
            drive, folder, "big.bin", path, size, on_session=journal.append, progress=StopAfter(1)
        )
    clock.advance(3601)  # the session (and the token) expire
    item = client.upload(
        drive, folder, "big.bin", path, size, resume_url=journal[0], on_session=journal.append
    )
    assert len(journal) == 2  # a new session, journaled
    assert [i.name for i in client.children(folder)] == ["big.bin"]
    assert client.sha256(item) == sha256_of(path)


def test_a_session_of_a_finished_upload_is_not_sent_again(
    make_client: object, recorder: Recorder, tmp_path: Path
) -> None:
    client = make_client(chunk_size=SESSION_CHUNK)  # type: ignore[operator]
    drive, folder = place(client)
    size = 2 * SESSION_CHUNK
    path = make_file(tmp_path, size)
    journal: list[str] = []
    client.upload(drive, folder, "big.bin", path, size, on_session=journal.append)
    # the run crashed after the last fragment, before it journaled the item: resume finds
    # the session gone and uploads again, replacing (one item, the same content)
    item = client.upload(drive, folder, "big.bin", path, size, resume_url=journal[0])
    assert [i.name for i in client.children(folder)] == ["big.bin"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == client.sha256(item)


def test_chunk_sizes_must_suit_graph(make_client: object) -> None:
    for bad in (1000, FRAGMENT + 1, 60 * 1024 * 1024):
        with pytest.raises(ValueError, match="multiple of 320 KiB"):
            make_client(chunk_size=bad)  # type: ignore[operator]
