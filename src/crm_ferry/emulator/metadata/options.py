"""The option actions: InsertOptionValue, UpdateOptionValue, DeleteOptionValue, OrderOption and
InsertStatusValue.

From https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-optionsets:
a local choice is addressed by ``EntityLogicalName`` and ``AttributeLogicalName``, a global one
by ``OptionSetName``; ``SolutionUniqueName`` names the solution whose publisher's option value
prefix numbers a new option (``Value`` null: the next free ``prefix × 10,000 + n``);
``UpdateOptionValue`` changes an option's labels (``MergeLabels`` keeps the other languages),
``OrderOption`` puts the options in the order of ``Values``, ``InsertStatusValue`` adds a status
reason to the ``statecode`` value ``StateCode``. Each function works on the body of the action
and raises the documented error; the action answers are made by
:mod:`crm_ferry.emulator.actions`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from crm_ferry.emulator import tenant
from crm_ferry.emulator.metadata.labels import Texts, keep, merged, parse, stored
from crm_ferry.emulator.schema import OptionDef, OptionSetDef, Schema
from crm_ferry.emulator.validation import (
    DUPLICATE_RECORD,
    INVALID_ARGUMENT,
    OBJECT_DOES_NOT_EXIST,
    Fault,
)

_CHOICES = ("Picklist", "MultiSelectPicklist", "Boolean")


class OptionEmulator(Protocol):
    """What the option actions need from the emulator core."""

    @property
    def schema(self) -> Schema: ...

    @property
    def store(self) -> Any: ...

    def save_schema(self, tables: Iterable[str] | None = None) -> None: ...


def option_set_of(
    em: OptionEmulator, body: dict[str, Any], kinds: tuple[str, ...] = _CHOICES
) -> OptionSetDef:
    """The choice an option action addresses: ``OptionSetName`` (global) or
    ``EntityLogicalName`` + ``AttributeLogicalName`` (local) of a column of ``kinds``."""
    name = body.get("OptionSetName")
    if name:
        found = em.schema.global_option_sets.get(str(name))
        if found is None:
            raise Fault(404, OBJECT_DOES_NOT_EXIST, f"The global choice '{name}' does not exist.")
        return found
    table, column = body.get("EntityLogicalName"), body.get("AttributeLogicalName")
    if not table or not column:
        raise Fault(
            400,
            INVALID_ARGUMENT,
            "Give OptionSetName, or EntityLogicalName and AttributeLogicalName.",
        )
    entity = em.schema.entity(str(table))
    attr = entity.attribute(str(column)) if entity is not None else None
    if attr is None:
        raise Fault(404, OBJECT_DOES_NOT_EXIST, f"The column '{table}.{column}' does not exist.")
    opt = attr.option_set
    if opt is None or attr.type not in kinds:
        what = "a status reason column" if kinds == ("Status",) else "a choice"
        raise Fault(400, INVALID_ARGUMENT, f"The column '{table}.{column}' is not {what}.")
    if opt.is_global:
        raise Fault(
            400,
            INVALID_ARGUMENT,
            f"The column '{table}.{column}' uses the global choice '{opt.name}': "
            "address it by OptionSetName.",
        )
    return opt


def option_value_prefix(em: OptionEmulator, solution: Any) -> int:
    """The ``customizationoptionvalueprefix`` of the solution's publisher (else the default)."""
    publisher_id = tenant.DEFAULT_PUBLISHER_ID
    if solution:
        rows = [
            r
            for r in em.store.rows("solution")
            if str(r.get("uniquename")).lower() == str(solution).lower()
        ]
        if not rows:
            raise Fault(404, OBJECT_DOES_NOT_EXIST, f"The solution '{solution}' does not exist.")
        publisher_id = str(rows[0].get("publisherid") or publisher_id)
    row = em.store.get("publisher", publisher_id) or {}
    return int(row.get("customizationoptionvalueprefix") or 10000)


def _new_value(em: OptionEmulator, opt: OptionSetDef, body: dict[str, Any]) -> int:
    value = body.get("Value")
    used = set(opt.values())
    if value is None:
        value = option_value_prefix(em, body.get("SolutionUniqueName")) * 10000
        while value in used:
            value += 1
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Fault(400, INVALID_ARGUMENT, "The Value parameter must be an integer.")
    if value in used:
        raise Fault(400, DUPLICATE_RECORD, f"The option value {value} already exists.")
    return value


def _label(body: dict[str, Any], prop: str, *, required: bool) -> Texts:
    try:
        texts = parse(body.get(prop), prop) or {}
    except Fault as exc:
        raise Fault(400, INVALID_ARGUMENT, exc.message) from None
    if required and not texts:
        raise Fault(400, INVALID_ARGUMENT, f"The {prop} parameter is required.")
    return texts


def _new_option(value: int, body: dict[str, Any], state: int | None = None) -> OptionDef:
    option = OptionDef(value, "", state=state)
    option.label = keep(_label(body, "Label", required=True), option.other_labels, "Label")
    description = _label(body, "Description", required=False)
    option.description = keep(description, option.other_labels, "Description")
    return option


def insert_option_value(em: OptionEmulator, body: dict[str, Any]) -> int:
    """``InsertOptionValue``: add an option to a choice; its value."""
    opt = option_set_of(em, body, ("Picklist", "MultiSelectPicklist"))
    value = _new_value(em, opt, body)
    opt.options.append(_new_option(value, body))
    em.save_schema()
    return value


def delete_option_value(em: OptionEmulator, body: dict[str, Any]) -> None:
    """``DeleteOptionValue``: remove an option (values in rows stay as they are)."""
    opt = option_set_of(em, body, ("Picklist", "MultiSelectPicklist", "Status"))
    value = body.get("Value")
    if isinstance(value, bool) or not isinstance(value, int) or opt.option(value) is None:
        raise Fault(404, OBJECT_DOES_NOT_EXIST, f"The option value {value!r} does not exist.")
    opt.options = [o for o in opt.options if o.value != value]
    em.save_schema()


def update_option_value(em: OptionEmulator, body: dict[str, Any]) -> None:
    """``UpdateOptionValue``: new labels for an option (other languages kept when
    ``MergeLabels`` is true)."""
    opt = option_set_of(em, body, ("Picklist", "MultiSelectPicklist", "Boolean", "Status"))
    value = body.get("Value")
    option = opt.option(value) if isinstance(value, int) and not isinstance(value, bool) else None
    if option is None:
        raise Fault(404, OBJECT_DOES_NOT_EXIST, f"The option value {value!r} does not exist.")
    merge = body.get("MergeLabels")
    if not isinstance(merge, bool):
        raise Fault(400, INVALID_ARGUMENT, "The MergeLabels parameter (true or false) is required.")
    for prop, required in (("Label", False), ("Description", False)):
        if prop not in body:
            continue
        sent = _label(body, prop, required=required)
        primary = option.label if prop == "Label" else option.description
        texts = merged(stored(primary, option.other_labels, prop), sent, merge=merge)
        text = keep(texts, option.other_labels, prop)
        if prop == "Label":
            if not texts:
                raise Fault(400, INVALID_ARGUMENT, "An option needs a Label.")
            option.label = text
        else:
            option.description = text
    em.save_schema()


def order_option(em: OptionEmulator, body: dict[str, Any]) -> None:
    """``OrderOption``: the options in the order of ``Values`` (every value once)."""
    opt = option_set_of(em, body, ("Picklist", "MultiSelectPicklist", "Status"))
    values = body.get("Values")
    if not isinstance(values, list) or sorted(values) != sorted(opt.values()):
        raise Fault(
            400,
            INVALID_ARGUMENT,
            f"Values must list each option value of the choice '{opt.name}' once: "
            f"{sorted(opt.values())}.",
        )
    by_value = {o.value: o for o in opt.options}
    opt.options = [by_value[v] for v in values]
    em.save_schema()


def insert_status_value(em: OptionEmulator, body: dict[str, Any]) -> int:
    """``InsertStatusValue``: a new status reason for the ``statecode`` value ``StateCode``."""
    opt = option_set_of(em, body, ("Status",))
    state = body.get("StateCode")
    table = em.schema.entity(str(body.get("EntityLogicalName")))
    states = table.attribute("statecode") if table is not None else None
    known = states.option_set.values() if states is not None and states.option_set else []
    if isinstance(state, bool) or not isinstance(state, int) or state not in known:
        raise Fault(
            400,
            INVALID_ARGUMENT,
            f"StateCode {state!r} is not a statecode value of the table: {known}.",
        )
    value = _new_value(em, opt, body)
    opt.options.append(_new_option(value, body, state=state))
    em.save_schema()
    return value


__all__ = [
    "OptionEmulator",
    "delete_option_value",
    "insert_option_value",
    "insert_status_value",
    "option_set_of",
    "option_value_prefix",
    "order_option",
    "update_option_value",
]
