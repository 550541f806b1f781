"""Matching clients to contacts and accounts already in the tenant, so they are updated
instead of duplicated.

A practice moving to Dynamics 365 often finds some of its clients already there (typed in
by hand, imported from Outlook). Before a load, the contacts and accounts crm-ferry did not
write are read once; a client whose e-mail address matches exactly one of them (case and
spaces ignored), or failing that whose name and postal code match exactly one, is written
to that row instead of a new one. What the row holds (every column a write may change,
lookups and owner included) is journaled as its before-image, so a rollback restores it
instead of deleting the row.

Ambiguous matches (two rows with the same e-mail) are not guessed: the client gets its own
row and the ambiguity is reported.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.journal import Journal, MatchRow
from crm_ferry.load.images import row_image
from crm_ferry.mapping.spec import MappingSpec
from crm_ferry.model import Client
from crm_ferry.sources.bundle import Bundle
from crm_ferry.transform.ops import target_id

MATCHED_ROLES = ("contact", "account")
MATCHED_COLUMNS = {
    "contact": ("contactid", "emailaddress1", "firstname", "lastname", "address1_postalcode"),
    "account": ("accountid", "emailaddress1", "name", "address1_postalcode"),
}


@dataclass
class Matches:
    """Existing rows chosen for source clients, and their values before the load."""

    ids: dict[tuple[str, str], str] = field(default_factory=dict)
    """(role, client id) → id of the existing row."""
    how: dict[tuple[str, str], str] = field(default_factory=dict)
    ambiguous: list[str] = field(default_factory=list)

    def rows(self) -> list[MatchRow]:
        """The matches as the journal keeps them."""
        return [
            MatchRow(role, sid, rid, self.how.get((role, sid), ""))
            for (role, sid), rid in self.ids.items()
        ]

    def as_dict(self) -> dict[str, Any]:
        by: dict[str, int] = defaultdict(int)
        for reason in self.how.values():
            by[reason] += 1
        return {"matched": len(self.ids), "by": dict(by), "ambiguous": self.ambiguous[:50]}


def _norm(text: Any) -> str:
    return " ".join(str(text or "").lower().split())


def _index(rows: Iterable[Mapping[str, Any]], key: Any) -> dict[Any, list[str]]:
    out: dict[Any, list[str]] = defaultdict(list)
    for row in rows:
        k = key(row)
        if k:
            out[k].append(row["_id"])
    return out


def match_existing(
    client: DataverseClient,
    clients: Iterable[Client],
    *,
    ours: set[str],
    practice_column: str = "new_practiceid",
) -> Matches:
    """Choose existing contacts (individual clients) and accounts (organizations) to update.

    ``ours``: ids of rows crm-ferry writes (deterministic keys), never matched."""
    tenant: dict[str, list[dict[str, Any]]] = {}
    for table, cols in MATCHED_COLUMNS.items():
        select = list(cols)
        if practice_column in client.metadata.columns(table):
            select.append(practice_column)
        rows = []
        for row in client.query(table, select=select):
            rid = str(row[cols[0]]).lower()
            if rid in ours or row.get(practice_column):
                continue  # written by a migration already
            rows.append({**row, "_id": rid})
        tenant[table] = rows
    contacts, accounts = tenant["contact"], tenant["account"]
    by_email = {
        "contact": _index(contacts, lambda r: _norm(r.get("emailaddress1"))),
        "account": _index(accounts, lambda r: _norm(r.get("emailaddress1"))),
    }
    by_name = {
        "contact": _index(
            contacts,
            lambda r: (
                (
                    _norm(r.get("firstname")),
                    _norm(r.get("lastname")),
                    _norm(r.get("address1_postalcode")),
                )
                if r.get("lastname") and r.get("address1_postalcode")
                else None
            ),
        ),
        "account": _index(
            accounts,
            lambda r: (
                (_norm(r.get("name")), _norm(r.get("address1_postalcode")))
                if r.get("name") and r.get("address1_postalcode")
                else None
            ),
        ),
    }
    out = Matches()
    taken: set[str] = set()
    for c in clients:
        role = "account" if c.type == "organization" else "contact"
        table = role
        email = _norm(c.email)
        name_key: tuple[str, ...] | None
        if role == "contact":
            name_key = (
                (_norm(c.first_name), _norm(c.last_name), _norm(c.postal_code))
                if c.last_name and c.postal_code
                else None
            )
        else:
            name_key = (
                (_norm(c.organization), _norm(c.postal_code))
                if c.organization and c.postal_code
                else None
            )
        found: str | None = None
        how = ""
        hits = by_email[table].get(email, []) if email else []
        if len(hits) == 1:
            found, how = hits[0], "email"
        elif len(hits) > 1:
            out.ambiguous.append(f"{c.id}: {len(hits)} {table}s have the e-mail {email}")
        elif name_key is not None:
            named = by_name[table].get(name_key, [])
            if len(named) == 1:
                found, how = named[0], "name and postal code"
            elif len(named) > 1:
                out.ambiguous.append(
                    f"{c.id}: {len(named)} {table}s match its name and postal code"
                )
        if found is None or found in taken:
            continue
        taken.add(found)
        out.ids[(role, c.id)] = found
        out.how[(role, c.id)] = how
    return out


def before_images(
    client: DataverseClient, matches: Matches
) -> list[tuple[MatchRow, str, dict[str, Any]]]:
    """What each newly matched row holds, read from the service: ``(match, table, image)``
    for :meth:`Journal.seed_before_images`. The image (:func:`row_image`) holds every column
    a write may change, lookups and owner included, empty ones as empty, so that a
    rollback gives the row back exactly what it held."""
    rows = matches.rows()
    by_table: dict[str, list[MatchRow]] = defaultdict(list)
    for match in rows:
        by_table[match.role].append(match)
    out = []
    for table, group in by_table.items():
        current = client.retrieve_many(table, [m.row_id for m in group], annotations=True)
        for match in group:
            row = current.get(match.row_id.lower())
            if row is not None:
                out.append((match, table, row_image(client.metadata, table, row)))
    return out


def existing_rows(
    journal: Journal,
    client: DataverseClient,
    spec: MappingSpec,
    bundle: Bundle,
    client_ids: Iterable[str],
) -> dict[str, str]:
    """Our row id → the existing row a client was matched to (earlier runs' matches and
    new ones; new ones are journaled with their before-images)."""
    namespace = journal.namespace
    saved = {(m.role, m.source_id): m.row_id for m in journal.matches()}
    if spec.options.get("match_existing", True) is not False:
        ours = {target_id(namespace, role, cid) for cid in client_ids for role in MATCHED_ROLES}
        fresh = match_existing(
            client,
            (
                c
                for c in bundle.read("clients")
                if isinstance(c, Client)
                and not any((role, c.id) in saved for role in MATCHED_ROLES)
            ),
            ours=ours,
            practice_column=f"{spec.publisher_prefix}_practiceid",
        )
        journal.seed_before_images("match", before_images(client, fresh))
        journal.save_matches(fresh.rows())
        saved.update(fresh.ids)
    return {target_id(namespace, role, sid): rid for (role, sid), rid in saved.items()}


class Remap:
    """Rewrites operations so a matched client's rows go to the existing row's id."""

    def __init__(self, inner: Any, ids: Mapping[str, str]) -> None:
        self.inner = inner
        self.ids = {k.lower(): v for k, v in ids.items()}

    def _value(self, value: Any) -> Any:
        if isinstance(value, str) and value.endswith(")") and "(" in value:
            i = value.rfind("(")
            new = self.ids.get(value[i + 1 : -1].lower())
            return value if new is None else f"{value[: i + 1]}{new})"
        if isinstance(value, list):
            return [self._value(v) for v in value]
        if isinstance(value, dict):
            return {k: self._value(v) for k, v in value.items()}
        return value

    def _op(self, op: Any) -> Any:
        if not self.ids:
            return op
        new_id = self.ids.get(op.id.lower(), op.id)
        payload = {k: self._value(v) for k, v in op.payload.items()}
        if new_id == op.id and payload == dict(op.payload):
            return op
        return dataclasses.replace(op, id=new_id, payload=payload, hash="")

    def transform(self, record: Any) -> Any:
        out = self.inner.transform(record)
        return [self._op(o) if hasattr(o, "payload") else o for o in out]

    def finish(self) -> Any:
        return (self._op(o) for o in self.inner.finish())

    def mark_rejected(self, key: Any) -> None:
        self.inner.mark_rejected(key)

    def take_truncations(self) -> Any:
        return self.inner.take_truncations()

    @property
    def skips(self) -> Any:
        return getattr(self.inner, "skips", [])

    def aggregated(self) -> Any:
        found = getattr(self.inner, "aggregated", None)
        return found() if found is not None else {}
