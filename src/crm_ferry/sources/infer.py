"""Custom-property type inference: what Dataverse column type fits every value of a key.

The rules (the object map's, in this order), over the non-empty values of one key:

1. every value a date (``YYYY-MM-DD``, or ``M/D/YYYY`` in a ``us`` bundle) -> ``date``;
2. every value a number (``12``, ``-3.5``, ``1,234.50``) -> ``number``;
3. every value one of true/false/yes/no (any case) -> ``boolean``;
4. at most :data:`CHOICE_MAX` distinct values, and some value occurs more than once
   -> ``choice``;
5. otherwise ``text``; :attr:`PropertyProfile.max_length` sizes the column.

A key with no non-empty value is ``text`` of length 0. Memory per key is bounded: the
profile keeps at most ``CHOICE_MAX + 1`` distinct values and drops them once there are
more, because the key can then no longer be a choice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC
from typing import Literal

from crm_ferry.model import DateFormat
from crm_ferry.sources.values import TimeParsers, to_money

PropertyType = Literal["date", "number", "boolean", "choice", "text"]

CHOICE_MAX = 12
"""A choice has at most this many distinct values."""

_BOOL_WORDS = frozenset({"true", "false", "yes", "no"})


@dataclass(slots=True)
class PropertyProfile:
    """What has been seen of one custom property key so far."""

    key: str
    count: int = 0
    """Non-empty values seen."""
    max_length: int = 0
    all_dates: bool = True
    all_numbers: bool = True
    all_booleans: bool = True
    repeated: bool = False
    distinct: dict[str, int] | None = field(default_factory=dict)
    """Value -> occurrences while there are at most CHOICE_MAX + 1 of them, else None."""

    @property
    def type(self) -> PropertyType:
        if self.count == 0:
            return "text"
        if self.all_dates:
            return "date"
        if self.all_numbers:
            return "number"
        if self.all_booleans:
            return "boolean"
        if self.distinct is not None and len(self.distinct) <= CHOICE_MAX and self.repeated:
            return "choice"
        return "text"

    @property
    def choices(self) -> tuple[str, ...]:
        """The distinct values of a choice, most frequent first (empty for other types)."""
        if self.type != "choice" or self.distinct is None:
            return ()
        return tuple(sorted(self.distinct, key=lambda v: (-self.distinct[v], v)))  # type: ignore[index]


class PropertyInference:
    """Profiles of every custom property key, fed one value at a time."""

    def __init__(self, date_format: DateFormat = "iso") -> None:
        self._dates = TimeParsers(UTC, date_format)
        self.profiles: dict[str, PropertyProfile] = {}

    def add(self, key: str, value: str | None) -> None:
        """Account for one value of ``key`` (blank values only register the key)."""
        profile = self.profiles.get(key)
        if profile is None:
            profile = self.profiles[key] = PropertyProfile(key)
        if value is None:
            return
        value = value.strip()
        if not value:
            return
        profile.count += 1
        if len(value) > profile.max_length:
            profile.max_length = len(value)
        if profile.all_dates:
            try:
                self._dates.date(value)
            except ValueError:
                profile.all_dates = False
        if profile.all_numbers:
            try:
                to_money(value)
            except ValueError:
                profile.all_numbers = False
        if profile.all_booleans and value.lower() not in _BOOL_WORDS:
            profile.all_booleans = False
        distinct = profile.distinct
        if distinct is not None:
            seen = distinct.get(value, 0)
            if seen:
                profile.repeated = True
            elif len(distinct) > CHOICE_MAX:
                profile.distinct = None
                return
            distinct[value] = seen + 1

    def types(self) -> dict[str, str]:
        """Key -> inferred type, keys sorted."""
        return {key: self.profiles[key].type for key in sorted(self.profiles)}
