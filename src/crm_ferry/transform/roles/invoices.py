"""Invoices, their lines and their payments.

An invoice is numbered and named by its number, bound to its currency and to the price
list, and its status (through the ``invoice_status`` value map) is set in a state change
after its lines are written (:data:`~crm_ferry.transform.ops.PHASE_STATE`); Active / New
needs none. A line is a write-in product (``isproductoverridden``) described by its service
type, quantity 1 unless mapped. A payment takes its invoice's currency and is named
``Payment <invoice number> <date>``.

Tax: Dataverse computes an invoice's totals from its lines (system pricing): a line's
``extendedamount`` is ``baseamount`` (quantity × price per unit) less its manual discount
plus its ``tax``, the invoice's ``totaltax`` is the sum of its lines' tax, and
``totalamount`` is the lines' amounts less the invoice discount, plus freight and total tax
(the table reference of ``invoice`` and ``invoicedetail``). ``totaltax`` cannot be written,
so when the map sends the invoice's ``tax`` nowhere and the line table has a ``tax`` column,
the invoice's tax goes onto its lines, spread in proportion to their amounts
(:func:`tax_shares`: in cents, adding up to the tax exactly); an invoice with tax and no
line gets one write-in line that carries only the tax. The loaded ``totalamount`` is then
the source's whenever the source lines and tax add up to its total.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

from crm_ferry.mapping.spec import FieldMap, Target
from crm_ferry.model import Invoice, InvoiceItem, Payment, Record
from crm_ferry.transform.build import Builder, currency_unbound, dangling, rows_match
from crm_ferry.transform.ops import Operation
from crm_ferry.transform.roles.simple import simple
from crm_ferry.transform.row import Rejected, Row
from crm_ferry.transform.values import BadValue, wire_decimal

__all__ = ["TAX_LINE", "invoice", "line", "payment", "tax_shares"]

TAX_LINE = "Tax"
"""The write-in product of the line that carries the tax of an invoice without lines."""
TAX_COLUMN = "tax"
"""The line table's tax column (``invoicedetail.tax``)."""


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
    ops.extend(_tax_line(b, target, record, invoice_id))
    state = _invoice_state(b, target, record, row)
    if state is not None:
        b.check_status(target, state[0], state[1], "status")
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


# -- tax ------------------------------------------------------------------------------------


def _spreads_tax(b: Builder) -> Target | None:
    """The line target, when the invoice's tax goes onto its lines: the map sends the
    invoice's ``tax`` to no column of its own and the line table has a tax column."""
    invoice_target = b.spec.target("invoice")
    line_target = b.spec.target("invoice_line")
    if invoice_target is None or line_target is None or invoice_target.column_of("tax"):
        return None
    if "tax" in line_target.fields and line_target.column_of("tax"):
        return None  # the map writes a line tax of its own
    info = b.schema.table(line_target.table)
    if info is None or info.column(TAX_COLUMN) is None:
        return None
    return line_target


def tax_shares(tax: Decimal, lines: Sequence[tuple[str, Decimal]]) -> dict[str, Decimal]:
    """``tax`` spread over ``lines`` (``(line id, amount)``) in proportion to their amounts,
    in cents that add up to the tax exactly: each line gets its share rounded down, and the
    cents left over go to the largest remainders (the earlier line on a tie). When the
    amounts give no proportion (none positive, or one negative), the first line takes it all.
    """
    if not lines:
        return {}
    cents = int((tax * 100).to_integral_value())
    sign, cents = (-1, -cents) if cents < 0 else (1, cents)
    weights = [amount for _, amount in lines]
    total = sum(weights, Decimal(0))
    if total <= 0 or any(w < 0 for w in weights):
        shares = [cents] + [0] * (len(lines) - 1)
    else:
        exact = [Fraction(cents) * Fraction(w) / Fraction(total) for w in weights]
        shares = [int(e) for e in exact]  # floor: every share is >= 0
        left = cents - sum(shares)
        order = sorted(range(len(lines)), key=lambda i: (shares[i] - exact[i], i))
        for i in order[:left]:
            shares[i] += 1
    return {line_id: Decimal(sign * c) / 100 for (line_id, _), c in zip(lines, shares, strict=True)}


def _line_tax(b: Builder, record: InvoiceItem, row: Row) -> None:
    """The line's share of its invoice's tax. A line of an invoice without tax is written
    as before (no tax column), so that its row does not change for nothing: a paid
    invoice's lines are read-only."""
    if TAX_COLUMN in row.payload or _spreads_tax(b) is None:
        return
    inv = b.context.invoices.get(record.invoice_id or "")
    if inv is None or not inv.tax:
        return
    lines = b.context.invoice_lines.get(inv.id, ())
    share = tax_shares(inv.tax, lines).get(record.id, Decimal(0))
    try:
        row.set(TAX_COLUMN, wire_decimal(share))
    except BadValue as exc:
        raise Rejected("tax", inv.tax, str(exc)) from None


def _tax_line(b: Builder, target: Target, record: Invoice, invoice_id: str) -> list[Operation]:
    """The write-in line that carries the tax of an invoice the export lists no line of."""
    line_target = _spreads_tax(b)
    if line_target is None or not record.tax or b.context.invoice_lines.get(record.id):
        return []
    info = b.table(line_target)
    row = Row(info)
    invoice_col = line_target.column_of("invoice_id") or "invoiceid"
    try:
        row.bind(b.schema, invoice_col, target.table, invoice_id)
        if info.column("isproductoverridden") is not None:
            row.set("isproductoverridden", True)
        desc_col = line_target.column_of("description") or "productdescription"
        if info.column(desc_col) is not None:
            row.set_text(desc_col, TAX_LINE)
        qty_col = line_target.column_of("quantity") or "quantity"
        if info.column(qty_col) is not None:
            row.set(qty_col, Decimal(1))
        price_col = line_target.column_of("unit_price") or "priceperunit"
        if info.column(price_col) is not None:
            row.set(price_col, Decimal(0))
        row.set(TAX_COLUMN, wire_decimal(record.tax))
    except BadValue as exc:
        raise Rejected("tax", record.tax, str(exc)) from None
    line_id = b.id("invoice_tax", record.id)
    return [b.op(line_target, row, line_id, record.key)]


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
    _line_tax(b, record, row)


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
