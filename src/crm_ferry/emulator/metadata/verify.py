"""No definition property is dropped: each one a request sends is applied, kept, or refused.

:func:`screen` runs before a definition is created or updated: an unknown property is the
OData error of an unknown property, an unsupported feature with anything but its default
value is answered 501 naming the property, a stored setting is type-checked and returned to be
kept. :func:`verify` runs after: every property sent must read back as sent (a read-only one
as the platform has it), so a property the emulator failed to apply is refused instead of
silently lost. The policies are those of :mod:`crm_ferry.emulator.metadata.properties`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from crm_ferry.emulator.metadata.errors import bad
from crm_ferry.emulator.metadata.properties import Rule
from crm_ferry.emulator.metadata.shapes import NAMESPACE
from crm_ferry.emulator.unsupported import not_implemented
from crm_ferry.emulator.validation import UNKNOWN_PROPERTY, Fault, is_guid

IME_MODES = frozenset({"Auto", "Inactive", "Active", "Disabled"})
MEMO_FORMATS = frozenset({"Text", "TextArea", "Email", "Json", "RichText"})


def properties(body: Mapping[str, Any], skip: Collection[str] = ()) -> list[str]:
    """The properties of a body: its keys, annotations (``@odata.type``, ``@odata.context``),
    bindings (``x@odata.bind``) and ``skip`` left out."""
    return [k for k in body if "@" not in k and k not in skip]


def screen(
    body: Mapping[str, Any],
    rules: Mapping[str, Rule],
    type_name: str,
    *,
    skip: Collection[str] = (),
    bindings: Collection[str] = (),
) -> dict[str, Any]:
    """Refuse unknown and unsupported properties; the ``stored`` ones, checked, to keep."""
    for key in body:
        if "@" in key and not key.startswith("@") and key not in bindings:
            raise _unknown(key.split("@", 1)[0], type_name)
    kept: dict[str, Any] = {}
    for key in properties(body, skip):
        rule = rules.get(key)
        if rule is None:
            raise _unknown(key, type_name)
        value = body[key]
        if rule.policy == "unsupported" and not _is_default(value, rule.default):
            raise not_implemented(f"{rule.feature}, set here to {_text(value)},")
        if rule.policy == "stored":
            kept[key] = _checked(key, rule, value)
    return kept


def verify(
    sent: Mapping[str, Any],
    read: Mapping[str, Any],
    rules: Mapping[str, Rule],
    type_name: str,
    *,
    before: Mapping[str, Any] | None = None,
    fixed: Collection[str] = (),
    skip: Collection[str] = (),
) -> None:
    """Every property of ``sent`` reads back as sent in ``read`` (the definition afterwards).

    A read-only property (and on update, one of ``fixed``, which can't change) must equal the
    definition's value before the request (``before``; on create, ``read``): the 400 names
    it. A property that did not take is a 501: something the emulator does not do.
    """
    for key in properties(sent, skip):
        rule = rules.get(key)
        if rule is None:
            continue
        value = sent[key]
        if rule.policy == "computed" or key in fixed:
            reference = (before if before is not None else read).get(key)
            if not same(value, reference):
                what = "read-only" if rule.policy == "computed" else "fixed once created"
                raise bad(
                    f"The property '{key}' of {NAMESPACE}{type_name} is {what}: it is "
                    f"{_text(reference)}, the request has {_text(value)}."
                )
        elif not same(value, read.get(key)):
            raise not_implemented(f"Setting '{key}' of {NAMESPACE}{type_name} to {_text(value)}")


def same(sent: Any, read: Any) -> bool:
    """Whether ``sent`` reads back as ``read``: dictionaries key by key (annotations left out),
    Labels by their (language, text) pairs, numbers by value."""
    if isinstance(sent, dict):
        if not isinstance(read, dict):
            return False
        if "LocalizedLabels" in sent:
            return _pairs(sent) <= _pairs(read)
        return all(same(v, read.get(k)) for k, v in sent.items() if not k.startswith("@"))
    if isinstance(sent, list):
        return (
            isinstance(read, list)
            and len(sent) == len(read)
            and all(same(a, b) for a, b in zip(sent, read, strict=True))
        )
    if isinstance(sent, bool) or isinstance(read, bool):
        return sent is read
    if _number(sent) and _number(read):
        return _decimal(sent) == _decimal(read)
    return bool(sent == read)


def _pairs(label: Mapping[str, Any]) -> set[tuple[Any, Any]]:
    items = label.get("LocalizedLabels") or []
    return {
        (item.get("LanguageCode"), item.get("Label")) for item in items if isinstance(item, dict)
    }


def _number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal("NaN")


def _is_default(value: Any, default: Any) -> bool:
    if isinstance(default, dict) and "Value" in default:
        return isinstance(value, dict) and value.get("Value") == default["Value"]
    if default is None or default == "":
        return value is None or value == ""
    return same(value, default)


def _checked(key: str, rule: Rule, value: Any) -> Any:
    """A stored setting as it is kept, or the 400 for a value of the wrong type."""
    ok: bool
    if rule.type == "bool":
        ok = isinstance(value, bool)
    elif rule.type == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif rule.type == "str":
        ok = value is None or isinstance(value, str)
        if ok and key == "ImeMode":
            ok = value in IME_MODES
    elif rule.type == "guid":
        ok = value is None or is_guid(value)
    elif rule.type == "bmp":
        return _managed(key, rule, value)
    else:
        ok = key != "FormatName" or (isinstance(value, dict) and value.get("Value") in MEMO_FORMATS)
    if not ok:
        raise bad(f"{_text(value)} is not a valid value for the property '{key}'.")
    return value


def _managed(key: str, rule: Rule, value: Any) -> dict[str, Any]:
    default = rule.default
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("Value"), bool)
        or not isinstance(value.get("CanBeChanged", True), bool)
        or value.get("ManagedPropertyLogicalName", default["ManagedPropertyLogicalName"])
        != default["ManagedPropertyLogicalName"]
    ):
        raise bad(
            f"{_text(value)} is not a valid value for the property '{key}': a "
            f"BooleanManagedProperty with ManagedPropertyLogicalName "
            f"'{default['ManagedPropertyLogicalName']}'."
        )
    return {
        "Value": value["Value"],
        "CanBeChanged": value.get("CanBeChanged", default["CanBeChanged"]),
        "ManagedPropertyLogicalName": default["ManagedPropertyLogicalName"],
    }


def _unknown(name: str, type_name: str) -> Fault:
    return bad(
        f"Could not find a property named '{name}' on type '{NAMESPACE}{type_name}'.",
        code=UNKNOWN_PROPERTY,
    )


def _text(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, dict) and "Value" in value and len(value) <= 3:
        return _text(value["Value"])
    return json.dumps(value, default=str)


__all__ = ["IME_MODES", "MEMO_FORMATS", "properties", "same", "screen", "verify"]
