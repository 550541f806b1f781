"""What every part of the practice simulation shares: its state, ids and moments.

:class:`PracticeState` holds the seeded random generator (the single source of every
choice; the order of its draws is the output, so a change in that order changes every
byte after it), the ground truth, the open row writers and the id counters. The parts of
the simulation (:mod:`._attachments`, :mod:`._billing`, :mod:`._sessions`,
:mod:`._clients`) are its subclasses, and :class:`~._practice.Practice` combines them.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from crm_ferry.sources.generator._outputs import Outputs
from crm_ferry.sources.generator._truth import Truth

TIMEZONE = "America/New_York"
CURRENCY = "USD"

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


def at(day: date, rng: random.Random, first: int = 8, last: int = 19) -> datetime:
    """A daytime moment on ``day`` (never inside a DST gap, which falls at night)."""
    return datetime.combine(day, time(rng.randint(first, last), rng.choice((0, 15, 30, 45))))


def plain_ascii(s: str) -> str:
    """``s`` without its accents (and without what has no ASCII form)."""
    return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii")


@dataclass(slots=True)
class User:
    """A user of the practice (the owner, coaches, assistants, an admin)."""

    id: str
    email: str
    first_name: str
    last_name: str
    role: str
    active: bool


@dataclass(slots=True)
class Session:
    """A session as planned: its billing, package and type are settled before it is written."""

    id: str
    start: datetime
    service: int
    status: str
    coach_id: str
    billing: str = "unbilled"
    package_id: str | None = None
    session_type: str = ""


@dataclass(slots=True)
class Family:
    """The family being filled: the next ``remaining`` ordinary clients join it."""

    id: str
    last_name: str
    address: tuple[str, str, str, str, str]
    remaining: int


PLANTED_DOCUMENTS = ("scan", "recording", "video", "shortcut")
"""The documents ``generate --documents`` plants, in order (see ``_documents.py``)."""


class PracticeState:
    """The state of one bundle being written for ``n_clients`` clients from ``seed``."""

    root: Path
    out: Outputs
    users: list[User]
    coaching: list[User]
    owner: User
    coach_cum: list[float]

    def __init__(
        self, n_clients: int, seed: int, *, with_large_files: bool, documents: bool = False
    ) -> None:
        self.n = n_clients
        self.seed = seed
        self.with_large_files = with_large_files
        self.documents_left: list[str] = list(PLANTED_DOCUMENTS) if documents else []
        """The planted documents still to write (``generate --documents``)."""
        self.rng = random.Random(f"crm-ferry:{seed}:practice")
        self.plant = random.Random(f"crm-ferry:{seed}:plant")
        """For situations a sound export has (a coach named by e-mail only, a paid session
        without a service type, a taxed invoice): their own stream, so that planting them
        leaves every other value of the bundle as it was."""
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
        self.family: Family | None = None
        self.session_invoices = 0
        """Invoices for sessions so far: the first seven take each status once."""
        self.coached: set[str] = set()
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
