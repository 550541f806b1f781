"""How many of an object's records may be rejected before a load or a verification fails.

A :class:`RejectThreshold` is a share of the object's records (``"2%"``) or a number of
records (``5``); an object is over it when more of its records were rejected than that
(``0`` allows none). :class:`RejectLimits` holds the default and the thresholds of single
objects. ``migrate`` and ``delta`` finish what they can load and then fail (exit 8), and
``verify --check`` fails (exit 7), for every object over its threshold, whatever was
accepted: a person raises the threshold, knowingly, where so many rejects are agreed.

Records the map lists for manual handling (a linked file, a file over the upload limit or
of a blocked type: :func:`~crm_ferry.reconcile.classify.listed`) are not counted; they are
the map's decision, listed with the run's rejects. Every other reject is: a row the reader
refused, a record the map refused, and a record lost because another one was rejected.

The default, 2%, is well above what a sound export gives: the generated practices plant
defects at about 0.2% to 0.3% of sessions, notes and invoice lines (dangling references),
and none in clients. More than one record in fifty of an object rejected points to a map
or an export that needs fixing, not to scattered defects of the source.

Everything here is pure: no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from crm_ferry.model import Reject
from crm_ferry.reconcile.classify import listed, reject_reason

__all__ = [
    "DEFAULT_THRESHOLD",
    "Breach",
    "RejectLimits",
    "RejectThreshold",
    "load_breaches",
    "over_threshold",
]

DEFAULT_THRESHOLD: Final = "2%"
"""The threshold of every object no other one is set for (see the module docstring)."""
REASONS_SHOWN: Final = 3
"""Reasons named (the most frequent first) with an object over its threshold."""


@dataclass(frozen=True, slots=True)
class RejectThreshold:
    """A share of an object's records (``percent``) or a number of records (``count``)."""

    percent: Decimal | None = None
    count: int | None = None

    @classmethod
    def parse(cls, value: Any) -> RejectThreshold:
        """``"2%"`` (a share, 0 to 100), ``5`` or ``"5"`` (records); ValueError otherwise."""
        if isinstance(value, bool) or value is None:
            raise ValueError(_EXPECTED)
        if isinstance(value, int):
            if value < 0:
                raise ValueError(_EXPECTED)
            return cls(count=value)
        if not isinstance(value, str):
            raise ValueError(_EXPECTED)
        text = value.strip()
        if text.endswith("%"):
            try:
                share = Decimal(text[:-1].strip())
            except InvalidOperation:
                raise ValueError(_EXPECTED) from None
            if not share.is_finite() or not 0 <= share <= 100:
                raise ValueError(_EXPECTED)
            return cls(percent=share)
        if text.isdigit():
            return cls(count=int(text))
        raise ValueError(_EXPECTED)

    def exceeded(self, rejected: int, records: int) -> bool:
        """Whether ``rejected`` of ``records`` records is more than this threshold allows."""
        if rejected <= 0:
            return False
        if self.count is not None:
            return rejected > self.count
        share = self.percent if self.percent is not None else Decimal(0)
        return Decimal(rejected) * 100 > share * records

    def __str__(self) -> str:
        if self.count is not None:
            return f"{self.count} record{'' if self.count == 1 else 's'}"
        return f"{self.percent.normalize() if self.percent is not None else 0:f}%"


_EXPECTED = 'expected a share of the records like "2%" (0% to 100%) or a number of records like 5'


@dataclass(frozen=True, slots=True)
class RejectLimits:
    """The threshold of every object: its own, else the default."""

    default: RejectThreshold = field(
        default_factory=lambda: RejectThreshold.parse(DEFAULT_THRESHOLD)
    )
    by_object: Mapping[str, RejectThreshold] = field(default_factory=dict)

    def of(self, obj: str) -> RejectThreshold:
        return self.by_object.get(obj, self.default)


@dataclass(frozen=True, slots=True)
class Breach:
    """An object with more rejected records than its threshold allows."""

    object: str
    records: int
    rejected: int
    """Rejected records that count (those the map lists for manual handling do not)."""
    threshold: RejectThreshold
    reasons: Mapping[str, int] = field(default_factory=dict)
    """The most frequent reasons of the counted rejects, with how many each."""

    @property
    def share(self) -> str:
        if not self.records:
            return "0%"
        value = Decimal(self.rejected * 100) / Decimal(self.records)
        return f"{value.quantize(Decimal('0.1')).normalize():f}%"

    def __str__(self) -> str:
        text = (
            f"{self.object}: {self.rejected:,} of {self.records:,} records rejected "
            f"({self.share}), over the reject threshold of {self.threshold}"
        )
        if self.reasons:
            text += "; " + "; ".join(f"{n:,} × {why}" for why, n in self.reasons.items())
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "object": self.object,
            "records": self.records,
            "rejected": self.rejected,
            "share": self.share,
            "threshold": str(self.threshold),
            "reasons": dict(self.reasons),
        }


def over_threshold(
    objects: Iterable[tuple[str, int, Mapping[str, int]]], limits: RejectLimits
) -> list[Breach]:
    """The objects over their threshold, from ``(object, records, reasons)``: ``reasons``
    counts every reject of the object by its reason (:func:`reject_reason`), those the map
    lists for manual handling included (they are left out here)."""
    out: list[Breach] = []
    for obj, records, reasons in objects:
        counted = Counter({why: n for why, n in reasons.items() if n and not listed(why)})
        rejected = sum(counted.values())
        threshold = limits.of(obj)
        if threshold.exceeded(rejected, records):
            top = dict(counted.most_common(REASONS_SHOWN))
            out.append(Breach(obj, records, rejected, threshold, top))
    return out


def load_breaches(
    counts: Mapping[str, tuple[int, int]], rejects: Iterable[Reject], limits: RejectLimits
) -> list[Breach]:
    """The objects of a load run over their threshold: ``counts`` holds per object the
    records read and rejected; ``rejects`` are the run's, with their reasons (a record with
    several counts once, by its first). A rejected record the run kept no reject of (a
    property of a rejected client) counts too."""
    first: dict[str, dict[tuple[str, int], str]] = {}
    for r in rejects:
        first.setdefault(r.object, {}).setdefault((r.file, r.line), reject_reason(r.reason))
    rows: list[tuple[str, int, Mapping[str, int]]] = []
    for obj, (read, rejected) in counts.items():
        known = Counter(first.get(obj, {}).values())
        unexplained = rejected - sum(known.values())
        if unexplained > 0:
            known[_WITH_ITS_RECORD] += unexplained
        rows.append((obj, read, known))
    return over_threshold(rows, limits)


_WITH_ITS_RECORD: Final = "rejected with the record it belongs to"
