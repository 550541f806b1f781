"""The review server's door: no request without the start's token.

The URL ``crm-ferry review`` prints carries the token (``?token=…``). The first request
with it sets a cookie (HttpOnly, SameSite=Strict, named after the port so that two servers
on one machine keep their own) and is redirected to the same address without the token, so
the token does not stay in the address bar or the history. Scripts may send it as the
``X-Review-Token`` header instead. Anything else gets 403 and a page saying where the token
is.

Two more checks keep other web sites out: on loopback, the ``Host`` header must name a
loopback address (a page that rebinds its own name to 127.0.0.1 sends its own name), and a
request that changes something must come from the page's own origin when the browser says
where it comes from (``Origin``).
"""

from __future__ import annotations

import secrets
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import Headers
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["LOOPBACK_NAMES", "TOKEN_HEADER", "TOKEN_PARAM", "TokenGuard", "cookie_name"]

TOKEN_PARAM = "token"
TOKEN_HEADER = "x-review-token"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})

_REFUSED = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>crm-ferry review: token needed</title></head><body style="font-family:sans-serif">
<h1>Open the address <code>crm-ferry review</code> printed</h1>
<p>{reason}</p>
<p>The review server accepts only the address it printed when it started: that address
carries a token made for that start. Copy it from the terminal where
<code>crm-ferry review</code> runs (or start it again with <code>--open</code> to open it in
the browser).</p></body></html>"""


def cookie_name(port: int | None) -> str:
    """The token's cookie for the server on ``port``."""
    return f"crm-ferry-review-{port or 0}"


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class TokenGuard:
    """ASGI middleware: refuses every HTTP request without the token."""

    def __init__(self, app: ASGIApp, *, token: str, loopback_only: bool = True) -> None:
        self.app = app
        self.token = token
        self.loopback_only = loopback_only

    def _matches(self, candidate: str | None) -> bool:
        return bool(candidate) and secrets.compare_digest(str(candidate), self.token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = self._check(scope)
        if refused is not None:
            await refused(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _check(self, scope: Scope) -> Response | None:
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if self.loopback_only and _host_name(host) not in LOOPBACK_NAMES:
            return _refuse(f"This server answers only to a loopback address, not {host!r}.")
        port = (scope.get("server") or (None, None))[1]
        name = cookie_name(port)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if scope["method"] in _SAFE and self._matches(query.get(TOKEN_PARAM)):
            return _enter(scope, query, name, self.token)
        cookies = SimpleCookie()
        cookies.load(headers.get("cookie", ""))
        cookie = cookies.get(name)
        if not (
            self._matches(headers.get(TOKEN_HEADER))
            or self._matches(cookie.value if cookie is not None else None)
        ):
            what = "a wrong token" if query.get(TOKEN_PARAM) else "no token"
            return _refuse(f"This request came with {what}.")
        origin = headers.get("origin")
        if scope["method"] not in _SAFE and origin and origin.split("://", 1)[-1] != host:
            return _refuse(f"A change from another site ({origin}) is refused.")
        return None


def _refuse(reason: str) -> Response:
    return HTMLResponse(_REFUSED.format(reason=reason), status_code=403)


def _enter(scope: Scope, query: dict[str, str], name: str, token: str) -> Response:
    """The token in the address: set the cookie, go to the same page without it."""
    rest = urlencode({k: v for k, v in query.items() if k != TOKEN_PARAM})
    target = scope.get("root_path", "") + scope["path"] + (f"?{rest}" if rest else "")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(name, token, httponly=True, samesite="strict", path="/")
    return response
