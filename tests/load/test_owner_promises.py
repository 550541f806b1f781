"""Owners and notes, record by record, after ``migrate`` of a hand-written practice: every
row is owned by its coach's system user, found by coach id or by coach e-mail (any case, a
UPN too), a row without a coach of its own by its client's or session's, the rest by the
fallback; notes by their session's owner, their subject the seed's ``<date> Session Note``.

And the same promise as a property over generated bundles: whatever the generator plants,
every row of a client whose coach is a matched system user is owned by that user, every
other by the fallback.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_ferry import commands
from crm_ferry.commands.emulator import embedded_client
from crm_ferry.commands.migrate import run_load
from crm_ferry.emulator import EmulatorApp
from crm_ferry.model import Activity, Client, FileRecord, Session, SessionNote, User
from crm_ferry.settings import Settings
from crm_ferry.sources.bundle import open_bundle
from helpers.project import build_provisioned
from helpers.promises import FALLBACK, Rows, Tenant, confirmed_project, copy_bundle, owners_tenant

CLIENT_OWNERS = {"C1": "ada", "C2": "ben", "C3": "cleo", "C4": "ada", "C5": "eve", "C6": "fallback"}
SESSION_OWNERS = {
    "S1": "ada",  # coach_id
    "S2": "ben",  # coach_email
    "S3": "ben",  # no coach: its client's, named by e-mail
    "S4": "cleo",  # coach_email in upper case, the user's UPN
    "S5": "ada",  # no coach: the organization client's, by e-mail
    "S6": "eve",  # no coach: its client's, a coach only the clients file names
    "S7": "fallback",  # no coach anywhere
}
NOTES = {
    "N1": ("ada", "2024-03-05 Session Note: Kick-off"),
    "N2": ("ben", "2024-03-13 Session Note"),
    "N3": ("cleo", "2024-03-07 Session Note: Values exercise"),
    "N4": ("ada", "2024-07-08 Session Note: Agenda"),
    "N5": ("fallback", "2024-03-10 Session Note: Intake"),
}
ACTIVITIES = {
    "A1": ("activity_call", "ben"),  # coach_id
    "A2": ("activity_email", "cleo"),  # none: its client's (by e-mail, a UPN)
    "A3": ("activity_meeting", "ada"),  # none: the organization's coach
    "A4": ("activity_call", "eve"),  # none: its client's
}


def _owner(tenant: Tenant, row: Mapping[str, Any]) -> str | None:
    return tenant.who(row.get("ownerid"))


def _assert_owners(rows: Rows, tenant: Tenant, clients: Mapping[str, str]) -> None:
    got = {cid: _owner(tenant, rows.row("contact", cid)) for cid in clients}
    assert got == dict(clients)
    if "C4" in clients:
        assert _owner(tenant, rows.row("account", "C4")) == "ada"
    sessions = {sid: who for sid, who in SESSION_OWNERS.items() if who in clients.values()}
    got = {sid: _owner(tenant, rows.row("session", sid)) for sid in sessions}
    assert got == sessions
    for nid, (who, subject) in NOTES.items():
        if who not in clients.values():
            continue
        note = rows.row("note", nid)
        assert (_owner(tenant, note), note["subject"]) == (who, subject), nid
    got = {aid: _owner(tenant, rows.row(role, aid)) for aid, (role, _) in ACTIVITIES.items()}
    assert got == {aid: who for aid, (_, who) in ACTIVITIES.items()}
    # the won opportunities of the paid sessions: owned by their sessions' owner
    for cid, who in (("C1", "ada"), ("C2", "ben")):
        contact = rows.row("contact", cid)["contactid"]
        opps = [r for r in rows.dump["opportunity"] if r.get("customerid") == contact]
        assert opps, cid
        assert {_owner(tenant, r) for r in opps} == {who}


def test_owners_follow_the_coach_by_id_or_email_and_notes_keep_the_seed_subject(
    tmp_path: Path, journal_home: Callable[[Path], Settings]
) -> None:
    bundle = copy_bundle(tmp_path / "bundle")
    with owners_tenant(tmp_path / "data") as tenant:
        confirmed = confirmed_project(tmp_path, bundle, tenant, fallback=FALLBACK)
        project = journal_home(confirmed.project_dir)
        result = run_load(project, client=tenant.client, skip_sample_gate=True)
        assert result.ok
        assert {obj: c.rejected for obj, c in result.objects.items() if c.rejected} == {}
        _assert_owners(Rows(project, tenant), tenant, CLIENT_OWNERS)


def test_every_coach_invited_and_no_fallback_loads_every_row(
    tmp_path: Path, journal_home: Callable[[Path], Settings]
) -> None:
    """Every row names a coach (itself or through its client) who is a system user: the map
    needs no fallback, checks clean, and migrate rejects nothing for want of an owner."""
    bundle = copy_bundle(tmp_path / "bundle", without_clients=["C6"])
    with owners_tenant(tmp_path / "data") as tenant:
        confirmed = confirmed_project(tmp_path, bundle, tenant, fallback=None)
        project = journal_home(confirmed.project_dir)
        checked = commands.map_check(project, client=tenant.client)
        assert [str(p) for p in checked.problems] == []
        result = run_load(project, client=tenant.client, skip_sample_gate=True)
        assert result.ok
        assert {obj: c.rejected for obj, c in result.objects.items() if c.rejected} == {}
        assert result.objects["clients"].written == 5
        clients = {k: v for k, v in CLIENT_OWNERS.items() if k != "C6"}
        _assert_owners(Rows(project, tenant), tenant, clients)


# ---------------------------------------------------------------------------------------
# The property over generated bundles


def _norm(address: str | None) -> str:
    return (address or "").strip().lower()


class _Oracle:
    """Who should own each row, worked out from the export and the tenant's users alone:
    the coach's e-mail (the users file's, else the row's coach_email) matched against the
    users' e-mail, then their UPN; an enabled user owns, else the fallback."""

    def __init__(self, bundle: Path, users: list[dict[str, Any]], fallback: str) -> None:
        self.fallback = fallback
        self.by_email: dict[str, list[dict[str, Any]]] = {}
        self.by_upn: dict[str, list[dict[str, Any]]] = {}
        for u in users:
            if u.get("internalemailaddress"):
                self.by_email.setdefault(_norm(u["internalemailaddress"]), []).append(u)
            if u.get("domainname"):
                self.by_upn.setdefault(_norm(u["domainname"]), []).append(u)
        self.records: dict[str, dict[str, Any]] = {}
        with open_bundle(bundle) as b:
            for obj in ("users", "clients", "sessions", "session_notes", "activities", "files"):
                if obj in b.objects:
                    self.records[obj] = {r.id: r for r in b.read(obj) if hasattr(r, "id")}
        self.coach_mail = {
            uid: u.email for uid, u in self.records["users"].items() if isinstance(u, User)
        }

    def user_of(self, coach_id: str | None, coach_email: str | None) -> str | None:
        """The enabled system user of a coach (None: no coach, or none matched)."""
        for key, email in ((coach_id, None), (None, coach_email)):
            address = self.coach_mail.get(key or "") if key else email
            if not address:
                continue
            found = self.by_email.get(_norm(address)) or self.by_upn.get(_norm(address)) or []
            enabled = [u for u in found if not u.get("isdisabled")]
            if enabled:
                return str(enabled[0]["systemuserid"])
        return None

    def named(self, coach_id: str | None, coach_email: str | None) -> bool:
        return bool((coach_id or "").strip() or (coach_email or "").strip())

    def client(self, cid: str | None) -> str:
        c = self.records["clients"].get(cid or "")
        assert isinstance(c, Client)
        return self.user_of(c.coach_id, c.coach_email) or self.fallback

    def session(self, sid: str | None) -> str:
        s = self.records["sessions"].get(sid or "")
        assert isinstance(s, Session)
        if self.named(s.coach_id, s.coach_email):
            return self.user_of(s.coach_id, s.coach_email) or self.fallback
        return self.client(s.client_id)

    def activity(self, a: Activity) -> str:
        if self.named(a.coach_id, None):
            return self.user_of(a.coach_id, None) or self.fallback
        return self.client(a.client_id)


@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(1, 10_000), clients=st.integers(12, 40))
def test_every_row_of_a_matched_coach_is_owned_by_that_user(
    tmp_path_factory: Any, journal_home: Callable[[Path], Settings], seed: int, clients: int
) -> None:
    base = tmp_path_factory.mktemp(f"owners-{seed}-{clients}")
    build_provisioned(base, clients=clients, seed=seed)
    project = journal_home(base / "project")
    with EmulatorApp(data_dir=base / "data") as app, embedded_client(app) as client:
        assert run_load(project, client=client, skip_sample_gate=True).state == "done"
        users = list(client.query("systemuser"))
        fallback = next(
            str(u["systemuserid"])
            for u in users
            if _norm(u.get("internalemailaddress")) == "casey.coach@crmferry.onmicrosoft.com"
        )
        oracle = _Oracle(base / "bundle", users, fallback)
        rows = Rows(project, Tenant(app, client, {}))
    checked = {"clients": 0, "sessions": 0, "notes": 0, "activities": 0, "matched": 0}
    for cid, c in oracle.records["clients"].items():
        assert isinstance(c, Client)
        expected = oracle.client(cid)
        for role in ("contact", "account"):
            row = rows.get(role, cid)
            if row is not None:
                assert str(row["ownerid"]).lower() == expected.lower(), (role, cid)
                checked["clients"] += 1
                checked["matched"] += expected != fallback
    for sid in oracle.records["sessions"]:
        row = rows.get("session", sid)
        if row is not None:
            assert str(row["ownerid"]).lower() == oracle.session(sid).lower(), sid
            checked["sessions"] += 1
    for nid, n in oracle.records["session_notes"].items():
        assert isinstance(n, SessionNote)
        row = rows.get("note", nid)
        if row is not None:
            assert str(row["ownerid"]).lower() == oracle.session(n.session_id).lower(), nid
            checked["notes"] += 1
    for aid, a in oracle.records["activities"].items():
        assert isinstance(a, Activity)
        found = [
            rows.get(role, aid) for role in ("activity_call", "activity_email", "activity_meeting")
        ]
        for row in (r for r in found if r is not None):
            assert str(row["ownerid"]).lower() == oracle.activity(a).lower(), aid
            checked["activities"] += 1
    for fid, f in oracle.records.get("files", {}).items():
        assert isinstance(f, FileRecord)
        row = rows.get("attachment", fid)
        if row is None:
            continue
        expected = oracle.session(f.session_id) if f.session_id else oracle.client(f.client_id)
        assert str(row["ownerid"]).lower() == expected.lower(), fid
    assert all(checked.values()), checked
