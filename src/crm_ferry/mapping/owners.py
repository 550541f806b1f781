"""Coaches → Dataverse system users: the ``owners:`` section of the map.

Coaches are not created in Dataverse; each becomes the owner of its records through the
system user with the same email. A coach is every user of the export bundle plus every
``coach_email`` (and every ``coach_id`` without a user row) found on clients, sessions and
activities. Each is matched, case-insensitively, against ``internalemailaddress`` and then
``domainname`` (the Entra UPN):

* ``matched``   an enabled system user has the coach's email;
* ``disabled``  the user exists but ``isdisabled`` (writes to records it owns fail);
* ``unmatched`` no system user has it (or the coach has no email);
* ``explicit``  the person chose ``owners.coaches.<id>.user`` (email or UPN) themselves;
* ``fallback``  no usable user, and ``owners.fallback`` owns the coach's records instead.

A coach that came only from ``coach_email`` is keyed by that email in lower case, so
:meth:`crm_ferry.mapping.spec.Owners.owner_of` finds it with the row's ``coach_email``.
A user the person names (``fallback`` or a coach's ``user``) that is unknown or disabled
is a problem with its place in ``mapping.yaml``, never silently ignored.

Which coach owns a row (:class:`OwnerUsage`, filled by :func:`collect_coaches`): a client's
own (``coach_id``, else ``coach_email``); a session's or an activity's own, else its
client's; a note's, its session's; a file's, its session's, else its client's. ``map check``
counts the rows per object and coach, so it knows exactly which rows the fallback will own
and which would be rejected for want of an owner.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import TYPE_CHECKING, Any

from crm_ferry.mapping.spec import CoachRef, first_named
from crm_ferry.model import Activity, Client, FileRecord, Session, SessionNote, User

if TYPE_CHECKING:
    from crm_ferry.dataverse.client import DataverseClient
    from crm_ferry.sources.bundle import Bundle

USER_COLUMNS = (
    "systemuserid",
    "internalemailaddress",
    "domainname",
    "fullname",
    "isdisabled",
    "applicationid",
)
USERS_SHOWN = 8
"""How many of the tenant's users a message about an unknown user lists."""


@dataclass(frozen=True, slots=True)
class SystemUser:
    """A Dataverse ``systemuser`` row, as far as ownership needs it."""

    systemuserid: str
    internalemailaddress: str | None = None
    domainname: str | None = None
    fullname: str | None = None
    isdisabled: bool = False
    applicationid: str | None = None
    """The app registration of an application user (None: a person)."""

    @property
    def is_application(self) -> bool:
        """An application user (an app registration signs in as it, not a person)."""
        return self.applicationid is not None

    @property
    def name(self) -> str:
        """How the map names this user: its email, else its UPN, else its id."""
        return self.internalemailaddress or self.domainname or self.systemuserid

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> SystemUser:
        return cls(
            systemuserid=str(row["systemuserid"]),
            internalemailaddress=row.get("internalemailaddress") or None,
            domainname=row.get("domainname") or None,
            fullname=row.get("fullname") or None,
            isdisabled=bool(row.get("isdisabled")),
            applicationid=row.get("applicationid") or None,
        )


def fetch_system_users(client: DataverseClient) -> list[SystemUser]:
    """Every system user of the tenant (enabled and disabled)."""
    return [SystemUser.from_row(r) for r in client.query("systemuser", select=USER_COLUMNS)]


class UserDirectory:
    """System users looked up by email (``internalemailaddress``), then UPN (``domainname``)."""

    def __init__(self, users: Iterable[SystemUser]) -> None:
        self.users = list(users)
        self._by_email: dict[str, list[SystemUser]] = {}
        self._by_upn: dict[str, list[SystemUser]] = {}
        for u in self.users:
            if u.internalemailaddress:
                self._by_email.setdefault(_norm(u.internalemailaddress), []).append(u)
            if u.domainname:
                self._by_upn.setdefault(_norm(u.domainname), []).append(u)

    def find(self, address: str | None) -> tuple[SystemUser | None, str]:
        """The user with this email or UPN (an enabled one first) and how it was found."""
        if not address or not address.strip():
            return None, ""
        key = _norm(address)
        for index, how in ((self._by_email, "email"), (self._by_upn, "UPN")):
            found = index.get(key)
            if found:
                enabled = [u for u in found if not u.isdisabled]
                return (enabled or found)[0], how
        return None, ""

    def closest(self, address: str, *, cap: int = USERS_SHOWN) -> str:
        """The enabled users, the ones most like ``address`` first (a typo finds its user
        at the head), as ``alex@… (Alex Admin), …``, capped with ``… and N more``."""
        key = _norm(address)

        def likeness(u: SystemUser) -> float:
            names = [_norm(n) for n in (u.internalemailaddress, u.domainname) if n]
            return max((SequenceMatcher(None, key, n).ratio() for n in names), default=0.0)

        enabled = sorted(
            (u for u in self.users if not u.isdisabled), key=lambda u: (-likeness(u), u.name)
        )
        shown = [f"{u.name} ({u.fullname})" if u.fullname else u.name for u in enabled[:cap]]
        rest = len(enabled) - len(shown)
        return (", ".join(shown) + (f", … and {rest} more" if rest > 0 else "")) or "none"

    def by_id(self, systemuserid: str | None) -> SystemUser | None:
        if not systemuserid:
            return None
        wanted = systemuserid.lower()
        return next((u for u in self.users if u.systemuserid.lower() == wanted), None)


def _norm(address: str) -> str:
    return address.strip().lower()


# ---------------------------------------------------------------------------
# Coaches of the bundle


@dataclass(frozen=True, slots=True)
class Coach:
    """Someone whose records need an owner."""

    coach_id: str
    email: str | None = None
    name: str | None = None
    in_users: bool = True
    """False when the coach is only referenced by clients or sessions, not a user row."""
    active: bool = True
    rows: int = 0
    """Client, session and activity rows that name this coach."""


@dataclass(slots=True)
class OwnerUsage:
    """Per object, the rows that each coach owns (:class:`~crm_ferry.mapping.spec.CoachRef`,
    after a row without a coach of its own took its parent's), as :func:`collect_coaches`
    counted them."""

    rows: dict[str, Counter[CoachRef]] = field(default_factory=dict)

    def add(self, obj: str, ref: CoachRef) -> None:
        self.rows.setdefault(obj, Counter())[ref] += 1

    def of(self, obj: str) -> Mapping[CoachRef, int]:
        return self.rows.get(obj, Counter())


USAGE_OBJECTS = ("clients", "sessions", "activities", "session_notes", "files")
"""The objects whose rows get an owner, in the order their coaches are found."""


def collect_coaches(bundle: Bundle, usage: OwnerUsage | None = None) -> list[Coach]:
    """The bundle's users, plus coaches that clients, sessions and activities name but users
    lack. With ``usage``, also counts which coach owns each row of :data:`USAGE_OBJECTS`."""
    users: dict[str, User] = {}
    if "users" in bundle.objects:
        for rec in bundle.read("users"):
            if isinstance(rec, User):
                users[rec.id] = rec
    by_email = {_norm(u.email): uid for uid, u in users.items() if u.email}
    refs: dict[str, int] = {}
    emails: dict[str, str | None] = {}
    chain = _Chain()
    objects = USAGE_OBJECTS if usage is not None else ("clients", "sessions", "activities")
    for obj in objects:
        if obj not in bundle.objects:
            continue
        for rec in bundle.read(obj):
            if usage is not None:
                ref = chain.coach_of(rec)
                if ref is not None:
                    usage.add(obj, ref)
            if not isinstance(rec, Client | Session | Activity):
                continue
            email = None if isinstance(rec, Activity) else rec.coach_email
            key = _coach_key(rec.coach_id, email, by_email)
            if key is None:
                continue
            refs[key] = refs.get(key, 0) + 1
            if key not in users and email and not emails.get(key):
                emails[key] = email.strip()
    out: list[Coach] = []
    for uid, u in users.items():
        name = " ".join(p for p in (u.first_name, u.last_name) if p) or None
        out.append(Coach(uid, u.email, name, in_users=True, active=u.active, rows=refs.get(uid, 0)))
    for key in sorted(k for k in refs if k not in users):
        email = emails.get(key) or (key if "@" in key else None)
        out.append(Coach(key, email, None, in_users=False, rows=refs[key]))
    return out


class _Chain:
    """Which coach owns a row: its own, else its parent's (clients and sessions are read
    before the rows that point to them)."""

    def __init__(self) -> None:
        self.clients: dict[str, CoachRef] = {}
        self.sessions: dict[str, CoachRef] = {}
        self._refs: dict[CoachRef, CoachRef] = {}

    def _intern(self, ref: CoachRef) -> CoachRef:
        return self._refs.setdefault(ref, ref)

    def coach_of(self, rec: object) -> CoachRef | None:
        """The coach of ``rec``; None when it hangs off a record that is not in the export
        (it is rejected for that, not for its owner)."""
        if isinstance(rec, Client):
            ref = self._intern(CoachRef.of(rec.coach_id, rec.coach_email))
            self.clients[rec.id] = ref
            return ref
        if isinstance(rec, Session):
            own = CoachRef.of(rec.coach_id, rec.coach_email)
            client = self.clients.get(rec.client_id or "")
            if not own.named and client is None:
                return None
            ref = self._intern(first_named(own, client))
            self.sessions[rec.id] = ref
            return ref
        if isinstance(rec, Activity):
            own = CoachRef.of(rec.coach_id)
            client = self.clients.get(rec.client_id or "")
            if not own.named and client is None:
                return None
            return self._intern(first_named(own, client))
        if isinstance(rec, SessionNote):
            return self.sessions.get(rec.session_id or "")
        if isinstance(rec, FileRecord):
            if rec.session_id:
                return self.sessions.get(rec.session_id)
            return self.clients.get(rec.client_id or "")
        return None


def _coach_key(
    coach_id: str | None, coach_email: str | None, by_email: Mapping[str, str]
) -> str | None:
    if coach_id and coach_id.strip():
        return coach_id.strip()
    if coach_email and coach_email.strip():
        return by_email.get(_norm(coach_email), _norm(coach_email))
    return None


def coaches_from_section(section: Mapping[str, Any] | None) -> list[Coach]:
    """The coaches already listed in an ``owners:`` section (to re-resolve without a bundle)."""
    coaches = (section or {}).get("coaches") or {}
    if not isinstance(coaches, Mapping):
        return []
    out: list[Coach] = []
    for cid, entry in coaches.items():
        email = entry.get("email") if isinstance(entry, Mapping) else None
        out.append(Coach(str(cid), str(email) if email else None))
    return out


# ---------------------------------------------------------------------------
# Resolution


@dataclass(frozen=True, slots=True)
class OwnerIssue:
    """A user the person named that cannot own records; ``path`` is its place in the map."""

    path: tuple[str, ...]
    message: str


@dataclass(frozen=True, slots=True)
class OwnerResolution:
    section: dict[str, Any]
    """The ``owners:`` section: fallback, fallback_id, coaches."""
    issues: list[OwnerIssue] = field(default_factory=list)

    @property
    def unresolved(self) -> list[str]:
        """Coach ids without a usable owner (none when a fallback owns them)."""
        return [
            cid
            for cid, c in self.section["coaches"].items()
            if c["status"] in ("disabled", "unmatched") and not self.section.get("fallback_id")
        ]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.section["coaches"].values():
            out[c["status"]] = out.get(c["status"], 0) + 1
        return out


def _choices(current: Mapping[str, Any] | None) -> tuple[str | None, dict[str, str]]:
    """The fallback and the per-coach users the person set in an existing section."""
    if not isinstance(current, Mapping):
        return None, {}
    fallback = current.get("fallback")
    fallback = str(fallback).strip() if fallback else None
    explicit: dict[str, str] = {}
    coaches = current.get("coaches") or {}
    if isinstance(coaches, Mapping):
        for cid, entry in coaches.items():
            if not isinstance(entry, Mapping) or not entry.get("user"):
                continue
            explicit[str(cid)] = str(entry["user"]).strip()
    return fallback, explicit


def resolve_owners(
    coaches: Sequence[Coach],
    users: Iterable[SystemUser] | UserDirectory,
    *,
    current: Mapping[str, Any] | None = None,
) -> OwnerResolution:
    """The ``owners:`` section for ``coaches``, honouring the person's choices in ``current``.

    ``current`` is the existing ``owners:`` section (plain or round-trip), if any: its
    ``fallback`` and every coach's ``user`` that differs from the automatic match are the
    person's choices. A coach listed only in ``current`` (no longer in the source) is dropped.
    """
    directory = users if isinstance(users, UserDirectory) else UserDirectory(users)
    fallback, explicit = _choices(current)
    current_coaches = (current or {}).get("coaches") or {}
    issues: list[OwnerIssue] = []

    fallback_user: SystemUser | None = None
    if fallback:
        found, _ = directory.find(fallback)
        if found is None:
            issues.append(
                OwnerIssue(
                    ("owners", "fallback"),
                    f"{fallback!r} is not a user of the tenant (no such e-mail or UPN); "
                    f"users: {directory.closest(fallback)}",
                )
            )
        elif found.isdisabled:
            issues.append(
                OwnerIssue(
                    ("owners", "fallback"),
                    f"{fallback!r} is a disabled user; records it owned could not be written; "
                    f"enabled users: {directory.closest(fallback)}",
                )
            )
        else:
            fallback_user = found

    entries: dict[str, dict[str, Any]] = {}
    for coach in coaches:
        chosen = explicit.get(coach.coach_id)
        auto, how = directory.find(coach.email)
        if chosen is not None and not _same_as_auto(chosen, auto, current_coaches, coach):
            entries[coach.coach_id] = _explicit_entry(coach, chosen, directory, issues)
            continue
        entries[coach.coach_id] = _auto_entry(coach, auto, how, fallback_user)
    return OwnerResolution(
        {
            "fallback": fallback,
            "fallback_id": fallback_user.systemuserid if fallback_user else None,
            "coaches": entries,
        },
        issues,
    )


def _same_as_auto(chosen: str, auto: SystemUser | None, current: Any, coach: Coach) -> bool:
    """Whether the person's ``user`` is just the automatic match written back unchanged."""
    entry = current.get(coach.coach_id) if isinstance(current, Mapping) else None
    if isinstance(entry, Mapping) and entry.get("status") == "explicit":
        return False
    if auto is None:
        return False
    names = {_norm(n) for n in (auto.internalemailaddress, auto.domainname) if n}
    return _norm(chosen) in names


def _explicit_entry(
    coach: Coach, chosen: str, directory: UserDirectory, issues: list[OwnerIssue]
) -> dict[str, Any]:
    found, how = directory.find(chosen)
    path = ("owners", "coaches", coach.coach_id, "user")
    if found is None:
        reason = f"{chosen} is not a user of the tenant (no such email or UPN)"
        issues.append(OwnerIssue(path, f"{reason}; users: {directory.closest(chosen)}"))
        return _entry(coach, chosen, None, "explicit", reason)
    if found.isdisabled:
        reason = f"{chosen} is a disabled user; records it owns could not be written"
        issues.append(OwnerIssue(path, f"{reason}; enabled users: {directory.closest(chosen)}"))
        return _entry(coach, chosen, None, "explicit", reason)
    return _entry(coach, chosen, found.systemuserid, "explicit", f"chosen in the map ({how})")


def _auto_entry(
    coach: Coach, auto: SystemUser | None, how: str, fallback: SystemUser | None
) -> dict[str, Any]:
    origin = "" if coach.in_users else " (named on clients/sessions, not in the users file)"
    if auto is not None and not auto.isdisabled:
        reason = f"matched by {how} to {auto.fullname or auto.name}"
        if not coach.active:
            reason += "; the coach is inactive in the source"
        return _entry(coach, auto.name, auto.systemuserid, "matched", reason + origin)
    if auto is not None:
        why = f"system user {auto.name} is disabled; writes to records it owns would fail"
    elif coach.email:
        why = f"no system user has the email or UPN {coach.email}"
    else:
        why = "the coach has no email to match"
    why += origin
    if fallback is not None:
        return _entry(
            coach, None, None, "fallback", f"{why}; owned by the fallback {fallback.name}"
        )
    status = "disabled" if auto is not None else "unmatched"
    return _entry(
        coach,
        None,
        None,
        status,
        f"{why}; set owners.fallback or owners.coaches.{coach.coach_id}.user",
    )


def _entry(
    coach: Coach, user: str | None, systemuserid: str | None, status: str, reason: str
) -> dict[str, Any]:
    return {
        "email": coach.email,
        "user": user,
        "systemuserid": systemuserid,
        "status": status,
        "reason": reason,
    }
