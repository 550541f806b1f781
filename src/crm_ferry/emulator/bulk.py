"""Bulk operation messages: CreateMultiple, UpdateMultiple, UpsertMultiple (and DeleteMultiple).

Written from https://learn.microsoft.com/power-apps/developer/data-platform/bulk-operations and
the Web API reference pages of the actions
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/createmultiple,
.../updatemultiple, .../upsertmultiple):

* ``POST <entityset>/Microsoft.Dynamics.CRM.<Message>`` with ``{"Targets": [...]}``;
  ``Targets`` is a non-nullable ``Collection(crmbaseentity)``.
* "You must set the ``@odata.type`` property for each item in the ``Targets`` parameter", and
  all records must be of the same table.
* CreateMultiple → ``200`` with ``{"@odata.context": ".../$metadata#Microsoft.Dynamics.CRM.
  CreateMultipleResponse", "Ids": [...]}``; UpdateMultiple and UpsertMultiple → ``204``.
* Standard tables: "Any error that occurs in a bulk operation with a standard table causes the
  entire operation to roll back." Per-record results (``Plugin.BulkApiErrorDetails`` with
  ``RequestIndex``) exist for *elastic* tables only, so a failed request on a standard table
  answers with the one error of the record that failed — its status, code and message, which
  name the record when the message does (``Contact With Ids = <guid> Do Not Exist``) — and
  nothing else.
* Availability: custom tables and "many common standard tables, but not all"; a table that
  doesn't support the message fails with the platform's
  ``The '<Message>' method does not support entities of type '<table>'.`` (code
  ``0x80040800``, SdkEntityDoesNotSupportMessage). Clients probe with
  ``GET sdkmessagefilters?...`` (:func:`handle_sdkmessagefilters`).
* DeleteMultiple is for elastic tables only: "If you use DeleteMultiple on a standard table,
  you get the error: DeleteMultiple has not yet been implemented."

All targets run inside one ``emulator.transaction()``, each as the single request it stands
for — POST for a create, PATCH with ``If-Match: *`` for an update, PATCH for an upsert — so
validation is exactly that of single requests. On the emulator's own tenant
(:class:`~crm_ferry.emulator.state.TenantState`), a target is written by the single-record
path's own functions without building that request (:class:`_Direct`: the router's checks,
``records.create_record`` / ``records.write_upsert``, the same caller, privileges, defaults
and errors); a target whose key it cannot take the short way, and any other core, goes through
an inner request to ``emulator.dispatch``.

Stricter than the service on purpose: UpsertMultiple refuses a target whose body repeats an
alternate-key column with a value different from the one in its ``@odata.id`` (Dataverse
would silently create the record with the body's value: see "Don't put alternate-key values
in the upsert body" in
https://learn.microsoft.com/power-apps/developer/data-platform/use-upsert-insert-update-record).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import httpx

from crm_ferry.emulator import odata, records, tenant
from crm_ferry.emulator.batch import DEADLOCK_CODE, DEADLOCK_MESSAGE
from crm_ferry.emulator.layers import (
    CALLER,
    FAIL_ITEM,
    ODATA_JSON,
    RECORDS,
    api_base,
    api_path,
    json_response,
    odata_error,
)
from crm_ferry.emulator.metadata import METADATA_SETS
from crm_ferry.emulator.schema import BULK_MESSAGES, EntityDef, Schema
from crm_ferry.emulator.state import TenantState
from crm_ferry.emulator.validation import NOT_IMPLEMENTED, PAYLOAD_ERROR, UNKNOWN_PROPERTY, Fault

INVALID_ARGUMENT = "0x80040203"
NOT_SUPPORTED_CODE = "0x80040800"
NOT_SUPPORTED = (
    "The '{message}' method does not support entities of type '{table}'. "
    "MessageProcessorCache returned MessageProcessor.Empty."
)
DELETE_MULTIPLE = "DeleteMultiple has not yet been implemented."
"""Documented text for DeleteMultiple on a standard table (status and code are not documented;
later reports show the generic NOT_SUPPORTED text instead)."""

MISSING_TYPE = (
    "An error occurred while validating input parameters: Microsoft.OData.ODataException: "
    "Does not support untyped value in non-open type."
)
"""Approximation: without ``@odata.type`` an item is read as the abstract ``crmbaseentity``,
which declares none of the record's properties; the OData layer rejects the payload."""

WRONG_TYPE = (
    "This entity cannot be added to the specified collection. The collection can have entities "
    "with PlatformName = {expected} while this entity has Platform Name: {actual}"
)
UNKNOWN_TYPE = (
    "A type named '{name}' could not be resolved by the model. When a model is available, each "
    "type name must resolve to a valid type."
)
EMPTY_TARGETS = "The value of the parameter 'Targets' cannot be null or empty."
NO_ID = "Entity Id must be specified for Update"
UPSERT_NO_KEY = (
    "Each item of 'Targets' for UpsertMultiple must identify its record by the primary key "
    "'{pk}' or by '@odata.id' with an alternate key."
)
KEY_CONFLICT = (
    "The value of '{column}' in the body of the record '{odata_id}' differs from the value in "
    "its '@odata.id'. Don't repeat alternate key values in the body of an upsert."
)

_TYPE_PREFIX = "Microsoft.Dynamics.CRM."


class BulkEmulator(Protocol):
    """What bulk messages need from the emulator core."""

    @property
    def schema(self) -> Schema: ...

    def dispatch(self, request: httpx.Request) -> httpx.Response: ...

    def transaction(self) -> AbstractContextManager[Any]: ...


class _Failed(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def supports(entity: EntityDef, message: str) -> bool:
    """Whether ``entity`` supports the bulk ``message`` (CreateMultiple, ...)."""
    return message in entity.bulk_messages


def handle_bulk(
    emulator: BulkEmulator, request: httpx.Request, entity: EntityDef, message: str
) -> httpx.Response:
    """Run one bulk message on ``entity``; all or nothing."""
    if message == "DeleteMultiple":
        return odata_error(400, NOT_SUPPORTED_CODE, DELETE_MULTIPLE)
    if message not in BULK_MESSAGES:
        return odata_error(
            404,
            UNKNOWN_PROPERTY,
            f"Resource not found for the segment 'Microsoft.Dynamics.CRM.{message}'.",
        )
    if not supports(entity, message):
        return odata_error(
            400,
            NOT_SUPPORTED_CODE,
            NOT_SUPPORTED.format(message=message, table=entity.logical_name),
        )
    try:
        targets = _targets(request)
        for item in targets:
            _check_type(emulator.schema, entity, item)
    except _Failed as exc:
        return exc.response
    fail = request.extensions.get(FAIL_ITEM)
    fail_item = fail if isinstance(fail, int) and not isinstance(fail, bool) else None
    base = api_base(request)
    ids: list[str] = []
    done = 0
    direct = _Direct.of(emulator, request, base, entity, message)
    try:
        with emulator.transaction(), direct.prefetch(targets) if direct else nullcontext():
            for index, item in enumerate(targets):
                done += 1
                if index == fail_item:
                    raise _Failed(odata_error(500, DEADLOCK_CODE, DEADLOCK_MESSAGE))
                if direct is not None:
                    written = direct.write(item)
                    if written is not None:
                        if message == "CreateMultiple":
                            ids.append(written)
                        continue
                inner = _inner_request(request, base, entity, message, item)
                response = emulator.dispatch(inner)
                response.read()
                if response.status_code >= 400:
                    raise _Failed(_explain(entity, message, item, response))
                if message == "CreateMultiple":
                    ids.append(_created_id(response))
    except _Failed as exc:
        exc.response.extensions[RECORDS] = done
        return exc.response
    if message == "CreateMultiple":
        response = json_response(
            200,
            {
                "@odata.context": (
                    f"{base}$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse"
                ),
                "Ids": ids,
            },
            headers={"OData-Version": "4.0"},
            content_type=ODATA_JSON,
        )
    else:
        response = httpx.Response(204, headers={"OData-Version": "4.0"})
    response.extensions[RECORDS] = len(targets)
    return response


def _targets(request: httpx.Request) -> list[dict[str, Any]]:
    try:
        body = json.loads(request.content or b"null")
    except ValueError as exc:
        raise _Failed(odata_error(400, PAYLOAD_ERROR, f"Invalid JSON payload: {exc}.")) from None
    if not isinstance(body, dict):
        raise _Failed(odata_error(400, INVALID_ARGUMENT, EMPTY_TARGETS))
    targets = body.get("Targets")
    if not isinstance(targets, list) or not targets:
        raise _Failed(odata_error(400, INVALID_ARGUMENT, EMPTY_TARGETS))
    if not all(isinstance(t, dict) for t in targets):
        raise _Failed(
            odata_error(
                400,
                PAYLOAD_ERROR,
                "An error occurred while validating input parameters: each item of 'Targets' "
                "must be a JSON object.",
            )
        )
    return targets


def _check_type(schema: Schema, entity: EntityDef, item: dict[str, Any]) -> None:
    odata_type = item.get("@odata.type")
    if not isinstance(odata_type, str) or not odata_type:
        raise _Failed(odata_error(400, PAYLOAD_ERROR, MISSING_TYPE))
    name = odata_type.removeprefix("#")
    logical = name.removeprefix(_TYPE_PREFIX) if name.startswith(_TYPE_PREFIX) else None
    if logical is None or schema.entity(logical) is None:
        raise _Failed(odata_error(400, PAYLOAD_ERROR, UNKNOWN_TYPE.format(name=name)))
    if logical != entity.logical_name:
        raise _Failed(
            odata_error(
                400,
                INVALID_ARGUMENT,
                WRONG_TYPE.format(expected=entity.logical_name, actual=logical),
            )
        )


def _inner_request(
    outer: httpx.Request, base: str, entity: EntityDef, message: str, item: dict[str, Any]
) -> httpx.Request:
    body = {k: v for k, v in item.items() if k != "@odata.type"}
    headers = {"Content-Type": "application/json", "OData-Version": "4.0"}
    for name in ("authorization", "callerobjectid", "mscrm.callerid"):
        if name in outer.headers:
            headers[name] = outer.headers[name]
    set_url = f"{base}{entity.entity_set_name}"
    if message == "CreateMultiple":
        method, url = "POST", set_url
    else:
        address = _address(entity, message, body)
        method, url = "PATCH", f"{set_url}({address})"
        if message == "UpdateMultiple":
            headers["If-Match"] = "*"
    extensions = {k: v for k, v in outer.extensions.items() if k != FAIL_ITEM}
    return httpx.Request(
        method, url, headers=headers, content=json.dumps(body).encode(), extensions=extensions
    )


# -- the direct write path -------------------------------------------------------------------

_SIMPLE_SET = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CANONICAL_ID = re.compile(r"^[0-9a-fA-F-]{36}$")
_NO_QUERY = odata.QueryOptions()


def _plain_address(address: str) -> bool:
    """Whether ``<set>(<address>)`` reaches the record router unchanged through an
    ``httpx.URL`` and the router's percent-decoding: no ``%`` (decoded, up to three times),
    ``?`` / ``#`` (query, fragment), ``/`` (another segment, dot-segment removal), ``\\``,
    and no ASCII control characters (``httpx.InvalidURL``). Anything else goes through an
    inner request, so what it does stays exactly what a single request does.
    """
    return address.isprintable() and not any(c in address for c in "%?#/\\")


class _Direct:
    """Each target written by the single-record path's own functions, without a request.

    What an inner request would do, step for step: the router's checks on the URL
    (``Emulator._route`` and ``_route_records`` in :mod:`crm_ferry.emulator.core`), then
    ``records.create_record`` (POST) or ``records.resolve_key`` + ``records.write_upsert``
    (PATCH, with ``If-Match: *`` for UpdateMultiple) on the same body, caller and
    privileges. A failing target raises :class:`_Failed` with the response
    its inner request would have answered. No savepoint per target: any failure rolls the
    whole message back, so a per-target one could not change the outcome. A target whose key
    the fast path cannot prove equivalent is left to the inner-request path (``write``
    answers None).
    """

    def __init__(
        self, em: TenantState, request: httpx.Request, base: str, entity: EntityDef, message: str
    ) -> None:
        self.em = em
        self.entity = entity
        self.message = message
        caller = request.extensions.get(CALLER) or tenant.DEFAULT_APP_USER_ID
        # records.make_ctx of an inner request: no Prefer header, the bulk request's caller;
        # the write functions don't read ``request`` (only the handlers do, for headers/body)
        self.ctx = records.Ctx(
            request=request,
            base=f"{base}",
            caller=str(caller),
            prefer={},
            lookup_annotations=False,
            formatted_values=False,
        )
        self.if_match = "*" if message == "UpdateMultiple" else None

    @classmethod
    def of(
        cls,
        emulator: BulkEmulator,
        request: httpx.Request,
        base: str,
        entity: EntityDef,
        message: str,
    ) -> _Direct | None:
        """The direct writer for the emulator's own tenant; None for another core (or a table
        whose entity-set URL the router would not send to the record handlers)."""
        if not isinstance(emulator, TenantState):
            return None
        set_name = entity.entity_set_name
        if (
            not _SIMPLE_SET.match(set_name)
            or set_name.startswith(METADATA_SETS)  # Emulator._route: the metadata API
            or entity.logical_name in tenant.VIRTUAL_TABLES
        ):
            return None
        try:
            segments = odata.parse_resource_path(set_name, aliases=_NO_QUERY.aliases)
        except odata.ODataError:
            return None
        if (
            len(segments) != 1
            or not isinstance(segments[0], odata.EntitySetSegment)
            or segments[0].key is not None
            or emulator.schema.by_entity_set(segments[0].name) is not entity
        ):
            return None
        return cls(emulator, request, base, entity, message)

    def prefetch(self, targets: list[dict[str, Any]]) -> AbstractContextManager[None]:
        """Look up in one go which of the records the targets name by primary key are new."""
        pk = self.entity.primary_id
        ids = []
        for item in targets:
            value = item.get(pk)
            if isinstance(value, str) and _GUID.match(value):
                ids.append(value.lower())
        return self.em.store.known_absent(self.entity.logical_name, ids)

    def write(self, item: dict[str, Any]) -> str | None:
        """Write one target; its record id, or None to leave it to an inner request."""
        entity = self.entity
        body = {k: v for k, v in item.items() if k != "@odata.type"}
        try:
            if self.message == "CreateMultiple":
                row_id, _ = records.create_record(self.em, self.ctx, entity, body)
                return row_id if _CANONICAL_ID.match(row_id) else ""
            address = _address(entity, self.message, body)
            if not _plain_address(address):
                return None
            if _GUID.match(address):
                # core._simple_path + resolve_key: str(UUID(address)), i.e. lower case
                found: str | None = address.lower()
                key_values: dict[str, Any] = {}
            else:
                key = self._key(address)
                if key is None:
                    return None
                found, key_values = records.resolve_key(self.em, entity, key)
            existing = self.em.store.get(entity.logical_name, found) if found else None
            row_id, _, _ = records.write_upsert(
                self.em,
                self.ctx,
                entity,
                found,
                key_values,
                existing,
                body,
                if_match=self.if_match,
                if_none=None,
            )
        except Fault as fault:
            raise _Failed(
                _explain(entity, self.message, item, records.error_response(fault))
            ) from None
        return row_id

    def _key(self, address: str) -> odata.Key | None:
        """The key the router parses from ``<set>(<address>)`` (not a plain GUID); None if
        the path would not reach ``patch_upsert``."""
        set_name = self.entity.entity_set_name
        try:
            segments = odata.parse_resource_path(
                f"{set_name}({address})", aliases=_NO_QUERY.aliases
            )
        except odata.ODataError as exc:
            raise records.odata_fault(exc) from None
        if len(segments) != 1:
            return None
        first = segments[0]
        if not isinstance(first, odata.EntitySetSegment) or first.name != set_name:
            return None
        return first.key


_ODATA_ID = re.compile(r"^/?(?P<set>[A-Za-z0-9_]+)\((?P<key>.+)\)$")
_KEY_PART = re.compile(r"\s*([A-Za-z0-9_]+)\s*=\s*('(?:[^']|'')*'|[^,]+)\s*(?:,|$)")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _address(entity: EntityDef, message: str, body: dict[str, Any]) -> str:
    """The key segment of the record a target names; pops identifying values off ``body``."""
    pk = entity.primary_id
    odata_id = body.pop("@odata.id", None)
    if odata_id is not None:
        return _from_odata_id(entity, body, odata_id)
    value = body.pop(pk, None)
    if isinstance(value, str) and _GUID.match(value):
        return value
    text = NO_ID if message == "UpdateMultiple" else UPSERT_NO_KEY.format(pk=pk)
    if value is not None:
        text = f"'{value}' is not a valid value for the primary key '{pk}'."
    raise _Failed(odata_error(400, INVALID_ARGUMENT, text))


def _from_odata_id(entity: EntityDef, body: dict[str, Any], odata_id: Any) -> str:
    text = str(odata_id)
    path = urlsplit(text).path if "://" in text else text
    split = api_path(path)
    if split is not None:
        path = split[1]
    m = _ODATA_ID.match(path)
    if m is None or m.group("set") != entity.entity_set_name:
        raise _Failed(
            odata_error(
                400,
                PAYLOAD_ERROR,
                f"The '@odata.id' value '{text}' does not identify a record of the entity set "
                f"'{entity.entity_set_name}'.",
            )
        )
    key = m.group("key")
    if _GUID.match(key.strip()):
        body.pop(entity.primary_id, None)
        return key.strip()
    for column, raw in _KEY_PART.findall(key):
        if column not in body:
            continue
        value = _key_value(raw)
        if _same(body[column], value):
            del body[column]
            continue
        raise _Failed(
            odata_error(400, INVALID_ARGUMENT, KEY_CONFLICT.format(column=column, odata_id=text))
        )
    return key


def _key_value(raw: str) -> Any:
    raw = raw.strip()
    if raw.startswith("'") and raw.endswith("'"):
        return raw[1:-1].replace("''", "'")
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _same(body_value: Any, key_value: Any) -> bool:
    if body_value == key_value:
        return True
    return str(body_value) == str(key_value)


def _created_id(response: httpx.Response) -> str:
    entity_id = response.headers.get("odata-entityid", "")
    m = re.search(r"\(([0-9a-fA-F-]{36})\)\s*$", entity_id)
    if m:
        return m.group(1)
    try:
        body = response.json()
    except ValueError:
        return ""
    return next((v for k, v in body.items() if isinstance(v, str) and _GUID.match(v)), "")


def _explain(
    entity: EntityDef, message: str, item: dict[str, Any], response: httpx.Response
) -> httpx.Response:
    """The error of the failing record, worded as the bulk message words it.

    UpdateMultiple on a missing record answers "Contact With Ids = <guid> Do Not Exist" (listed
    under "Troubleshooting common errors" of the bulk operations article), not the single
    update's "contact With Id = <guid> Does Not Exist".
    """
    if message != "UpdateMultiple" or response.status_code != 404:
        return response
    record_id = item.get(entity.primary_id) or item.get("@odata.id")
    try:
        code = str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        code = "0x80040217"
    label = entity.display_name or entity.logical_name
    return odata_error(404, code, f"{label} With Ids = {record_id} Do Not Exist")


# -- the availability probe ------------------------------------------------------------------

_FILTER_EQ = re.compile(r"([A-Za-z_/]+)\s+eq\s+('(?:[^']|'')*'|@[A-Za-z_]+)")
_NAMESPACE = uuid.UUID("6f1c2a51-3a4e-4c8e-9b0e-5d7f0c3b2a10")
_ALWAYS = frozenset({"Create", "Update", "Delete", "Retrieve", "RetrieveMultiple", "Upsert"})


def message_filters(schema: Schema, message: str, table: str | None) -> list[dict[str, Any]]:
    """The ``sdkmessagefilter`` rows for ``message`` (on ``table`` when given)."""
    tables: Iterable[EntityDef]
    if table is not None:
        one = schema.entity(table)
        tables = [one] if one is not None else []
    else:
        tables = schema.entities.values()
    rows = []
    for entity in tables:
        if message in _ALWAYS or supports(entity, message):
            rows.append(
                {
                    "sdkmessagefilterid": str(
                        uuid.uuid5(_NAMESPACE, f"{message}:{entity.logical_name}")
                    ),
                    "primaryobjecttypecode": entity.logical_name,
                }
            )
    return rows


def handle_sdkmessagefilters(emulator: BulkEmulator, request: httpx.Request) -> httpx.Response:
    """``GET sdkmessagefilters?$select=sdkmessagefilterid&$filter=sdkmessageid/name eq 'X' and
    primaryobjecttypecode eq 'y'`` — the probe the bulk operations article shows (parameter
    aliases ``@message`` / ``@table`` included). Only ``eq`` conditions joined by ``and`` on
    those two columns are understood; anything else is a 501.
    """
    query = parse_qs(request.url.query.decode("utf-8"), keep_blank_values=True)
    flt = (query.get("$filter") or [""])[0]
    conditions: dict[str, str] = {}
    for column, raw in _FILTER_EQ.findall(flt):
        value = raw
        if raw.startswith("@"):
            alias = query.get(raw)
            if not alias:
                return odata_error(
                    400, PAYLOAD_ERROR, f"The parameter alias '{raw}' is not defined in the query."
                )
            value = alias[0]
        conditions[column] = _key_value(value) if value.startswith("'") else value
    rest = _FILTER_EQ.sub("", flt).replace(" and ", " ").strip()
    if rest or "sdkmessageid/name" not in conditions:
        return odata_error(
            501,
            NOT_IMPLEMENTED,
            "The emulator's sdkmessagefilters supports only \"sdkmessageid/name eq '<message>' "
            "and primaryobjecttypecode eq '<table>'\" filters.",
        )
    rows = message_filters(
        emulator.schema,
        str(conditions["sdkmessageid/name"]),
        conditions.get("primaryobjecttypecode"),
    )
    select = (query.get("$select") or ["sdkmessagefilterid"])[0].split(",")
    base = api_base(request)
    value = [{"@odata.etag": 'W/"1"', **{k: row[k] for k in select if k in row}} for row in rows]
    return json_response(
        200,
        {
            "@odata.context": f"{base}$metadata#sdkmessagefilters({','.join(select)})",
            "value": value,
        },
        headers={"OData-Version": "4.0"},
        content_type=ODATA_JSON,
    )


__all__ = ["handle_bulk", "handle_sdkmessagefilters", "message_filters", "supports"]
