"""The metadata API's entry point (:func:`handle_metadata`, by HTTP method) and the
asynchronous index build of alternate keys (:func:`settle`, run before every request).
"""

from __future__ import annotations

import httpx

from crm_ferry.emulator.layers import odata_error
from crm_ferry.emulator.metadata.changes import (
    METADATA_ACTIONS,
    MetaEmulator,
    delete,
    post,
    post_action,
)
from crm_ferry.emulator.metadata.errors import ODATA_ERROR
from crm_ferry.emulator.metadata.paths import NOT_EMULATED_SETS, segments
from crm_ferry.emulator.metadata.reads import get
from crm_ferry.emulator.metadata.updates import put
from crm_ferry.emulator.schema import EntityDef, KeyDef
from crm_ferry.emulator.unsupported import not_implemented
from crm_ferry.emulator.validation import NOT_SUPPORTED, Fault


def handle_metadata(emulator: MetaEmulator, request: httpx.Request, path: str) -> httpx.Response:
    """Answer one request on ``EntityDefinitions``, ``RelationshipDefinitions`` or
    ``GlobalOptionSetDefinitions`` (``path`` is the part after ``/api/data/v9.2/``)."""
    try:
        if path.startswith(NOT_EMULATED_SETS):
            raise not_implemented(f"The metadata set {path.split('(')[0].split('/')[0]}")
        segs = segments(path)
        method = request.method.upper()
        if method == "GET":
            return get(emulator.schema, request, segs)
        if method == "POST":
            return post(emulator, request, segs)
        if method == "DELETE":
            return delete(emulator, request, segs)
        if method == "PUT":
            return put(emulator, request, segs)
        if method == "PATCH":
            # "You can't use the PATCH method to update data model entities ... you must use
            # the PUT method" (create-update-entity-definitions-using-web-api).
            return odata_error(
                405,
                NOT_SUPPORTED,
                "Definitions can't be updated with PATCH: PUT the whole definition.",
            )
        return odata_error(405, ODATA_ERROR, f"The HTTP method '{method}' is not allowed here.")
    except Fault as exc:
        return odata_error(exc.status, exc.code, exc.message)


def handle_metadata_action(
    emulator: MetaEmulator, request: httpx.Request, name: str
) -> httpx.Response:
    """Answer one of :data:`METADATA_ACTIONS` (``name``, the path after ``/api/data/v9.2/``)."""
    try:
        return post_action(emulator, request, name)
    except Fault as exc:
        return odata_error(exc.status, exc.code, exc.message)


def settle(emulator: MetaEmulator) -> None:
    """Flip Pending keys whose time has come to Active, or Failed on duplicate values."""
    pending = [
        (entity, key)
        for entity in emulator.schema.entities.values()
        for key in entity.keys.values()
        if key.status in ("Pending", "InProgress")
    ]
    if not pending:
        return
    now = emulator.clock()
    changed = False
    for entity, key in pending:
        if key.active_at <= now:
            duplicates = _has_duplicates(emulator, entity, key)
            key.status = "Failed" if duplicates else "Active"
            changed = True
    if changed:
        emulator.save_schema()


def _has_duplicates(emulator: MetaEmulator, entity: EntityDef, key: KeyDef) -> bool:
    store = emulator.store
    check = getattr(store, "has_duplicates", None)
    if callable(check):
        return bool(check(entity.logical_name, key.key_attributes))
    return False


__all__ = [
    "METADATA_ACTIONS",
    "MetaEmulator",
    "handle_metadata",
    "handle_metadata_action",
    "settle",
]
