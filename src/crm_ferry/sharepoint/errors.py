"""Errors of Microsoft Graph, as crm-ferry raises them: what failed, and what to do next.

Built from the HTTP status and Graph's error code (``{"error": {"code", "message",
"innerError": {"code"...}}}``, https://learn.microsoft.com/graph/errors)::

    SharePointError (crm_ferry.errors.FerryError)      exit 5
    ├── transient (crm_ferry.errors.Transient): retried by the client
    │   ├── GraphThrottled       429 (activityLimitReached); carries retry_after (s)
    │   ├── GraphUnavailable     5xx (serviceNotAvailable, generalException...)
    │   └── GraphConnectionLost  no answer: the connection dropped, timed out, was refused
    └── terminal (crm_ferry.errors.Terminal): retrying the same request cannot help
        ├── GraphRejected        400, 405, 411, 413, 416, 501 ... the request is wrong
        ├── GraphAuthError       401: the token is missing, expired or for another resource
        ├── GraphAccessDenied    403: the app lacks a permission on the site
        ├── GraphNotFound        404: the site, library, item or upload session is not there
        └── GraphConflict        409 (nameAlreadyExists), 412 (resourceModified)

Upload URLs carry their authorisation in the query (``tempauth=``): an error keeps the URL
without its query, never the secret.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from crm_ferry.errors import FerryError, Terminal, Transient

PERMISSION_HINT = (
    "grant the app registration the Microsoft Graph application permission "
    "Sites.ReadWrite.All (or Sites.Selected, with write access granted to this site) and an "
    "admin's consent"
)


class SharePointError(FerryError):
    """A request to Microsoft Graph (SharePoint) failed."""

    exit_code = 5

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        url: str | None = None,
        status: int | None = None,
        code: str | None = None,
        inner_code: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.method = method
        self.url = _without_query(url) if url else url
        self.status = status
        self.code = code
        """Graph's error code (``nameAlreadyExists``), when the service gave one."""
        self.inner_code = inner_code
        """The more specific code of ``innerError`` (``fragmentOverlap``), if any."""
        self.detail = message
        where = f"{method} {self.url}: " if method and self.url else ""
        head = f"HTTP {status}" if status else ""
        head += f" {code}" if code else ""
        super().__init__(f"{where}{head + ': ' if head else ''}{message}", hint=hint)

    @property
    def transient(self) -> bool:
        return isinstance(self, Transient)


class GraphThrottled(SharePointError, Transient):
    """429: wait ``retry_after`` seconds, then send again."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class GraphUnavailable(SharePointError, Transient):
    """5xx: the service failed or is overloaded; worth retrying after a pause."""


class GraphConnectionLost(SharePointError, Transient):
    """No answer: the connection could not be made, dropped, or timed out."""


class GraphRejected(SharePointError, Terminal):
    """The request is malformed or not allowed (400, 405, 413, 416, 501...)."""


class GraphAuthError(SharePointError, Terminal):
    """401: the token is missing, expired or not for Microsoft Graph."""


class GraphAccessDenied(SharePointError, Terminal):
    """403: the app lacks the permission."""


class GraphNotFound(SharePointError, Terminal):
    """404: the site, library, item or upload session does not exist."""


class GraphConflict(SharePointError, Terminal):
    """409 or 412: the name is taken, or the item changed since it was read."""


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def parse_error(body: bytes) -> tuple[str | None, str | None, str | None]:
    """``(code, inner code, message)`` of a Graph error body."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        text = body.decode("utf-8", "replace").strip()[:300]
        return None, None, text or None
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None, None, None
    inner = error.get("innerError") or error.get("innererror")
    inner_code = inner.get("code") if isinstance(inner, dict) else None
    code, message = error.get("code"), error.get("message")
    return (
        str(code) if code else None,
        str(inner_code) if inner_code else None,
        str(message) if message else None,
    )


def retry_after_of(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        return None


def error_for(
    status: int,
    body: bytes,
    *,
    method: str,
    url: str,
    doing: str,
    retry_after: str | None = None,
) -> SharePointError:
    """The error of a failed answer; ``doing`` says what crm-ferry was doing (``upload
    contact/Ada_…/report.pdf``), for the message."""
    code, inner, message = parse_error(body)
    text = f"{doing} failed: {message or 'HTTP ' + str(status)}"
    kw: dict[str, Any] = {
        "method": method,
        "url": url,
        "status": status,
        "code": code,
        "inner_code": inner,
    }
    if status == 429:
        return GraphThrottled(
            text,
            retry_after=retry_after_of(retry_after),
            hint="the client waits as told and sends again; if it persists, run fewer uploads "
            "at once",
            **kw,
        )
    if status >= 500 and status != 501:
        return GraphUnavailable(
            text, hint="SharePoint is failing or overloaded; run again later", **kw
        )
    if status == 401:
        return GraphAuthError(
            text,
            hint="the token must be for https://graph.microsoft.com/.default; check the client "
            f"id and secret, and {PERMISSION_HINT}",
            **kw,
        )
    if status == 403:
        return GraphAccessDenied(text, hint=PERMISSION_HINT, **kw)
    if status == 404:
        return GraphNotFound(
            text,
            hint="check [sharepoint] site in ferry.toml (the site's full URL, e.g. "
            "https://contoso.sharepoint.com/sites/crm) and that the library and folder exist",
            **kw,
        )
    if status in (409, 412):
        return GraphConflict(
            text, hint="another item has that name, or the item changed meanwhile", **kw
        )
    return GraphRejected(
        text,
        hint="the request was refused as it is; the message says why (a name SharePoint "
        "does not allow, a file too large, a feature not available)",
        **kw,
    )
