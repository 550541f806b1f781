"""Drive items: get, list children, create a folder, delete, simple upload, download.

From the driveItem articles of microsoft-graph-docs-contrib, each read at the commit named:

- Get (driveitem-get, 14bf249a2582b1fd481d1bc4a8ea83fca42b62cc): ``$select`` (``$expand``
  is refused); ``if-none-match`` matching the eTag or cTag answers 304.
- List children (driveitem-list-children, 09455a65abde17103c17fc70605c4c8553f01978): pages
  of 200 by default with ``@odata.nextLink``; ``$top``, ``$select`` and ``$skipToken``.
- Create folder (driveitem-post-children, 090b00cc08ea7de0b65aa5c7632d19a33ac8ef06): 201;
  ``@microsoft.graph.conflictBehavior`` fail (the default here), replace or rename; a taken
  name with ``fail`` is 409 ``nameAlreadyExists``.
- Delete (driveitem-delete, 02b4cba04d0426b41fe35819922b100050c5c441): 204; a folder goes
  with everything in it; ``if-match`` that does not match is 412. The recycle bin is not
  emulated: a deleted item is gone.
- Simple upload (driveitem-put-content, 3bd18aecba9fb3c1331c2f07d21580b75fc2ef6a): "only
  supports files up to 4MB"; 201 for a new file, 200 for a replaced one; the conflict
  behaviour is a URL parameter ("should be included in the URL instead of the body"), and
  "The default for PUT is replace" (driveItem).
- Download (driveitem-get-content, 0713c450496046d1f357f9afae7a914ac6ab4277): 302 to a
  pre-authenticated URL (:mod:`.downloads`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
import uuid
from dataclasses import dataclass, replace
from typing import Any

import httpx

from crm_ferry.emulator.graph.errors import GraphProblem, invalid, not_implemented
from crm_ferry.emulator.graph.hashes import QuickXorHash
from crm_ferry.emulator.graph.paths import CONFLICT, Query, conflict_behaviour
from crm_ferry.emulator.graph.resources import (
    ITEM_PROPERTIES,
    collection,
    item_json,
    select,
    with_context,
)
from crm_ferry.emulator.graph.state import GraphState, item_id
from crm_ferry.emulator.graph.store import Item, Library, Site, changed
from crm_ferry.emulator.layers import CLIENT_ID, json_response, origin

FOLDER_PROPERTIES = frozenset({"name", "folder", CONFLICT, "@odata.type"})


@dataclass(frozen=True, slots=True)
class Place:
    """Where a request points: a library of a site, and an item in it."""

    site: Site
    library: Library
    item: Item


def graph_base(request: httpx.Request) -> str:
    return f"{origin(request)}/v1.0"


def download_link(g: GraphState, request: httpx.Request, item: Item) -> str:
    return f"{origin(request)}/_files/download/{g.mint_download(item)}"


def rendered(g: GraphState, request: httpx.Request, place: Place, item: Item) -> dict[str, Any]:
    return item_json(
        g.store,
        place.site,
        place.library,
        item,
        download_url=lambda i: download_link(g, request, i),
    )


def item_context(request: httpx.Request, place: Place) -> str:
    return f"{graph_base(request)}/$metadata#drives('{place.library.drive_id}')/items/$entity"


def tags(item: Item) -> set[str]:
    out = {f'"{{{item.tag}}},{item.version}"'}
    if not item.folder:
        out.add(f'"c:{{{item.tag}}},{item.content_version}"')
    return out


def check_preconditions(request: httpx.Request, item: Item | None) -> bool:
    """412 for an ``if-match`` that does not match; False when ``if-none-match`` matches
    (the caller answers 304)."""
    wanted = request.headers.get("if-match")
    if (
        wanted is not None
        and wanted.strip() != "*"
        and (item is None or wanted.strip() not in tags(item))
    ):
        raise GraphProblem(
            412,
            "resourceModified",
            "The eTag does not match the item's current eTag",
            detail="entityTagDoesNotMatch",
        )
    unwanted = request.headers.get("if-none-match")
    return not (unwanted is not None and item is not None and unwanted.strip() in tags(item))


def not_modified() -> httpx.Response:
    return httpx.Response(304)


def get_item(g: GraphState, request: httpx.Request, place: Place) -> httpx.Response:
    query = Query.of(request)
    query.allow(["select"])
    if not check_preconditions(request, place.item):
        return not_modified()
    body = with_context(item_context(request, place), rendered(g, request, place, place.item))
    return json_response(200, select(body, query.selected(), ITEM_PROPERTIES))


def _skip_token(name_key: str) -> str:
    return base64.urlsafe_b64encode(name_key.encode("utf-8")).decode("ascii").rstrip("=")


def _after(token: str) -> str:
    try:
        padded = token + "=" * (-len(token) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise invalid(
            "The $skipToken is not one this service gave", detail="invalidStartIndex"
        ) from None


def list_children(g: GraphState, request: httpx.Request, place: Place) -> httpx.Response:
    query = Query.of(request)
    query.allow(["select", "top", "skiptoken"])
    if not place.item.folder:
        raise invalid(f"'{place.item.name}' is a file: only folders have children")
    if not check_preconditions(request, place.item):
        return not_modified()
    size = query.top() or g.config.page_size
    token = query.options.get("skiptoken")
    after = _after(token) if token else None
    page = g.store.children(place.item.id, after=after, limit=size + 1)
    more = len(page) > size
    page = page[:size]
    wanted = query.selected()
    values = [select(rendered(g, request, place, i), wanted, ITEM_PROPERTIES) for i in page]
    next_link = None
    if more:
        params = {"$top": str(size), "$skiptoken": _skip_token(page[-1].name.casefold())}
        if wanted is not None:
            params["$select"] = ",".join(wanted)
        next_link = str(request.url.copy_with(params=params))
    context = (
        f"{graph_base(request)}/$metadata#drives('{place.library.drive_id}')"
        f"/items('{place.item.id}')/children"
    )
    return json_response(200, collection(context, values, next_link))


def json_body(request: httpx.Request) -> dict[str, Any]:
    raw = request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise invalid("The request body is not JSON") from None
    if not isinstance(body, dict):
        raise invalid("The request body is not a JSON object")
    return body


def new_item(
    g: GraphState, request: httpx.Request, parent: Item, name: str, *, folder: bool
) -> Item:
    client = request.extensions.get(CLIENT_ID)
    now = g.now()
    return Item(
        id=item_id(),
        drive_id=parent.drive_id,
        parent_id=parent.id,
        name=name,
        folder=folder,
        created=now,
        modified=now,
        tag=str(uuid.uuid4()).upper(),
        created_by=client if isinstance(client, str) else None,
        modified_by=client if isinstance(client, str) else None,
    )


def create_folder(g: GraphState, request: httpx.Request, place: Place) -> httpx.Response:
    Query.of(request).allow(parameters=[CONFLICT])
    body = json_body(request)
    if "file" in body:
        raise not_implemented("Creating a file with POST …/children (upload it with PUT …/content)")
    unknown = sorted(set(body) - FOLDER_PROPERTIES)
    if unknown:
        raise not_implemented(f"Setting the property '{unknown[0]}' when creating a folder")
    name, facet = body.get("name"), body.get("folder")
    if not isinstance(name, str) or not name:
        raise invalid("A new folder needs a name")
    if not isinstance(facet, dict):
        raise invalid('A new item needs the folder facet ("folder": {})')
    if facet:
        raise not_implemented("Properties of the folder facet when creating a folder")
    parent = place.item
    if not parent.folder:
        raise GraphProblem(409, "invalidRequest", f"'{parent.name}' is a file, not a folder")
    given = body.get(CONFLICT, request.url.params.get(CONFLICT))
    behaviour = conflict_behaviour(given, "fail")
    g.check_new_name(place.site, place.library, parent, name, folder=True)
    with g.store.transaction():
        existing = g.store.child(parent.id, name)
        if existing is not None:
            if behaviour == "fail":
                raise name_taken(name)
            if behaviour == "rename":
                name = g.free_name(parent, name, folder=True)
            else:
                g.store.remove_files(g.store.delete_tree(existing))
        folder = new_item(g, request, parent, name, folder=True)
        g.store.put_item(folder)
    body_out = with_context(item_context(request, place), rendered(g, request, place, folder))
    return json_response(201, body_out)


def name_taken(name: str) -> GraphProblem:
    return GraphProblem(
        409, "nameAlreadyExists", f"The specified item name '{name}' already exists"
    )


def delete_item(g: GraphState, request: httpx.Request, place: Place) -> httpx.Response:
    Query.of(request).allow()
    if place.item.parent_id is None:
        raise GraphProblem(403, "notAllowed", "The root of a drive cannot be deleted")
    check_preconditions(request, place.item)
    with g.store.transaction():
        removed = g.store.delete_tree(place.item)
    g.store.remove_files(removed)
    return httpx.Response(204)


def upload_small(
    g: GraphState, request: httpx.Request, place: Place, name: str | None
) -> httpx.Response:
    """``PUT …/content``: ``place.item`` is the file replaced (``name`` None) or the folder
    the file ``name`` goes into."""
    query = Query.of(request)
    query.allow(parameters=[CONFLICT])
    data = request.read()
    limit = g.config.simple_upload_limit
    if len(data) > limit:
        raise GraphProblem(
            413,
            "invalidRequest",
            f"The simple upload API supports files up to {limit:,} bytes; this one is "
            f"{len(data):,}: upload it with an upload session (createUploadSession)",
            detail="maxFileSizeExceeded",
        )
    with g.store.transaction():
        target, created = _upload_target(g, request, place, name, query)
        check_preconditions(request, target if not created else None)
        stored = store_content(g, request, target, data, created=created)
    body = with_context(item_context(request, place), rendered(g, request, place, stored))
    return json_response(201 if created else 200, body)


def _upload_target(
    g: GraphState, request: httpx.Request, place: Place, name: str | None, query: Query
) -> tuple[Item, bool]:
    if name is None:
        if place.item.folder:
            raise invalid(f"'{place.item.name}' is a folder: only files have content")
        return place.item, False
    parent = place.item
    behaviour = conflict_behaviour(query.others.get(CONFLICT), "replace")
    g.check_new_name(place.site, place.library, parent, name, folder=False)
    existing = g.store.child(parent.id, name)
    if existing is not None:
        if behaviour == "fail" or existing.folder:
            raise name_taken(name)
        if behaviour == "replace":
            return existing, False
        name = g.free_name(parent, name, folder=False)
    return new_item(g, request, parent, name, folder=False), True


def store_content(
    g: GraphState, request: httpx.Request, item: Item, data: bytes, *, created: bool
) -> Item:
    """Write ``data`` as the content of ``item`` (new, or replaced) and record it."""
    quick = QuickXorHash()
    quick.update(data)
    g.store.write_content(item.id, data)
    stored = file_recorded(
        g,
        request,
        item,
        created=created,
        size=len(data),
        quick_xor=quick.b64digest(),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    g.store.put_item(stored)
    return stored


def file_recorded(
    g: GraphState,
    request: httpx.Request,
    item: Item,
    *,
    created: bool,
    size: int,
    quick_xor: str,
    sha256: str,
) -> Item:
    """``item`` with new content of that size and those hashes (a replaced file gets a new
    eTag and cTag)."""
    client = request.extensions.get(CLIENT_ID)
    client = client if isinstance(client, str) else None
    mime = mimetypes.guess_type(item.name)[0] or "application/octet-stream"
    base = item if created else changed(item, content_version=item.content_version + 1)
    return replace(
        base,
        size=size,
        quick_xor=quick_xor,
        sha256=sha256,
        mime_type=mime,
        modified=g.now(),
        modified_by=client or item.modified_by,
    )


def download(g: GraphState, request: httpx.Request, place: Place) -> httpx.Response:
    Query.of(request).allow()
    if place.item.folder:
        raise invalid(f"'{place.item.name}' is a folder: only files can be downloaded")
    if not check_preconditions(request, place.item):
        return not_modified()
    return httpx.Response(302, headers={"Location": download_link(g, request, place.item)})
