"""The ground truth of a generated bundle: what was planted, named as discovery names it.

Every planted dangling reference and data-quality finding is recorded as it is written,
and every custom property value goes through :class:`TypeTracker`, which infers the type
the mapping's rules give (on purpose independently of the reader's own inference in
:mod:`crm_ferry.sources.infer`, so that tests compare the two).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from crm_ferry.sources import discover
from crm_ferry.sources.generator._outputs import CUSTOM_COLUMNS, LONG_PROPERTIES

FINDING_KINDS: tuple[str, ...] = tuple(discover.FINDING_KINDS)
"""Every finding discovery reports (the truth lists each, planted or not)."""


class TypeTracker:
    """Infers a custom property's type from every value seen, with the mapping's rules:
    all dates -> date; all numeric -> number; all true/false -> boolean; at most 12
    distinct values, repeated -> choice; anything else -> text. Empty values are nulls."""

    __slots__ = ("all_bool", "all_date", "all_number", "count", "distinct")

    def __init__(self) -> None:
        self.all_date = self.all_number = self.all_bool = True
        self.count = 0
        self.distinct: set[str] = set()

    def add(self, value: str) -> None:
        if value == "":
            return
        self.count += 1
        if len(self.distinct) <= 12:
            self.distinct.add(value)
        if self.all_date:
            try:
                date.fromisoformat(value)
            except ValueError:
                self.all_date = False
            else:
                self.all_date = len(value) == 10
        if self.all_number:
            try:
                self.all_number = Decimal(value).is_finite()
            except InvalidOperation:
                self.all_number = False
        if self.all_bool:
            self.all_bool = value.lower() in {"true", "false"}

    def kind(self) -> str:
        if self.count == 0:
            return "text"
        if self.all_date:
            return "date"
        if self.all_number:
            return "number"
        if self.all_bool:
            return "boolean"
        if len(self.distinct) <= 12 and self.count > len(self.distinct):
            return "choice"
        return "text"


@dataclass(slots=True)
class Truth:
    """What was planted, in the vocabulary of discovery."""

    dangling: dict[str, list[str]] = field(default_factory=dict)
    findings: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in FINDING_KINDS})
    types: dict[str, TypeTracker] = field(
        default_factory=lambda: {k: TypeTracker() for k in (*CUSTOM_COLUMNS, *LONG_PROPERTIES)}
    )

    def dangle(self, kind: str, source_id: str) -> None:
        self.dangling.setdefault(kind, []).append(source_id)

    def find(self, kind: str, source_id: str) -> None:
        self.findings[kind].append(source_id)
