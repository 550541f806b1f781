"""Invoices, their lines and their payments.

An invoice is numbered and named by its number, bound to its currency and to the price
list, and its status (through the ``invoice_status`` value map) is set in a state change
after its lines are written (:data:`~crm_ferry.transform.ops.PHASE_STATE`); Active / New
needs none. A line is a write-in product (``isproductoverridden``) described by its service
type, quantity 1 unless mapped. A payment takes its invoice's currency and is named
``Payment <invoice number> <date>``.
"""

from __future__ import annotations

from decimal import Decimal

from crm_ferry.mapping.spec import FieldMap, Target
from crm_ferry.model import Invoice, InvoiceItem, Payment, Record
from crm_ferry.transform.build import Builder, currency_unbound, dangling, rows_match
from crm_ferry.transform.ops import Operation
from crm_ferry.transform.roles.simple import simple
from crm_ferry.transform.row import Rejected, Row
from crm_ferry.transform.values import BadValue

__all__ = ["invoice", "line", "payment"]


def invoice(b: Builder, record: Invoice) -> list[Operation]:
    target = b.spec.target("invoice")
    if target is None or not rows_match(target.rows, record):
        return []
    info = b.table(target)
    row = Row(info)
    b.fields(target, row, record)
    number = (record.number or "").strip() or record.id
    number_col = target.column_of("number")
    try:
        if number_col:
            fm = target.fields["number"]
            row.set(number_col, b.convert(fm, info.column(number_col), number, info.logical_name))
        name_col = info.primary_name
        if name_col and name_col not in row.payload:
            fm_name = FieldMap("number", name_col)
            row.set(name_col, b.convert(fm_name, info.column(name_col), number, info.logical_name))
    except BadValue as exc:
        raise Rejected("number", record.number, str(exc)) from None
    try:
        if currency_unbound(row):
            currency = b.currency(record.currency)
            row.bind(b.schema, "transactioncurrencyid", "transactioncurrency", currency)
    except BadValue as exc:
        raise Rejected("currency", record.currency, str(exc)) from None
    price_list = b.schema.org.price_list_id
    if info.nav("pricelevelid", "pricelevel"):
        if not price_list:
            raise Rejected(None, None, "no price list (pricelevelid) is known")
        row.bind(b.schema, "pricelevelid", "pricelevel", price_list)
    invoice_id = b.id("invoice", record.id)
    ops = [b.op(target, row, invoice_id, record.key)]
    state = _invoice_state(b, target, record, row)
    if state is not None:
        payload = {"statecode": state[0], "statuscode": state[1]}
        ops.append(b.after_rows(target, invoice_id, record.key, "state", payload))
    return ops


def _invoice_state(b: Builder, target: Target, record: Invoice, row: Row) -> tuple[int, int] | None:
    """``(statecode, statuscode)`` of the invoice's status, None for Active / New."""
    fm = target.fields.get("status")
    if fm is None or not fm.column or not record.status:
        return None
    vm = b.spec.value_maps.get(fm.value_map or "")
    if vm is None:
        raise Rejected("status", record.status, f"no value map for {target.table} status")
    text_col = b.values.text_column(vm, target.table)
    if text_col is not None:
        row.set_text(text_col, record.status)
    ok, found = vm.lookup(record.status)
    if not ok:
        raise Rejected("status", record.status, str(found))
    if isinstance(found, list | tuple) and len(found) == 2:
        state, status = int(found[0]), int(found[1])
    elif isinstance(found, int) and not isinstance(found, bool):
        state, status = 0, int(found)
    else:
        raise Rejected("status", record.status, f"value map {vm.name!r} gives {found!r}")
    if state == 0 and status == 1:
        return None  # Active / New: what every invoice is created as
    return state, status


def line(b: Builder, record: InvoiceItem) -> list[Operation]:
    return simple(b, "invoice_line", record, _line_extras)


def _line_extras(b: Builder, target: Target, row: Row, record: Record) -> None:
    assert isinstance(record, InvoiceItem)
    if row.table.column("isproductoverridden") is not None:
        row.set("isproductoverridden", True)
    desc_col = target.column_of("description") or "productdescription"
    if not row.payload.get(desc_col) and row.table.column(desc_col) is not None:
        service = b.context.service_types.get(record.service_type_id or "")
        row.set(desc_col, service or "Invoice line")
    qty_col = target.column_of("quantity") or "quantity"
    if qty_col not in row.payload and row.table.column(qty_col) is not None:
        row.set(qty_col, Decimal(1))


def payment(b: Builder, record: Payment) -> list[Operation]:
    return simple(b, "payment", record, _payment_extras, _payment_name)


def _payment_extras(b: Builder, target: Target, row: Row, record: Record) -> None:
    assert isinstance(record, Payment)
    inv = b.context.invoices.get(record.invoice_id or "")
    if record.invoice_id and inv is None:
        raise Rejected("invoice_id", record.invoice_id, dangling("invoice", record.invoice_id))
    if currency_unbound(row):
        try:
            currency = b.currency(inv.currency if inv else None)
        except BadValue as exc:
            raise Rejected("invoice_id", record.invoice_id, str(exc)) from None
        row.bind(b.schema, "transactioncurrencyid", "transactioncurrency", currency)


def _payment_name(b: Builder, record: Record) -> str:
    assert isinstance(record, Payment)
    inv = b.context.invoices.get(record.invoice_id or "")
    parts = [
        "Payment",
        inv.number if inv and inv.number else (record.invoice_id or ""),
        record.paid_at.date().isoformat() if record.paid_at else "",
    ]
    return " ".join(p for p in parts if p)
