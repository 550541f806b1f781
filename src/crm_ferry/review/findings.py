"""What the sample and verify pages show: a reconciliation's report read back, its
differences marked as the journal has them accepted now, and the differences and compared
fields filtered and cut into pages on the server.

A reconciliation is found in the journal (the latest of its kind, or one by id); its values
are in the ``report.json`` written next to its ``report.html``
(:meth:`~crm_ferry.reconcile.reconciliation.Reconciliation.as_dict`), read once per change
of the file (:meth:`~crm_ferry.review.state.ReviewState.memo`): a verification of tens of
thousands of rows is parsed once, then every page of it is a filter over lists in memory.
Acceptances are read from the journal at every request (accepting one from the page shows
at once), and the summary's counts follow them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from crm_ferry.errors import FerryError, MapError
from crm_ferry.journal import AcceptedDifference, DifferenceScope, ReconciliationInfo
from crm_ferry.reconcile.classify import CLASSES
from crm_ferry.reconcile.diff import CHOICE_TYPES
from crm_ferry.reconcile.reconciliation import choice_label
from crm_ferry.reconcile.report import JSON_NAME, shown
from crm_ferry.review.state import ReviewState, stamp

__all__ = [
    "PAGE_SIZE",
    "STATUSES",
    "Loaded",
    "Page",
    "Shown",
    "difference_filter",
    "field_filter",
    "find",
    "labelled",
    "marked",
    "page_of",
    "read_report",
    "summary_of",
]

PAGE_SIZE: Final = 50
"""Rows per page of a list (``per`` may ask for 10 to 500)."""
MAX_PAGE_SIZE: Final = 500
STATUSES: Final = ("new", "accepted")

_DIFF_TEXT = ("id", "record", "source_key", "column", "what", "detail")
_ROW_TEXT = ("record_id", "source_key", "field")
_VALUES = ("source_value", "expected", "actual")


@dataclass(frozen=True)
class Loaded:
    """A report read back: its dict, and the text each difference and row is searched in."""

    data: dict[str, Any]
    diff_text: list[str]
    row_text: list[str]

    @classmethod
    def of(cls, data: dict[str, Any]) -> Loaded:
        return cls(
            data,
            [_haystack(d, _DIFF_TEXT) for d in data["differences"]],
            [_haystack(r, _ROW_TEXT) for r in data["rows"]],
        )


def _haystack(item: Mapping[str, Any], keys: Sequence[str]) -> str:
    parts = [str(item.get(k) or "") for k in keys]
    parts += [shown(item.get(k)) for k in _VALUES]
    return "\n".join(parts).lower()


def find(
    state: ReviewState, kind: DifferenceScope, recon_id: str | None
) -> tuple[ReconciliationInfo | None, list[tuple[str, str]], ReconciliationInfo | None]:
    """The reconciliation asked for (``recon_id``, else the latest of ``kind``), every one
    of ``kind`` (id, when; the latest first) and the latest (what accepting applies to)."""
    with state.journal() as j:
        listed = j.reconciliation_ids(kind)
        latest = j.latest_reconciliation(kind)
        if recon_id is None:
            return latest, listed, latest
        recon = j.reconciliation(recon_id)
    if recon is None or recon.kind != kind:
        command = "verify" if kind == "verify" else "sample"
        raise MapError(
            f"there is no {command} reconciliation {recon_id!r} in the journal",
            hint=f"pick one from the list on the {command} page, or run `crm-ferry {command}`",
        )
    return recon, listed, latest


def read_report(state: ReviewState, recon: ReconciliationInfo) -> Loaded:
    """``report.json`` of ``recon``, parsed once per change of the file."""
    if not recon.report:
        raise MapError(f"{recon.recon_id} has no report", hint="run it again to write one")
    path = Path(recon.report).with_name(JSON_NAME)
    try:
        path.stat()
    except OSError as exc:
        raise MapError(
            f"the report of {recon.recon_id} is gone: {path} ({exc.strerror})",
            hint="`crm-ferry purge` removes reports; run it again to write a new one",
        ) from exc

    def load() -> Loaded:
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise MapError(
                f"cannot read the report {path}: {exc}",
                hint="run it again to write a new one",
            ) from exc
        return Loaded.of(data)

    return state.memo(f"report:{path}", stamp(path), load)


def marked(
    differences: Iterable[Mapping[str, Any]], accepted: Mapping[str, AcceptedDifference]
) -> list[dict[str, Any]]:
    """The differences with their status as the journal has it now."""
    out = []
    for d in differences:
        a = accepted.get(str(d["id"]))
        out.append(
            {
                **d,
                "status": "new" if a is None else "accepted",
                "accepted": None
                if a is None
                else {"by": a.accepted_by, "at": a.accepted_at, "reason": a.reason},
            }
        )
    return out


def summary_of(
    summary: Mapping[str, Any], differences: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The report's summary with the counts of new and accepted as they are now."""
    by_class: dict[str, dict[str, int]] = {
        cls: {"total": 0, "new": 0, "accepted": 0} for cls in CLASSES
    }
    for d in differences:
        per = by_class.setdefault(str(d["classification"]), {"total": 0, "new": 0, "accepted": 0})
        per["total"] += 1
        per[str(d["status"])] += 1
    new = sum(1 for d in differences if d["status"] == "new")
    return {
        **summary,
        "differences": len(differences),
        "new": new,
        "accepted": len(differences) - new,
        "by_class": by_class,
    }


# ---------------------------------------------------------------------------
# filters and pages


@dataclass(frozen=True)
class Page:
    """One page of a filtered list: the items shown, where they are, how many matched."""

    items: list[dict[str, Any]]
    number: int
    pages: int
    matched: int
    total: int
    size: int

    @property
    def first(self) -> int:
        return (self.number - 1) * self.size + 1 if self.items else 0

    @property
    def last(self) -> int:
        return self.first + len(self.items) - 1 if self.items else 0


@dataclass(frozen=True)
class Shown:
    """A filter as asked (every field as typed, empty when not given)."""

    values: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str:
        return self.values.get(name, "")


def _number(text: str, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(text)))
    except ValueError:
        return default


def page_of(items: Sequence[dict[str, Any]], total: int, number: str, size: str) -> Page:
    """Page ``number`` (1-based, as typed; out of range: the nearest) of ``items``."""
    per = _number(size, PAGE_SIZE, 10, MAX_PAGE_SIZE)
    pages = max(1, math.ceil(len(items) / per))
    at = _number(number, 1, 1, pages)
    return Page(list(items[(at - 1) * per : at * per]), at, pages, len(items), total, per)


Predicate = Callable[[int, Mapping[str, Any]], bool]


def _matches(text: str, haystack: Sequence[str]) -> Predicate:
    words = text.lower().split()
    if not words:
        return lambda i, item: True
    return lambda i, item: all(w in haystack[i] for w in words)


def difference_filter(
    loaded: Loaded, differences: Sequence[dict[str, Any]], shown_: Shown
) -> list[dict[str, Any]]:
    """The differences the filter keeps: table, column, class, status, and text (every
    word found in the id, record, column, what, detail or values)."""
    wanted = {
        key: shown_.get(name)
        for key, name in (
            ("table", "table"),
            ("column", "column"),
            ("classification", "class"),
            ("status", "status"),
        )
        if shown_.get(name)
    }
    text = _matches(shown_.get("q"), loaded.diff_text)
    return [
        d
        for i, d in enumerate(differences)
        if all(str(d[k]) == v for k, v in wanted.items()) and text(i, d)
    ]


def field_filter(loaded: Loaded, shown_: Shown) -> list[dict[str, Any]]:
    """The compared fields the filter keeps: table, column, verdict and text."""
    wanted = {
        key: shown_.get(name)
        for key, name in (("table", "ftable"), ("field", "fcolumn"), ("verdict", "verdict"))
        if shown_.get(name)
    }
    text = _matches(shown_.get("fq"), loaded.row_text)
    return [
        r
        for i, r in enumerate(loaded.data["rows"])
        if all(str(r[k]) == v for k, v in wanted.items()) and text(i, r)
    ]


# ---------------------------------------------------------------------------
# labels of choice values


def _tenant_options(state: ReviewState, table: str) -> dict[str, dict[int, str]] | None:
    """Value → label of every choice column of ``table`` in the tenant's metadata, by column
    (None when the tenant cannot say)."""
    try:
        columns = state.client.metadata.columns(table)
    except FerryError:
        return None
    return {
        name: dict(info.options)
        for name, info in columns.items()
        if info.options and (info.type in CHOICE_TYPES or info.type == "MultiSelectPicklist")
    }


def _options(state: ReviewState, table: str, data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The tenant's choices of ``table`` (asked once per server start), else those the report
    recorded when it was made; nothing for a table the report compared no row of (a source
    object whose records were not loaded)."""
    recorded: Mapping[str, Any] = data.get("choices", {}).get(table, {})
    if table not in data["fields"]["by_table"] and not recorded:
        return {}
    found = state.memo(f"choices:{table}", 0, lambda: _tenant_options(state, table))
    if found is not None:
        return found
    state.forget(f"choices:{table}")  # the tenant did not answer: ask again next time
    return {col: {int(k): str(v) for k, v in opts.items()} for col, opts in recorded.items()}


def labelled(
    state: ReviewState,
    items: Sequence[dict[str, Any]],
    column_key: str,
    data: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """``items`` (differences: ``column_key`` ``column``; rows: ``field``) with the labels of
    their expected and actual values where the column is a choice (``data``: the report)."""
    out = []
    for item in items:
        options = _options(state, str(item["table"]), data).get(str(item[column_key]))
        out.append(
            {
                **item,
                "expected_label": choice_label(item.get("expected"), options),
                "actual_label": choice_label(item.get("actual"), options),
            }
        )
    return out
