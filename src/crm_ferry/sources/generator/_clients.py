"""Clients: one row each, with its family, custom properties and planted name cases.

Each client's row is written first, then its long-form properties, then (through
:meth:`~._sessions.Sessions._dependents`) everything that hangs off it. The edge-case
slot of the client (:meth:`~._state.PracticeState.edge_kind`) decides what is planted on
it: an accented or punctuated name, a name given only as a full name, a missing or shared
email, a coach that does not exist.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from crm_ferry.sources.generator import _config as config
from crm_ferry.sources.generator import _text as text
from crm_ferry.sources.generator._groups import ClientGroups
from crm_ferry.sources.generator._outputs import LONG_PROPERTIES
from crm_ferry.sources.generator._sessions import Sessions
from crm_ferry.sources.generator._state import (
    EDGE_KINDS,
    TIMEZONE,
    Family,
    at,
    plain_ascii,
)

COACH_BY_EMAIL = 0.02
"""Share of clients whose coach the export names by e-mail only (no coach_id)."""
_PLAIN_NAME_SLOTS = frozenset(EDGE_KINDS[EDGE_KINDS.index("missing_coach") :])
"""Slots whose client gets an ordinary name and contact details (the edge is elsewhere)."""


class Clients(Sessions, ClientGroups):
    """Writes clients, families and client properties (and collects group members)."""

    def _client(self, i: int) -> None:
        rng = self.rng
        kind = self.edge_kind(i)
        if kind is not None:
            self.occurrence[kind] = self.occurrence.get(kind, 0) + 1
        cid = f"cli_{i + 1:06d}"
        created = at(
            (
                self.start
                + (self.export - timedelta(days=14) - self.start) * ((i + rng.random()) / self.n)
            ).date(),
            rng,
        )
        status = rng.choices(("active", "archived", "prospect"), (70, 20, 10))[0]
        forced_billing = kind in {"inline_image", "total_mismatch"}
        if forced_billing:
            status = "active"
        is_org = kind == "org_punctuation" or (
            kind not in {"full_name_space", "full_name_comma", "non_ascii", "apostrophe"}
            and rng.random() < 0.1
        )
        # coach
        if i < len(self.coaching):
            coach = self.coaching[i]
        else:
            coach = rng.choices(self.coaching, cum_weights=self.coach_cum)[0]
        coach_id: str | None = coach.id
        session_coach = coach.id
        if kind == "missing_coach":
            coach_id = self.missing_id("usr")
            session_coach = self.owner.id
            self.truth.dangle("clients.coach_id -> users", cid)
        else:
            self.coached.add(coach.id)
        coach_email = None
        if kind != "missing_coach" and self.plant.random() < COACH_BY_EMAIL:
            # the export names this client's coach by e-mail only
            coach_email, coach_id = coach.email.upper(), None

        first, last = rng.choice(text.FIRST_NAMES), rng.choice(text.LAST_NAMES)
        city, state, zip3 = rng.choice(text.CITIES)
        address = (
            f"{rng.randint(10, 9999)} {rng.choice(text.STREETS)}",
            rng.choice(("", "", "", f"Apt {rng.randint(1, 40)}", f"Suite {rng.randint(100, 900)}")),
            city,
            state,
            f"{zip3}{rng.randint(0, 99):02d}",
        )
        family_id: str | None = None
        ordinary = kind is None or kind in _PLAIN_NAME_SLOTS
        if ordinary and not is_org:
            if self.family is not None:
                fam = self.family
                last, address, family_id = fam.last_name, fam.address, fam.id
                fam.remaining -= 1
                if fam.remaining == 0:
                    self.family = None
            elif rng.random() < 0.06 or (i >= 3 and "fam" not in self._seq):
                fid = self.next_id("fam", 5)
                fam_name = rng.choice((f"The {last} Family", f"{last} household", f"{last} family"))
                self.out["families"].write({"id": fid, "name": fam_name, "created_at": created})
                self.family = Family(fid, last, address, rng.randint(1, 3))
                family_id = fid

        full_name: str | None = f"{first} {last}"
        first_out: str | None = first
        last_out: str | None = last
        organization: str | None = None
        vertical: str | None = None
        if kind == "non_ascii":
            first = rng.choice(text.NON_ASCII_FIRST)
            last = rng.choice(text.NON_ASCII_LAST)
            first_out, last_out, full_name = first, last, f"{first} {last}"
        elif kind == "apostrophe":
            last = rng.choice(text.APOSTROPHE_LAST)
            last_out, full_name = last, f"{first} {last}"
        elif kind == "full_name_space":
            first_out = last_out = None
        elif kind == "full_name_comma":
            first_out = last_out = None
            full_name = f"{last}, {first}"
        if is_org:
            if kind == "org_punctuation":
                organization = rng.choice(text.PUNCTUATED_ORGS)
            else:
                organization = (
                    f"{rng.choice(text.ORG_FIRST)} {rng.choice(text.ORG_LAST)}"
                    f"{rng.choice(text.ORG_SUFFIX)}"
                )
            vertical = rng.choices([v for v, _ in text.VERTICALS], [w for _, w in text.VERTICALS])[
                0
            ]

        # email: unique by construction (the client's number is part of it)
        parts = [re.sub(r"[^a-z0-9]", "", plain_ascii(p).lower()) for p in (first, last)]
        local = ".".join(p for p in parts if p) or "client"
        domain = rng.choice(text.EMAIL_DOMAINS)
        if organization is not None:
            word = re.sub(r"[^a-z0-9]", "", plain_ascii(organization.split()[0]).lower())
            domain = f"{word or 'org'}.example.com"
        email: str | None = f"{local}{i + 1}@{domain}"
        if kind == "missing_email":
            email = None
        elif kind == "duplicate_email":
            self._close_duplicate_group()
            self.dup_email = email
            self.dup_members = [cid]
            self.dup_wanted = 2 if self.occurrence[kind] % 2 == 1 else 3
        elif ordinary and self.dup_email is not None:
            email = self.dup_email.capitalize() if len(self.dup_members) % 2 else self.dup_email
            self.dup_members.append(cid)
            if len(self.dup_members) >= self.dup_wanted:
                self._close_duplicate_group()

        on_track = rng.choices(("on_track", "at_risk", "off_track"), (70, 20, 10))[0]
        main_service = rng.choices(range(1, 7), (40, 12, 14, 10, 12, 12))[0]
        updated = min(
            created + timedelta(days=rng.randint(0, 700)), self.export - timedelta(days=1)
        )
        updated = max(updated, created)
        tags = rng.sample(text.TAGS, rng.choice((0, 0, 1, 1, 2, 3)))
        row: dict[str, Any] = {
            "id": cid,
            "type": "organization" if is_org else "individual",
            "first_name": first_out,
            "last_name": last_out,
            "full_name": full_name,
            "organization": organization,
            "email": email,
            "phone": f"({rng.randint(201, 989)}) 555-{rng.randint(100, 199):04d}"
            if rng.random() < 0.8
            else None,
            "mobile": f"+1 {rng.randint(201, 989)} 555 {rng.randint(100, 199):04d}"
            if rng.random() < 0.6
            else None,
            "address_line1": address[0],
            "address_line2": address[1] or None,
            "city": address[2],
            "state": address[3],
            "postal_code": address[4],
            "country": "US",
            "birth_date": None
            if is_org or rng.random() < 0.3
            else date(1950, 1, 1) + timedelta(days=rng.randint(0, 19_000)),
            "gender": rng.choice(("female", "male", "female", "male", "non-binary", None)),
            "time_zone": rng.choices(
                (
                    TIMEZONE,
                    "America/Chicago",
                    "America/Denver",
                    "America/Los_Angeles",
                    "Europe/London",
                ),
                (70, 12, 5, 10, 3),
            )[0],
            "status": status,
            "on_track_status": on_track if status == "active" else None,
            "coach_id": coach_id,
            "coach_email": coach_email,
            "vertical": vertical,
            "family_id": family_id,
            "tags": ";".join(tags) or None,
            "primary_service": config.SERVICE_TYPES[main_service][1],
            "created_at": created,
            "updated_at": updated,
        }
        custom = {
            "intake_date": created.date().isoformat() if rng.random() < 0.92 else "",
            "session_goal": str(rng.randint(4, 24)) if rng.random() < 0.85 else "",
            "newsletter_opt_in": rng.choice(("true", "false")),
            "referral_source": rng.choice(text.REFERRAL_SOURCES) if rng.random() < 0.9 else "",
            "coaching_goals": text.goals_text(rng, plain_ascii(first) or "Client")
            if rng.random() < 0.75
            else "",
        }
        for key, value in custom.items():
            row[f"custom:{key}"] = value
            self.truth.types[key].add(value)
        self.out["clients"].write(row)
        self._join_groups(cid, tags)
        self._name_findings(row)
        self._properties(cid, created)

        self._dependents(
            cid,
            status=status,
            created=created,
            main_service=main_service,
            coach_id=session_coach,
            first=first,
            full=f"{first} {last}",
            is_org=is_org,
            kind=kind,
        )

    def _name_findings(self, row: dict[str, Any]) -> None:
        """Record what the client row as written trips, by discovery's definitions (a
        planted "O’Neil" is also outside ASCII, so the row decides, not the plan)."""
        cid = row["id"]
        first, last = row["first_name"] or "", row["last_name"] or ""
        full, org = row["full_name"] or "", row["organization"] or ""
        if not row["email"]:
            self.truth.find("clients.missing_email", cid)
        if not first and not last and full:
            self.truth.find("clients.full_name_only", cid)
            last, _, first = full.partition(", ") if ", " in full else full.rpartition(" ")
        if any(ord(ch) > 127 for ch in first + last + full + org):
            self.truth.find("clients.non_ascii_name", cid)
        if any(ch in name for name in (first, last, org) for ch in "'’,"):
            self.truth.find("clients.name_punctuation", cid)

    def _close_duplicate_group(self) -> None:
        if len(self.dup_members) >= 2:
            for member in self.dup_members:
                self.truth.find("clients.duplicate_email", member)
        self.dup_email = None
        self.dup_members = []

    def _properties(self, cid: str, created: datetime) -> None:
        rng = self.rng
        if rng.random() >= 0.45:
            return
        keys = sorted(rng.sample(list(LONG_PROPERTIES), rng.randint(2, 5)))
        for key in keys:
            if key == "last_assessment_date":
                span = max(1, (self.export - created).days)
                value = (created + timedelta(days=rng.randint(0, span))).date().isoformat()
            elif key == "monthly_budget":
                value = f"{rng.randint(100, 2500)}.{rng.choice(('00', '50', '00', '25'))}"
            elif key == "prefers_video":
                value = rng.choice(("true", "false"))
            elif key == "communication_preference":
                value = rng.choice(text.COMM_PREFERENCES)
            else:
                value = "Background: " + text.goals_text(rng, "Client").removeprefix("Client: ")
            self.truth.types[key].add(value)
            self.out["client_properties"].write({"client_id": cid, "key": key, "value": value})
