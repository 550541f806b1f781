"""Addressing records: primary and alternate keys in URLs, ``@odata.bind`` references, and the
uniqueness of alternate-key values.

Sources (Microsoft Learn):
alternate keys https://learn.microsoft.com/power-apps/developer/data-platform/use-alternate-key-reference-record.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import unquote

import httpx

from crm_ferry.emulator import odata, tenant
from crm_ferry.emulator.layers import api_path
from crm_ferry.emulator.records.rows import fetch_row
from crm_ferry.emulator.schema import EntityDef
from crm_ferry.emulator.state import TenantState
from crm_ferry.emulator.store import key_value
from crm_ferry.emulator.validation import (
    DUPLICATE_KEY,
    INVALID_KEY_OPERATION,
    PAYLOAD_ERROR,
    RECORD_NOT_FOUND_BY_KEY,
    Fault,
    is_guid,
    lookup_not_found,
    norm_guid,
)


def _key_value_of(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def resolve_key(
    em: TenantState, entity: EntityDef, key: odata.Key
) -> tuple[str | None, dict[str, Any]]:
    """(row id or None, alternate-key values) for ``set(<key>)``.

    The id form and ``set(<pk>=<guid>)`` address by primary key; anything else must name
    exactly the columns of one Active alternate key.
    """
    if not key.named:
        if isinstance(key.value, uuid.UUID):
            return str(key.value), {}  # already the canonical form norm_guid gives
        value = _key_value_of(key.value)
        if not is_guid(value):
            raise _bad_key(entity)
        return norm_guid(value), {}
    names = [n for n, _ in key.named]
    if names == [entity.primary_id] and entity.logical_name not in ("systemuser", "team"):
        value = _key_value_of(key.named[0][1])
        if not is_guid(value):
            raise _bad_key(entity)
        return norm_guid(value), {}
    columns = {lookup_name(n): _key_value_of(v) for n, v in key.named}
    for k in entity.keys.values():
        if set(k.key_attributes) == set(columns):
            if k.status != "Active":
                raise Fault(
                    400,
                    INVALID_KEY_OPERATION,
                    f"The entity key '{k.schema_name}' of entity '{entity.logical_name}' is "
                    f"not active (its index status is {k.status}); it cannot be used to "
                    "reference a record until its index has been built.",
                )
            values = {c: columns[c] for c in k.key_attributes}
            ids = em.store.find_by_key(entity.logical_name, k.key_attributes, values)
            return (ids[0] if ids else None), values
    raise _bad_key(entity)


def lookup_name(name: str) -> str:
    if name.startswith("_") and name.endswith("_value"):
        return name[1:-6]
    return name


def _bad_key(entity: EntityDef) -> Fault:
    t = f"Microsoft.Dynamics.CRM.{entity.logical_name}"
    return Fault(
        400,
        INVALID_KEY_OPERATION,
        f"The key in the request URI is not valid for resource '{t}'. Ensure that the names "
        "and number of key properties match the declared or alternate key properties for the "
        f"resource '{t}'.",
    )


def key_not_found(entity: EntityDef, values: Mapping[str, Any]) -> Fault:
    return Fault(
        404,
        RECORD_NOT_FOUND_BY_KEY,
        f"A record with the specified key values does not exist in {entity.logical_name} entity",
    )


_PLAIN_REFERENCE = re.compile(
    r"/?([A-Za-z_][A-Za-z0-9_]*)\(([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\)"
)
"""An ``@odata.bind`` value that is an entity set and a GUID, and nothing else."""


def parse_reference(em: TenantState, text: Any) -> tuple[EntityDef, str]:
    """``/set(id)``, ``set(id)``, an absolute URL or ``set(key='v')`` → (table, existing id)."""
    if not isinstance(text, str):
        raise Fault(400, PAYLOAD_ERROR, f"The @odata.bind value '{text}' is not a URI.")
    plain = _PLAIN_REFERENCE.fullmatch(text)
    if plain is not None:
        # ``/set(<guid>)``, what clients send: the answer of the general parse below,
        # without tokenizing the path
        found = em.schema.by_entity_set(plain.group(1))
        if found is None:
            raise Fault(400, PAYLOAD_ERROR, f"The @odata.bind value '{text}' is not valid.")
        plain_id = str(uuid.UUID(plain.group(2)))
        table = found.logical_name
        if table in tenant.VIRTUAL_TABLES:
            there = fetch_row(em, table, plain_id) is not None
        else:
            there = em.store.exists(table, plain_id)
        if not there:
            raise lookup_not_found(table, plain_id)
        return found, plain_id
    ref = text
    if "://" in ref:
        ref = httpx.URL(ref).path
    split = api_path(ref)
    if split is not None:
        ref = split[1]
    ref = ref.lstrip("/")
    try:
        segments = odata.parse_resource_path(unquote(ref))
    except odata.ODataError:
        raise Fault(400, PAYLOAD_ERROR, f"The @odata.bind value '{text}' is not valid.") from None
    if len(segments) != 1 or not isinstance(segments[0], odata.EntitySetSegment):
        raise Fault(400, PAYLOAD_ERROR, f"The @odata.bind value '{text}' is not valid.")
    seg = segments[0]
    target = em.schema.by_entity_set(seg.name)
    if target is None or seg.key is None:
        raise Fault(400, PAYLOAD_ERROR, f"The @odata.bind value '{text}' is not valid.")
    row_id, values = resolve_key(em, target, seg.key)
    if row_id is None:
        raise key_not_found(target, values)
    if fetch_row(em, target.logical_name, row_id) is None:
        raise lookup_not_found(target.logical_name, row_id)
    return target, row_id


def check_unique_keys(em: TenantState, entity: EntityDef, row_id: str, row: dict[str, Any]) -> None:
    """412 DuplicateRecordEntityKey when an Active alternate key's values are taken."""
    for k in entity.keys.values():
        if k.status != "Active":
            continue
        if key_value(row, k.key_attributes) is None:
            continue
        values = {c: row.get(c) for c in k.key_attributes}
        others = em.store.find_by_key(entity.logical_name, k.key_attributes, values)
        if any(i != row_id for i in others):
            shown = ",".join(str(row.get(c)) for c in k.key_attributes)
            raise Fault(
                412,
                DUPLICATE_KEY,
                f"A record that has the attribute values {shown} already exists. The entity "
                f"key {k.schema_name} requires that this set of attributes contains unique "
                "values.",
            )


__all__ = [
    "check_unique_keys",
    "key_not_found",
    "lookup_name",
    "parse_reference",
    "resolve_key",
]
