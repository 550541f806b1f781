"""Clients → contacts and accounts.

An individual becomes a contact; an organization (with an ``account`` target) becomes an
account and its primary contact, linked both ways: the contact's parent customer is the
account, and the account's ``primarycontactid`` is set in a second pass
(:data:`~crm_ferry.transform.ops.PHASE_LINKS`), once the contact exists. A contact without
an account points to its household (``family_id``) when the map says so.
"""

from __future__ import annotations

from crm_ferry.mapping.spec import FieldMap, Target
from crm_ferry.model import Client
from crm_ferry.sources.values import split_full_name
from crm_ferry.transform.build import Builder, rows_match
from crm_ferry.transform.ops import PHASE_LINKS, Operation
from crm_ferry.transform.row import Rejected, Row
from crm_ferry.transform.values import BadValue

__all__ = ["client"]


def client(b: Builder, record: Client) -> list[Operation]:
    ops: list[Operation] = []
    account_t = b.spec.target("account")
    contact_t = b.spec.target("contact")
    account_id: str | None = None
    if account_t is not None and rows_match(account_t.rows, record):
        row = Row(b.table(account_t))
        b.fields(account_t, row, record)
        name_col = row.table.primary_name or "name"
        if name_col not in row.payload:
            row.set_text(name_col, record.organization or _person_name(record))
        account_id = b.id("account", record.id)
        ops.append(b.op(account_t, row, account_id, record.key))
    if contact_t is not None and rows_match(contact_t.rows, record):
        row = Row(b.table(contact_t))
        b.fields(contact_t, row, record)
        _contact_names(b, contact_t, row, record)
        parent = contact_t.column_of("family_id") or "parentcustomerid"
        try:
            if account_id is not None and row.table.nav(parent, "account"):
                row.bind(b.schema, parent, "account", account_id)
            elif record.family_id and contact_t.column_of("family_id"):
                ref = b.resolve("family_id", record.family_id, row.table, parent)
                if ref is not None:
                    row.bind(b.schema, parent, ref[0], ref[1])
        except BadValue as exc:
            raise Rejected("family_id", record.family_id, str(exc)) from None
        contact_id = b.id("contact", record.id)
        ops.append(b.op(contact_t, row, contact_id, record.key))
        if account_id is not None and account_t is not None:
            link = Row(b.table(account_t))
            try:
                link.bind(b.schema, "primarycontactid", "contact", contact_id)
            except BadValue as exc:
                raise Rejected(None, None, str(exc)) from None
            ops.append(b.op(account_t, link, account_id, record.key, phase=PHASE_LINKS))
    return ops


def _contact_names(b: Builder, target: Target, row: Row, record: Client) -> None:
    """The last name (and first name) from the full name when no field gave them; an
    organization's name as the last name of its contact."""
    last_col = target.column_of("last_name") or "lastname"
    first_col = target.column_of("first_name") or "firstname"
    if row.payload.get(last_col):
        return
    first, last = (None, None)
    if record.full_name:
        first, last = split_full_name(record.full_name)
    if not last and record.type == "organization":
        last = record.organization
    if not last:
        raise Rejected(
            "last_name",
            None,
            "a contact needs a last name, and first_name, last_name and full_name are empty",
        )
    fm_last = target.fields.get("last_name") or FieldMap("last_name", last_col)
    try:
        row.set(last_col, b.convert(fm_last, row.table.column(last_col), last, "contact"))
        if first and not row.payload.get(first_col) and row.table.column(first_col):
            fm_first = target.fields.get("first_name") or FieldMap("first_name", first_col)
            row.set(first_col, b.convert(fm_first, row.table.column(first_col), first, "contact"))
    except BadValue as exc:
        raise Rejected("full_name", record.full_name, str(exc)) from None


def _person_name(record: Client) -> str:
    return (
        record.full_name
        or " ".join(p for p in (record.first_name, record.last_name) if p)
        or record.id
    )
