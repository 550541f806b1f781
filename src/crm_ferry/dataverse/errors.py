"""Errors of the Dataverse Web API, built from the HTTP status *and* the Dataverse error code.

The status alone is not enough: a ``412`` is either a stale ETag or a duplicate key, a
``500`` is either a bug or a SQL deadlock worth retrying, and a ``400`` can carry the
"bulk message not supported on this table" answer the writer falls back on. So every
error keeps the method, the URL (query string dropped: it can hold filter values), the
status, the hex code from ``{"error": {"code": ...}}`` and the message::

    DataverseError (crm_ferry.errors.FerryError)        exit 5
    ├── transient (crm_ferry.errors.Transient): retried by the client
    │   ├── ThrottledError       429, service-protection limits; carries retry_after (s)
    │   ├── ServerError          5xx, including SQL deadlock / SQL timeout codes
    │   ├── RequestTimeout       no answer in time (client side or 408/504)
    │   └── ConnectionLost       the connection dropped or could not be made
    └── terminal (crm_ferry.errors.Terminal): retrying the same request cannot help
        ├── ValidationRejected   400, the payload or query is invalid
        ├── AuthError            401, or sign-in failed (wrong secret, unknown client)
        ├── PrivilegeError       403, the user's roles lack a privilege
        ├── NotFound             404, the record / table / column does not exist
        └── PreconditionFailed   412, ETag or If-None-Match mismatch
            └── DuplicateRecord  412 with a duplicate-key code

Status codes and the hex codes follow "Compose HTTP requests and handle errors" and
"Service protection API limits" on Microsoft Learn
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/compose-http-requests-handle-errors,
https://learn.microsoft.com/power-apps/developer/data-platform/api-limits).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from crm_ferry.errors import FerryError, Terminal, Transient

# Hex codes (two's complement of the SDK's decimal codes) that decide the class.
THROTTLE_CODES = frozenset({"0x80072322", "0x80072321", "0x80072326"})
DUPLICATE_CODES = frozenset({"0x80040237", "0x80060892"})  # DuplicateRecord, ...EntityKey
DEADLOCK_CODES = frozenset({"0x80044150", "0x80040255"})  # Generic SQL error, swallowed deadlock
SQL_TIMEOUT_CODES = frozenset({"0x80044151"})  # -2147204783 (Sql Number -2)
NOT_FOUND_CODES = frozenset({"0x80040217", "0x80060891"})  # ObjectDoesNotExist, ...ByEntityKey
PRIVILEGE_CODES = frozenset({"0x80040220", "0x80040231", "0x80040299", "0x80048306"})


class DataverseError(FerryError):
    """A request to the Dataverse Web API failed."""

    exit_code = 5

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        url: str | None = None,
        status: int | None = None,
        code: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.method = method
        self.url = _safe_url(url) if url else url
        self.status = status
        self.code = code or None
        """The Dataverse hex error code (``0x80040237``), when the service gave one."""
        self.detail = message
        """The service's own message, without the method and URL prefix."""
        where = f"{method} {self.url}: " if method and self.url else ""
        status_text = f"HTTP {status}" if status else ""
        code_text = f" {self.code}" if self.code else ""
        head = f"{status_text}{code_text}: " if status_text or code_text else ""
        super().__init__(f"{where}{head}{message}", hint=hint)

    @property
    def transient(self) -> bool:
        return isinstance(self, Transient)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"method={self.method!r}, url={self.url!r}, message={self.detail!r})"
        )


class ThrottledError(DataverseError, Transient):
    """429: a service-protection limit was hit; wait ``retry_after`` seconds, then resend."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ServerError(DataverseError, Transient):
    """5xx: the service failed (SQL deadlock, SQL timeout, unavailable); worth retrying."""


class RequestTimeout(DataverseError, Transient):
    """No answer in time. Whether the request ran is unknown, so only idempotent ones retry."""


class ConnectionLost(DataverseError, Transient):
    """The connection dropped, or could not be made."""


class ValidationRejected(DataverseError, Terminal):
    """400: the request or its payload is invalid (length, range, unknown column, ...)."""


class AuthError(DataverseError, Terminal):
    """401 or a failed sign-in: the credential is wrong, expired or not an application user."""


class PrivilegeError(DataverseError, Terminal):
    """403: the user's security roles lack a privilege."""


class NotFound(DataverseError, Terminal):
    """404: the record, table, column or route does not exist."""


class PreconditionFailed(DataverseError, Terminal):
    """412: the record's version does not match, or a create found the record existing."""


class DuplicateRecord(PreconditionFailed):
    """412 with a duplicate-key code: the id or alternate key is already taken."""


def _safe_url(url: str) -> str:
    """The URL without its query: filters can hold personal data, and they are not needed."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def parse_error_body(body: bytes | str | None) -> tuple[str | None, str | None]:
    """``(code, message)`` from ``{"error": {"code": ..., "message": ...}}``, if present."""
    if not body:
        return None, None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        return None, text.strip()[:500] or None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        err = data["error"]
        code = err.get("code")
        msg = err.get("message")
        return (str(code) if code else None), (str(msg) if msg is not None else None)
    return None, None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (Dataverse sends seconds; dates are tolerated)."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_for(
    status: int,
    *,
    method: str | None = None,
    url: str | None = None,
    body: bytes | str | None = None,
    retry_after: str | None = None,
) -> DataverseError:
    """The error for a failed response: class from the status and the Dataverse code."""
    code, message = parse_error_body(body)
    code = code.lower() if code else None
    text = message or _REASONS.get(status, "request failed")
    kw: dict[str, Any] = {"method": method, "url": url, "status": status, "code": code}
    if status == 429 or (code in THROTTLE_CODES):
        return ThrottledError(
            text,
            retry_after=parse_retry_after(retry_after),
            hint="the client waits and resends; lower max_concurrency if this persists",
            **kw,
        )
    if status in (408, 504):
        return RequestTimeout(text, **kw)
    if status >= 500 or code in DEADLOCK_CODES or code in SQL_TIMEOUT_CODES:
        return ServerError(text, **kw)
    if status == 401:
        return AuthError(
            text, hint="check the client id, the secret and the tenant; see crm-ferry doctor", **kw
        )
    if status == 403 or code in PRIVILEGE_CODES:
        return PrivilegeError(
            text, hint="add the missing privilege to the application user's security role", **kw
        )
    if status == 404:
        return NotFound(text, **kw)
    if status == 412:
        if code in DUPLICATE_CODES or "duplicate" in text.lower() or "already exists" in text:
            return DuplicateRecord(text, **kw)
        return PreconditionFailed(text, **kw)
    return ValidationRejected(text, **kw)


_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    412: "Precondition Failed",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
