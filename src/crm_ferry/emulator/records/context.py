"""The context of one record request, and the responses the record handlers answer with.

:class:`Ctx` is what every handler, write and rule sees of the request: its base URL (taken
from the request, so ``OData-EntityId``, ``@odata.nextLink`` and ``@odata.context`` point back
at whatever host was called), the caller and the ``Prefer`` header. Error bodies have the
documented shape
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/compose-http-requests-handle-errors).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from crm_ferry.emulator import layers, odata, tenant
from crm_ferry.emulator.layers import CALLER, ODATA_JSON
from crm_ferry.emulator.validation import (
    CONCURRENCY_MISMATCH,
    NOT_IMPLEMENTED,
    NOT_SUPPORTED,
    PAYLOAD_ERROR,
    UNKNOWN_PROPERTY,
    Fault,
)


@dataclass(slots=True)
class Ctx:
    request: httpx.Request
    base: str
    """``https://host/api/data/<version>/`` (the version of the request): every URL handed
    out starts with it."""
    caller: str
    prefer: dict[str, str]
    lookup_annotations: bool
    formatted_values: bool

    @property
    def representation(self) -> bool:
        return self.prefer.get("return") == "representation"


_PREFER_RE = re.compile(r'\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*(?:=\s*("[^"]*"|[^,]*))?\s*(?:,|$)')
"""One preference of a ``Prefer`` header (RFC 7240): a token, optionally ``=`` a value (quoted,
or up to the next comma, parameters after ``;`` included)."""


def well_formed_prefer(header: str) -> bool:
    """Whether every character of ``header`` belongs to one preference."""
    at = 0
    for match in _PREFER_RE.finditer(header):
        if match.start() != at or not match.group(1):
            return False
        at = match.end()
    return at == len(header)


def parse_prefer(header: str) -> dict[str, str]:
    prefs: dict[str, str] = {}
    for name, value in _PREFER_RE.findall(header or ""):
        if name:
            prefs[name.lower()] = value.strip().strip('"')
    return prefs


def make_ctx(request: httpx.Request) -> Ctx:
    prefer = parse_prefer(", ".join(request.headers.get_list("Prefer")))
    annotations = prefer.get("odata.include-annotations", "")
    wanted = [a.strip() for a in annotations.split(",") if a.strip()]
    caller = request.extensions.get(CALLER) or tenant.DEFAULT_APP_USER_ID
    return Ctx(
        request=request,
        base=layers.api_base(request),
        caller=str(caller),
        prefer=prefer,
        lookup_annotations=any(
            a in ("*", "Microsoft.Dynamics.CRM.*", "Microsoft.Dynamics.CRM.lookuplogicalname")
            for a in wanted
        ),
        formatted_values=any(
            a in ("*", "OData.Community.Display.V1.FormattedValue") for a in wanted
        ),
    )


def json_response(
    status: int, body: Any, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    """An OData JSON response (``OData-Version: 4.0``)."""
    return layers.json_response(
        status, body, headers={"OData-Version": "4.0", **(headers or {})}, content_type=ODATA_JSON
    )


def error_response(fault: Fault) -> httpx.Response:
    """The documented error shape (compose-http-requests-handle-errors)."""
    return layers.odata_error(fault.status, fault.code, fault.message)


def no_content(headers: Mapping[str, str] | None = None) -> httpx.Response:
    raw = [(b"OData-Version", b"4.0")]
    raw += [(k.encode("ascii"), v.encode("utf-8")) for k, v in (headers or {}).items()]
    return httpx.Response(204, headers=raw)


def etag(row: Mapping[str, Any]) -> str:
    return f'W/"{row.get("versionnumber", 0)}"'


def match_etag(header: str, row: Mapping[str, Any]) -> bool:
    """Whether an ``If-Match`` / ``If-None-Match`` header names the row's version (or ``*``)."""
    return any(t.strip() in ("*", etag(row)) for t in header.split(","))


def check_if_match(if_match: str | None, row: Mapping[str, Any]) -> None:
    """412 ConcurrencyVersionMismatch unless ``If-Match`` is absent or names the row's version."""
    if if_match is not None and not match_etag(if_match, row):
        raise Fault(
            412,
            CONCURRENCY_MISMATCH,
            "The version of the existing record doesn't match the RowVersion property provided.",
        )


def odata_fault(exc: odata.ODataError) -> Fault:
    if exc.status == 501:
        return Fault(501, NOT_IMPLEMENTED, exc.message)
    code = exc.code if exc.code and exc.code != "0x0" else UNKNOWN_PROPERTY
    return Fault(exc.status, code, exc.message)


def method_not_allowed(method: str, rest: str) -> Fault:
    return Fault(405, NOT_SUPPORTED, f"The HTTP method '{method}' is not allowed on '{rest}'.")


def read_body(ctx: Ctx) -> dict[str, Any]:
    raw = ctx.request.content
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise Fault(400, PAYLOAD_ERROR, "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise Fault(400, PAYLOAD_ERROR, "The request body must be a JSON object.")
    return body


__all__ = [
    "Ctx",
    "check_if_match",
    "error_response",
    "etag",
    "json_response",
    "make_ctx",
    "match_etag",
    "method_not_allowed",
    "no_content",
    "odata_fault",
    "parse_prefer",
    "read_body",
    "well_formed_prefer",
]
