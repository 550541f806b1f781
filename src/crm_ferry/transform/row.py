"""A target row being built, and the exception that rejects its record.

:class:`Row` gathers a payload for one target row (its lookups as ``@odata.bind``
references, the rows those point to, the columns the service takes only on create).
:class:`Rejected` carries the field, the value and the reason a record cannot be loaded;
:meth:`crm_ferry.transform.engine.Transformer.transform` turns it into a
:class:`~crm_ferry.model.Reject`. :class:`Skip` says the map leaves a record out on purpose
(a linked file missing from the downloads under ``documents.linked: skip``): it becomes a
:class:`~crm_ferry.transform.roles.opportunities.Skipped`, counted as skipped, not rejected.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from crm_ferry.transform.schema import TableSchema, TargetSchema
from crm_ferry.transform.values import BadValue

__all__ = ["Rejected", "Row", "Skip", "Truncation"]


@dataclass(frozen=True, slots=True)
class Truncation:
    """A source value cut to its column's length because its field says ``truncate: true``:
    which record, which field and column, how long it was and how much was kept."""

    object: str
    source_id: str
    file: str
    line: int
    field: str
    table: str
    column: str
    length: int
    kept: int
    value: str
    """The value as it was, at most 200 characters (with ``...`` when longer)."""

    @property
    def where(self) -> str:
        """``table.column``: what the run summary counts truncations by."""
        return f"{self.table}.{self.column}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Rejected(Exception):
    """The record being transformed cannot be loaded: ``field`` holds ``value``, ``reason``
    says why (``field`` None: the record as a whole)."""

    def __init__(self, field: str | None, value: Any, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.value = value
        self.reason = reason


class Skip(Exception):
    """The record being transformed is left out on purpose, as the map says: the target
    ``role`` takes it and writes nothing, ``reason`` says why (the run counts it as
    skipped, with the reason)."""

    def __init__(self, role: str, reason: str) -> None:
        super().__init__(reason)
        self.role = role
        self.reason = reason


@dataclass(slots=True)
class Row:
    """A payload being built for one target row."""

    table: TableSchema
    payload: dict[str, Any] = field(default_factory=dict)
    depends: list[tuple[str, str]] = field(default_factory=list)
    create_only: list[str] = field(default_factory=list)
    cuts: list[tuple[str, int, int, str]] = field(default_factory=list)
    """Texts :meth:`set_text` cut to their column: (column, length, kept, the text)."""

    def bind(self, schema: TargetSchema, column: str, target: str, row_id: str) -> None:
        """Point lookup ``column`` at row ``row_id`` of ``target`` (BadValue: no such
        relationship in the snapshot)."""
        try:
            key, ref = schema.bind(self.table.logical_name, column, target, row_id)
        except KeyError as exc:
            raise BadValue(str(exc.args[0])) from None
        self.payload[key] = ref
        self.depends.append((target, row_id))
        self._note_create_only(column, key)

    def set(self, column: str, value: Any) -> None:
        self.payload[column] = value
        self._note_create_only(column, column)

    def _note_create_only(self, column: str, key: str) -> None:
        """``key`` of the payload is left out when the row exists: its column is valid for
        create only (an invoice's currency)."""
        info = self.table.column(column)
        create_only = info is not None and info.is_valid_for_create and not info.is_valid_for_update
        if create_only and key not in self.create_only:
            self.create_only.append(key)

    def set_text(self, column: str, text: str) -> None:
        """``text``, cut to the column's maximum length (names, subjects); a cut is kept in
        :attr:`cuts`, so the run reports it like any other truncation."""
        col = self.table.column(column)
        limit = col.max_length if col is not None else None
        if limit and len(text) > limit:
            self.cuts.append((column, len(text), limit, text))
            text = text[:limit]
        self.set(column, text)
