"""Billing: packages, invoices with their items, and payments.

A package is invoiced (and paid) once, up front; other billable sessions are invoiced in
groups of one to three, in every status an invoice can have (the first seven invoices
take each once), some paid in part, some in two payments.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from crm_ferry.sources.generator import _config as config
from crm_ferry.sources.generator import _text as text
from crm_ferry.sources.generator._io import money
from crm_ferry.sources.generator._state import CURRENCY, PracticeState, Session, at

INVOICE_STATUSES: tuple[str, ...] = ("draft", "sent", "viewed", "paid", "overdue", "failed", "void")


def _rate(service: int) -> int:
    """The default rate of a service, in cents."""
    return int(Decimal(config.SERVICE_TYPES[service][2]) * 100)


TAXED = 0.03
"""Share of session invoices that carry sales tax on top of their lines."""
TAX_RATE_PERCENT = 13


class Billing(PracticeState):
    """Writes packages, invoices, invoice items and payments."""

    def _price(self, s: Session) -> int:
        """The price of ``s`` in cents: its service's default rate."""
        return _rate(s.service)

    def _item(
        self, invoice_id: str, session_id: str | None, service: int, description: str, price: int
    ) -> dict[str, Any]:
        """An invoice item (the next id) of one ``service`` at ``price`` cents."""
        return {
            "id": self.next_id("ii", 7),
            "invoice_id": invoice_id,
            "session_id": session_id,
            "service_type_id": config.SERVICE_TYPES[service][0],
            "description": description,
            "quantity": "1",
            "unit_price": money(price),
            "amount": money(price),
        }

    def _package(self, cid: str, eligible: list[Session], status: str, main_service: int) -> None:
        rng = self.rng
        service = main_service if main_service in {1, 2, 3} else 1
        total = rng.choice((5, 6, 10, 12))
        pid = self.next_id("pkg", 6)
        linked = eligible[:total]
        used = 0
        for s in linked:
            s.package_id = pid
            if s.session_type not in text.FREE_SESSION_TYPES:
                s.session_type = config.SERVICE_TYPES[service][5]
            s.service = service
            if s.status in {"completed", "no_show"}:
                used += 1
        remaining = total - used
        if remaining == 0:
            pstatus = "completed"
        elif status == "archived":
            pstatus = "cancelled"
        else:
            pstatus = "active"
        price = (total * _rate(service) * 9 // 10) // 100 * 100
        start_day = linked[0].start.date() - timedelta(days=2)
        name = f"{total}-session {config.SERVICE_TYPES[service][1]} package"
        self.out["packages"].write(
            {
                "id": pid,
                "client_id": cid,
                "name": name,
                "sessions_total": total,
                "sessions_remaining": remaining,
                "price": money(price),
                "currency": CURRENCY,
                "status": pstatus,
                "start_date": start_day,
                "end_date": start_day + timedelta(days=180),
            }
        )
        # the package is invoiced (and paid) once, up front
        inv_id = self.next_id("inv", 6)
        item = self._item(inv_id, None, service, f"Package: {name}", price)
        issue = min(start_day, self.export.date())
        self._write_invoice(cid, inv_id, issue, "paid", [item], price, partial=False)

    def _invoices(self, cid: str, billed: list[Session], *, mismatch_on: Session | None) -> None:
        rng = self.rng
        k = 0
        while k < len(billed):
            size = rng.choice((1, 1, 1, 2, 2, 3))
            group = billed[k : k + size]
            k += size
            last = group[-1].start
            if self.session_invoices < len(INVOICE_STATUSES):
                status = INVOICE_STATUSES[self.session_invoices]
            elif self.export - last < timedelta(days=20):
                status = rng.choices(("draft", "sent", "viewed", "paid"), (15, 30, 20, 35))[0]
            else:
                status = rng.choices(INVOICE_STATUSES, (1, 3, 2, 80, 8, 3, 4))[0]
            self.session_invoices += 1
            partial = status in {"sent", "viewed", "overdue"} and rng.random() < 0.25
            inv_id = self.next_id("inv", 6)
            items = []
            total = 0
            for s in group:
                s.billing = (
                    "paid" if status == "paid" else ("waived" if status == "void" else "invoiced")
                )
                price = self._price(s)
                total += price
                label = config.SERVICE_TYPES[s.service][1]
                if s.status == "no_show":
                    label = f"No-show fee ({label})"
                description = f"{label} - {s.start.date().isoformat()}"
                items.append(self._item(inv_id, s.id, s.service, description, price))
            subtotal = total
            tax = 0
            if mismatch_on is not None and mismatch_on in group:
                total -= max(500, total // 10 // 100 * 100)  # a discount nobody itemised
                self.truth.find("invoices.items_total_mismatch", inv_id)
            elif self.plant.random() < TAXED:
                tax = subtotal * TAX_RATE_PERCENT // 100  # sales tax on the whole invoice
                total = subtotal + tax
            issue = min(last.date() + timedelta(days=rng.randint(0, 3)), self.export.date())
            self._write_invoice(
                cid,
                inv_id,
                issue,
                status,
                items,
                total,
                partial=partial,
                subtotal=subtotal,
                tax=tax,
            )

    def _write_invoice(
        self,
        cid: str,
        inv_id: str,
        issue: date,
        status: str,
        items: list[dict[str, Any]],
        total: int,
        *,
        partial: bool,
        subtotal: int | None = None,
        tax: int = 0,
    ) -> None:
        rng = self.rng
        created = at(issue, rng, 8, 11)
        payments: list[tuple[int, datetime]] = []
        if status == "paid":
            split = total >= 200 and rng.random() < 0.2
            parts = [total // 2, total - total // 2] if split else [total]
            when = created
            for part in parts:
                when = min(
                    when + timedelta(days=rng.randint(0, 14), hours=rng.randint(1, 6)),
                    self.export - timedelta(hours=1),
                )
                when = max(when, created)
                payments.append((part, when))
        elif partial:
            part = max(100, total // 2 // 100 * 100)
            when = min(
                created + timedelta(days=rng.randint(1, 10)), self.export - timedelta(hours=1)
            )
            payments.append((min(part, total), max(when, created)))
        paid = sum(p for p, _ in payments)
        paid_at = payments[-1][1] if status == "paid" and payments else None
        number = f"INV-{issue.year}-{int(inv_id.split('_')[1]):06d}"
        self.out["invoices"].write(
            {
                "id": inv_id,
                "number": number,
                "client_id": cid,
                "issue_date": issue,
                "due_date": issue + timedelta(days=rng.choice((14, 14, 30))),
                "status": status,
                "currency": CURRENCY,
                "subtotal": money(total if subtotal is None else subtotal),
                "tax": money(tax),
                "total_amount": money(total),
                "amount_paid": money(paid),
                "paid_at": paid_at,
                "created_at": created,
                "updated_at": paid_at or created,
            }
        )
        for item in items:
            self.out["invoice_items"].write(item)
        for amount, when in payments:
            method = rng.choices(("card", "ach", "wire", "cash", "other"), (70, 15, 4, 6, 5))[0]
            pid = self.next_id("pay", 7)
            self.out["payments"].write(
                {
                    "id": pid,
                    "invoice_id": inv_id,
                    "amount": money(amount),
                    "paid_at": when,
                    "method": method,
                    "reference": f"ch_{hashlib.sha1(pid.encode()).hexdigest()[:16]}"
                    if method == "card"
                    else (
                        f"{method.upper()}-{rng.randint(10000, 99999)}"
                        if method != "cash"
                        else None
                    ),
                }
            )
