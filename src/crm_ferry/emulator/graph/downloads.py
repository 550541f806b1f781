"""The pre-authenticated download URLs: ``GET /_files/download/<token>``, with ``Range``.

"Preauthenticated download URLs are only valid for a short period of time (a few minutes)
and don't require an Authorization header to download"; "To download a partial range of
bytes from the file, your app can use the Range header as specified in RFC 2616 ... The
call returns an HTTP 206 Partial Content response"
(https://learn.microsoft.com/graph/api/driveitem-get-content, microsoft-graph-docs-contrib
commit 0713c450496046d1f357f9afae7a914ac6ab4277). One range per request
(``bytes=a-b``, ``bytes=a-``, ``bytes=-n``); several ranges are refused with 501 (the
article says a range the service cannot generate may be ignored; the emulator never
ignores a header). A range that starts past the end is 416.

The answer streams from the file in pieces: a 150 MB file is never read whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import httpx

from crm_ferry.emulator.graph.errors import GraphProblem, not_found, not_implemented
from crm_ferry.emulator.graph.state import GraphState

PIECE = 1024 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class FileStream(httpx.SyncByteStream):
    """``length`` bytes of a file from ``start``, read in pieces as the answer is read."""

    def __init__(self, path: Path, start: int, length: int) -> None:
        self._file: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._file.seek(start)
        self._left = length

    def __iter__(self) -> Iterator[bytes]:
        try:
            while self._left > 0:
                piece = self._file.read(min(PIECE, self._left))
                if not piece:
                    break
                self._left -= len(piece)
                yield piece
        finally:
            self.close()

    def close(self) -> None:
        self._file.close()


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, end)`` inclusive of a ``Range`` header, or None for the whole file."""
    if header is None:
        return None
    text = header.strip()
    if "," in text:
        raise not_implemented("Several byte ranges in one Range header")
    found = _RANGE.fullmatch(text.replace(" ", ""))
    if found is None or found.groups() == ("", ""):
        raise GraphProblem(416, "invalidRange", f"The Range header {header!r} is not bytes=a-b")
    first, last = found.groups()
    if first == "":
        start, end = max(0, size - int(last)), size - 1
    else:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise GraphProblem(
            416,
            "invalidRange",
            f"The range {header!r} is outside the file's {size} bytes",
            headers={"Content-Range": f"bytes */{size}"},
        )
    return start, end


def serve_download(g: GraphState, request: httpx.Request, token: str) -> httpx.Response:
    if request.method not in ("GET", "HEAD"):
        raise GraphProblem(405, "invalidRequest", "A download URL answers only GET")
    if request.url.query:
        raise not_implemented("Query parameters on a download URL")
    grant = g.downloads.get(token)
    if grant is None or grant.expires_at <= g.clock():
        raise GraphProblem(
            401,
            "unauthenticated",
            "The download URL is not valid or has expired: ask for the item's content again",
        )
    item = g.store.item(grant.item_id)
    if item is None:
        raise not_found("The file of this download URL")
    span = byte_range(request.headers.get("Range"), item.size)
    headers = {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}
    if span is None:
        start, length, status = 0, item.size, 200
    else:
        start, length, status = span[0], span[1] - span[0] + 1, 206
        headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{item.size}"
    headers["Content-Length"] = str(length)
    if request.method == "HEAD" or length == 0:
        return httpx.Response(status, headers=headers, content=b"")
    return httpx.Response(
        status, headers=headers, stream=FileStream(g.store.content_path(item.id), start, length)
    )
