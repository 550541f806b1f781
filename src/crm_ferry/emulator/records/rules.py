"""Business rules of particular tables: what the platform computes, refuses or fills in.

- state and status: defaults on create, matching pairs (statecode ↔ statuscode), and the
  tables whose state may not be changed by an update (opportunity: WinOpportunity /
  LoseOpportunity; reference §7.2) or that become read-only when closed (invoice Paid /
  Canceled, reference §7.3);
- owner: defaults to the caller; a disabled user cannot own records;
- contact / systemuser ``fullname`` ("First Last", the default full-name format);
- money ``<column>_base`` = value ÷ the row currency's exchange rate (1.0 for the base one),
  ``exchangerate`` = that rate, and the organization's base currency when a row holding a
  money value names none;
- addresses: ``<prefix>_composite`` from the address's parts (:func:`tenant.composite_address`);
- invoice lines (write-in): ``baseamount`` = quantity × priceperunit, ``extendedamount`` =
  baseamount − manualdiscountamount + tax; invoice totals are rolled up from its lines
  (``totaltax`` = the lines' tax, ``totalamount`` = the lines less the invoice discount,
  plus freight and tax);
- notes and e-mail attachments: ``documentbody`` / ``body`` measured as Base64 against
  ``organization.maxuploadfilesize`` (0x80044a02), the ``blockedattachments`` extensions and
  the blocked MIME types
  (https://learn.microsoft.com/power-apps/developer/data-platform/attachment-annotation-files);
- File and Image columns set by a create or update (:mod:`.files`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from crm_ferry.emulator import tenant
from crm_ferry.emulator.records import files
from crm_ferry.emulator.records.context import Ctx
from crm_ferry.emulator.records.rows import TYPE_SUFFIX, write_platform_update
from crm_ferry.emulator.schema import AttributeDef, EntityDef
from crm_ferry.emulator.state import TenantState
from crm_ferry.emulator.validation import (
    ATTACHMENT_TOO_BIG,
    DISABLED_USER,
    INVALID_ARGUMENT,
    INVALID_STATE_STATUS,
    OPPORTUNITY_SET_STATE,
    READ_ONLY_RECORD,
    Fault,
    check_range,
    format_instant,
    to_number,
)

# ---------------------------------------------------------------------------------------
# State and status


def default_status(entity: EntityDef, state: int) -> int | None:
    attr = entity.attribute("statecode")
    if attr is None or attr.option_set is None:
        return None
    opt = attr.option_set.option(state)
    return None if opt is None else opt.default_status


def state_label(entity: EntityDef, state: int) -> str:
    attr = entity.attribute("statecode")
    opt = attr.option_set.option(state) if attr and attr.option_set else None
    return opt.label if opt else str(state)


def check_pair(entity: EntityDef, state: int, status: int, row_id: str) -> None:
    """400 InvalidStateCodeStatusCode (0x80048408) unless ``status`` belongs to ``state``."""
    attr = entity.attribute("statuscode")
    opt = attr.option_set.option(status) if attr and attr.option_set else None
    if opt is None or opt.state != state:
        label = state_label(entity, state).replace(" ", "")
        raise Fault(
            400,
            INVALID_STATE_STATUS,
            f"{status} is not a valid status code for state code "
            f"{entity.schema_name}State.{label} on {entity.logical_name} with Id {row_id}.",
        )


def set_defaults(em: TenantState, entity: EntityDef, row: dict[str, Any], _: Any) -> None:
    """Values the platform fills in when a row is created."""
    if entity.attribute("statecode") is not None:
        row.setdefault("statecode", 0)
        status = default_status(entity, int(row["statecode"]))
        if status is not None:
            row.setdefault("statuscode", status)
    if entity.is_activity and entity.attribute("activitytypecode") is not None:
        row["activitytypecode"] = entity.logical_name
    _names(entity, row)


def _names(entity: EntityDef, row: dict[str, Any]) -> None:
    if entity.logical_name in ("contact", "systemuser"):
        parts = [row.get("firstname"), row.get("lastname")]
        if entity.logical_name == "contact" and row.get("middlename"):
            parts.insert(1, row.get("middlename"))
        full = " ".join(p for p in parts if p)
        if full or entity.logical_name == "contact":
            row["fullname"] = full or None
            if row["fullname"] is None:
                row.pop("fullname")
    if entity.logical_name == "contact":
        yomi = " ".join(p for p in (row.get("yomifirstname"), row.get("yomilastname")) if p)
        if yomi:
            row["yomifullname"] = yomi
        else:
            row.pop("yomifullname", None)


def _check_state_change(
    em: TenantState,
    entity: EntityDef,
    row: dict[str, Any],
    changes: dict[str, Any],
    old_state: int,
    *,
    creating: bool,
) -> None:
    if entity.attribute("statecode") is None:
        return
    row_id = str(row.get(entity.primary_id))
    if "statecode" in changes:
        state = int(changes["statecode"])
        if creating and state != 0 and em.config.state_on_create == "reject":
            raise Fault(
                400,
                INVALID_STATE_STATUS,
                f"The statecode of a new {entity.logical_name} must be its default state; "
                "create the record, then update statecode and statuscode.",
            )
        if entity.logical_name == "opportunity" and state != old_state and state in (1, 2):
            raise Fault(
                400,
                OPPORTUNITY_SET_STATE,
                "The opportunity cannot be closed by setting its statecode. Use the "
                "WinOpportunity or LoseOpportunity action.",
            )
        if entity.logical_name == "opportunity" and old_state in (1, 2) and state in (1, 2):
            raise Fault(
                400,
                OPPORTUNITY_SET_STATE,
                "A closed opportunity must be reopened before it is closed again.",
            )
        if "statuscode" not in changes:
            status = default_status(entity, state)
            if status is not None:
                row["statuscode"] = status
        else:
            check_pair(entity, state, int(changes["statuscode"]), row_id)
    elif "statuscode" in changes:
        check_pair(entity, old_state, int(changes["statuscode"]), row_id)


def reopens(body: Mapping[str, Any]) -> bool:
    """Whether an update only moves a row back to its open state (statecode 0).

    That is the one write a closed row takes: a closed invoice is read-only, "it and its
    invoice products cannot be changed" (reference §7.3), but setting it Active again is a
    state change, as reopening a closed activity is (§7.7). UNCERTAIN: the documentation
    names the read-only states, not the transitions out of them."""
    return body.get("statecode") == 0 and set(body) <= {"statecode", "statuscode"}


def check_writable_row(em: TenantState, entity: EntityDef, existing: dict[str, Any]) -> None:
    """Closed invoices (Paid, Canceled, Closed) and their lines are read-only."""
    invoice = existing
    if entity.logical_name == "invoicedetail":
        parent = existing.get("invoiceid")
        invoice = (em.store.get("invoice", str(parent)) if parent else None) or {}
    elif entity.logical_name != "invoice":
        return
    state = invoice.get("statecode")
    if state in tenant.READ_ONLY_STATES["invoice"]:
        invoice_entity = em.schema.entity("invoice")
        label = state_label(invoice_entity, int(state)) if invoice_entity else str(state)
        raise Fault(
            400,
            READ_ONLY_RECORD,
            f"The invoice {invoice.get('invoiceid')} is {label} and read-only: it and its "
            "invoice products cannot be changed.",
        )


def check_closed_activity(
    em: TenantState, entity: EntityDef, existing: dict[str, Any], body: dict[str, Any]
) -> None:
    """A Completed or Canceled activity accepts only being reopened (statecode 0).

    Whether the platform refuses other updates through the API is UNCERTAIN (reference
    §7.7: "closed activities are largely read-only"); ``CoreConfig.closed_activities_read_only``
    turns the rule off. Write every column first, close last.
    """
    if not entity.is_activity or not em.config.closed_activities_read_only:
        return
    if existing.get("statecode") not in tenant.CLOSED_ACTIVITY_STATES:
        return
    if not reopens(body):
        raise Fault(
            400,
            READ_ONLY_RECORD,
            f"The {entity.logical_name} {existing.get(entity.primary_id)} is closed and "
            "read-only; reopen it (statecode 0) before changing it.",
        )


def check_deletable(em: TenantState, entity: EntityDef, existing: dict[str, Any]) -> None:
    if entity.logical_name == "invoicedetail":
        check_writable_row(em, entity, existing)


# ---------------------------------------------------------------------------------------
# Create / update hooks


def before_create(
    em: TenantState, ctx: Ctx, entity: EntityDef, row: dict[str, Any], changes: dict[str, Any]
) -> None:
    _check_state_change(em, entity, row, changes, 0, creating=True)
    if "statecode" not in changes and "statuscode" in changes:
        check_pair(entity, 0, int(changes["statuscode"]), str(row[entity.primary_id]))
    set_defaults(em, entity, row, changes)
    _owner(em, entity, row)
    if "overriddencreatedon" in row:
        row["createdon"] = row["overriddencreatedon"]
        if em.config.overriddencreatedon_swap:
            row["overriddencreatedon"] = format_instant(em.now())
    if entity.logical_name == "invoice":
        if not row.get("invoicenumber"):
            row["invoicenumber"] = f"INV-{em.next_version():05d}-{row['invoiceid'][:6].upper()}"
        row.setdefault("ispricelocked", False)
    if entity.media:
        files.apply_writes(em, entity, row, changes, None)
    _computed(em, entity, row)
    _composites(entity, row, changes)


def before_update(
    em: TenantState,
    ctx: Ctx,
    entity: EntityDef,
    row: dict[str, Any],
    changes: dict[str, Any],
    existing: dict[str, Any],
) -> None:
    _check_state_change(
        em, entity, row, changes, int(existing.get("statecode") or 0), creating=False
    )
    if "ownerid" in changes:
        _owner(em, entity, row)
    if entity.logical_name == "organization" and "maxuploadfilesize" in changes:
        _check_upload_limit(changes["maxuploadfilesize"])
    _names(entity, row)
    if entity.logical_name == "invoicedetail" and (
        "invoiceid" in changes and changes["invoiceid"] != existing.get("invoiceid")
    ):
        new_parent = em.store.get("invoice", str(changes["invoiceid"])) or {}
        check_writable_row(em, entity, {"invoiceid": new_parent.get("invoiceid")})
    if entity.media:
        files.apply_writes(em, entity, row, changes, existing)
    _computed(em, entity, row)
    _composites(entity, row, changes)


MAX_UPLOAD_LIMIT = 131_072_000
"""The largest ``maxuploadfilesize`` an organization may have: 128 MB (the column's range is
that of any whole number; "Files and images overview": the maximum file size is 128 MB)."""


def _check_upload_limit(value: Any) -> None:
    if isinstance(value, int):
        check_range("maxuploadfilesize", "organization", value, 0, MAX_UPLOAD_LIMIT)


def _computed(em: TenantState, entity: EntityDef, row: dict[str, Any]) -> None:
    """What the platform computes from a row on every create and update: invoice totals,
    invoice line amounts, a note's file size and checks, money base values."""
    if entity.logical_name == "invoice":
        _invoice_totals(em, row)
    if entity.logical_name == "invoicedetail":
        _invoice_line(em, row)
    if entity.logical_name == "annotation":
        _attached_file(em, row, "documentbody")
    if entity.logical_name == "activitymimeattachment":
        _attached_file(em, row, "body")
    _money_base(em, entity, row)


_COMPOSITES: dict[
    tuple[str, tuple[str, ...]], list[tuple[str, tuple[str, ...], frozenset[str]]]
] = {}


def _address_columns(entity: EntityDef) -> list[tuple[str, tuple[str, ...], frozenset[str]]]:
    """Each ``<prefix>_composite`` column of the table with its parts' columns (cached per
    table definition and its columns)."""
    key = (entity.metadata_id, tuple(entity.attributes))
    found = _COMPOSITES.get(key)
    if found is None:
        found = []
        for name, attr in entity.attributes.items():
            if name.endswith("_composite") and attr.type == "Memo":
                prefix = name[: -len("_composite")]
                parts = tuple(f"{prefix}_{p}" for p in tenant.ADDRESS_PARTS)
                found.append((name, parts, frozenset(parts)))
        if len(_COMPOSITES) > 1000:
            _COMPOSITES.clear()
        _COMPOSITES[key] = found
    return found


def _composites(entity: EntityDef, row: dict[str, Any], changes: Mapping[str, Any]) -> None:
    """Each ``<prefix>_composite`` column rebuilt from its address parts when a write
    changes one of them."""
    for name, parts, names in _address_columns(entity):
        if names.isdisjoint(changes):
            continue
        text = tenant.composite_address([row.get(p) for p in parts])
        if text is None:
            row.pop(name, None)
        else:
            row[name] = text


def after_write(
    em: TenantState,
    ctx: Ctx,
    entity: EntityDef,
    row: dict[str, Any],
    existing: dict[str, Any] | None,
) -> None:
    if entity.logical_name == "invoicedetail":
        ids = {row.get("invoiceid"), (existing or {}).get("invoiceid")}
        for invoice_id in sorted(i for i in ids if i):
            recompute_invoice(em, ctx, str(invoice_id))


def after_delete(em: TenantState, ctx: Ctx, entity: EntityDef, existing: dict[str, Any]) -> None:
    if entity.logical_name == "invoicedetail" and existing.get("invoiceid"):
        recompute_invoice(em, ctx, str(existing["invoiceid"]))


def check_required(
    em: TenantState,
    entity: EntityDef,
    row: dict[str, Any],
    *,
    creating: bool,
    changed: dict[str, Any] | None = None,
) -> None:
    """SystemRequired columns must hold a value (ApplicationRequired only if configured)."""
    application = em.config.enforce_application_required
    key = ("required", entity.logical_name, len(entity.attributes), application)
    required: list[AttributeDef] = em.schema.derived(
        key, lambda: [a for a in entity.attributes.values() if _enforced(a, application)]
    )
    for attr in required:
        if not creating and attr.logical_name not in (changed or {}):
            continue
        if row.get(attr.logical_name) is None:
            raise Fault(
                400,
                INVALID_ARGUMENT,
                f"Attribute '{attr.logical_name}' cannot be NULL: it is required on "
                f"'{entity.logical_name}' ({attr.required}).",
            )


PLATFORM_FILLED = frozenset(
    {"Boolean", "Picklist", "State", "Status", "Owner", "EntityName", "Uniqueidentifier"}
)
"""Column types whose value the platform supplies when a write leaves it out: a yes/no column
or a required choice its default, the state and status theirs, the owner the caller, the
type of a polymorphic lookup its row's table, an identifier a new one (``messageiddupcheck``
of an e-mail)."""


PLATFORM_NUMBERED = frozenset({"attachmentnumber", "userlicensetype"})
"""Required numbers the platform gives: an e-mail's attachments are numbered in order, a
user's license type comes from the license assigned in Microsoft 365."""


def _enforced(attr: AttributeDef, application: bool) -> bool:
    """Whether a write must give the column a value: a required column the caller can write
    (``IsValidForCreate``) that the platform does not fill (its id, a derived column, a type
    in :data:`PLATFORM_FILLED`)."""
    levels = ("SystemRequired", "ApplicationRequired") if application else ("SystemRequired",)
    if attr.required not in levels or attr.is_primary_id or not attr.valid_for_create:
        return False
    if attr.logical_name in PLATFORM_NUMBERED:
        return False
    return attr.attribute_of is None and attr.type not in PLATFORM_FILLED


# ---------------------------------------------------------------------------------------
# Owner


def _owner(em: TenantState, entity: EntityDef, row: dict[str, Any]) -> None:
    if entity.ownership != "UserOwned" or not row.get("ownerid"):
        return
    owner_type = row.get("ownerid" + TYPE_SUFFIX) or "systemuser"
    owner_id = str(row["ownerid"])
    owner = em.principal(owner_type, owner_id) or {}
    if owner_type == "systemuser":
        if owner.get("isdisabled"):
            raise Fault(
                400,
                DISABLED_USER,
                f"The specified user (systemuserid={owner_id}) is either disabled or is not a "
                "member of any business unit. Records cannot be assigned to a disabled user.",
            )
        row["owninguser"] = owner_id
        row["owninguser" + TYPE_SUFFIX] = "systemuser"
        row.pop("owningteam", None)
        row.pop("owningteam" + TYPE_SUFFIX, None)
    else:
        row["owningteam"] = owner_id
        row["owningteam" + TYPE_SUFFIX] = "team"
        row.pop("owninguser", None)
        row.pop("owninguser" + TYPE_SUFFIX, None)
    bu = owner.get("businessunitid") or tenant.ROOT_BUSINESS_UNIT_ID
    row["owningbusinessunit"] = bu
    row["owningbusinessunit" + TYPE_SUFFIX] = "businessunit"


# ---------------------------------------------------------------------------------------
# Money


def _rate(em: TenantState, currency_id: Any) -> Decimal:
    if not currency_id:
        return Decimal(1)
    currency = em.store.get("transactioncurrency", str(currency_id)) or {}
    rate = currency.get("exchangerate") or 1
    return Decimal(str(rate))


_MONEY_CACHE: dict[tuple[str, tuple[str, ...]], list[AttributeDef]] = {}


def _money_columns(entity: EntityDef) -> list[AttributeDef]:
    """Money columns with a ``_base`` twin (cached per table definition and its columns)."""
    key = (entity.metadata_id, tuple(entity.attributes))
    found = _MONEY_CACHE.get(key)
    if found is None:
        found = [
            a
            for a in entity.attributes.values()
            if a.type == "Money"
            and a.attribute_of is None
            and f"{a.logical_name}_base" in entity.attributes
        ]
        if len(_MONEY_CACHE) > 1000:
            _MONEY_CACHE.clear()
        _MONEY_CACHE[key] = found
    return found


def _money_base(em: TenantState, entity: EntityDef, row: dict[str, Any]) -> None:
    money = _money_columns(entity)

    if not money:
        return
    has_currency = entity.attribute("transactioncurrencyid") is not None
    needs_currency = any(row.get(a.logical_name) is not None for a in money)
    if has_currency and needs_currency and not row.get("transactioncurrencyid"):
        row["transactioncurrencyid"] = tenant.BASE_CURRENCY_ID
        row["transactioncurrencyid" + TYPE_SUFFIX] = "transactioncurrency"
    rate = _rate(em, row.get("transactioncurrencyid"))
    if row.get("transactioncurrencyid") and "exchangerate" in entity.attributes:
        row["exchangerate"] = float(rate)
    for attr in money:
        value = row.get(attr.logical_name)
        base = f"{attr.logical_name}_base"
        if value is None:
            row.pop(base, None)
        else:
            row[base] = to_number(Decimal(str(value)) / rate, 2)


def _dec(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


# ---------------------------------------------------------------------------------------
# Invoices


def _invoice_line(em: TenantState, row: dict[str, Any]) -> None:
    # Products are not modelled: every line must be a write-in product (isproductoverridden
    # with a productdescription), as the migration writes them.
    if not row.get("isproductoverridden"):
        raise Fault(
            400,
            INVALID_ARGUMENT,
            "An invoice product needs a product: set productid, or isproductoverridden to true "
            "with a productdescription for a write-in product.",
        )
    if not row.get("productdescription"):
        raise Fault(
            400,
            INVALID_ARGUMENT,
            "A write-in invoice product (isproductoverridden) needs a productdescription.",
        )
    invoice = em.store.get("invoice", str(row.get("invoiceid"))) or {}
    if invoice.get("statecode") in tenant.READ_ONLY_STATES["invoice"]:
        entity = em.schema.entity("invoicedetail")
        if entity is not None:
            check_writable_row(em, entity, row)
    if invoice.get("transactioncurrencyid"):
        row["transactioncurrencyid"] = invoice["transactioncurrencyid"]
        row["transactioncurrencyid" + TYPE_SUFFIX] = "transactioncurrency"
    # System pricing, as the InvoiceDetail table reference describes its computed columns:
    # BaseAmount "based on the price per unit, volume discount, and quantity", and
    # ExtendedAmount "based on the sum of the unit price, quantity, discounts, and tax", i.e.
    # baseamount = quantity × (priceperunit − volumediscountamount) and extendedamount =
    # baseamount − manualdiscountamount + tax. A volume discount comes from a product's
    # discount list; write-in lines have no product, so it is 0 here.
    # UNCERTAIN: the docs give no formula and no rounding; each amount is rounded to the
    # column's precision (2) as it is stored.
    base = _dec(row.get("quantity")) * _dec(row.get("priceperunit"))
    row["baseamount"] = to_number(base, 2)
    extended = base - _dec(row.get("manualdiscountamount")) + _dec(row.get("tax"))
    row["extendedamount"] = to_number(extended, 2)


def _invoice_totals(em: TenantState, row: dict[str, Any]) -> None:
    # The Invoice table reference: TotalLineItemAmount, "the sum of all existing and write-in
    # products" (their amounts after the manual discounts, TotalLineItemDiscountAmount "is
    # reflected in the Detail Amount", before tax: TotalTax is added on its own);
    # TotalDiscountAmount from DiscountAmount and DiscountPercentage ("applied to the Detail
    # Amount"); TotalAmountLessFreight, "the total product amount ... minus any discounts";
    # TotalTax, "the total of the Tax amounts specified on all products"; and TotalAmount,
    # "the sum of the products, discount, freight, and taxes" = pre-freight + freight + tax.
    # None of them is valid for create; the service computes them on every line write.
    # UNCERTAIN: whether the percentage and the amount of the invoice discount both apply
    # when both are set (here: their sum), and the rounding of each step (here: stored
    # amounts rounded to 2 places, the sums of them exact).
    lines = [r for _, r in em.store.referencing("invoicedetail", "invoiceid", row["invoiceid"])]
    detail = sum((_dec(r.get("extendedamount")) - _dec(r.get("tax")) for r in lines), Decimal(0))
    line_discount = sum((_dec(r.get("manualdiscountamount")) for r in lines), Decimal(0))
    tax = sum((_dec(r.get("tax")) for r in lines), Decimal(0))
    discount = _dec(row.get("discountamount")) + detail * _dec(row.get("discountpercentage")) / 100
    less_freight = detail - discount
    total = less_freight + _dec(row.get("freightamount")) + tax
    row["totallineitemamount"] = to_number(detail, 2)
    row["totallineitemdiscountamount"] = to_number(line_discount, 2)
    row["totaldiscountamount"] = to_number(discount, 2)
    row["totalamountlessfreight"] = to_number(less_freight, 2)
    row["totaltax"] = to_number(tax, 2)
    row["totalamount"] = to_number(total, 2)


def recompute_invoice(em: TenantState, ctx: Ctx, invoice_id: str) -> None:
    """Roll the invoice's totals up from its lines (the platform does it on every line write)."""
    entity = em.schema.entity("invoice")
    invoice = em.store.get("invoice", invoice_id)
    if entity is None or invoice is None:
        return
    _invoice_totals(em, invoice)
    _money_base(em, entity, invoice)
    write_platform_update(em, entity, invoice_id, invoice, ctx.caller)


# ---------------------------------------------------------------------------------------
# Notes


def _organization(em: TenantState) -> dict[str, Any]:
    return em.store.get("organization", tenant.ORGANIZATION_ID) or {}


def _attached_file(em: TenantState, row: dict[str, Any], body_column: str) -> None:
    """A note's ``documentbody`` or an attachment's ``body``: Base64, measured as such against
    ``organization.maxuploadfilesize``; its size in ``filesize``; the file name's extension
    and the MIME type (``application/octet-stream`` when none is given) checked against the
    organization's blocked lists; ``objecttypecode`` follows ``objectid``."""
    org = _organization(em)
    body = row.get(body_column)
    if body is not None:
        limit = int(org.get("maxuploadfilesize") or em.config.maxuploadfilesize)
        if len(body) > limit:
            raise Fault(400, ATTACHMENT_TOO_BIG, "Attachment file size is too big.")
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise Fault(
                400,
                INVALID_ARGUMENT,
                "The documentbody of a note must be Base64 text."
                if body_column == "documentbody"
                else "The body of an attachment must be Base64 text.",
            ) from None
        row["filesize"] = len(raw)
        if body_column == "documentbody":
            row["isdocument"] = True
        row.setdefault("mimetype", files.OCTET_STREAM)
        files.check_mime_type(em, str(row["mimetype"]))
    else:
        row.pop("filesize", None)
    filename = row.get("filename")
    if filename:
        files.check_file_name(em, str(filename))
    if row.get("objectid"):
        row["objecttypecode"] = row.get("objectid" + TYPE_SUFFIX)
    else:
        row.pop("objecttypecode", None)


__all__ = [
    "after_delete",
    "after_write",
    "before_create",
    "before_update",
    "check_closed_activity",
    "check_deletable",
    "check_pair",
    "check_required",
    "check_writable_row",
    "default_status",
    "recompute_invoice",
    "reopens",
    "set_defaults",
]
