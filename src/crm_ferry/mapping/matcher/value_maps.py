"""Value maps from the profile's value sets and the tenant's option labels.

Tags and new session types become new options; vertical → ``industrycode`` and gender →
``gendercode`` are matched to the tenant's option labels
(:func:`~crm_ferry.mapping.matcher.scoring.match_option`), and a value with no matching
option gets ``null`` (a person picks) or, with policy ``keep_text``, is kept as text.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from crm_ferry.mapping.defaults import FIRST_OPTION_VALUE
from crm_ferry.mapping.matcher.draft import Draft, ValueDecision
from crm_ferry.mapping.matcher.scoring import match_option
from crm_ferry.model import SESSION_TYPES

__all__ = ["propose_value_maps"]


def propose_value_maps(d: Draft) -> None:
    sets = d.profile.value_sets
    _tags(d, sets.get("tags", {}))
    _session_types(d, sets.get("session_type", {}))
    _tenant_choice(d, "vertical", "account", "industrycode", sets.get("vertical", {}))
    _tenant_choice(d, "gender", "contact", "gendercode", sets.get("gender", {}))


def _tags(d: Draft, values: Mapping[str, int]) -> None:
    labels: dict[str, str] = {}
    for tag in sorted(values, key=lambda v: (v.lower(), v)):
        labels.setdefault(tag.lower(), tag)
    options = {FIRST_OPTION_VALUE + i: label for i, label in enumerate(labels.values())}
    vm = d.value_maps.get("tags")
    if vm is not None:
        vm["values"] = {low: FIRST_OPTION_VALUE + i for i, low in enumerate(labels)}
    for role in ("contact", "account"):
        entry = d.targets.get(role, {}).get("fields", {}).get("tags")
        if entry and isinstance(entry.get("create"), dict):
            entry["create"]["options"] = dict(options)
    for low, label in labels.items():
        d.value_decisions.append(
            ValueDecision(
                "tags", low, (vm or {}).get("values", {}).get(low), 1.0, f"new option {label!r}"
            )
        )


def _session_types(d: Draft, values: Mapping[str, int]) -> None:
    vm = d.value_maps.get("session_type")
    entry = d.targets.get("session", {}).get("fields", {}).get("session_type")
    if vm is None:
        return
    mapped: dict[str, int] = vm.setdefault("values", {})
    options: dict[int, str] = {}
    if entry and isinstance(entry.get("create"), dict):
        options = entry["create"].setdefault("options", {})
    next_value = max([*mapped.values(), *options, FIRST_OPTION_VALUE - 1]) + 1
    for value in sorted(values, key=lambda v: (v.lower(), v)):
        low = value.strip().lower()
        if low in mapped or low.replace(" ", "_") in SESSION_TYPES:
            continue
        mapped[low] = next_value
        options[next_value] = value.strip()
        d.value_decisions.append(
            ValueDecision("session_type", low, next_value, 0.9, f"new option {value.strip()!r}")
        )
        next_value += 1


def _tenant_choice(d: Draft, name: str, role: str, column: str, values: Mapping[str, int]) -> None:
    vm = d.value_maps.get(name)
    target = d.targets.get(role)
    if vm is None or target is None or not values:
        return
    info = d.tenant.columns(target["table"]).get(column)
    if info is None or not info.options:
        d.notes.append(f"{target['table']}.{column} has no options in the tenant")
        return
    keep_text = vm.get("policy") == "keep_text"
    mapped: dict[str, int | None] = {}
    unmatched: list[str] = []
    for value in sorted(values, key=lambda v: (v.lower(), v)):
        option, score, how = match_option(value, info.options)
        low = value.strip().lower()
        if option is not None and score >= 0.85:
            mapped[low] = option
            d.value_decisions.append(ValueDecision(name, low, option, score, f"option {how}"))
        else:
            unmatched.append(value)
            if not keep_text:
                mapped[low] = None
            why = "kept as text (policy keep_text)" if keep_text else "no matching option: pick one"
            d.value_decisions.append(
                ValueDecision(name, low, None, 0.3, f"{why} (nearest {how}, {score:.2f})")
            )
    vm["values"] = mapped
    entry = target["fields"].get("vertical" if name == "vertical" else "gender")
    if entry and unmatched:
        shown = ", ".join(repr(v) for v in unmatched[:5])
        if keep_text:
            entry["reason"] = (
                f"{entry.get('reason', '')}; {len(unmatched)} value(s) without an option "
                f"kept as text: {shown}"
            )
        else:
            entry["confidence"] = min(float(entry.get("confidence", 1.0)), 0.6)
            entry["reason"] = (
                f"{entry.get('reason', '')}; {len(unmatched)} of {len(values)} value(s) "
                f"have no {column} option, pick one: {shown}"
            )
            for i, dec in enumerate(d.decisions):
                if dec.role == role and dec.field_key == name:
                    d.decisions[i] = dataclasses.replace(
                        dec, confidence=min(dec.confidence, 0.6), reason=entry["reason"]
                    )
