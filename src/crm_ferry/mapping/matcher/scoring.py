"""How well a header names a field, and how well a column's values fit a target.

* name similarity: :func:`tokens` splits a header (``"Client FirstName"`` → ``client``,
  ``first``, ``name``), :func:`name_score` weighs it against a field's or column's names
  (equal, equal once qualifiers such as ``Client`` are dropped, or similar by edit distance
  and shared tokens), :func:`match_option` picks the option label a source value names;
* type compatibility: :func:`field_fit` and :func:`column_fit` weigh a header's profiled
  values against a canonical field's kind or a tenant column's type and format (1 fits,
  0 vetoes: e-mail addresses only go to e-mail columns, dates only to DateTime columns, ...).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from difflib import SequenceMatcher

from crm_ferry.dataverse.metadata import ColumnInfo
from crm_ferry.mapping.profile import ColumnProfile
from crm_ferry.sources import schema

__all__ = ["NOISE", "column_fit", "field_fit", "match_option", "name_score", "tokens"]

NOISE = frozenset({"client", "customer", "contact", "primary", "main", "legal", "the", "of"})
"""Tokens that qualify rather than name a field (``Client First Name`` = first name)."""

_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def tokens(text: str) -> list[str]:
    """``"Client FirstName (legal)"`` → ``["client", "first", "name", "legal"]``."""
    spaced = _CAMEL.sub(r"\1 \2", text)
    return [t for t in _NON_ALNUM.split(spaced.lower()) if t]


def _norm(text: str) -> str:
    return "".join(tokens(text))


def name_score(header: str, names: Iterable[str]) -> tuple[float, str]:
    """How well ``header`` names one of ``names``: (score in [0, 1], the name and how)."""
    htok = tokens(header)
    hn = "".join(htok)
    stripped = "".join(t for t in htok if t not in NOISE)
    best, how = 0.0, ""
    for name in names:
        nn = _norm(name)
        if not nn:
            continue
        if hn == nn:
            return 1.0, f"'{name}'"
        if stripped and stripped == nn and best < 0.93:
            best, how = 0.93, f"'{name}' (qualifier dropped)"
            continue
        for hv in {hn, stripped} - {""}:
            ratio = SequenceMatcher(None, hv, nn).ratio()
            ntok = set(tokens(name))
            htoks = set(htok) if hv == hn else {t for t in htok if t not in NOISE}
            jac = len(ntok & htoks) / len(ntok | htoks) if ntok | htoks else 0.0
            score = ratio if ratio >= 0.85 else 0.6 * ratio + 0.4 * jac
            score *= 0.9
            if score > best:
                best, how = score, f"similar to '{name}'"
    return best, how


def match_option(value: str, options: Mapping[int, str]) -> tuple[int | None, float, str]:
    """The option whose label best matches ``value``: (option, score, how)."""
    v = value.strip()
    low = v.lower()
    best: tuple[int | None, float, str] = (None, 0.0, "none")
    for option, label in options.items():
        lab = label.strip().lower()
        if low == lab or _norm(low) == _norm(lab):
            return option, 1.0, f"{label!r} (same label)"
        if len(low) == 1 and lab.startswith(low):
            score = 0.9
        else:
            score, _ = name_score(v, [label])
        if score > best[1]:
            best = (option, score, repr(label))
    return best


# ---------------------------------------------------------------------------
# Type compatibility


def field_fit(obj: str, fld: str, col: ColumnProfile) -> tuple[float, str]:
    """How well the values of ``col`` fit canonical field ``fld`` (1 fits, 0 vetoes)."""
    if col.filled == 0:
        return 0.9, "no values to check"
    kind = schema.FIELDS[obj][fld]
    email = col.ratio("email")
    dates = col.ratio("date") + col.ratio("datetime")
    if kind == schema.EMAIL:
        return (1.0, "values are emails") if email >= 0.9 else (0.0, "values are not emails")
    if email >= 0.9 and kind not in (schema.TEXT, schema.JSON):
        return 0.0, "values are emails"
    if kind == schema.DATE:
        if col.ratio("date") >= 0.9:
            return 1.0, "values are dates"
        return (0.7, "values are timestamps") if dates >= 0.9 else (0.0, "values are not dates")
    if kind == schema.TS:
        return (1.0, "values are dates/times") if dates >= 0.9 else (0.0, "values are not times")
    if kind in (schema.MONEY, schema.DECIMAL):
        ok = col.ratio("money") >= 0.9
        return (1.0, "values are amounts") if ok else (0.0, "values are not numbers")
    if kind == schema.INT:
        ok = col.ratio("integer") >= 0.9
        return (1.0, "values are whole numbers") if ok else (0.0, "values are not whole numbers")
    if kind == schema.BOOL:
        ok = col.ratio("boolean") >= 0.9 or (col.ratio("integer") >= 0.9 and col.distinct <= 2)
        return (1.0, "values are true/false") if ok else (0.0, "values are not true/false")
    if isinstance(kind, tuple):
        allowed = set(kind)
        seen = [s.strip().lower().replace(" ", "_").replace("-", "_") for s in col.samples]
        good = sum(1 for s in seen if s in allowed)
        if seen and good == len(seen):
            return 1.0, "values are in the field's set"
        return 0.2, f"values outside {', '.join(kind)}"
    if dates >= 0.9:
        return 0.2, "values are dates"
    if fld in ("phone", "mobile"):
        return (
            (1.0, "values are phone numbers")
            if col.ratio("phone") >= 0.8
            else (
                0.4,
                "values are not phone numbers",
            )
        )
    if fld == "url":
        return (1.0, "values are URLs") if col.ratio("url") >= 0.9 else (0.3, "not URLs")
    if kind in (schema.STR,) and col.ratio("money") >= 0.9 and fld not in ("postal_code",):
        return 0.6, "values are numbers"
    return 1.0, "text"


def column_fit(info: ColumnInfo, col: ColumnProfile) -> tuple[float, str]:
    """How well the values of ``col`` fit tenant column ``info`` (1 fits, 0 vetoes)."""
    if col.filled == 0:
        return 0.8, "no values to check"
    email = col.ratio("email")
    dates = col.ratio("date") + col.ratio("datetime")
    t, fmt = info.type, (info.format or "")
    is_email = t == "String" and fmt == "Email"
    if email >= 0.9 and not is_email:
        return 0.0, "values are emails (only e-mail columns take them)"
    if is_email:
        return (1.0, "emails to an e-mail column") if email >= 0.9 else (0.0, "not emails")
    if t == "DateTime":
        return (1.0, "dates to a DateTime column") if dates >= 0.9 else (0.0, "not dates")
    if t == "Integer":
        ok = col.ratio("integer") >= 0.9
        return (1.0, "whole numbers") if ok else (0.0, "not whole numbers")
    if t in ("Decimal", "Money", "Double"):
        ok = col.ratio("money") >= 0.9
        return (1.0, "numbers") if ok else (0.0, "not numbers")
    if t not in ("String", "Memo"):
        return 0.0, f"{t} columns need a value map"
    if dates >= 0.9:
        return 0.4, "dates into a text column"
    factor, why = 1.0, "text"
    if fmt == "Url":
        factor, why = (
            (1.0, "URLs to a URL column") if col.ratio("url") >= 0.9 else (0.1, "not URLs")
        )
    elif fmt == "Phone":
        factor, why = (1.0, "phone numbers") if col.ratio("phone") >= 0.8 else (0.3, "not phones")
    elif col.ratio("url") >= 0.9:
        factor, why = 0.7, "URLs into a plain text column"
    if info.max_length and col.max_length > info.max_length:
        factor *= 0.6
        why += f"; values up to {col.max_length} chars, column holds {info.max_length}"
    return factor, why
