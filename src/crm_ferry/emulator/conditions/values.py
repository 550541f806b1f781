"""Values compared the way Dataverse compares them (it translates every query to SQL Server):
text ignores case, a GUID compares as a GUID, a date or date-time as an instant (a date is
midnight UTC), numbers as numbers, and anything compared with null is unknown (None).

Values are what the Web API returns and the store keeps: text, numbers, booleans, GUIDs as
lower-case text, dates as ``YYYY-MM-DD`` and date-times as ISO 8601 text.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Literal


class ConditionError(Exception):
    """A condition Dataverse rejects; ``status`` is the HTTP status (400 unless noted)."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


_OPERATOR_KIND = {
    "eq": "Equal",
    "ne": "NotEqual",
    "gt": "GreaterThan",
    "ge": "GreaterThanOrEqual",
    "lt": "LessThan",
    "le": "LessThanOrEqual",
}


def edm_type_name(value: object) -> str:
    """The EDM type name Microsoft.OData.Core would print for a Python value."""
    if isinstance(value, bool):
        return "Edm.Boolean"
    if isinstance(value, int):
        return "Edm.Int32" if -(2**31) <= value < 2**31 else "Edm.Int64"
    if isinstance(value, Decimal):
        return "Edm.Decimal"
    if isinstance(value, float):
        return "Edm.Double"
    if isinstance(value, uuid.UUID):
        return "Edm.Guid"
    if isinstance(value, datetime):
        return "Edm.DateTimeOffset"
    if isinstance(value, date):
        return "Edm.Date"
    if isinstance(value, str):
        return "Edm.String"
    return type(value).__name__


def _incompatible(left: object, right: object, op: str) -> ConditionError:
    return ConditionError(
        "A binary operator with incompatible types was detected. Found operand types "
        f"'{edm_type_name(left)}' and '{edm_type_name(right)}' for operator kind "
        f"'{_OPERATOR_KIND.get(op, op)}'."
    )


def parse_instant(text: str) -> datetime:
    """An ISO 8601 date-time; ``Z`` or no offset means UTC. Raises ``ValueError``."""
    result = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    return result if result.tzinfo is not None else result.replace(tzinfo=UTC)


def as_instant(value: object) -> datetime | None:
    """A date or date-time (object or ISO text) as an aware instant (a date is midnight UTC),
    else None."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            if len(value) == 10:
                return as_instant(date.fromisoformat(value))
            return parse_instant(value)
        except ValueError:
            return None
    return None


def is_number(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _comparable(left: object, right: object, op: str) -> tuple[Any, Any]:
    """Two non-null values as one comparable kind, or the OData type error."""
    if isinstance(left, uuid.UUID) or isinstance(right, uuid.UUID):
        try:
            a = left if isinstance(left, uuid.UUID) else uuid.UUID(str(left))
            b = right if isinstance(right, uuid.UUID) else uuid.UUID(str(right))
        except ValueError:
            raise _incompatible(left, right, op) from None
        if not isinstance(left, uuid.UUID | str) or not isinstance(right, uuid.UUID | str):
            raise _incompatible(left, right, op)
        return a, b
    if isinstance(left, date) or isinstance(right, date):
        a_instant, b_instant = as_instant(left), as_instant(right)
        if a_instant is None or b_instant is None:
            raise _incompatible(left, right, op)
        if type(left) is date and type(right) is date:
            return left, right
        return a_instant, b_instant
    if isinstance(left, bool) and isinstance(right, bool):
        return left, right
    if is_number(left) and is_number(right):
        return Decimal(left), Decimal(right)  # type: ignore[arg-type]
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold(), right.casefold()
    raise _incompatible(left, right, op)


def compare_values(op: str, left: object, right: object) -> bool | None:
    """``left op right`` (``eq ne gt ge lt le``) with Dataverse semantics; None when either
    side is null."""
    if left is None or right is None:
        return None
    a, b = _comparable(left, right, op)
    if isinstance(a, Decimal) and isinstance(b, Decimal) and (a.is_nan() or b.is_nan()):
        return op == "ne"
    if op == "eq":
        return bool(a == b)
    if op == "ne":
        return bool(a != b)
    if op == "gt":
        return bool(a > b)
    if op == "ge":
        return bool(a >= b)
    if op == "lt":
        return bool(a < b)
    return bool(a <= b)


_LIKE_CACHE: dict[tuple[str, str], re.Pattern[str]] = {}

LikeKind = Literal["like", "contains", "startswith", "endswith"]


def like_pattern(kind: LikeKind, pattern: str) -> re.Pattern[str]:
    """A SQL ``LIKE`` pattern (``%``, ``_``, ``[set]``, ``[^set]``) as an anchored, case-folded
    regex: the pattern itself (``like``), or inside ``%...%``, ``...%``, ``%...`` (what
    ``contains``/``begins-with``/``ends-with`` become; their wildcards stay wildcards, "Use
    wildcard characters",
    https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/filter-rows)."""
    key = (kind, pattern)
    if key in _LIKE_CACHE:
        return _LIKE_CACHE[key]
    out, i, folded = [], 0, pattern.casefold()
    while i < len(folded):
        ch = folded[i]
        if ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        elif ch == "[" and (end := folded.find("]", i + 2)) > 0:
            body = folded[i + 1 : end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    core = "".join(out)
    regex = {
        "like": core,
        "contains": f".*{core}.*",
        "startswith": f"{core}.*",
        "endswith": f".*{core}",
    }[kind]
    compiled = re.compile(regex, re.DOTALL)
    if len(_LIKE_CACHE) < 512:
        _LIKE_CACHE[key] = compiled
    return compiled


def text_as(current: object, item: object) -> object:
    """A query function's text value read as the column's kind (``PropertyValues`` is
    ``Collection(Edm.String)``): a number, a boolean, a date or date-time; else the text."""
    if not isinstance(item, str):
        return item
    if isinstance(current, str):
        if as_instant(current) is not None and as_instant(item) is not None:
            return date.fromisoformat(item) if len(item) == 10 else parse_instant(item)
        return item
    if isinstance(current, bool):
        folded = item.strip().casefold()
        return {"true": True, "false": False}.get(folded, item)
    if is_number(current):
        try:
            number = Decimal(item.strip())
        except InvalidOperation:
            return item
        return number if number.is_finite() else item
    return item


def equal_text(current: object, item: object) -> bool:
    return bool(compare_values("eq", current, text_as(current, item)))


@lru_cache(maxsize=64)
def folded_texts(values: tuple[Any, ...]) -> frozenset[str] | None:
    """The case-folded values when every one is text (what ``In`` over ids is), else None."""
    if not all(isinstance(v, str) for v in values):
        return None
    return frozenset(str(v).casefold() for v in values)


__all__ = [
    "ConditionError",
    "LikeKind",
    "as_instant",
    "compare_values",
    "edm_type_name",
    "equal_text",
    "folded_texts",
    "is_number",
    "like_pattern",
    "parse_instant",
    "text_as",
]
