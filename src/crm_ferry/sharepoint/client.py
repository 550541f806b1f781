"""The SharePoint client: sites, document libraries, folders, uploads and downloads through
Microsoft Graph.

Written from Graph's documentation (the articles of ``api-reference/v1.0/api`` in
microsoft-graph-docs-contrib), independently of the emulator that serves the same API.
It knows nothing of mappings, loads or reports: the caller says which library, folder and
file, and journals what it needs (the upload URL :meth:`SharePointClient.upload` hands to
``on_session``, the item it returns).

Paths are percent-encoded segment by segment ("you need to encode the URL path when
building your URL string", https://learn.microsoft.com/onedrive/developer/rest-api/concepts/addressing-driveitems).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, urlsplit

import httpx

from crm_ferry.dataverse.auth import CredentialProvider
from crm_ferry.progress import NO_PROGRESS, Progress
from crm_ferry.sharepoint.errors import (
    GraphAuthError,
    GraphConflict,
    GraphNotFound,
    GraphRejected,
)
from crm_ferry.sharepoint.http import GRAPH_URL, GraphHttp, GraphRetry, Sleep
from crm_ferry.sharepoint.items import Drive, DriveItem, Site
from crm_ferry.sharepoint.upload import DEFAULT_CHUNK, Uploader

PAGE = 200
"""Children asked for per page (Graph's default page size)."""


def encode_path(path: str | Sequence[str]) -> str:
    """``Folder A/File #1.pdf`` as ``Folder%20A/File%20%231.pdf``."""
    names = [p for p in path.split("/") if p] if isinstance(path, str) else list(path)
    return "/".join(quote(name, safe="") for name in names)


class SharePointClient:
    """Graph's SharePoint file API for one application (thread-safe as httpx is)."""

    def __init__(
        self,
        credential: CredentialProvider,
        *,
        graph_url: str = GRAPH_URL,
        transport: httpx.BaseTransport | None = None,
        retry: GraphRetry | None = None,
        sleep: Sleep | None = None,
        chunk_size: int = DEFAULT_CHUNK,
    ) -> None:
        kw: dict[str, Any] = {"transport": transport, "retry": retry}
        if sleep is not None:
            kw["sleep"] = sleep
        self.http = GraphHttp(credential, **kw)
        self.base = graph_url.rstrip("/")
        self.uploader = Uploader(self, chunk_size=chunk_size)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> SharePointClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, path_or_url: str, *, doing: str, **kw: Any) -> dict[str, Any]:
        url = path_or_url if "://" in path_or_url else f"{self.base}/{path_or_url}"
        body: dict[str, Any] = self.http.send("GET", url, doing=doing, **kw).json()
        return body

    # -- sites and libraries -----------------------------------------------------------

    def site(self, url: str) -> Site:
        """The site at ``url`` (``https://contoso.sharepoint.com/sites/crm``)."""
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise GraphRejected(
                f"{url!r} is not a SharePoint site URL",
                hint="set [sharepoint] site to the site's full URL, e.g. "
                "https://contoso.sharepoint.com/sites/crm",
            )
        path = encode_path(parts.path)
        where = f"sites/{parts.hostname}:/{path}" if path else f"sites/{parts.hostname}"
        return Site.of(self.get(where, doing=f"find the SharePoint site {url}"))

    def drives(self, site: Site) -> list[Drive]:
        """Every document library of ``site``."""
        out: list[Drive] = []
        url: str | None = f"{self.base}/sites/{site.id}/drives"
        while url:
            body = self.get(url, doing=f"list the document libraries of {site.web_url}")
            out.extend(Drive.of(d) for d in body.get("value", []))
            url = body.get("@odata.nextLink")
        return out

    def drive(self, site: Site, name: str) -> Drive | None:
        """The library named ``name`` (without case), or None."""
        wanted = name.casefold()
        return next((d for d in self.drives(site) if d.name.casefold() == wanted), None)

    def ensure_library(self, site: Site, name: str) -> tuple[Drive, bool]:
        """The library ``name``, created when missing; whether it was created."""
        found = self.drive(site, name)
        if found is not None:
            return found, False
        try:
            made = self.http.send(
                "POST",
                f"{self.base}/sites/{site.id}/lists",
                doing=f"create the document library {name!r} in {site.web_url}",
                json={"displayName": name, "list": {"template": "documentLibrary"}},
            ).json()
        except GraphConflict:
            found = self.drive(site, name)  # made meanwhile by another worker
            if found is None:
                raise
            return found, False
        drive = self.get(
            f"sites/{site.id}/lists/{made['id']}/drive",
            doing=f"open the new document library {name!r}",
        )
        return Drive.of(drive), True

    # -- items -------------------------------------------------------------------------

    def root(self, drive: Drive) -> DriveItem:
        return DriveItem.of(
            self.get(f"drives/{drive.id}/root", doing=f"open {drive.name}"), drive.id
        )

    def item_by_path(self, drive: Drive, path: str | Sequence[str]) -> DriveItem | None:
        """The item at ``path`` in ``drive``, or None when there is none."""
        encoded = encode_path(path)
        if not encoded:
            return self.root(drive)
        try:
            body = self.get(
                f"drives/{drive.id}/root:/{encoded}:", doing=f"look up {drive.name}/{encoded}"
            )
        except GraphNotFound:
            return None
        return DriveItem.of(body, drive.id)

    def ensure_folder(self, drive: Drive, path: str | Sequence[str]) -> DriveItem:
        """The folder at ``path``, creating the folders missing on the way; a folder made
        meanwhile by someone else (409 ``nameAlreadyExists``) is taken as it is."""
        names = [p for p in path.split("/") if p] if isinstance(path, str) else list(path)
        found = self.item_by_path(drive, names)
        if found is not None:
            return self._as_folder(found, names)
        current = self.root(drive)
        for depth, name in enumerate(names):
            child = self._child(drive, current, name)
            if child is None:
                child = self._make_folder(drive, current, name)
            current = self._as_folder(child, names[: depth + 1])
        return current

    def _child(self, drive: Drive, parent: DriveItem, name: str) -> DriveItem | None:
        try:
            body = self.get(
                f"drives/{drive.id}/items/{parent.id}:/{quote(name, safe='')}:",
                doing=f"look up the folder {name!r}",
            )
        except GraphNotFound:
            return None
        return DriveItem.of(body, drive.id)

    def _make_folder(self, drive: Drive, parent: DriveItem, name: str) -> DriveItem:
        try:
            body = self.http.send(
                "POST",
                f"{self.base}/drives/{drive.id}/items/{parent.id}/children",
                doing=f"create the folder {name!r} in {drive.name}",
                json={"name": name, "folder": {}, "@microsoft.graph.conflictBehavior": "fail"},
            ).json()
        except GraphConflict:
            again = self._child(drive, parent, name)
            if again is None:
                raise
            return again
        return DriveItem.of(body, drive.id)

    @staticmethod
    def _as_folder(item: DriveItem, names: Sequence[str]) -> DriveItem:
        if not item.folder:
            raise GraphConflict(
                f"{'/'.join(names)} is a file, not a folder",
                hint="rename or remove the file in SharePoint, or choose another folder",
            )
        return item

    def children(self, folder: DriveItem, *, page_size: int = PAGE) -> Iterator[DriveItem]:
        """The items in ``folder``, page after page."""
        url: str | None = (
            f"{self.base}/drives/{folder.drive_id}/items/{folder.id}/children?$top={page_size}"
        )
        while url:
            body = self.get(url, doing=f"list the folder {folder.name!r}")
            for value in body.get("value", []):
                yield DriveItem.of(value, folder.drive_id)
            url = body.get("@odata.nextLink")

    def delete(self, item: DriveItem) -> bool:
        """Delete ``item`` (a folder with everything in it); False when it was already gone."""
        try:
            self.http.send(
                "DELETE",
                f"{self.base}/drives/{item.drive_id}/items/{item.id}",
                doing=f"delete {item.name!r}",
            )
        except GraphNotFound:
            return False
        return True

    # -- content -----------------------------------------------------------------------

    def upload(
        self,
        drive: Drive,
        folder: DriveItem,
        name: str,
        path_on_disk: Path | Callable[[], BinaryIO],
        size: int,
        *,
        on_session: Callable[[str], None] | None = None,
        resume_url: str | None = None,
        progress: Progress = NO_PROGRESS,
    ) -> DriveItem:
        """Upload the file at ``path_on_disk`` (or what the callable opens: a file of a zip)
        (``size`` bytes) as ``folder/name``, replacing
        a file of that name: one request below 4 MB, else an upload session whose URL goes
        to ``on_session`` before the first fragment (journal it); ``resume_url`` (a URL an
        earlier ``on_session`` got) continues that session where it stopped."""
        return self.uploader.upload(
            drive,
            folder,
            name,
            path_on_disk,
            size,
            on_session=on_session,
            resume_url=resume_url,
            progress=progress,
        )

    def download(self, item: DriveItem, *, piece: int = DEFAULT_CHUNK) -> Iterator[bytes]:
        """The content of the file ``item``, in pieces of at most ``piece`` bytes (each a
        ``Range`` request to the pre-authenticated URL, retried on its own)."""
        location = self._download_url(item)
        if item.size == 0:
            self.http.send("GET", location, doing=f"download {item.name!r}", auth=False)
            return
        offset = 0
        while offset < item.size:
            end = min(offset + piece, item.size) - 1
            try:
                response = self.http.send(
                    "GET",
                    location,
                    doing=f"download {item.name!r}",
                    auth=False,
                    headers={"Range": f"bytes={offset}-{end}"},
                )
            except GraphAuthError:
                location = self._download_url(item)  # the short-lived URL expired
                continue
            data = response.content
            if not data:
                raise GraphRejected(f"download {item.name!r}: an empty answer at byte {offset}")
            offset += len(data)
            yield data

    def _download_url(self, item: DriveItem) -> str:
        response = self.http.send(
            "GET",
            f"{self.base}/drives/{item.drive_id}/items/{item.id}/content",
            doing=f"download {item.name!r}",
        )
        location = str(response.headers.get("Location") or "")
        if response.status_code != 302 or not location:
            raise GraphRejected(
                f"download {item.name!r}: expected a redirect to the file, got HTTP "
                f"{response.status_code}"
            )
        return location

    def sha256(self, item: DriveItem) -> str:
        """The SHA-256 (hex) of the file's content, as downloaded."""
        digest = hashlib.sha256()
        for piece in self.download(item):
            digest.update(piece)
        return digest.hexdigest()
