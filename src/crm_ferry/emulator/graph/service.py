"""The Microsoft Graph endpoint of the emulator: the router of ``/v1.0/`` and of the
pre-authenticated upload and download URLs (``/_files/``).

Served (each from its article in microsoft-graph-docs-contrib, ``api-reference/v1.0/api``):

- sites: ``GET /sites/{hostname}:/{server-relative-path}`` (site-getbypath, commit
  16789542074b084dbe7fe7e86861d77ebdd5954f), ``GET /sites/{site-id}`` (site-get,
  01784a996c3bd7a5e5415c20c478047309f7cc24), ``GET /sites/{site-id}/drives`` (drive-list,
  03aa0f9b64de223334288071f58465c7a819f073), ``GET /sites/{site-id}/drive`` and
  ``GET /drives/{drive-id}`` (drive-get, 007852ace71e63cb76552a3471aa71e7dee5f3e8),
  ``POST /sites/{site-id}/lists`` with ``list.template = documentLibrary`` (list-create,
  03c7b71e4db41c4ac68bfa53212454c3e1412d3c), ``GET /sites/{site-id}/lists[/{list-id}[/drive]]``;
- items by id and by path under ``/drives/{drive-id}`` (also reached through
  ``/sites/{site-id}/drive`` and ``/sites/{site-id}/drives/{drive-id}``): ``root``,
  ``items/{id}``, ``root:/{path}[:]``, ``items/{id}:/{path}[:]``, then nothing (the item),
  ``/children``, ``/content`` or ``/createUploadSession`` (:mod:`.items`, :mod:`.uploads`).

Everything else under ``/v1.0/`` is 501 ``notSupported`` naming it (users, groups, me,
shares, search, delta, versions, permissions, thumbnails, copy, move, PATCH of an item,
the tenant's root site...). The tenant's sites are fixed by :class:`GraphConfig` (a library
can be added, a site cannot).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from crm_ferry.emulator.graph import items, uploads
from crm_ferry.emulator.graph.config import GraphConfig
from crm_ferry.emulator.graph.downloads import serve_download
from crm_ferry.emulator.graph.errors import (
    GraphProblem,
    invalid,
    not_found,
    not_implemented,
    problem_response,
)
from crm_ferry.emulator.graph.items import Place, graph_base, json_body
from crm_ferry.emulator.graph.paths import Query, decode, path_address, segments
from crm_ferry.emulator.graph.resources import (
    DRIVE_PROPERTIES,
    LIST_PROPERTIES,
    SITE_PROPERTIES,
    ancestry,
    collection,
    drive_json,
    list_json,
    select,
    site_json,
    with_context,
)
from crm_ferry.emulator.graph.state import GraphState
from crm_ferry.emulator.graph.store import Library, Site
from crm_ferry.emulator.layers import json_response

GRAPH_PREFIX = "/v1.0/"
FILES_PREFIX = "/_files/"
ITEM_OPERATIONS = ("children", "content", "createUploadSession")
LIST_KEYS = frozenset({"displayName", "list", "columns", "description", "@odata.type"})


def is_graph(request: httpx.Request) -> bool:
    """Whether the request is for Graph (``/v1.0/``) or one of its pre-authenticated URLs."""
    path = request.url.path
    return path.startswith((GRAPH_PREFIX, FILES_PREFIX))


class GraphService:
    """Graph's SharePoint file API as one handler (thread-safe)."""

    def __init__(
        self,
        config: GraphConfig | None = None,
        data_dir: Path | None = None,
        *,
        clock: Callable[[], float],
    ) -> None:
        self.state = GraphState(config or GraphConfig(), data_dir, clock=clock)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        try:
            with self.state.lock:
                return self._route(request)
        except GraphProblem as problem:
            return problem_response(request, problem)
        except UnicodeDecodeError:
            return problem_response(request, invalid("A path segment is not UTF-8"))

    def _route(self, request: httpx.Request) -> httpx.Response:
        raw = request.url.raw_path.decode("ascii")
        if raw.startswith(FILES_PREFIX):
            kind, _, key = raw[len(FILES_PREFIX) :].split("?", 1)[0].partition("/")
            if kind == "upload" and key:
                return uploads.serve_session(self.state, request, key)
            if kind == "download" and key:
                return serve_download(self.state, request, key)
            raise not_found("This pre-authenticated URL")
        segs = segments(raw, GRAPH_PREFIX)
        head = segs[0] if segs else ""
        if head == "sites" and len(segs) > 1:
            return self._sites(request, segs[1:])
        if head == "drives" and len(segs) > 1:
            site, library = self.state.library_of_drive(decode(segs[1]))
            return self._drive(request, site, library, segs[2:])
        raise not_implemented(f"/v1.0/{decode(head)}" if head else "The Graph service root")

    # -- sites -------------------------------------------------------------------------

    def _sites(self, request: httpx.Request, segs: list[str]) -> httpx.Response:
        ref = segs[0]
        if ref.endswith(":"):
            address = path_address(segs[1:])
            site = self.state.site_by_path(decode(ref[:-1]), "/".join(address.names))
            rest = list(address.rest)
        elif "," in ref:
            site, rest = self.state.site_by_id(decode(ref)), segs[1:]
        else:
            raise not_implemented("The tenant's root site (/sites/root, /sites/{hostname})")
        if not rest:
            return self._get(request, site_json(site), SITE_PROPERTIES, "sites/$entity")
        head = rest[0]
        if head == "drive":
            return self._drive(request, site, self._default_library(site), rest[1:])
        if head == "drives":
            if len(rest) == 1:
                return self._list_drives(request, site)
            site_of, library = self.state.library_of_drive(decode(rest[1]))
            if site_of.id != site.id:
                raise not_found(f"The drive '{decode(rest[1])}' in this site")
            return self._drive(request, site, library, rest[2:])
        if head == "lists":
            return self._lists(request, site, rest[1:])
        raise not_implemented(f"/sites/{{site-id}}/{decode(head)}")

    def _default_library(self, site: Site) -> Library:
        libraries = self.state.store.libraries(site.id)
        if not libraries:
            raise not_found("The site's default document library")
        return min(libraries, key=lambda lib: lib.created)

    def _get(
        self, request: httpx.Request, body: dict[str, Any], known: frozenset[str], context: str
    ) -> httpx.Response:
        if request.method != "GET":
            raise _method(request)
        query = Query.of(request)
        query.allow(["select"])
        full = with_context(f"{graph_base(request)}/$metadata#{context}", body)
        return json_response(200, select(full, query.selected(), known))

    def _list_drives(self, request: httpx.Request, site: Site) -> httpx.Response:
        if request.method != "GET":
            raise _method(request)
        bodies = [
            drive_json(self.state.store, site, lib, self.state.config.quota_total)
            for lib in self.state.store.libraries(site.id)
        ]
        return self._page(request, bodies, DRIVE_PROPERTIES, "drives")

    def _page(
        self,
        request: httpx.Request,
        bodies: list[dict[str, Any]],
        known: frozenset[str],
        context: str,
    ) -> httpx.Response:
        """A collection in pages of ``$top`` (the whole of it by default)."""
        query = Query.of(request)
        query.allow(["select", "top", "skiptoken"])
        size = query.top() or len(bodies) or 1
        token = query.options.get("skiptoken")
        start = int(token) if token and token.isdigit() else 0
        if token and not token.isdigit():
            raise invalid("The $skipToken is not one this service gave")
        page = bodies[start : start + size]
        wanted = query.selected()
        next_link = None
        if start + size < len(bodies):
            params = {"$top": str(size), "$skiptoken": str(start + size)}
            if wanted is not None:
                params["$select"] = ",".join(wanted)
            next_link = str(request.url.copy_with(params=params))
        values = [select(b, wanted, known) for b in page]
        return json_response(
            200, collection(f"{graph_base(request)}/$metadata#{context}", values, next_link)
        )

    def _lists(self, request: httpx.Request, site: Site, rest: list[str]) -> httpx.Response:
        store = self.state.store
        if not rest:
            if request.method == "POST":
                return self._create_library(request, site)
            if request.method != "GET":
                raise _method(request)
            bodies = [list_json(site, lib) for lib in store.libraries(site.id)]
            return self._page(request, bodies, LIST_PROPERTIES, f"sites('{site.id}')/lists")
        library = store.library(list_id=decode(rest[0]).lower())
        if library is None or library.site_id != site.id:
            raise not_found(f"The list '{decode(rest[0])}'")
        if len(rest) == 1:
            return self._get(
                request,
                list_json(site, library),
                LIST_PROPERTIES,
                f"sites('{site.id}')/lists/$entity",
            )
        if rest[1] == "drive":
            return self._drive(request, site, library, rest[2:])
        raise not_implemented(f"/sites/{{site-id}}/lists/{{list-id}}/{decode(rest[1])}")

    def _create_library(self, request: httpx.Request, site: Site) -> httpx.Response:
        Query.of(request).allow()
        body = json_body(request)
        unknown = sorted(set(body) - LIST_KEYS)
        if unknown:
            raise not_implemented(f"Setting the property '{unknown[0]}' of a new list")
        info = body.get("list") or {}
        template = info.get("template") if isinstance(info, dict) else None
        if template != "documentLibrary":
            raise not_implemented(
                f"A list with the template {template or 'genericList'!r} (only documentLibrary is)"
            )
        if set(info) - {"template"}:
            raise not_implemented(f"The list property list.{sorted(set(info) - {'template'})[0]}")
        if body.get("columns"):
            raise not_implemented("Columns of a new document library")
        if body.get("description"):
            raise not_implemented("The description of a new document library")
        name = body.get("displayName")
        if not isinstance(name, str) or not name.strip():
            raise invalid("A new list needs a displayName")
        if self.state.store.library_named(site.id, name) is not None:
            raise GraphProblem(
                409,
                "nameAlreadyExists",
                f"A list, survey, discussion board, or document library with the title "
                f"'{name}' already exists in this site",
            )
        with self.state.store.transaction():
            library = self.state.create_library(site, name)
        return json_response(
            201,
            with_context(
                f"{graph_base(request)}/$metadata#sites('{site.id}')/lists/$entity",
                list_json(site, library),
            ),
        )

    # -- a drive and its items -----------------------------------------------------------

    def _drive(
        self, request: httpx.Request, site: Site, library: Library, rest: list[str]
    ) -> httpx.Response:
        g = self.state
        if not rest:
            body = drive_json(g.store, site, library, g.config.quota_total)
            return self._get(request, body, DRIVE_PROPERTIES, "drives/$entity")
        root = g.item_in(library, library.root_id)
        head = rest[0]
        if head == "root":
            return self._item(request, Place(site, library, root), None, rest[1:])
        if head == "root:":
            address = path_address(rest[1:])
            return self._item(
                request, Place(site, library, root), address.names, list(address.rest)
            )
        if head == "items" and len(rest) > 1:
            ref = rest[1]
            if ref.endswith(":"):
                start = g.item_in(library, decode(ref[:-1]))
                address = path_address(rest[2:])
                return self._item(
                    request, Place(site, library, start), address.names, list(address.rest)
                )
            item = g.item_in(library, decode(ref))
            return self._item(request, Place(site, library, item), None, rest[2:])
        raise not_implemented(f"/drives/{{drive-id}}/{decode(head)}")

    def _item(
        self,
        request: httpx.Request,
        place: Place,
        names: tuple[str, ...] | None,
        rest: list[str],
    ) -> httpx.Response:
        """``place.item`` then ``names`` (path-based addressing) then the operation."""
        g = self.state
        operation = rest[0] if rest else ""
        if len(rest) > 1 or (operation and operation not in ITEM_OPERATIONS):
            raise not_implemented(f"The driveItem operation /{'/'.join(decode(r) for r in rest)}")
        method = request.method
        creates = (operation == "content" and method == "PUT") or operation == "createUploadSession"
        if creates and names:
            parent, name = g.parent_for(place.item, names)
            at = Place(place.site, place.library, parent)
            if operation == "content":
                return items.upload_small(g, request, at, name)
            if method != "POST":
                raise _method(request, "/createUploadSession")
            return uploads.create_session(g, request, at, name)
        target = Place(place.site, place.library, g.walk(place.item, names or ()))
        handler = _HANDLERS.get((operation, method))
        if handler is None:
            on = f"the driveItem /{operation}" if operation else "a driveItem"
            raise not_implemented(f"{method} on {on}")
        return handler(g, request, target)

    # -- for tests -------------------------------------------------------------------------

    def dump(self) -> Mapping[str, Any]:
        """Every site, library and item (path, size, SHA-256 of the content), sorted, and
        the open upload sessions: what a test compares before and after a rollback."""
        store = self.state.store
        with self.state.lock:
            sites = []
            for site in sorted(store.sites(), key=lambda s: s.web_url):
                libraries = []
                for library in store.libraries(site.id):
                    entries = []
                    for item in store.drive_items(library.drive_id):
                        if item.parent_id is None:
                            continue
                        path = "/".join(i.name for i in ancestry(store, item))
                        entries.append(
                            {"path": path, "folder": True}
                            if item.folder
                            else {"path": path, "size": item.size, "sha256": item.sha256}
                        )
                    entries.sort(key=lambda e: str(e["path"]).casefold())
                    libraries.append({"name": library.display_name, "items": entries})
                sites.append({"url": site.web_url, "libraries": libraries})
            sessions = sorted(
                (uploads.session_summary(s) for s in store.sessions()),
                key=lambda s: str(s["name"]),
            )
        return {"sites": sites, "upload_sessions": sessions}

    def content(self, drive_id: str, path: str) -> bytes:
        """The content of the file at ``path`` in a drive (tests)."""
        g = self.state
        with g.lock:
            _site, library = g.library_of_drive(drive_id)
            root = g.item_in(library, library.root_id)
            item = g.walk(root, tuple(p for p in path.split("/") if p))
            return g.store.content_path(item.id).read_bytes()

    def close(self) -> None:
        self.state.close()


def _method(request: httpx.Request, what: str = "this resource") -> GraphProblem:
    return GraphProblem(405, "invalidRequest", f"{request.method} is not allowed on {what}")


_HANDLERS: dict[tuple[str, str], Callable[[GraphState, httpx.Request, Place], httpx.Response]] = {
    ("", "GET"): items.get_item,
    ("", "DELETE"): items.delete_item,
    ("children", "GET"): items.list_children,
    ("children", "POST"): items.create_folder,
    ("content", "GET"): items.download,
    ("content", "PUT"): lambda g, r, p: items.upload_small(g, r, p, None),
    ("createUploadSession", "POST"): lambda g, r, p: uploads.create_session(g, r, p, None),
}

__all__ = ["GRAPH_PREFIX", "GraphService", "is_graph"]
