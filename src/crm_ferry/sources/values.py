"""Value converters: one small function per field kind, built once per file.

A converter takes the raw value (a non-empty string from CSV, or whatever JSON holds) and
returns the typed value, or raises :class:`ValueError` whose message is the *reason* shown
in the reject (``not a date (expected YYYY-MM-DD)``). Blank values never reach a converter:
the reader turns them into null first.

Fast paths first: ``datetime.fromisoformat``, ``Decimal`` and dictionary look-ups handle
the common case; regular expressions only run on the slow path (thousands separators,
US dates).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from crm_ferry.model import SESSION_TYPES, DateFormat
from crm_ferry.sources import schema

Converter = Callable[[Any], Any]

_BOOLS: dict[str, bool] = {
    "true": True,
    "false": False,
    "yes": True,
    "no": False,
    "1": True,
    "0": False,
}

_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_US_TS = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?"
)
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_PART_CACHE = 20_000
"""At most this many dates and as many times of day are remembered per converter."""

MIN_MOMENT = datetime(1753, 1, 1, tzinfo=UTC)
"""Dataverse's earliest date and time (its DateTime range starts on 1753-01-01 UTC)."""
MAX_MOMENT = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
"""Dataverse's latest date and time (9999-12-31 UTC)."""
MIN_DAY = MIN_MOMENT.date()
MONEY_LIMIT = Decimal("922337203685477")
"""The largest amount a Dataverse money column holds (in either sign)."""
NUMBER_LIMIT = Decimal(2**63 - 1)
"""The largest number the reader takes for a decimal or a whole number (a signed 64-bit
integer: what discovery's totals and Dataverse's BigInt hold)."""
_RANGE = "outside the dates Dataverse holds (1753-01-01 to 9999-12-31 UTC)"


def _on_or_after_min(day: date) -> date:
    """``day`` if Dataverse can hold it (from 1753-01-01), else :class:`ValueError`."""
    if day < MIN_DAY:
        raise ValueError(f"{day.isoformat()} is before 1753-01-01, {_RANGE}")
    return day


def _in_range(value: datetime) -> datetime:
    """``value`` if Dataverse can hold it (in UTC), else :class:`ValueError`."""
    if 1753 < value.year < 9999:  # whatever its offset, inside the range
        return value
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # before year 1 or after 9999 in UTC
        raise ValueError(f"{value.isoformat()} is {_RANGE}") from None
    if not MIN_MOMENT <= utc <= MAX_MOMENT:
        raise ValueError(f"{value.isoformat()} is {_RANGE}")
    return value


class TimeParsers:
    """Converters that depend on the bundle (time zone and date format)."""

    def __init__(self, zone: tzinfo, date_format: DateFormat) -> None:
        self.zone = zone
        self.us = date_format == "us"
        self.date_expected = "M/D/YYYY or YYYY-MM-DD" if self.us else "YYYY-MM-DD"
        self.ts_expected = (
            "M/D/YYYY H:MM or ISO 8601" if self.us else "ISO 8601, e.g. 2024-03-01T09:30:00"
        )
        self.days: dict[str, datetime] = {}
        """``YYYY-MM-DD`` -> midnight of that day in :attr:`zone` (see :meth:`_remember`)."""
        self.times: dict[str, timedelta] = {}
        """``T09:30:00`` (separator included) -> that time of day as a timedelta."""

    def _date(self, raw: Any) -> date:
        if isinstance(raw, str):
            try:
                return date.fromisoformat(raw)
            except ValueError:
                pass
            s = raw.strip()
            if len(s) == 10 and s[4] == "-":
                try:
                    return date.fromisoformat(s)
                except ValueError:
                    pass
            elif self.us and (m := _US_DATE.fullmatch(s)):
                try:
                    return date(int(m[3]), int(m[1]), int(m[2]))
                except ValueError:
                    pass
        raise ValueError(f"not a date (expected {self.date_expected})")

    def date(self, raw: Any) -> date:
        return _on_or_after_min(self._date(raw))

    def ts(self, raw: Any) -> datetime:
        if type(raw) is str:
            t = self.times.get(raw[10:])
            if t is not None:
                d = self.days.get(raw[:10])
                if d is not None:
                    return d + t
        try:
            value = datetime.fromisoformat(raw)  # the fast path: ISO 8601 as written
        except (ValueError, TypeError):
            value = self._ts_slow(raw)
        else:
            if value.tzinfo is None:
                self._remember(raw, value)
        if value.tzinfo is not None:
            return _in_range(value)
        # The positional constructor is about twice as fast as .replace(tzinfo=...).
        return _in_range(
            datetime(
                value.year,
                value.month,
                value.day,
                value.hour,
                value.minute,
                value.second,
                value.microsecond,
                self.zone,
            )
        )

    def _remember(self, raw: str, value: datetime) -> None:
        """Keep the two halves of a naive ``YYYY-MM-DD[T ]<time>`` parsed as written.

        ``datetime.fromisoformat`` splits such a string at index 10 (fixed by the
        ``YYYY-MM-DD`` form) and parses the date and the time independently, so any known
        date followed by any known time (separator included) parses to midnight of that
        date in the bundle's zone plus that time of day: :attr:`days` and :attr:`times`.
        Days of the first and the last year Dataverse holds are not remembered: a moment
        on them may be outside its range once in UTC, which :meth:`ts` checks.
        """
        if len(raw) > 10 and raw[4] == "-" and raw[7] == "-" and raw[10] in "T ":
            day = raw[:10]
            if day not in self.days and len(self.days) < _PART_CACHE and 1753 < value.year < 9999:
                self.days[day] = datetime(value.year, value.month, value.day, 0, 0, 0, 0, self.zone)
            time = raw[10:]
            if time not in self.times and len(self.times) < _PART_CACHE:
                seconds = value.hour * 3600 + value.minute * 60 + value.second
                self.times[time] = timedelta(0, seconds, value.microsecond)

    def _ts_slow(self, raw: Any) -> datetime:
        if isinstance(raw, str):
            s = raw.strip()
            value: datetime | None = None
            if len(s) >= 10 and s[4] == "-":
                try:
                    value = datetime.fromisoformat(s)
                except ValueError:
                    value = None
            elif self.us and (m := _US_TS.fullmatch(s)):
                value = _us_timestamp(m)
            if value is not None:
                return value
        raise ValueError(f"not a timestamp (expected {self.ts_expected})")


def _us_timestamp(m: re.Match[str]) -> datetime | None:
    month, day, year = int(m[1]), int(m[2]), int(m[3])
    hour = int(m[4]) if m[4] else 0
    minute = int(m[5]) if m[5] else 0
    second = int(m[6]) if m[6] else 0
    if m[7]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if m[7].lower() == "pm" else 0)
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


def to_money(raw: Any) -> Decimal:
    """A decimal amount: ``1234.5``, ``-12``, ``1,234.50``; no currency sign, finite, and
    at most :data:`MONEY_LIMIT` in either sign (what a Dataverse money column holds)."""
    value = _amount(raw)
    if abs(value) > MONEY_LIMIT:
        raise ValueError(
            "beyond the largest amount Dataverse holds (922,337,203,685,477 in either sign)"
        )
    return value


def _amount(raw: Any) -> Decimal:
    """A finite decimal in the syntax of amounts (see :func:`to_money`), of any size."""
    if type(raw) is str and "," not in raw and "_" not in raw:  # the fast path
        try:
            value = Decimal(raw)
        except InvalidOperation:
            pass
        else:
            if value.is_finite():
                return value
    if isinstance(raw, bool):
        raise ValueError("not an amount (expected a decimal like 1234.50)")
    if isinstance(raw, int | float):
        raw = repr(raw)
    if isinstance(raw, str):
        s = raw.strip()
        if "," in s:
            if not _GROUPED.fullmatch(s):
                raise ValueError("not an amount (expected a decimal like 1234.50)")
            s = s.replace(",", "")
        try:
            parsed: Decimal | None = Decimal(s)
        except InvalidOperation:
            parsed = None
        if parsed is not None and parsed.is_finite() and "_" not in s:
            return parsed
        if s and (s[0] in "$€£¥" or s[-1] in "$€£¥"):
            raise ValueError("not an amount (no currency sign allowed)")
    raise ValueError("not an amount (expected a decimal like 1234.50)")


def to_decimal(raw: Any) -> Decimal:
    """A decimal number (same syntax as money), at most :data:`NUMBER_LIMIT` in size."""
    try:
        value = _amount(raw)
    except ValueError:
        raise ValueError("not a number") from None
    if abs(value) > NUMBER_LIMIT:
        raise ValueError("beyond the largest number read (a signed 64-bit integer)")
    return value


def to_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError("not a whole number")
    value: int | None = None
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, float) and raw.is_integer():
        value = int(raw)
    elif isinstance(raw, str):
        s = raw.strip()
        if s.isascii() and (s.isdigit() or (s[:1] in "+-" and s[1:].isdigit())):
            if len(s) > 20:  # more digits than any 64-bit integer has
                raise ValueError("beyond the largest whole number read (a signed 64-bit integer)")
            value = int(s)
    if value is None:
        raise ValueError("not a whole number")
    if abs(value) > NUMBER_LIMIT:
        raise ValueError("beyond the largest whole number read (a signed 64-bit integer)")
    return value


def to_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        found = _BOOLS.get(raw.strip().lower())
        if found is not None:
            return found
    raise ValueError("not a boolean (expected true/false/yes/no/1/0)")


def to_str(raw: Any) -> str | None:
    """A short string, stripped; numbers from JSON become their text."""
    if isinstance(raw, str):
        return raw.strip() or None
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int | float):
        return str(raw)
    raise ValueError(f"expected a string, not a JSON {type(raw).__name__}")


def to_text(raw: Any) -> str | None:
    """Free text kept as written."""
    if isinstance(raw, str):
        return raw if raw.strip() else None
    return to_str(raw)


def to_tags(raw: Any) -> tuple[str, ...]:
    """Semicolon-separated tags (or a JSON list of strings), stripped, blanks dropped."""
    if isinstance(raw, str):
        return tuple(t for t in (p.strip() for p in raw.split(";")) if t)
    if isinstance(raw, list) and all(isinstance(t, str) for t in raw):
        return tuple(t.strip() for t in raw if t.strip())
    raise ValueError("not a list of tags (expected tags separated by ';')")


def to_json(raw: Any) -> Any:
    """Structured data: JSON values as they are; a CSV cell holding JSON is parsed."""
    if isinstance(raw, str):
        s = raw.strip()
        if s[:1] in "[{":
            try:
                return json.loads(s)
            except ValueError:
                raise ValueError("not valid JSON") from None
        return s
    return raw


@functools.cache
def _enum_converter(allowed: tuple[str, ...]) -> Converter:
    """Case-insensitive; spaces and hyphens count as underscores (``No Show`` = ``no_show``).

    One converter per set of allowed values (cached), so :func:`is_pure` knows them all."""
    table = {v: v for v in allowed}
    reason = "not one of " + ", ".join(allowed)

    def convert(raw: Any) -> str:
        if isinstance(raw, str):
            s = raw.strip().lower()
            found = table.get(s)
            if found is None:
                found = table.get(s.replace(" ", "_").replace("-", "_"))
            if found is not None:
                return found
        raise ValueError(reason)

    _PURE.add(convert)
    return convert


_SESSION_TYPES = {t: t for t in SESSION_TYPES}


def to_session_type(raw: Any) -> str | None:
    s = to_str(raw)
    if s is None:
        return None
    known = _SESSION_TYPES.get(s.lower().replace(" ", "_").replace("-", "_"))
    return known if known is not None else s


_PURE: set[Converter] = {to_money, to_decimal, to_int, to_bool, to_tags, to_session_type}


def is_pure(conv: Converter) -> bool:
    """Whether ``conv`` maps equal strings to equal immutable values (or always raises for
    them), so its result for a string may be remembered and handed out again.

    Not :func:`to_json` (lists and dicts are mutable), not timestamps (see
    :meth:`TimeParsers._remember` for those)."""
    if conv in _PURE:
        return True
    return isinstance(getattr(conv, "__self__", None), TimeParsers) and (
        getattr(conv, "__func__", None) is TimeParsers.date
    )


def converter_for(
    kind: schema.Kind,
    zone: tzinfo,
    date_format: DateFormat,
    *,
    parsers: TimeParsers | None = None,
) -> Converter:
    """The converter of one field kind, bound to the bundle's zone and date format.

    ``parsers`` (built for that zone and date format) is shared by the timestamp and date
    converters of a whole bundle, so what they remember serves every column."""
    if isinstance(kind, tuple):
        return _enum_converter(kind)
    if kind in (schema.ID, schema.REF, schema.STR, schema.EMAIL):
        return to_str
    if kind == schema.TEXT:
        return to_text
    if kind in (schema.TS, schema.DATE):
        kinds = parsers if parsers is not None else TimeParsers(zone, date_format)
        return kinds.ts if kind == schema.TS else kinds.date
    simple: dict[str, Converter] = {
        schema.MONEY: to_money,
        schema.DECIMAL: to_decimal,
        schema.INT: to_int,
        schema.BOOL: to_bool,
        schema.TAGS: to_tags,
        schema.JSON: to_json,
        schema.SESSION_TYPE: to_session_type,
    }
    return simple[kind]


# ---------------------------------------------------------------------------
# Names

_PARTICLES = frozenset(
    {
        "van",
        "von",
        "der",
        "den",
        "de",
        "del",
        "della",
        "di",
        "da",
        "dos",
        "das",
        "du",
        "la",
        "le",
        "ter",
        "ten",
        "bin",
        "ibn",
        "al",
        "el",
    }
)
_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv", "phd", "md", "esq."})


def split_full_name(full_name: str) -> tuple[str | None, str | None]:
    """Split a full name into (first, last).

    ``Last, First`` splits at the first comma. Otherwise the last word is the last name,
    together with any lower-case particles before it (``Ludwig van Beethoven`` ->
    ``Ludwig`` / ``van Beethoven``) and any suffix after it (``Martin Luther King Jr.`` ->
    ``Martin Luther`` / ``King Jr.``). A single word is a last name only (Dataverse
    requires ``lastname`` on a contact).
    """
    name = " ".join(full_name.split())
    if "," in name:
        last, _, first = name.partition(",")
        last, first = last.strip(), first.strip()
        if last and first and first.lower().rstrip(".") not in {s.rstrip(".") for s in _SUFFIXES}:
            return first, last
    words = name.split(" ")
    if not words or not words[0]:
        return None, None
    end = len(words)
    while end > 1 and words[end - 1].lower().strip(",") in _SUFFIXES:
        end -= 1
    if end == 1:
        return None, name
    start = end - 1
    while start > 1 and words[start - 1].lower() in _PARTICLES:
        start -= 1
    first = " ".join(words[:start])
    last = " ".join(words[start:])
    return first or None, last or None
