"""One object's headers → the fields and columns of its targets.

For every header of an object file that feeds a target:

* a header the reader already resolves to a canonical field follows the default map, with
  confidence 1.0 when its column exists in the tenant (or is created by the map);
* an unknown header is matched (a) to a canonical field the file does not otherwise fill,
  by the synonyms (:mod:`~crm_ferry.mapping.matcher.synonyms`), by name similarity and by
  value patterns; or (b) directly to a column of the target table, by the column's logical
  and schema names (``Job Title`` → ``jobtitle``), keyed ``extra:<header>``; or (c) it is
  left unmapped (column null) with the reason;
* every candidate is weighed by type compatibility
  (:func:`~crm_ferry.mapping.matcher.scoring.field_fit`,
  :func:`~crm_ferry.mapping.matcher.scoring.column_fit`): an incompatible candidate is
  vetoed, a doubtful one is lowered. Each header and each field or column goes to one
  candidate, the best first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crm_ferry.mapping.matcher.draft import Decision, Draft, round_up
from crm_ferry.mapping.matcher.scoring import column_fit, field_fit, name_score
from crm_ferry.mapping.matcher.synonyms import COLUMN_SYNONYMS, SYNONYMS
from crm_ferry.mapping.profile import ColumnProfile
from crm_ferry.sources import schema

__all__ = ["EXTRA_ROLES", "MATCH_CAP", "MIN_SCORE", "SKIP_EXTRA_ROLES", "propose_headers"]

MIN_SCORE = 0.55
"""Candidates scoring below this are not proposed at all (the header stays unmapped)."""
MATCH_CAP = 0.95
"""The highest confidence a match that is not the default map can get."""

EXTRA_ROLES: dict[str, tuple[str, ...]] = {"clients": ("contact", "account")}
"""Roles whose tables take unknown headers directly (default: the primary role only)."""

SKIP_EXTRA_ROLES = frozenset({"opportunity"})
"""Aggregated roles never take a column straight from a source row."""

_ELIGIBLE_TYPES = frozenset({"String", "Memo", "DateTime", "Integer", "Decimal", "Money", "Double"})
_SYSTEM_COLUMNS = frozenset(
    {
        "createdon",
        "modifiedon",
        "createdby",
        "modifiedby",
        "versionnumber",
        "importsequencenumber",
        "overriddencreatedon",
        "timezoneruleversionnumber",
        "utcconversiontimezonecode",
        "exchangerate",
    }
)


@dataclass
class _Candidate:
    score: float
    header: str
    kind: str
    """``field`` or ``column``."""
    target: str
    reason: str


def propose_headers(d: Draft, obj: str, columns: list[ColumnProfile], roles: list[str]) -> None:
    """Decide every header (profiled column) of ``obj`` for its ``roles``, the primary
    role first."""
    claimed = {c.field for c in columns if c.field and not c.field.startswith("custom:")}
    unknown: list[ColumnProfile] = []
    for col in columns:
        if col.field is None:
            unknown.append(col)
        elif not col.field.startswith("custom:"):
            _known(d, obj, col, col.field, roles, 1.0, "")
    if not unknown:
        return
    primary = roles[0]
    extra_roles = [
        r for r in EXTRA_ROLES.get(obj, (primary,)) if r in roles and r not in SKIP_EXTRA_ROLES
    ]
    cands: list[_Candidate] = []
    for col in unknown:
        cands.extend(_field_candidates(obj, col, claimed))
        if extra_roles:
            cands.extend(_column_candidates(d, extra_roles[0], col))
    cands.sort(key=lambda c: (-c.score, c.kind != "field", c.header, c.target))
    done: dict[str, _Candidate] = {}
    used: set[str] = set()
    best: dict[str, _Candidate] = {}
    for c in cands:
        best.setdefault(c.header, c)
        if c.header in done or f"{c.kind}:{c.target}" in used or c.score < MIN_SCORE:
            continue
        done[c.header] = c
        used.add(f"{c.kind}:{c.target}")
    by_header = {c.header: c for c in unknown}
    for header, c in done.items():
        col = by_header[header]
        if c.kind == "field":
            _known(d, obj, col, c.target, roles, c.score, c.reason)
        else:
            _extra(d, obj, extra_roles[0], col, c.target, c.score, c.reason)
    # Secondary roles (the account of a client) take columns of their own table.
    for role in extra_roles[1:]:
        rcands: list[_Candidate] = []
        for col in unknown:
            if col.header in done and done[col.header].kind == "field":
                continue
            rcands.extend(_column_candidates(d, role, col))
        rcands.sort(key=lambda c: (-c.score, c.header, c.target))
        rdone: set[str] = set()
        rused: set[str] = set()
        for c in rcands:
            if c.header in rdone or c.target in rused or c.score < MIN_SCORE:
                continue
            rdone.add(c.header)
            rused.add(c.target)
            _extra(d, obj, role, by_header[c.header], c.target, c.score, c.reason)
            if c.header not in done:
                done[c.header] = c
    for col in unknown:
        if col.header in done:
            continue
        near = best.get(col.header)
        if near is None:
            why = "no field or column of the target matches this header"
        else:
            what = near.target if near.kind == "field" else f"column {near.target}"
            why = f"no confident match (nearest: {what}, {near.score:.2f}: {near.reason})"
        conf = 1.0 - (near.score if near else 0.0)
        _unmapped(d, obj, primary, col, round(max(0.3, min(conf, 0.95)), 2), why)


def _field_candidates(obj: str, col: ColumnProfile, claimed: set[str]) -> list[_Candidate]:
    out: list[_Candidate] = []
    generic = SYNONYMS["*"]
    specific = SYNONYMS.get(obj, {})
    for fld in schema.FIELDS[obj]:
        if fld in claimed:
            continue
        names = [fld, *specific.get(fld, ()), *generic.get(fld, ())]
        score, how = name_score(col.header, names)
        reason = f"name {how}" if score < 1.0 else f"synonym {how}"
        fit, fit_why = field_fit(obj, fld, col)
        # Value patterns alone: an unclaimed `email` field and a column of e-mails.
        if score < 0.5 and col.filled and fld == "email" and col.ratio("email") >= 0.95:
            score, reason = 0.62, "value pattern: every value is an e-mail address"
        total = min(score * fit, MATCH_CAP)
        if total > 0.3:
            out.append(_Candidate(total, col.header, "field", fld, f"{reason}; {fit_why}"))
    return out


def _column_candidates(d: Draft, role: str, col: ColumnProfile) -> list[_Candidate]:
    target = d.targets[role]
    table = target["table"]
    columns = d.tenant.columns(table)
    if not columns:
        return []
    in_map = {fd.get("column") for fd in target["fields"].values() if isinstance(fd, Mapping)}
    tinfo = d.tenant.metadata.table(table) if d.tenant.has(table) else None
    out: list[_Candidate] = []
    for name, info in columns.items():
        if (
            name in in_map
            or info.type not in _ELIGIBLE_TYPES
            or not info.is_valid_for_create
            or name in _SYSTEM_COLUMNS
            or name.endswith("_base")
            or name.startswith("yomi")
            or (tinfo is not None and name == tinfo.primary_id)
        ):
            continue
        names = [name, *COLUMN_SYNONYMS.get(name, ())]
        if info.schema_name:
            names.append(info.schema_name)
        score, how = name_score(col.header, names)
        if score < 0.5:
            continue
        fit, fit_why = column_fit(info, col)
        total = min(score * fit, MATCH_CAP)
        kind = "synonym" if score >= 0.93 else "name"
        out.append(_Candidate(total, col.header, "column", name, f"{kind} {how}; {fit_why}"))
    return out


# ---------------------------------------------------------------------------
# Writing decisions


def _known(
    d: Draft,
    obj: str,
    col: ColumnProfile,
    fld: str,
    roles: list[str],
    confidence: float,
    match_reason: str,
) -> None:
    placed = False
    for role in roles:
        target = d.targets[role]
        entry = target["fields"].get(fld)
        if entry is None:
            continue
        placed = True
        if col.header != fld:
            entry["header"] = col.header
        ok, why = d.column_ok(role, entry)
        base = entry.get("reason") or "default map"
        if match_reason:
            reason = f"{match_reason} → {fld}; {base}"
            conf = confidence
        else:
            reason = base if col.header == fld else f"{base} (export header {col.header!r})"
            conf = 1.0
        if not ok:
            reason = f"{reason}; {why}"
            conf = min(conf, 0.4)
        if entry.get("column") and col.max_length and entry.get("create"):
            limit = entry["create"].get("max_length")
            if isinstance(limit, int) and col.max_length > limit:
                entry["create"]["max_length"] = min(4000, round_up(col.max_length))
        reason += d.table_note(target["table"])
        entry["confidence"] = round(conf, 2)
        entry["reason"] = reason
        d.decisions.append(
            Decision(obj, col.header, fld, role, target["table"], entry.get("column"), conf, reason)
        )
    if not placed:
        role = roles[0]
        reason = (
            f"{match_reason} → {fld}; " if match_reason else ""
        ) + "read by the loader, not a column of its own"
        d.decisions.append(
            Decision(
                obj,
                col.header,
                fld,
                role,
                d.targets[role]["table"],
                None,
                confidence,
                reason,
            )
        )


def _extra(
    d: Draft, obj: str, role: str, col: ColumnProfile, column: str, score: float, reason: str
) -> None:
    target = d.targets[role]
    info = d.tenant.columns(target["table"])[column]
    key = f"extra:{col.header}"
    entry: dict[str, Any] = {
        "column": column,
        "type": info.type,
        "confidence": round(score, 2),
        "reason": f"tenant column {target['table']}.{column}: {reason}",
    }
    if info.type in ("String", "Memo") and info.max_length and col.max_length > info.max_length:
        entry["truncate"] = False
    target["fields"][key] = entry
    d.decisions.append(
        Decision(obj, col.header, key, role, target["table"], column, score, entry["reason"])
    )


def _unmapped(d: Draft, obj: str, role: str, col: ColumnProfile, conf: float, why: str) -> None:
    target = d.targets[role]
    key = f"extra:{col.header}"
    reason = f"not migrated: {why}"
    target["fields"][key] = {"column": None, "confidence": conf, "reason": reason}
    d.decisions.append(Decision(obj, col.header, key, role, target["table"], None, conf, reason))
