"""Small OData helpers: record references in URLs, ids from URIs, JSON values."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from crm_ferry.dataverse.errors import ValidationRejected

Ref = str | uuid.UUID | Mapping[str, Any]
"""A record reference: its primary id, or an alternate key as ``{column: value}``."""


def format_ref(ref: Ref) -> str:
    """The key segment of a URL: a GUID, or ``name='value'`` pairs of an alternate key."""
    if isinstance(ref, uuid.UUID):
        return str(ref)
    if isinstance(ref, str):
        return ref.strip("{}")
    parts = [f"{name}={format_key_value(value)}" for name, value in ref.items()]
    if not parts:
        raise ValidationRejected("an alternate key needs at least one column")
    return ",".join(parts)


def format_key_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, int | float | Decimal):
        return str(value)
    text = str(value).replace("'", "''")
    # Only what would end or split the URL is escaped; Dataverse cannot use key values
    # with / < > * % & : \ ? + in a URL anyway ("Define alternate keys", Microsoft Learn).
    for ch in "%/?#&+":
        text = text.replace(ch, quote(ch, safe=""))
    return "'" + text + "'"


def id_from_uri(uri: str) -> str:
    """The GUID in ``.../accounts(<guid>)``; empty when there is none."""
    if "(" not in uri:
        return ""
    inner = uri.rsplit("(", 1)[1].rstrip(")")
    try:
        return str(uuid.UUID(inner))
    except ValueError:
        return inner


def without_keys(data: Mapping[str, Any], ref: Ref) -> dict[str, Any]:
    if isinstance(ref, Mapping):
        return {k: v for k, v in data.items() if k not in ref}
    return dict(data)


def cleared_by_navigation(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with every emptied lookup (``"<nav>@odata.bind": None``) written as its
    navigation property set to null (``"<nav>": None``), the way "Associate and disassociate
    table rows using the Web API" (Microsoft Learn, "Disassociate table rows on update")
    clears a single-valued navigation property by name."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if value is None and key.endswith("@odata.bind"):
            out[key.removesuffix("@odata.bind")] = None
        else:
            out[key] = value
    return out


def json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} as JSON")
