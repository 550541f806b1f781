"""Microsoft Graph's error responses, and the emulator's refusals in that shape.

Every error is ``{"error": {"code", "message", "innerError": {"date", "request-id",
"client-request-id"}}}``, with a more specific code under ``innerError.code`` where one is
documented (``fragmentOverlap``, ``invalidPath``...). The codes are Graph's
(https://learn.microsoft.com/graph/errors, microsoft-graph-docs-contrib commit
02b4cba04d0426b41fe35819922b100050c5c441; the detailed codes are the same in
https://learn.microsoft.com/onedrive/developer/rest-api/concepts/errors).

Handlers raise :class:`GraphProblem`; the service turns it into the response. What the
emulator does not implement is answered 501 ``notSupported`` naming the feature, never
ignored (:func:`not_implemented`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx

from crm_ferry.emulator.layers import json_response

NOT_IMPLEMENTED_CODE = "notSupported"
"""The code of the emulator's 501: "The request is not supported by the system"."""


class GraphProblem(Exception):
    """A request the Graph emulator refuses, with its status and Graph's codes."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        """The more specific code under ``innerError.code`` (``fragmentOverlap``...)."""
        self.headers = headers or {}


def not_implemented(feature: str) -> GraphProblem:
    """501 naming what the emulator does not do."""
    return GraphProblem(501, NOT_IMPLEMENTED_CODE, f"{feature} is not implemented by the emulator")


def not_found(what: str) -> GraphProblem:
    return GraphProblem(404, "itemNotFound", f"{what} was not found")


def invalid(message: str, *, detail: str | None = None) -> GraphProblem:
    return GraphProblem(400, "invalidRequest", message, detail=detail)


def graph_error(
    request: httpx.Request,
    status: int,
    code: str,
    message: str,
    *,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """A Graph error response to ``request``."""
    request_id = str(uuid.uuid4())
    client_request_id = request.headers.get("client-request-id") or request_id
    inner: dict[str, str] = {}
    if detail:
        inner["code"] = detail
    inner.update(
        {
            "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            "request-id": request_id,
            "client-request-id": client_request_id,
        }
    )
    return json_response(
        status,
        {"error": {"code": code, "message": message, "innerError": inner}},
        headers={
            "request-id": request_id,
            "client-request-id": client_request_id,
            **(headers or {}),
        },
    )


def problem_response(request: httpx.Request, problem: GraphProblem) -> httpx.Response:
    return graph_error(
        request,
        problem.status,
        problem.code,
        problem.message,
        detail=problem.detail,
        headers=problem.headers,
    )


def fault_answer(kind: str, request: httpx.Request, retry_after_s: int) -> httpx.Response:
    """What an injected fault looks like on Graph (see :mod:`crm_ferry.emulator.faults`):
    throttling is 429 ``activityLimitReached`` with ``Retry-After``
    (https://learn.microsoft.com/graph/throttling), unavailability 503
    ``serviceNotAvailable`` ("There may be a Retry-After header"), and a server failure 500
    ``generalException``."""
    if kind == "throttle":
        return graph_error(
            request,
            429,
            "activityLimitReached",
            "The request has been throttled",
            detail="throttledRequest",
            headers={"Retry-After": str(retry_after_s)},
        )
    if kind == "unavailable":
        return graph_error(
            request,
            503,
            "serviceNotAvailable",
            "The service is not available. Try the request again after a delay.",
        )
    return graph_error(request, 500, "generalException", "An unspecified error has occurred.")
