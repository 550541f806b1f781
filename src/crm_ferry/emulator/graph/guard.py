"""The bearer-token guard in front of Graph: only tokens issued for Microsoft Graph.

The emulator's sign-in issues a token per resource (the ``scope`` asked for); Graph takes
only those of ``https://graph.microsoft.com/.default`` and answers anything else with its
own 401, ``InvalidAuthenticationToken``, as Graph does for a missing, expired or
wrong-audience token (https://learn.microsoft.com/graph/errors: "Required authentication
information is either missing or not valid for the resource"). The pre-authenticated
upload and download URLs (``/_files/``) need no token and are passed on as they are.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from crm_ferry.emulator.auth import GRAPH_RESOURCE, TokenInfo
from crm_ferry.emulator.graph.errors import graph_error
from crm_ferry.emulator.graph.service import GRAPH_PREFIX
from crm_ferry.emulator.layers import CALLER, CLIENT_ID, Handler, origin

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
"""Microsoft Graph's application id, which its challenge names."""


class GraphGuard:
    """A layer: Graph requests need a live Graph token; the rest goes on untouched."""

    def __init__(
        self, inner: Handler, lookup: Callable[[str], TokenInfo | None], *, tenant: str
    ) -> None:
        self._inner = inner
        self._lookup = lookup
        self._tenant = tenant

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if not request.url.path.startswith(GRAPH_PREFIX):
            return self._inner(request)
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return self._refuse(request, "Access token is empty.")
        info = self._lookup(token)
        if info is None:
            return self._refuse(request, "Access token validation failure.")
        if info.expired:
            return self._refuse(request, "Lifetime validation failed, the token is expired.")
        if info.resource != GRAPH_RESOURCE:
            return self._refuse(
                request,
                "Access token validation failure. Invalid audience: the token was issued "
                f"for {info.resource}, not {GRAPH_RESOURCE}",
            )
        request.extensions[CALLER] = info.systemuserid
        request.extensions[CLIENT_ID] = info.client_id
        return self._inner(request)

    def _refuse(self, request: httpx.Request, message: str) -> httpx.Response:
        here = origin(request)
        challenge = (
            f'Bearer realm="", authorization_uri="{here}/{self._tenant}/oauth2/authorize", '
            f'client_id="{GRAPH_APP_ID}"'
        )
        return graph_error(
            request,
            401,
            "InvalidAuthenticationToken",
            message,
            headers={"WWW-Authenticate": challenge},
        )
