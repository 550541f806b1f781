"""The practice simulation behind :func:`crm_ferry.sources.generator.generate_bundle`.

One pass over the clients: each client's dependent rows (properties, package, sessions,
notes, invoices, items, payments, activities, files) are written as soon as the client is,
to files that stay open together, so memory does not grow with the practice. Everything
derives from the seed through :class:`random.Random`; nothing reads the clock.

Edge cases are planted on a fixed schedule (one slot per kind in every block of up to 100
clients, so even a 50-client bundle has each), and every planted row is recorded in the
ground truth with the vocabulary discovery uses.
"""

from __future__ import annotations

import base64
import hashlib
import random
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from crm_ferry.sources import _gen_binary as binary
from crm_ferry.sources import _gen_config as config
from crm_ferry.sources import _gen_text as text
from crm_ferry.sources._gen_io import CsvOut, JsonlOut, money, write_json

TIMEZONE = "America/New_York"
CURRENCY = "USD"
UPLOAD_LIMIT_B64 = 5_242_880
LARGE_FILE_BYTES = 5_400_000
"""The planted large attachment: over 5 MB raw, about 7.2 MB once base64-encoded."""

EDGE_KINDS: tuple[str, ...] = (
    "duplicate_email",
    "non_ascii",
    "apostrophe",
    "org_punctuation",
    "missing_email",
    "full_name_space",
    "full_name_comma",
    "missing_coach",
    "orphan_session",
    "orphan_note",
    "orphan_item",
    "inline_image",
    "total_mismatch",
    "linked_file",
    "large_file",
)
"""Client slots of the planting schedule (``large_file`` only once, and only on request)."""

_PLAIN_NAME_SLOTS = frozenset(EDGE_KINDS[EDGE_KINDS.index("missing_coach") :])
"""Slots whose client gets an ordinary name and contact details (the edge is elsewhere)."""

FINDING_KINDS: tuple[str, ...] = (
    "clients.missing_email",
    "clients.duplicate_email",
    "clients.full_name_only",
    "clients.non_ascii_name",
    "clients.name_punctuation",
    "users.inactive_with_clients",
    "session_notes.inline_images",
    "invoices.items_total_mismatch",
    "files.over_upload_limit",
    "files.linked",
    "files.missing_in_bundle",
)

INVOICE_STATUSES: tuple[str, ...] = ("draft", "sent", "viewed", "paid", "overdue", "failed", "void")

USER_FIELDS = (
    "id",
    "email",
    "first_name",
    "last_name",
    "role",
    "active",
    "time_zone",
    "created_at",
)
CLIENT_FIELDS = (
    "id", "type", "first_name", "last_name", "full_name", "organization", "email", "phone",
    "mobile", "address_line1", "address_line2", "city", "state", "postal_code", "country",
    "birth_date", "gender", "time_zone", "status", "on_track_status", "coach_id", "vertical",
    "family_id", "tags", "primary_service", "created_at", "updated_at",
)  # fmt: skip
CUSTOM_COLUMNS: dict[str, str] = {
    "intake_date": "date",
    "session_goal": "number",
    "newsletter_opt_in": "boolean",
    "referral_source": "choice",
    "coaching_goals": "text",
}
"""Custom properties written as ``custom:<key>`` columns of clients, with their intended type."""
LONG_PROPERTIES: dict[str, str] = {
    "last_assessment_date": "date",
    "monthly_budget": "number",
    "prefers_video": "boolean",
    "communication_preference": "choice",
    "background_notes": "text",
}
"""Custom properties written in long form to client_properties, with their intended type."""
FAMILY_FIELDS = ("id", "name", "created_at")
PACKAGE_FIELDS = (
    "id", "client_id", "name", "sessions_total", "sessions_remaining", "price", "currency",
    "status", "start_date", "end_date",
)  # fmt: skip
SESSION_FIELDS = (
    "id", "client_id", "coach_id", "service_type_id", "package_id", "session_type", "status",
    "billing_status", "start_at", "end_at", "duration_minutes", "location", "price", "currency",
    "created_at", "updated_at",
)  # fmt: skip
NOTE_FIELDS = (
    "id", "session_id", "client_id", "author_id", "title", "body_html", "created_at",
    "updated_at",
)  # fmt: skip
INVOICE_FIELDS = (
    "id", "number", "client_id", "issue_date", "due_date", "status", "currency", "subtotal",
    "tax", "total_amount", "amount_paid", "paid_at", "created_at", "updated_at",
)  # fmt: skip
ITEM_FIELDS = (
    "id", "invoice_id", "session_id", "service_type_id", "description", "quantity",
    "unit_price", "amount",
)  # fmt: skip
PAYMENT_FIELDS = ("id", "invoice_id", "amount", "paid_at", "method", "reference")
ACTIVITY_FIELDS = (
    "id", "client_id", "kind", "subject", "body", "direction", "occurred_at",
    "duration_minutes", "coach_id", "created_at",
)  # fmt: skip
FILE_FIELDS = (
    "id", "client_id", "session_id", "filename", "content_type", "size_bytes", "path", "url",
    "sha256", "uploaded_at",
)  # fmt: skip

CT_PDF = "application/pdf"
CT_PNG = "image/png"
CT_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _at(day: date, rng: random.Random, first: int = 8, last: int = 19) -> datetime:
    """A daytime moment on ``day`` (never inside a DST gap, which falls at night)."""
    return datetime.combine(day, time(rng.randint(first, last), rng.choice((0, 15, 30, 45))))


def _ascii(s: str) -> str:
    return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii")


class TypeTracker:
    """Infers a custom property's type from every value seen, with the mapping's rules:
    all dates -> date; all numeric -> number; all true/false -> boolean; at most 12
    distinct values, repeated -> choice; anything else -> text. Empty values are nulls."""

    __slots__ = ("all_bool", "all_date", "all_number", "count", "distinct")

    def __init__(self) -> None:
        self.all_date = self.all_number = self.all_bool = True
        self.count = 0
        self.distinct: set[str] = set()

    def add(self, value: str) -> None:
        if value == "":
            return
        self.count += 1
        if len(self.distinct) <= 12:
            self.distinct.add(value)
        if self.all_date:
            try:
                date.fromisoformat(value)
            except ValueError:
                self.all_date = False
            else:
                self.all_date = len(value) == 10
        if self.all_number:
            try:
                self.all_number = Decimal(value).is_finite()
            except InvalidOperation:
                self.all_number = False
        if self.all_bool:
            self.all_bool = value.lower() in {"true", "false"}

    def kind(self) -> str:
        if self.count == 0:
            return "text"
        if self.all_date:
            return "date"
        if self.all_number:
            return "number"
        if self.all_bool:
            return "boolean"
        if len(self.distinct) <= 12 and self.count > len(self.distinct):
            return "choice"
        return "text"


@dataclass(slots=True)
class _User:
    id: str
    email: str
    first_name: str
    last_name: str
    role: str
    active: bool


@dataclass(slots=True)
class _Session:
    id: str
    start: datetime
    service: int
    status: str
    coach_id: str
    billing: str = "unbilled"
    package_id: str | None = None
    session_type: str = ""
    note: bool = False


@dataclass(slots=True)
class _Family:
    id: str
    last_name: str
    address: tuple[str, str, str, str, str]
    remaining: int


@dataclass(slots=True)
class Truth:
    """What was planted, in the vocabulary of discovery."""

    dangling: dict[str, list[str]] = field(default_factory=dict)
    findings: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in FINDING_KINDS})
    types: dict[str, TypeTracker] = field(
        default_factory=lambda: {k: TypeTracker() for k in (*CUSTOM_COLUMNS, *LONG_PROPERTIES)}
    )

    def dangle(self, kind: str, source_id: str) -> None:
        self.dangling.setdefault(kind, []).append(source_id)

    def find(self, kind: str, source_id: str) -> None:
        self.findings[kind].append(source_id)


class Practice:
    """Writes one bundle for ``n_clients`` clients from ``seed``."""

    root: Path
    out: _Outputs
    users: list[_User]
    coaching: list[_User]
    owner: _User
    coach_cum: list[float]

    def __init__(self, n_clients: int, seed: int, *, with_large_files: bool) -> None:
        self.n = n_clients
        self.seed = seed
        self.with_large_files = with_large_files
        self.rng = random.Random(f"crm-ferry:{seed}:practice")
        export_day = date(2025, 1, 1) + timedelta(days=(seed * 37) % 365)
        self.export = datetime.combine(export_day, time(23, 0))
        self.start = self.export - timedelta(days=3 * 365)
        self.truth = Truth()
        self.counts: dict[str, int] = {}
        self._seq: dict[str, int] = {}
        period = 100 if n_clients >= 100 else n_clients
        self.period = period
        self.schedule: dict[int, str] = {}
        for k, kind in enumerate(EDGE_KINDS):
            self.schedule.setdefault((k * period) // len(EDGE_KINDS), kind)
        self.occurrence: dict[str, int] = {}
        self.dup_email: str | None = None
        self.dup_members: list[str] = []
        self.dup_wanted = 0
        self.family: _Family | None = None
        self.session_invoices = 0
        """Invoices for sessions so far: the first seven take each status once."""
        self.coached: set[str] = set()
        self.bytes_of_files = 0
        self.png_cache: dict[int, bytes] = {}

    # -- identity -------------------------------------------------------------------------

    def next_id(self, prefix: str, width: int) -> str:
        n = self._seq.get(prefix, 0) + 1
        self._seq[prefix] = n
        return f"{prefix}_{n:0{width}d}"

    def missing_id(self, prefix: str) -> str:
        """An id of the right shape that no row of the bundle has (a deleted record)."""
        return self.next_id(f"{prefix}_x", 5)

    def edge_kind(self, i: int) -> str | None:
        kind = self.schedule.get(i % self.period)
        if kind == "large_file" and (i >= self.period or not self.with_large_files):
            return None
        return kind

    # -- the whole bundle -----------------------------------------------------------------

    def write(self, root: Path) -> None:
        root.mkdir(parents=True)
        (root / "files").mkdir()
        self.root = root
        rng = self.rng
        manifest = {
            "platform": "practice.do",
            "exported_at": self.export.replace(tzinfo=ZoneInfo(TIMEZONE)).isoformat(),
            "timezone": TIMEZONE,
            "currency": CURRENCY,
            "date_format": "iso",
        }
        write_json(root / "manifest.json", manifest)
        services = config.service_type_rows()
        write_json(root / "service_types.json", services)
        self.counts["service_types"] = len(services)
        templates = config.email_templates(rng)
        configs: dict[str, list[dict[str, Any]]] = {
            "email_templates": templates,
            "automations": config.automations(rng, [t["id"] for t in templates]),
            "integrations": config.integrations(rng),
            "reports": config.reports(rng),
        }
        for name, rows in configs.items():
            write_json(root / f"{name}.json", rows)
            self.counts[name] = len(rows)

        self.users = self._users()
        with _Outputs(root) as out:
            for u in self.users:
                out["users"].write(
                    {
                        "id": u.id,
                        "email": u.email,
                        "first_name": u.first_name,
                        "last_name": u.last_name,
                        "role": u.role,
                        "active": u.active,
                        "time_zone": TIMEZONE,
                        "created_at": _at(
                            (self.start - timedelta(days=rng.randint(10, 400))).date(), rng
                        ),
                    }
                )
            self.out = out
            for i in range(self.n):
                self._client(i)
            self._close_duplicate_group()
            for name, w in out.items():
                self.counts[name] = w.count
        for u in self.users:
            if not u.active and u.id in self.coached:
                self.truth.find("users.inactive_with_clients", u.id)

    # -- users ----------------------------------------------------------------------------

    def _users(self) -> list[_User]:
        rng = random.Random(f"crm-ferry:{self.seed}:users")
        n_coaches = max(2, round(self.n / 40))
        n_inactive = max(1, n_coaches // 12)
        n_assistants = max(1, n_coaches // 8)
        roles = ["owner"]
        roles += ["coach"] * n_coaches
        roles += ["assistant"] * n_assistants
        roles += ["admin"] * (1 if n_coaches >= 5 else 0)
        roles.append("former_assistant")
        users: list[_User] = []
        width = max(4, len(str(len(roles))))
        for k, role in enumerate(roles, start=1):
            first, last = rng.choice(text.FIRST_NAMES), rng.choice(text.LAST_NAMES)
            uid = f"usr_{k:0{width}d}"
            active = True
            if role == "coach" and k > 1 + n_coaches - n_inactive:
                active = False
            if role == "former_assistant":
                role, active = "assistant", False
            users.append(
                _User(
                    id=uid,
                    email=f"{first}.{last}.{k}@practice.example.com".lower(),
                    first_name=first,
                    last_name=last,
                    role=role,
                    active=active,
                )
            )
        coaching = [u for u in users if u.role in {"owner", "coach"}]
        self.coaching = coaching
        self.owner = users[0]
        weights = [0.6 if u.role == "owner" else (1.0 if u.active else 0.25) for u in coaching]
        total = 0.0
        self.coach_cum = []
        for w in weights:
            total += w
            self.coach_cum.append(total)
        return users

    # -- one client and everything that hangs off it --------------------------------------

    def _client(self, i: int) -> None:
        rng = self.rng
        kind = self.edge_kind(i)
        if kind is not None:
            self.occurrence[kind] = self.occurrence.get(kind, 0) + 1
        cid = f"cli_{i + 1:06d}"
        created = _at(
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
        coach_id = coach.id
        session_coach = coach.id
        if kind == "missing_coach":
            coach_id = self.missing_id("usr")
            session_coach = self.owner.id
            self.truth.dangle("clients.coach_id -> users", cid)
        else:
            self.coached.add(coach_id)

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
                self.family = _Family(fid, last, address, rng.randint(1, 3))
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
        parts = [re.sub(r"[^a-z0-9]", "", _ascii(p).lower()) for p in (first, last)]
        local = ".".join(p for p in parts if p) or "client"
        domain = rng.choice(text.EMAIL_DOMAINS)
        if organization is not None:
            word = re.sub(r"[^a-z0-9]", "", _ascii(organization.split()[0]).lower())
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
            "coaching_goals": text.goals_text(rng, _ascii(first) or "Client")
            if rng.random() < 0.75
            else "",
        }
        for key, value in custom.items():
            row[f"custom:{key}"] = value
            self.truth.types[key].add(value)
        self.out["clients"].write(row)
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

    # -- sessions, billing, notes, activities, files --------------------------------------

    def _plan_sessions(
        self, *, status: str, created: datetime, main_service: int, coach_id: str, force: bool
    ) -> list[_Session]:
        rng = self.rng
        if status == "prospect":
            count = rng.randint(0, 1)
        elif status == "archived":
            count = rng.randint(2, 8)
        else:
            count = rng.randint(2, 9)
        sessions: list[_Session] = []
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
            sessions.append(
                _Session(self.next_id("ses", 7), _at(day, rng, 8, 18), service, st, coach_id)
            )
            day += timedelta(days=rng.randint(6, 21))
        if (
            status == "active"
            and sessions
            and sessions[-1].status != "scheduled"
            and rng.random() < 0.5
        ):
            future = self.export.date() + timedelta(days=rng.randint(1, 30))
            sessions.append(
                _Session(
                    self.next_id("ses", 7),
                    _at(future, rng, 8, 18),
                    main_service,
                    "scheduled",
                    coach_id,
                )
            )
        if force and not any(
            s.status == "completed" and s.service != 0 and s.start < self.export - timedelta(days=8)
            for s in sessions
        ):
            day = created.date() + timedelta(days=1)
            sessions.insert(
                0,
                _Session(
                    self.next_id("ses", 7),
                    _at(day, rng, 8, 18),
                    main_service,
                    "completed",
                    coach_id,
                ),
            )
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
        forced: _Session | None = None
        if force:
            forced = next(
                s
                for s in sessions
                if s.status == "completed"
                and s.service != 0
                and s.start < self.export - timedelta(days=8)
            )
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
        billed: list[_Session] = []
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
            s = _Session(
                self.next_id("ses", 7),
                _at(created.date() + timedelta(days=rng.randint(1, 5)), rng, 8, 18),
                main_service,
                "completed",
                coach_id,
                session_type=config.SERVICE_TYPES[main_service][5],
            )
            missing_client = self.missing_id("cli")
            self._write_session(missing_client, s)
            self.truth.dangle("sessions.client_id -> clients", s.id)
        if kind == "orphan_note":
            ghost = _Session(
                self.missing_id("ses"),
                _at(created.date() + timedelta(days=2), rng, 8, 18),
                main_service,
                "completed",
                coach_id,
            )
            note_id = self._note(cid, ghost, first, with_image=False)
            self.truth.dangle("session_notes.session_id -> sessions", note_id)
        if kind == "orphan_item":
            item_id = self.next_id("ii", 7)
            self.out["invoice_items"].write(
                {
                    "id": item_id,
                    "invoice_id": self.missing_id("inv"),
                    "session_id": None,
                    "service_type_id": config.SERVICE_TYPES[4][0],
                    "description": "Adjustment - late cancellation fee",
                    "quantity": "1",
                    "unit_price": "50.00",
                    "amount": "50.00",
                }
            )
            self.truth.dangle("invoice_items.invoice_id -> invoices", item_id)
        self._activities(cid, status, created, coach_id)
        self._files(cid, sessions, full, created, kind)

    def _price(self, s: _Session) -> int:
        return int(Decimal(config.SERVICE_TYPES[s.service][2]) * 100)

    def _write_session(self, cid: str, s: _Session) -> None:
        rng = self.rng
        minutes = config.SERVICE_TYPES[s.service][3]
        booked = max(s.start - timedelta(days=rng.randint(1, 20)), self.start)
        booked = booked.replace(hour=rng.randint(8, 20))
        if s.status == "completed":
            updated = s.start + timedelta(minutes=minutes + rng.randint(5, 90))
        elif s.status == "scheduled":
            updated = booked
        else:
            updated = _at((s.start - timedelta(days=rng.randint(0, 2))).date(), rng, 7, 20)
        updated = max(updated, booked)
        self.out["sessions"].write(
            {
                "id": s.id,
                "client_id": cid,
                "coach_id": s.coach_id,
                "service_type_id": config.SERVICE_TYPES[s.service][0],
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

    def _package(self, cid: str, eligible: list[_Session], status: str, main_service: int) -> None:
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
        rate = int(Decimal(config.SERVICE_TYPES[service][2]) * 100)
        price = (total * rate * 9 // 10) // 100 * 100
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
        item = {
            "id": self.next_id("ii", 7),
            "invoice_id": inv_id,
            "session_id": None,
            "service_type_id": config.SERVICE_TYPES[service][0],
            "description": f"Package: {name}",
            "quantity": "1",
            "unit_price": money(price),
            "amount": money(price),
        }
        issue = min(start_day, self.export.date())
        self._write_invoice(cid, inv_id, issue, "paid", [item], price, partial=False)

    def _invoices(self, cid: str, billed: list[_Session], *, mismatch_on: _Session | None) -> None:
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
                items.append(
                    {
                        "id": self.next_id("ii", 7),
                        "invoice_id": inv_id,
                        "session_id": s.id,
                        "service_type_id": config.SERVICE_TYPES[s.service][0],
                        "description": f"{label} - {s.start.date().isoformat()}",
                        "quantity": "1",
                        "unit_price": money(price),
                        "amount": money(price),
                    }
                )
            subtotal = total
            if mismatch_on is not None and mismatch_on in group:
                total -= max(500, total // 10 // 100 * 100)  # a discount nobody itemised
                self.truth.find("invoices.items_total_mismatch", inv_id)
            issue = min(last.date() + timedelta(days=rng.randint(0, 3)), self.export.date())
            self._write_invoice(
                cid, inv_id, issue, status, items, total, partial=partial, subtotal=subtotal
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
    ) -> None:
        rng = self.rng
        created = _at(issue, rng, 8, 11)
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
                "tax": "0.00",
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

    def _note(self, cid: str, s: _Session, first: str, *, with_image: bool) -> str:
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

    def _png(self, variant: int) -> bytes:
        if variant not in self.png_cache:
            palette = (
                (52, 120, 200),
                (200, 90, 60),
                (60, 160, 90),
                (150, 80, 170),
                (220, 180, 40),
                (90, 90, 90),
            )
            self.png_cache[variant] = binary.png(
                32 + 8 * variant, 24 + 4 * variant, palette[variant], stripe=7 + variant
            )
        return self.png_cache[variant]

    def _activities(self, cid: str, status: str, created: datetime, coach_id: str) -> None:
        rng = self.rng
        count = rng.randint(0, 2) if status == "prospect" else rng.randint(0, 5)
        span = max(1, (self.export - created).days - 1)
        for _ in range(count):
            kind = rng.choices(("call", "email", "meeting"), (35, 45, 20))[0]
            when = _at(created.date() + timedelta(days=rng.randint(0, span)), rng, 8, 19)
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

    def _files(
        self, cid: str, sessions: list[_Session], full: str, created: datetime, kind: str | None
    ) -> None:
        rng = self.rng
        label = _ascii(full).strip() or "Client"
        wanted: list[str] = []
        if rng.random() < 0.12:
            wanted = rng.sample(("intake", "agreement", "photo", "worksheet"), rng.randint(1, 2))
        done = [s for s in sessions if s.status == "completed"]
        for what in wanted:
            session = None
            if what == "worksheet":
                if not done:
                    continue
                session = rng.choice(done)
            fid = self.next_id("file", 6)
            if what == "intake":
                data = binary.pdf(
                    f"Intake form - {label}",
                    [f"Client id: {cid}", f"Received: {created.date().isoformat()}",
                     "Goals, history and preferences as provided by the client."],
                )  # fmt: skip
                name, ctype, ext = f"Intake form - {label}.pdf", CT_PDF, "pdf"
            elif what == "agreement":
                data = binary.docx(
                    "Coaching agreement",
                    [f"Between the practice and {label} ({cid}).",
                     "Sessions are confidential. Cancellations need 24 hours notice.",
                     f"Signed {created.date().isoformat()}."],
                )  # fmt: skip
                name, ctype, ext = f"Coaching agreement - {label}.docx", CT_DOCX, "docx"
            elif what == "photo":
                data = self._png(rng.randint(0, 5))
                name, ctype, ext = "profile-photo.png", CT_PNG, "png"
            else:
                assert session is not None
                day = session.start.date().isoformat()
                data = binary.pdf(
                    f"Worksheet {day}",
                    [f"Session {session.id}", "1. What went well this week?",
                     "2. What will you do differently?", "3. One small next step."],
                )  # fmt: skip
                name, ctype, ext = f"Worksheet {day}.pdf", CT_PDF, "pdf"
            rel = f"files/{fid}.{ext}"
            (self.root / rel).write_bytes(data)
            when = session.start if session is not None else created
            self.out["files"].write(
                {
                    "id": fid,
                    "client_id": cid,
                    "session_id": session.id if session is not None else None,
                    "filename": name,
                    "content_type": ctype,
                    "size_bytes": len(data),
                    "path": rel,
                    "url": None,
                    "sha256": binary.sha256_hex(data),
                    "uploaded_at": _at((when + timedelta(days=rng.randint(0, 2))).date(), rng),
                }
            )
        if kind == "linked_file":
            fid = self.next_id("file", 6)
            token = hashlib.sha256(f"{self.seed}:{fid}".encode()).hexdigest()[:28]
            self.out["files"].write(
                {
                    "id": fid,
                    "client_id": cid,
                    "session_id": None,
                    "filename": f"Assessment results - {label}.pdf",
                    "content_type": CT_PDF,
                    "size_bytes": None,
                    "path": None,
                    "url": f"https://drive.example.com/file/d/{token}/view",
                    "sha256": None,
                    "uploaded_at": created + timedelta(days=1),
                }
            )
            self.truth.find("files.linked", fid)
        if kind == "large_file":
            self._large_file(cid, label, created)

    def _large_file(self, cid: str, label: str, created: datetime) -> None:
        fid = self.next_id("file", 6)
        rel = f"files/{fid}.pdf"
        noise = random.Random(f"crm-ferry:{self.seed}:large")

        def payload() -> Iterator[bytes]:
            left = LARGE_FILE_BYTES
            while left:
                n = min(left, 1 << 16)
                yield noise.randbytes(n)
                left -= n

        digest = hashlib.sha256()
        size = 0
        with (self.root / rel).open("wb") as fh:
            lines = ["Scanned assessment report (high resolution).", f"Client id: {cid}"]
            for chunk in binary.pdf_with_payload(
                f"Assessment scan - {label}", lines, LARGE_FILE_BYTES, payload()
            ):
                fh.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        self.out["files"].write(
            {
                "id": fid,
                "client_id": cid,
                "session_id": None,
                "filename": f"Assessment scan - {label}.pdf",
                "content_type": CT_PDF,
                "size_bytes": size,
                "path": rel,
                "url": None,
                "sha256": digest.hexdigest(),
                "uploaded_at": created + timedelta(days=3),
            }
        )
        if 4 * -(-size // 3) > UPLOAD_LIMIT_B64:
            self.truth.find("files.over_upload_limit", fid)


class _Outputs(dict[str, CsvOut | JsonlOut]):
    """Every per-row file of the bundle, open together for the single pass over clients."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        custom = [f"custom:{k}" for k in CUSTOM_COLUMNS]
        self["users"] = CsvOut(root / "users.csv", USER_FIELDS)
        self["clients"] = CsvOut(
            root / "clients.csv", (*CLIENT_FIELDS, *custom), bom=True, crlf=True
        )
        self["client_properties"] = CsvOut(
            root / "client_properties.csv", ("client_id", "key", "value")
        )
        self["families"] = CsvOut(root / "families.csv", FAMILY_FIELDS)
        self["packages"] = CsvOut(root / "packages.csv", PACKAGE_FIELDS)
        self["sessions"] = CsvOut(root / "sessions.csv", SESSION_FIELDS)
        self["session_notes"] = JsonlOut(root / "session_notes.jsonl", NOTE_FIELDS)
        self["invoices"] = CsvOut(root / "invoices.csv", INVOICE_FIELDS)
        self["invoice_items"] = CsvOut(root / "invoice_items.csv", ITEM_FIELDS)
        self["payments"] = CsvOut(root / "payments.csv", PAYMENT_FIELDS)
        self["activities"] = JsonlOut(root / "activities.jsonl", ACTIVITY_FIELDS)
        self["files"] = CsvOut(root / "files.csv", FILE_FIELDS)

    def __enter__(self) -> _Outputs:
        return self

    def __exit__(self, *exc: object) -> None:
        for w in self.values():
            w.close()
