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

    def wants_annotation(self, name: str) -> bool:
        """Whether ``Prefer: odata.include-annotations`` asks for the annotation ``name``
        (by name, ``*``, or a namespace wildcard such as ``Microsoft.Dynamics.CRM.*``)."""
        return _wants(self.prefer.get("odata.include-annotations", ""), name)

    def preference_applied(
        self, *, representation: bool = False, page_size: int | None = None
    ) -> dict[str, str]:
        """The ``Preference-Applied`` header of a response that carries rows: each
        preference that shaped it (``return=representation``, ``odata.maxpagesize`` and
        ``odata.include-annotations`` as asked, as the documented responses echo them;
        https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/count-rows)."""
        applied: list[str] = []
        if representation:
            applied.append("return=representation")
        if page_size is not None:
            applied.append(f"odata.maxpagesize={page_size}")
        annotations = self.prefer.get("odata.include-annotations")
        if annotations is not None:
            applied.append(f'odata.include-annotations="{annotations}"')
        return {"Preference-Applied": ", ".join(applied)} if applied else {}


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


def _wants(annotations: str, name: str) -> bool:
    for wanted in annotations.split(","):
        item = wanted.strip()
        if item in ("*", name) or (item.endswith(".*") and name.startswith(item[:-1])):
            return True
    return False


def make_ctx(request: httpx.Request) -> Ctx:
    prefer = parse_prefer(", ".join(request.headers.get_list("Prefer")))
    annotations = prefer.get("odata.include-annotations", "")
    caller = request.extensions.get(CALLER) or tenant.DEFAULT_APP_USER_ID
    return Ctx(
        request=request,
        base=layers.api_base(request),
        caller=str(caller),
        prefer=prefer,
        lookup_annotations=_wants(annotations, "Microsoft.Dynamics.CRM.lookuplogicalname"),
        formatted_values=_wants(annotations, "OData.Community.Display.V1.FormattedValue"),
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


HELP_LINK = "@Microsoft.PowerApps.CDS.HelpLink"
INNER_MESSAGE = "@Microsoft.PowerApps.CDS.InnerError.Message"


def wants_annotation(prefer: Mapping[str, str], name: str) -> bool:
    """Whether ``odata.include-annotations`` asks for annotation ``name`` (``*``, a
    namespace followed by ``.*``, or the name itself)."""
    for wanted in prefer.get("odata.include-annotations", "").split(","):
        wanted = wanted.strip().lstrip("@")
        if wanted == "*" or wanted == name:
            return True
        if wanted.endswith(".*") and name.startswith(wanted[:-1]):
            return True
    return False


def annotate_error(request: httpx.Request, response: httpx.Response) -> httpx.Response:
    """An error with the details annotations the caller asked for
    (``Prefer: odata.include-annotations="*"``): the help link and the inner error's message.
    The plug-in annotations (``ErrorDetails.*``, ``TraceText``) have no source here: the
    emulator runs no plug-ins.
    https://learn.microsoft.com/power-apps/developer/data-platform/webapi/compose-http-requests-handle-errors#include-additional-details-with-errors
    """
    prefer = parse_prefer(", ".join(request.headers.get_list("Prefer")))
    names = [n for n in (HELP_LINK, INNER_MESSAGE) if wants_annotation(prefer, n[1:])]
    if not names:
        return response
    try:
        body = json.loads(response.content)
        error = body["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        return response
    if HELP_LINK in names:
        error[HELP_LINK] = (
            "http://go.microsoft.com/fwlink/?LinkID=398563&error=Microsoft.Crm.CrmException"
            f"%3a{code.removeprefix('0x')}&client=platform"
        )
    if INNER_MESSAGE in names:
        error[INNER_MESSAGE] = message
    annotated = layers.json_response(
        response.status_code,
        body,
        headers={
            k: v
            for k, v in response.headers.items()
            if k.lower() not in ("content-length", "content-type")
        },
        content_type=ODATA_JSON,
    )
    annotated.extensions.update(response.extensions)
    return annotated


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
