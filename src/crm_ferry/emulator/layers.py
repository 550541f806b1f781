"""What the emulator's serving layers share: the handler type, the seam's extension keys, clocks.

The emulator is a stack of handlers, each a function from :class:`httpx.Request` to
:class:`httpx.Response` that wraps the next one (sign-in, faults, service protection,
latency, then the data plane). Layers talk to each other only through the request's and
response's ``extensions`` under the keys below, so each can be tested with a tiny fake
handler in place of the data plane.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx

Handler = Callable[[httpx.Request], httpx.Response]
"""One layer of the emulator: a request in, a response out (thread-safe)."""

Clock = Callable[[], float]
"""Seconds on a monotonic clock; tests inject a fake one."""

Sleep = Callable[[float], None]
"""Blocks for the given seconds; tests inject one that advances a fake clock."""

API_ROOT = "/api/data/"
"""Everything under this path is the Dataverse Web API; the rest is the sign-in service."""
API_VERSIONS = ("v9.0", "v9.1", "v9.2")
"""The Web API versions the service answers, each as v9.2 does: "Your code written for v9.0
will continue to work in future versions when you reference v9.0 in the URL you use"
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/compose-http-requests-handle-errors#version-compatibility)."""
CURRENT_VERSION = "v9.2"
API_PREFIX = f"{API_ROOT}{CURRENT_VERSION}/"
"""The current version's path; URLs the service hands out use the version of the request
(:func:`api_prefix`)."""

CALLER = "crm_ferry.caller"
"""Request extension: the caller's systemuserid (str), set by sign-in for the data plane."""
CLIENT_ID = "crm_ferry.client_id"
"""Request extension: the signed-in client id (application), set by sign-in."""
RECORDS = "crm_ferry.records"
"""Response extension: how many records the request read or wrote (for the cost model)."""
FAIL_ITEM = "crm_ferry.fail_item"
"""Request extension: fail item k (0-based) of a $batch or bulk request (fault injection)."""
REQUEST_NUMBER = "crm_ferry.request_number"
"""Request extension: the 1-based number of this Web API request, counted by the fault layer."""
REWRITE = "crm_ferry.rewrite"
"""Request extension: a function ``httpx.Request -> httpx.Request`` the data plane applies to
each part of a ``$batch`` before running it (the fault layer's ``corrupt``)."""

ODATA_JSON = "application/json; odata.metadata=minimal"


def is_api(request: httpx.Request) -> bool:
    """Whether the request is for the Web API (and not for the sign-in service)."""
    return request.url.path.startswith("/api/")


def api_path(path: str) -> tuple[str, str] | None:
    """``(version, rest)`` of a Web API path ``/api/data/<version>/<rest>`` (``rest`` may be
    empty: the service document), or None when the path is not under a version the service
    answers (:data:`API_VERSIONS`)."""
    if not path.startswith(API_ROOT):
        return None
    version, sep, rest = path[len(API_ROOT) :].partition("/")
    if version not in API_VERSIONS:
        return None
    return version, rest if sep else ""


def api_prefix(path: str) -> str:
    """``/api/data/<version>/`` of a Web API path (the current version's for any other)."""
    split = api_path(path)
    return f"{API_ROOT}{split[0]}/" if split is not None else API_PREFIX


def api_base(request: httpx.Request) -> str:
    """``scheme://host[:port]/api/data/<version>/``: the base of every URL handed out in the
    answer to ``request`` (``@odata.context``, ``OData-EntityId``, ``@odata.nextLink``,
    ``Location``), in the version the request used."""
    return origin(request) + api_prefix(request.url.path)


def origin(request: httpx.Request) -> str:
    """``scheme://host[:port]`` of the request, the base every URL we hand out is built on."""
    url = request.url
    default = {"http": 80, "https": 443}.get(url.scheme)
    port = f":{url.port}" if url.port is not None and url.port != default else ""
    return f"{url.scheme}://{url.host}{port}"


def json_response(
    status: int,
    body: Any,
    *,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json; charset=utf-8",
) -> httpx.Response:
    """A JSON response with an explicit content type (httpx's default omits the charset)."""
    all_headers = {"Content-Type": content_type, **(headers or {})}
    return httpx.Response(status, headers=all_headers, content=json.dumps(body).encode("utf-8"))


def odata_error(
    status: int, code: str, message: str, *, headers: dict[str, str] | None = None
) -> httpx.Response:
    """A Web API error in the documented shape ``{"error": {"code": ..., "message": ...}}``.

    https://learn.microsoft.com/power-apps/developer/data-platform/webapi/compose-http-requests-handle-errors
    """
    return json_response(
        status,
        {"error": {"code": code, "message": message}},
        headers={"OData-Version": "4.0", **(headers or {})},
        content_type=ODATA_JSON,
    )


def records_of(response: httpx.Response) -> int:
    """Records the data plane says it read or wrote (0 when it did not say)."""
    value = response.extensions.get(RECORDS, 0)
    return value if isinstance(value, int) and value > 0 else 0


def monotonic() -> float:
    return time.monotonic()
