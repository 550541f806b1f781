"""Uploading a file: one request below 4 MB, an upload session above, resumable.

From driveitem-put-content ("only supports files up to 4MB in size") and
driveitem-createuploadsession (https://learn.microsoft.com/graph/api/driveitem-createuploadsession):
fragments go in order, each a multiple of 320 KiB but the last, each under 60 MiB, to the
pre-authenticated ``uploadUrl`` without the Authorization header; 10 MiB is "optimal" on
a stable connection (the default here). The file is read one fragment at a time, never
whole.

Resuming: ``GET uploadUrl`` answers ``nextExpectedRanges``; the upload continues from the
first of them, so a crashed run never sends again what the service has. A fragment the
service already has (a retry after a lost answer) is 416: the status is asked and the
upload goes on from there. A session that is gone ("Handle 404 Not Found errors when doing
resumable uploads by starting the entire upload over") is started again with
``conflictBehavior: replace``, so a file of the name the first session may have left is
overwritten, never kept beside the new one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote

from crm_ferry.errors import Terminal
from crm_ferry.progress import Progress
from crm_ferry.sharepoint.errors import GraphNotFound, GraphRejected, SharePointError
from crm_ferry.sharepoint.items import Drive, DriveItem

if TYPE_CHECKING:
    from crm_ferry.sharepoint.client import SharePointClient

SIMPLE_LIMIT = 4 * 1024 * 1024
"""Below this, one ``PUT …/content``; from it on, an upload session."""
FRAGMENT = 320 * 1024
DEFAULT_CHUNK = 10 * 1024 * 1024
MAX_CHUNK = 60 * 1024 * 1024 - FRAGMENT
"""The largest multiple of 320 KiB under 60 MiB."""


Opener = Callable[[], BinaryIO]
"""Opens the file to upload (from the start) for reading."""


class LocalFileError(SharePointError, Terminal):
    """The file to upload is not what the caller said (its size changed, it is gone)."""


class SessionGone(Exception):
    """The upload session expired or was never there (404 on its URL)."""


def _first_expected(body: dict[str, Any]) -> int | None:
    """The start of the first of ``nextExpectedRanges`` (None: the service has it all)."""
    ranges = body.get("nextExpectedRanges") or []
    if not ranges:
        return None
    return int(str(ranges[0]).split("-", 1)[0])


class Uploader:
    """Simple uploads and upload sessions of one :class:`SharePointClient`."""

    def __init__(self, client: SharePointClient, *, chunk_size: int = DEFAULT_CHUNK) -> None:
        if chunk_size < FRAGMENT or chunk_size % FRAGMENT or chunk_size > MAX_CHUNK:
            raise ValueError(
                f"chunk size {chunk_size:,} must be a multiple of 320 KiB ({FRAGMENT:,} bytes) "
                f"between {FRAGMENT:,} and {MAX_CHUNK:,}"
            )
        self._client = client
        self.chunk_size = chunk_size
        self.sent_bytes = 0
        """Bytes of file content sent so far (all uploads of this client)."""

    def upload(
        self,
        drive: Drive,
        folder: DriveItem,
        name: str,
        source: Path | Opener,
        size: int,
        *,
        on_session: Callable[[str], None] | None,
        resume_url: str | None,
        progress: Progress,
    ) -> DriveItem:
        where = f"{drive.name}/{folder.name}/{name}" if folder.name != "root" else name
        if isinstance(source, Path):
            try:
                actual = source.stat().st_size
            except OSError as exc:
                raise LocalFileError(
                    f"upload {where}: cannot read {source}: {exc.strerror or exc}",
                    hint="the file to upload must stay where it was found until it is uploaded",
                ) from None
            if actual != size:
                raise LocalFileError(
                    f"upload {where}: {source} has {actual:,} bytes, not the {size:,} expected",
                    hint="the file changed since it was read; read the source again",
                )
            path: Opener = _opener(source)
        else:
            path = source
        task = f"upload {name}"
        progress.start(task, size)
        try:
            if resume_url is not None:
                done = self._resume(resume_url, path, size, where, progress, task)
                if done is not None:
                    return done
                return self._session(
                    drive, folder, name, path, size, "replace", where, on_session, progress, task
                )
            if size < SIMPLE_LIMIT:
                return self._simple(drive, folder, name, path, where)
            return self._session(
                drive, folder, name, path, size, "replace", where, on_session, progress, task
            )
        finally:
            progress.finish(task)

    def _simple(
        self, drive: Drive, folder: DriveItem, name: str, path: Opener, where: str
    ) -> DriveItem:
        with path() as fh:
            data = fh.read()
        client = self._client
        response = client.http.send(
            "PUT",
            f"{client.base}/drives/{drive.id}/items/{folder.id}:/{quote(name, safe='')}:/content",
            doing=f"upload {where}",
            params={"@microsoft.graph.conflictBehavior": "replace"},
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        self.sent_bytes += len(data)
        return DriveItem.of(response.json(), drive.id)

    def _session(
        self,
        drive: Drive,
        folder: DriveItem,
        name: str,
        path: Opener,
        size: int,
        conflict: str,
        where: str,
        on_session: Callable[[str], None] | None,
        progress: Progress,
        task: str,
    ) -> DriveItem:
        for _ in range(3):
            url = self._create(drive, folder, name, conflict, where)
            if on_session is not None:
                on_session(url)
            try:
                return self._fragments(url, path, size, 0, where, progress, task)
            except SessionGone:
                continue  # expired under us: a new session, replacing
        raise GraphNotFound(
            f"upload {where}: the upload session disappeared three times",
            hint="SharePoint keeps losing the session; run again later",
        )

    def _create(self, drive: Drive, folder: DriveItem, name: str, conflict: str, where: str) -> str:
        client = self._client
        body = client.http.send(
            "POST",
            f"{client.base}/drives/{drive.id}/items/{folder.id}:/{quote(name, safe='')}:"
            "/createUploadSession",
            doing=f"start uploading {where}",
            json={"item": {"@microsoft.graph.conflictBehavior": conflict, "name": name}},
        ).json()
        return str(body["uploadUrl"])

    def _resume(
        self, url: str, path: Opener, size: int, where: str, progress: Progress, task: str
    ) -> DriveItem | None:
        """Continue the session at ``url``; None when it is gone (start a new one)."""
        try:
            start = self._status(url, where)
        except SessionGone:
            return None
        if start is None:
            return None  # everything received but not committed: start over, replacing
        progress.advance(task, start)
        try:
            return self._fragments(url, path, size, start, where, progress, task)
        except SessionGone:
            return None

    def _status(self, url: str, where: str) -> int | None:
        try:
            response = self._client.http.send(
                "GET", url, doing=f"ask how much of {where} was received", auth=False
            )
        except GraphNotFound:
            raise SessionGone from None
        return _first_expected(response.json())

    def _fragments(
        self,
        url: str,
        path: Opener,
        size: int,
        start: int,
        where: str,
        progress: Progress,
        task: str,
    ) -> DriveItem:
        offset = start
        with path() as source:
            while True:
                if offset >= size:
                    raise GraphRejected(
                        f"upload {where}: every byte was sent but the session did not complete",
                        hint="run again: the upload starts over, replacing the file",
                    )
                answer = self._put(url, source, offset, size, where)
                if answer is None:  # 416: the service has more than we thought
                    found = self._status(url, where)
                    if found is None:
                        raise GraphRejected(
                            f"upload {where}: the session holds all bytes but did not complete"
                        )
                    progress.advance(task, found - offset)
                    offset = found
                    continue
                status, body = answer
                if status in (200, 201):
                    progress.advance(task, size - offset)
                    return DriveItem.of(body)
                following = _first_expected(body)
                if following is None:
                    raise GraphRejected(f"upload {where}: the session waits for a commit")
                progress.advance(task, following - offset)
                offset = following

    def _put(
        self, url: str, source: BinaryIO, offset: int, size: int, where: str
    ) -> tuple[int, dict[str, Any]] | None:
        source.seek(offset)
        data = source.read(min(self.chunk_size, size - offset))
        if not data:
            raise LocalFileError(f"upload {where}: the file ended at byte {offset} of {size:,}")
        end = offset + len(data) - 1
        try:
            response = self._client.http.send(
                "PUT",
                url,
                doing=f"upload bytes {offset:,}-{end:,} of {where}",
                auth=False,
                content=data,
                headers={"Content-Range": f"bytes {offset}-{end}/{size}"},
            )
        except GraphNotFound:
            raise SessionGone from None
        except GraphRejected as exc:
            if exc.status == 416:
                return None
            raise
        self.sent_bytes += len(data)
        return response.status_code, response.json()


def _opener(on_disk: Path) -> Opener:
    def open_() -> BinaryIO:
        return open(on_disk, "rb")

    return open_
