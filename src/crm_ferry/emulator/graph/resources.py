"""The JSON of Graph's resources as the emulator serves them: site, list, drive, driveItem,
and ``$select`` over them.

Shapes from the resource pages (microsoft-graph-docs-contrib): driveItem (commit
05402e3c49fe3899503a4d850680c80100028e2c: "In OneDrive for Business or SharePoint document
libraries, the cTag property is not returned, if the driveItem has a folder facet"),
itemReference (``driveId``, ``driveType``, ``id``, ``path``), drive (``driveType``
``documentLibrary`` for SharePoint libraries), site (``id`` =
``{hostname},{site collection id},{site id}``), list (``list.template``), and hashes
(SharePoint gives only ``quickXorHash``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote

from crm_ferry.emulator.graph.errors import GraphProblem
from crm_ferry.emulator.graph.store import GraphStore, Item, Library, Site

DRIVE_TYPE = "documentLibrary"
DOWNLOAD_URL = "@microsoft.graph.downloadUrl"

ITEM_PROPERTIES = frozenset(
    [
        "audio",
        "bundle",
        "content",
        "createdBy",
        "createdDateTime",
        "cTag",
        "deleted",
        "description",
        "eTag",
        "file",
        "fileSystemInfo",
        "folder",
        "id",
        "image",
        "lastModifiedBy",
        "lastModifiedDateTime",
        "location",
        "malware",
        "name",
        "package",
        "parentReference",
        "pendingOperations",
        "photo",
        "publication",
        "remoteItem",
        "root",
        "searchResult",
        "shared",
        "sharepointIds",
        "size",
        "specialFolder",
        "video",
        "webDavUrl",
        "webUrl",
        "activities",
        "analytics",
        "children",
        "createdByUser",
        "lastModifiedByUser",
        "listItem",
        "permissions",
        "subscriptions",
        "thumbnails",
        "versions",
        "workbook",
        DOWNLOAD_URL,
    ]
)
"""driveItem's properties and relationships (what ``$select`` may name)."""
DRIVE_PROPERTIES = frozenset(
    [
        "id",
        "createdBy",
        "createdDateTime",
        "description",
        "driveType",
        "items",
        "lastModifiedBy",
        "lastModifiedDateTime",
        "name",
        "owner",
        "quota",
        "root",
        "sharepointIds",
        "special",
        "system",
        "webUrl",
    ]
)
SITE_PROPERTIES = frozenset(
    [
        "id",
        "root",
        "sharepointIds",
        "siteCollection",
        "displayName",
        "contentTypes",
        "drive",
        "drives",
        "items",
        "lists",
        "sites",
        "columns",
        "onenote",
        "name",
        "createdDateTime",
        "description",
        "eTag",
        "lastModifiedDateTime",
        "webUrl",
    ]
)
LIST_PROPERTIES = frozenset(
    [
        "columns",
        "contentTypes",
        "displayName",
        "drive",
        "items",
        "list",
        "system",
        "subscriptions",
        "id",
        "name",
        "createdBy",
        "createdDateTime",
        "description",
        "eTag",
        "lastModifiedBy",
        "lastModifiedDateTime",
        "parentReference",
        "sharepointIds",
        "webUrl",
        "operations",
    ]
)


def select(body: dict[str, Any], wanted: list[str] | None, known: frozenset[str]) -> dict[str, Any]:
    """``body`` with only the ``$select``-ed properties (and its ``@odata`` annotations)."""
    if wanted is None:
        return body
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise GraphProblem(
            400,
            "invalidRequest",
            f"Could not find a property named '{unknown[0]}' to $select",
            detail="invalidQueryOption",
        )
    keep = set(wanted)
    return {k: v for k, v in body.items() if k in keep or k.startswith("@odata.")}


def site_json(site: Site) -> dict[str, Any]:
    return {
        "id": site.id,
        "name": site.path.rsplit("/", 1)[-1],
        "displayName": site.display_name,
        "description": "",
        "webUrl": site.web_url,
        "createdDateTime": site.created,
        "lastModifiedDateTime": site.created,
    }


def library_web_url(site: Site, library: Library) -> str:
    return f"{site.web_url}/{quote(library.url_name)}"


def drive_json(store: GraphStore, site: Site, library: Library, quota_total: int) -> dict[str, Any]:
    used = store.used(library.drive_id)
    return {
        "id": library.drive_id,
        "name": library.display_name,
        "description": "",
        "driveType": DRIVE_TYPE,
        "webUrl": library_web_url(site, library),
        "createdDateTime": library.created,
        "lastModifiedDateTime": library.created,
        "quota": {
            "deleted": 0,
            "remaining": quota_total - used,
            "state": "normal",
            "total": quota_total,
            "used": used,
        },
    }


def list_json(site: Site, library: Library) -> dict[str, Any]:
    return {
        "id": library.id,
        "name": library.url_name,
        "displayName": library.display_name,
        "description": "",
        "eTag": f'"{library.id},1"',
        "webUrl": library_web_url(site, library),
        "createdDateTime": library.created,
        "lastModifiedDateTime": library.created,
        "list": {"template": DRIVE_TYPE, "hidden": False, "contentTypesEnabled": False},
        "parentReference": {"siteId": site.id},
    }


def ancestry(store: GraphStore, item: Item) -> list[Item]:
    """The folders from the root (excluded) down to ``item`` (included)."""
    chain: list[Item] = []
    current: Item | None = item
    while current is not None and current.parent_id is not None:
        chain.append(current)
        current = store.item(current.parent_id)
    return list(reversed(chain))


def _encoded(names: Iterable[str]) -> str:
    return "/".join(quote(n, safe="") for n in names)


def identity(client_id: str | None) -> dict[str, Any]:
    return {"application": {"id": client_id or ""}}


def item_json(
    store: GraphStore,
    site: Site,
    library: Library,
    item: Item,
    *,
    download_url: Callable[[Item], str] | None = None,
) -> dict[str, Any]:
    """A driveItem as Graph gives it (``download_url`` mints its pre-authenticated URL)."""
    chain = ancestry(store, item)
    body: dict[str, Any] = {
        "id": item.id,
        "name": item.name if item.parent_id is not None else "root",
        "eTag": f'"{{{item.tag}}},{item.version}"',
        "createdDateTime": item.created,
        "lastModifiedDateTime": item.modified,
        "webUrl": "/".join([library_web_url(site, library), *[quote(i.name) for i in chain]]),
        "size": item.size if not item.folder else _folder_size(store, item),
        "createdBy": identity(item.created_by),
        "lastModifiedBy": identity(item.modified_by),
        "parentReference": _parent_reference(store, site, library, item, chain),
        "fileSystemInfo": {
            "createdDateTime": item.created,
            "lastModifiedDateTime": item.modified,
        },
    }
    if item.parent_id is None:
        body["root"] = {}
    if item.folder:
        body["folder"] = {"childCount": store.child_count(item.id)}
    else:
        body["cTag"] = f'"c:{{{item.tag}}},{item.content_version}"'
        body["file"] = {
            "mimeType": item.mime_type or "application/octet-stream",
            "hashes": {"quickXorHash": item.quick_xor},
        }
        if download_url is not None:
            body[DOWNLOAD_URL] = download_url(item)
    return body


def _folder_size(store: GraphStore, folder: Item) -> int:
    total = 0
    stack = [folder.id]
    while stack:
        for child in store.children(stack.pop()):
            if child.folder:
                stack.append(child.id)
            else:
                total += child.size
    return total


def _parent_reference(
    store: GraphStore, site: Site, library: Library, item: Item, chain: list[Item]
) -> dict[str, Any]:
    reference: dict[str, Any] = {"driveType": DRIVE_TYPE, "driveId": library.drive_id}
    if item.parent_id is None:
        return reference
    parents = chain[:-1]
    path = f"/drives/{library.drive_id}/root:"
    if parents:
        path += "/" + _encoded(p.name for p in parents)
    reference.update(
        {
            "id": item.parent_id,
            "name": parents[-1].name if parents else library.display_name,
            "path": path,
            "siteId": site.id,
        }
    )
    return reference


def collection(context: str, values: list[dict[str, Any]], next_link: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"@odata.context": context, "value": values}
    if next_link is not None:
        body["@odata.nextLink"] = next_link
    return body


def with_context(context: str, body: Mapping[str, Any]) -> dict[str, Any]:
    return {"@odata.context": context, **body}
