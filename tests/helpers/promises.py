"""The hand-written bundles of ``tests/cases/promises/``, and a tenant and a project for them.

``owners/`` holds a small practice whose clients name their coach by id, by e-mail (in
another case than the users file), by an address that is only a system user's UPN, by the
e-mail of a coach who is not in the users file, or not at all; sessions and activities with
and without a coach of their own; notes with and without a title (its ``README.md`` lists
each situation). :func:`owners_tenant` invites its coaches the way the situations need.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crm_ferry import commands
from crm_ferry.commands._project import open_journal
from crm_ferry.commands.emulator import embedded_client
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.emulator import EmulatorApp
from crm_ferry.mapping.spec import MapDocument
from crm_ferry.settings import Settings
from crm_ferry.transform.ops import target_id

CASES = Path(__file__).resolve().parents[1] / "cases" / "promises"
OWNERS_BUNDLE = CASES / "owners"
FALLBACK = "alex.admin@crmferry.onmicrosoft.com"
"""A seeded user of every emulated tenant."""

COACHES: Mapping[str, tuple[str, str, str, str | None]] = {
    "ada": ("Ada", "Coach", "ada.coach@practice.example", None),
    "ben": ("Ben", "Coach", "ben.coach@practice.example", None),
    # invited under another mailbox: the practice address is only her UPN
    "cleo": ("Cleo", "Coach", "cleo@crmferry.onmicrosoft.com", "cleo.coach@practice.example"),
    "dana": ("Dana", "Owner", "dana.owner@practice.example", None),
    # not in the users file: clients name her by e-mail only
    "eve": ("Eve", "Freelance", "eve.freelance@partner.example", None),
}
"""Who the administrator invited: key → (first, last, e-mail, UPN)."""


@dataclass
class Tenant:
    app: EmulatorApp
    client: DataverseClient
    users: dict[str, str]
    """Coach key (and ``fallback``) → systemuserid."""

    def who(self, systemuserid: Any) -> str | None:
        """The key of the user with that id (None: no such user)."""
        wanted = str(systemuserid or "").lower()
        return next((k for k, v in self.users.items() if v.lower() == wanted), None)


@contextmanager
def owners_tenant(
    data_dir: Path | None = None, *, invite: Iterable[str] = COACHES
) -> Iterator[Tenant]:
    """An emulated tenant whose administrator invited the ``invite`` coaches."""
    with EmulatorApp(data_dir=data_dir) as app, embedded_client(app) as client:
        users = {}
        for key in invite:
            first, last, email, upn = COACHES[key]
            users[key] = app.add_user(first, last, email, upn=upn)
        admin = client.query(
            "systemuser",
            select=("systemuserid",),
            filter=f"internalemailaddress eq '{FALLBACK}'",
        )
        users["fallback"] = str(next(iter(admin))["systemuserid"])
        yield Tenant(app, client, users)


def copy_bundle(dst: Path, *, without_clients: Iterable[str] = ()) -> Path:
    """A copy of the owners bundle, without the rows of ``without_clients`` (and of their
    sessions, notes and activities)."""
    shutil.copytree(OWNERS_BUNDLE, dst)
    (dst / "README.md").unlink(missing_ok=True)
    drop = set(without_clients)
    if not drop:
        return dst
    _filter_csv(dst / "clients.csv", lambda r: r["id"] not in drop)
    dropped_sessions = {r["id"] for r in _read_csv(dst / "sessions.csv") if r["client_id"] in drop}
    _filter_csv(dst / "sessions.csv", lambda r: r["client_id"] not in drop)
    _filter_jsonl(
        dst / "session_notes.jsonl",
        lambda r: r.get("client_id") not in drop and r.get("session_id") not in dropped_sessions,
    )
    _filter_jsonl(dst / "activities.jsonl", lambda r: r.get("client_id") not in drop)
    return dst


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _filter_csv(path: Path, keep: Any) -> None:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header = list(reader.fieldnames or ())
        rows = [r for r in reader if keep(r)]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _filter_jsonl(path: Path, keep: Any) -> None:
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    kept = [ln for ln in lines if keep(json.loads(ln))]
    path.write_text("".join(f"{ln}\n" for ln in kept), encoding="utf-8")


def proposed_project(base: Path, bundle: Path, tenant: Tenant, *, fallback: str | None) -> Settings:
    """A project on ``bundle``, its map proposed as is, with ``fallback`` as the only
    decision a person made."""
    commands.init(Settings.load(base), directory=base / "project", source=str(bundle))
    settings = Settings.load(base / "project")
    commands.map_propose(settings, client=tenant.client)
    if fallback is not None:
        doc = MapDocument.load(settings.project_dir / "mapping.yaml")
        doc.data["owners"]["fallback"] = fallback
        doc.save()
    return settings


def confirmed_project(
    base: Path, bundle: Path, tenant: Tenant, *, fallback: str | None
) -> Settings:
    """:func:`proposed_project`, confirmed and provisioned."""
    settings = proposed_project(base, bundle, tenant, fallback=fallback)
    commands.map_confirm(settings, by="tests", client=tenant.client, accept_low_confidence=True)
    commands.provision(settings, client=tenant.client)
    return settings


class Rows:
    """The tenant's rows after a load, found by the source record they came from."""

    def __init__(self, settings: Settings, tenant: Tenant) -> None:
        with open_journal(settings) as journal:
            self.namespace = journal.namespace
        self.dump: dict[str, list[dict[str, Any]]] = dict(tenant.app.dump()["records"])
        self._by_id: dict[str, dict[str, Any]] = {}
        for table, rows in self.dump.items():
            key = f"{table}id"
            for row in rows:
                rid = row.get(key) or row.get("activityid")
                if rid:
                    self._by_id[str(rid).lower()] = row

    def get(self, role: str, source_id: str) -> dict[str, Any] | None:
        return self._by_id.get(target_id(self.namespace, role, source_id).lower())

    def row(self, role: str, source_id: str) -> dict[str, Any]:
        found = self.get(role, source_id)
        assert found is not None, f"no {role} row for {source_id}"
        return found

    def by_id(self, row_id: Any) -> dict[str, Any] | None:
        return self._by_id.get(str(row_id or "").lower())
