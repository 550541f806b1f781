"""A client's history: sessions, session notes and activities.

:meth:`Sessions._dependents` writes everything that hangs off one client once the client
row is written: its sessions (planned first, so billing can see them all), its package
and invoices (:mod:`._billing`), the sessions and their notes, its activities and its
files (:mod:`._attachments`), and the dangling references planted for that client.
"""

from __future__ import annotations

import base64
from datetime import date, datetime, timedelta

from crm_ferry.sources.generator import _config as config
from crm_ferry.sources.generator import _text as text
from crm_ferry.sources.generator._attachments import Attachments
from crm_ferry.sources.generator._billing import Billing
from crm_ferry.sources.generator._documents import Documents
from crm_ferry.sources.generator._io import money
from crm_ferry.sources.generator._state import CURRENCY, Session, at

NO_SERVICE_TYPE = 0.02
"""Share of completed, paid sessions the export holds without a service type."""


class Sessions(Billing, Attachments, Documents):
    """Writes a client's sessions, notes and activities (and has its billing and files
    written)."""

    def _session_on(self, day: date, service: int, status: str, coach_id: str) -> Session:
        """A new session (the next id) at a daytime moment of ``day``."""
        return Session(self.next_id("ses", 7), at(day, self.rng, 8, 18), service, status, coach_id)

    def _can_carry_edge(self, s: Session) -> bool:
        """Whether an inline image or a mismatched invoice may be planted on ``s``: a
        completed session of a paid service, at least eight days before the export."""
        return (
            s.status == "completed" and s.service != 0 and s.start < self.export - timedelta(days=8)
        )

    def _plan_sessions(
        self, *, status: str, created: datetime, main_service: int, coach_id: str, force: bool
    ) -> list[Session]:
        rng = self.rng
        if status == "prospect":
            count = rng.randint(0, 1)
        elif status == "archived":
            count = rng.randint(2, 8)
        else:
            count = rng.randint(2, 9)
        sessions: list[Session] = []
        day = created.date() + timedelta(days=rng.randint(1, 10))
        horizon = self.export.date() + timedelta(days=60)
        for k in range(count):
            if k == 0 and rng.random() < 0.6:
                service = 0
            elif rng.random() < 0.12:
                service = 4
            elif rng.random() < 0.03:
                service = 7
            else:
                service = main_service
            if day > horizon or (
                status == "archived" and day > self.export.date() - timedelta(days=30)
            ):
                break
            if day > self.export.date():
                st = "scheduled"
            else:
                st = rng.choices(("completed", "cancelled", "no_show"), (82, 11, 7))[0]
            sessions.append(self._session_on(day, service, st, coach_id))
            day += timedelta(days=rng.randint(6, 21))
        if (
            status == "active"
            and sessions
            and sessions[-1].status != "scheduled"
            and rng.random() < 0.5
        ):
            future = self.export.date() + timedelta(days=rng.randint(1, 30))
            sessions.append(self._session_on(future, main_service, "scheduled", coach_id))
        if force and not any(self._can_carry_edge(s) for s in sessions):
            day = created.date() + timedelta(days=1)
            sessions.insert(0, self._session_on(day, main_service, "completed", coach_id))
        for s in sessions:
            s.session_type = config.SERVICE_TYPES[s.service][5]
            if rng.random() < 0.02 and s.service != 0:
                s.session_type = rng.choice(text.FREE_SESSION_TYPES)
        return sessions

    def _dependents(
        self,
        cid: str,
        *,
        status: str,
        created: datetime,
        main_service: int,
        coach_id: str,
        first: str,
        full: str,
        is_org: bool,
        kind: str | None,
    ) -> None:
        rng = self.rng
        force = kind in {"inline_image", "total_mismatch"}
        sessions = self._plan_sessions(
            status=status,
            created=created,
            main_service=main_service,
            coach_id=coach_id,
            force=force,
        )
        forced: Session | None = None
        if force:
            forced = next(s for s in sessions if self._can_carry_edge(s))
        # package
        eligible = [s for s in sessions if s.service != 0 and s is not forced]
        if (
            not force
            and not is_org
            and status != "prospect"
            and len(eligible) >= 2
            and rng.random() < 0.15
        ):
            self._package(cid, eligible, status, main_service)
        # billing plan
        billed: list[Session] = []
        for s in sessions:
            price = self._price(s)
            if s.package_id is not None:
                s.billing = "paid" if s.status in {"completed", "no_show"} else "unbilled"
            elif s.status == "scheduled":
                s.billing = "unbilled"
            elif s.status == "cancelled":
                s.billing = "waived" if rng.random() < 0.15 else "unbilled"
            elif s.status == "no_show":
                if price and rng.random() < 0.5:
                    billed.append(s)
                else:
                    s.billing = "waived"
            elif price == 0:
                s.billing = "waived"
            elif s is forced:
                billed.append(s)
            elif s.start > self.export - timedelta(days=7) and rng.random() < 0.5:
                s.billing = "unbilled"
            elif rng.random() < 0.05:
                s.billing = "waived"
            else:
                billed.append(s)
        self._invoices(cid, billed, mismatch_on=forced if kind == "total_mismatch" else None)
        # sessions and notes
        image_on = forced if kind == "inline_image" else None
        for s in sessions:
            self._write_session(cid, s)
            if s.status == "completed" and (s is image_on or rng.random() < 0.85):
                self._note(cid, s, first, with_image=s is image_on)
        if kind == "orphan_session":
            day = created.date() + timedelta(days=rng.randint(1, 5))
            s = self._session_on(day, main_service, "completed", coach_id)
            s.session_type = config.SERVICE_TYPES[main_service][5]
            missing_client = self.missing_id("cli")
            self._write_session(missing_client, s)
            self.truth.dangle("sessions.client_id -> clients", s.id)
        if kind == "orphan_note":
            ghost = Session(
                self.missing_id("ses"),
                at(created.date() + timedelta(days=2), rng, 8, 18),
                main_service,
                "completed",
                coach_id,
            )
            note_id = self._note(cid, ghost, first, with_image=False)
            self.truth.dangle("session_notes.session_id -> sessions", note_id)
        if kind == "orphan_item":
            description = "Adjustment - late cancellation fee"
            item = self._item(self.missing_id("inv"), None, 4, description, 5000)
            self.out["invoice_items"].write(item)
            self.truth.dangle("invoice_items.invoice_id -> invoices", item["id"])
        self._activities(cid, status, created, coach_id)
        self._files(cid, sessions, full, created, kind)
        self._document(cid, full, sessions, created)

    def _write_session(self, cid: str, s: Session) -> None:
        rng = self.rng
        minutes = config.SERVICE_TYPES[s.service][3]
        booked = max(s.start - timedelta(days=rng.randint(1, 20)), self.start)
        booked = booked.replace(hour=rng.randint(8, 20))
        if s.status == "completed":
            updated = s.start + timedelta(minutes=minutes + rng.randint(5, 90))
        elif s.status == "scheduled":
            updated = booked
        else:
            updated = at((s.start - timedelta(days=rng.randint(0, 2))).date(), rng, 7, 20)
        updated = max(updated, booked)
        self.out["sessions"].write(
            {
                "id": s.id,
                "client_id": cid,
                "coach_id": s.coach_id,
                "service_type_id": (
                    None
                    if s.status == "completed"
                    and s.billing == "paid"
                    and self.plant.random() < NO_SERVICE_TYPE
                    else config.SERVICE_TYPES[s.service][0]
                ),
                "package_id": s.package_id,
                "session_type": s.session_type,
                "status": s.status,
                "billing_status": s.billing,
                "start_at": s.start,
                "end_at": s.start + timedelta(minutes=minutes),
                "duration_minutes": minutes,
                "location": rng.choice(text.LOCATIONS),
                "price": money(self._price(s)),
                "currency": CURRENCY,
                "created_at": booked,
                "updated_at": updated,
            }
        )

    def _note(self, cid: str, s: Session, first: str, *, with_image: bool) -> str:
        rng = self.rng
        note_id = self.next_id("note", 7)
        image = None
        if with_image:
            image = (
                "data:image/png;base64," + base64.b64encode(self._png(rng.randint(0, 5))).decode()
            )
            self.truth.find("session_notes.inline_images", note_id)
        minutes = config.SERVICE_TYPES[s.service][3]
        written = s.start + timedelta(minutes=minutes + rng.randint(5, 120))
        self.out["session_notes"].write(
            {
                "id": note_id,
                "session_id": s.id,
                "client_id": cid,
                "author_id": s.coach_id,
                "title": rng.choice(
                    ("Session notes", "Notes", "Coaching session", "Check-in notes")
                )
                + f" {s.start.date().isoformat()}",
                "body_html": text.note_html(rng, first, image_data_uri=image),
                "created_at": written,
                "updated_at": written + timedelta(days=rng.choice((0, 0, 0, 1, 3))),
            }
        )
        return note_id

    def _activities(self, cid: str, status: str, created: datetime, coach_id: str) -> None:
        rng = self.rng
        count = rng.randint(0, 2) if status == "prospect" else rng.randint(0, 5)
        span = max(1, (self.export - created).days - 1)
        for _ in range(count):
            kind = rng.choices(("call", "email", "meeting"), (35, 45, 20))[0]
            when = at(created.date() + timedelta(days=rng.randint(0, span)), rng, 8, 19)
            if kind == "meeting":
                direction = "outbound" if rng.random() < 0.8 else "inbound"
                minutes: int | None = rng.choice((30, 45, 60, 90))
            elif kind == "call":
                direction = "inbound" if rng.random() < 0.4 else "outbound"
                minutes = rng.randint(3, 40)
            else:
                direction = rng.choice(("inbound", "outbound"))
                minutes = None
            self.out["activities"].write(
                {
                    "id": self.next_id("act", 7),
                    "client_id": cid,
                    "kind": kind,
                    "subject": rng.choice(text.ACTIVITY_SUBJECTS[kind]),
                    "body": text.activity_body(rng),
                    "direction": direction,
                    "occurred_at": when,
                    "duration_minutes": minutes,
                    "coach_id": coach_id,
                    "created_at": when + timedelta(minutes=rng.randint(0, 30)),
                }
            )
