"""The emulated SharePoint's state every Graph handler works on: the store, the clocks, the
lookups of sites, libraries and items, and the pre-authenticated download URLs.

:class:`GraphState` seeds the configured sites and their libraries into an empty store (a
store from a data folder keeps what it has). One lock serialises requests
(:attr:`GraphState.lock`), as the Dataverse side's does.
"""

from __future__ import annotations

import base64
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from crm_ferry.emulator.graph.config import GraphConfig, SiteSpec, library_url_name
from crm_ferry.emulator.graph.errors import GraphProblem, not_found
from crm_ferry.emulator.graph.names import name_problem, path_problem
from crm_ferry.emulator.graph.resources import ancestry
from crm_ferry.emulator.graph.store import GraphStore, Item, Library, Site


def item_id() -> str:
    """An id shaped like SharePoint's driveItem ids (``01`` and 32 base32 characters)."""
    raw = uuid.uuid4().bytes + secrets.token_bytes(4)
    return "01" + base64.b32encode(raw).decode("ascii")[:32]


def drive_id_of(site: Site, list_id: str) -> str:
    """``b!`` and the site collection, site and list ids in Base64 (the shape of a
    SharePoint drive id)."""
    _, collection, web = site.id.split(",")
    raw = b"".join(uuid.UUID(g).bytes_le for g in (collection, web, list_id))
    return "b!" + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


@dataclass(frozen=True, slots=True)
class Download:
    item_id: str
    content_version: int
    expires_at: float


class GraphState:
    """Store, configuration and clocks of the emulated SharePoint."""

    def __init__(
        self, config: GraphConfig, data_dir: Path | None, *, clock: Callable[[], float]
    ) -> None:
        self.config = config
        self.clock = clock
        self.lock = threading.RLock()
        self.store = GraphStore(data_dir)
        self.downloads: dict[str, Download] = {}
        if not self.store.sites():
            with self.store.transaction():
                for spec in config.sites:
                    self._seed(spec)

    def now(self) -> str:
        """The wall clock as Graph writes date-times (``2017-05-09T20:56:00Z``)."""
        return self.config.wall_clock().strftime("%Y-%m-%dT%H:%M:%SZ")

    def expiry(self, expires_at: float) -> str:
        """An ``expirationDateTime`` for a moment on the emulator's clock."""
        moment = self.config.wall_clock() + timedelta(seconds=expires_at - self.clock())
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

    def _seed(self, spec: SiteSpec) -> None:
        site_id = f"{spec.hostname},{uuid.uuid4()},{uuid.uuid4()}"
        site = Site(site_id, spec.hostname, spec.path, spec.display_name, self.now())
        self.store.put_site(site)
        for name in spec.libraries:
            self.create_library(site, name)

    def create_library(self, site: Site, display_name: str) -> Library:
        list_id = str(uuid.uuid4())
        drive_id = drive_id_of(site, list_id)
        root = Item(
            id=item_id(),
            drive_id=drive_id,
            parent_id=None,
            name="root",
            folder=True,
            created=self.now(),
            modified=self.now(),
            tag=str(uuid.uuid4()).upper(),
        )
        library = Library(
            list_id,
            site.id,
            drive_id,
            display_name,
            library_url_name(display_name),
            self.now(),
            root.id,
        )
        self.store.put_library(library)
        self.store.put_item(root)
        return library

    # -- lookups -----------------------------------------------------------------------

    def site_by_id(self, site_id: str) -> Site:
        wanted = site_id.lower()
        for site in self.store.sites():
            if site.id.lower() == wanted:
                return site
        raise not_found(f"The site '{site_id}'")

    def site_by_path(self, hostname: str, path: str) -> Site:
        for site in self.store.sites():
            if site.hostname == hostname.lower() and site.path.lower() == path.strip("/").lower():
                return site
        raise not_found(f"The site https://{hostname}/{path.strip('/')}")

    def library_of_drive(self, drive_id: str) -> tuple[Site, Library]:
        library = self.store.library(drive_id=drive_id)
        if library is None:
            raise not_found(f"The drive '{drive_id}'")
        return self.site_by_id(library.site_id), library

    def item_in(self, library: Library, item_ref: str) -> Item:
        item = self.store.item(item_ref)
        if item is None or item.drive_id != library.drive_id:
            raise not_found(f"The item '{item_ref}'")
        return item

    def walk(self, start: Item, names: tuple[str, ...]) -> Item:
        """The item at ``names`` under ``start``; 404 naming the first missing name."""
        current = start
        for depth, name in enumerate(names):
            child = self.store.child(current.id, name) if current.folder else None
            if child is None:
                shown = "/".join(names[: depth + 1])
                raise not_found(f"The item '{shown}'")
            current = child
        return current

    def parent_for(self, start: Item, names: tuple[str, ...]) -> tuple[Item, str]:
        """The folder a new item named ``names[-1]`` goes into, and that name: the folders
        before it must exist ("the specified parent folder might not exist" is 409,
        https://learn.microsoft.com/graph/errors)."""
        if not names:
            raise GraphProblem(400, "invalidRequest", "The path names no item to create")
        try:
            parent = self.walk(start, names[:-1])
        except GraphProblem as missing:
            raise GraphProblem(
                409, "itemNotFound", f"{missing.message}: the parent folder does not exist"
            ) from None
        if not parent.folder:
            raise GraphProblem(409, "invalidRequest", f"'{parent.name}' is a file, not a folder")
        return parent, names[-1]

    def check_new_name(
        self, site: Site, library: Library, parent: Item, name: str, *, folder: bool
    ) -> None:
        """400 when SharePoint would refuse ``name`` in ``parent`` (its characters, a
        reserved name, the length of the path it makes)."""
        problem = name_problem(name, folder=folder, at_root=parent.parent_id is None)
        if problem is not None:
            raise GraphProblem(400, "invalidRequest", f"{name!r}: {problem}", detail="invalidPath")
        folders = [i.name for i in ancestry(self.store, parent)]
        path = "/".join([site.path, library.url_name, *folders, name])
        too_long = path_problem(path)
        if too_long is not None:
            raise GraphProblem(
                400, "invalidRequest", f"{name!r}: {too_long}", detail="pathIsTooLong"
            )

    def free_name(self, parent: Item, name: str, *, folder: bool) -> str:
        """``name``, or the first of ``name 1``, ``name 2``... (before the extension of a
        file) not taken in ``parent``: the conflict behaviour ``rename``."""
        if self.store.child(parent.id, name) is None:
            return name
        stem, dot, ext = name.rpartition(".") if not folder and "." in name[1:] else (name, "", "")
        n = 1
        while True:
            candidate = f"{stem} {n}{dot}{ext}"
            if self.store.child(parent.id, candidate) is None:
                return candidate
            n += 1

    # -- download URLs -------------------------------------------------------------------

    def mint_download(self, item: Item) -> str:
        """A token for the pre-authenticated download URL of ``item`` (valid for
        ``download_url_lifetime_s`` and for this content only)."""
        now = self.clock()
        self.downloads = {k: v for k, v in self.downloads.items() if v.expires_at > now}
        token = secrets.token_urlsafe(24)
        self.downloads[token] = Download(
            item.id, item.content_version, now + self.config.download_url_lifetime_s
        )
        return token

    def close(self) -> None:
        self.store.close()
