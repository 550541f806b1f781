"""Choosing the sample: a few hundred records, referentially closed, covering every stratum.

A sample is a set of clients and everything that hangs off them: their household, sessions,
the notes on those sessions, invoices with their lines and payments, activities and files.
Service types are small and always included; coaches are resolved, not loaded.

The clients are chosen so that the sample covers every *stratum* the bundle has: individual
and organization clients, each session status, each invoice status, notes with inline
images, attachments, activities of each kind, custom properties of each type and every kind
of data-quality finding (the planted edge cases of a generated bundle) and of dangling
reference. A greedy cover picks, for each uncovered stratum, the smallest client that covers
the most; then clients are added in a seeded random order until the sample reaches its size.

A dangling reference that hangs off no client (a session of a client missing from the
export, a line of a missing invoice) cannot come with a client: the first few such records
of each kind are sampled on their own. They point to nothing, so the sample stays closed;
the load rejects them, and the report lists them as records not loaded, with the reason.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from crm_ferry.model import (
    Activity,
    Client,
    ClientProperty,
    FileRecord,
    Invoice,
    InvoiceItem,
    Payment,
    Record,
    Session,
    SessionNote,
    User,
)
from crm_ferry.sources.bundle import Bundle
from crm_ferry.sources.discover import SourceDiscovery
from crm_ferry.sources.infer import PropertyInference

CANDIDATE_POOL = 5000
"""Clients considered for the sample (the first ones in the file): bounds the memory."""
DANGLING_PER_KIND = 3
"""Records sampled of each kind of dangling reference that hangs off no client."""
_ALWAYS = frozenset({"service_types", "users"})


@dataclass
class _ClientInfo:
    strata: set[str] = field(default_factory=set)
    size: int = 1


@dataclass(frozen=True, slots=True)
class SampleSelection:
    """The chosen source records by object, and which client covers which stratum."""

    ids: Mapping[str, frozenset[str]]
    coverage: Mapping[str, str]
    """Stratum → the sampled client id that covers it (for a dangling reference that hangs
    off no client: the sampled record, ``<object>/<id>``)."""
    strata: tuple[str, ...]
    """Every stratum the bundle has (within the candidate pool)."""

    @property
    def uncovered(self) -> list[str]:
        return [s for s in self.strata if s not in self.coverage]

    @property
    def size(self) -> int:
        return sum(len(v) for k, v in self.ids.items() if k not in _ALWAYS)

    def includes(self, record: Record) -> bool:
        return self.holds(record.OBJECT, record.id)

    def holds(self, obj: str, source_id: str) -> bool:
        """Whether the source record ``obj``/``source_id`` is in the sample."""
        if obj in _ALWAYS:
            return True
        return source_id in self.ids.get(obj, frozenset())

    def holds_row_of(self, obj: str, source_id: str) -> bool:
        """Whether a row written from ``obj``/``source_id`` belongs to the sample. A row made
        for a group of records (the opportunity of a client, service and currency) has a
        composite source id that starts with the client's id."""
        if self.holds(obj, source_id):
            return True
        head, sep, _ = source_id.partition("/")
        return bool(sep) and self.holds("clients", head)

    def as_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "records": {k: len(v) for k, v in sorted(self.ids.items())},
            "strata": list(self.strata),
            "coverage": dict(sorted(self.coverage.items())),
            "uncovered": self.uncovered,
        }


def _finding_clients(
    discovery: SourceDiscovery | None, owners: Mapping[str, Mapping[str, set[str]]]
) -> dict[str, set[str]]:
    """Finding kind → clients concerned (findings name records of several objects)."""
    out: dict[str, set[str]] = defaultdict(set)
    if discovery is None:
        return out
    for kind, summary in discovery.findings.items():
        index = owners.get(kind.split(".")[0], {})
        for sid in summary.source_ids:
            out[kind].update(index.get(sid, ()))
    return out


def choose_sample(
    bundle: Bundle,
    *,
    size: int = 300,
    seed: int = 1,
    discovery: SourceDiscovery | None = None,
    pool: int = CANDIDATE_POOL,
) -> SampleSelection:
    """Pick a referentially closed, stratified sample of about ``size`` records."""
    clients: dict[str, _ClientInfo] = {}
    family_of: dict[str, str] = {}
    coached: dict[str, set[str]] = defaultdict(set)
    """Coach id or (lower-case) e-mail → the clients they coach."""
    for rec in _records(bundle, "clients"):
        if not isinstance(rec, Client):
            continue
        if len(clients) >= pool:
            break
        info = clients[rec.id] = _ClientInfo()
        info.strata.add(f"client:{rec.type}")
        if rec.family_id:
            family_of[rec.id] = rec.family_id
        for coach in (rec.coach_id, (rec.coach_email or "").strip().lower()):
            if coach:
                coached[coach].add(rec.id)
    for rec in _records(bundle, "users"):
        if isinstance(rec, User) and rec.email:
            coached[rec.id] |= coached.get(rec.email.strip().lower(), set())
    inference = PropertyInference(bundle.manifest.date_format)
    props: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for rec in _records(bundle, "clients"):
        if isinstance(rec, Client) and rec.id in clients:
            for key, value in rec.custom.items():
                inference.add(key, value)
                props[rec.id].append((key, value))
    for rec in _records(bundle, "client_properties"):
        if isinstance(rec, ClientProperty) and rec.client_id in clients:
            inference.add(rec.key_name, rec.value)
            if rec.value:
                props[rec.client_id].append((rec.key_name, rec.value))
    types = inference.types()
    for cid, pairs in props.items():
        for key, value in pairs:
            if value.strip():
                clients[cid].strata.add(f"custom:{types.get(key, 'text')}")

    # Every record that hangs off a sampled-pool client, by object: record id → client id.
    index: dict[str, dict[str, str]] = {}

    def attach(
        obj: str,
        kind: type[Record],
        owner: Callable[[Any], str | None],
        stratum: Callable[[Any], str | None] = lambda r: None,
    ) -> None:
        found = index[obj] = {}
        for rec in _records(bundle, obj):
            if not isinstance(rec, kind):
                continue
            cid = owner(rec)
            if cid is None or cid not in clients:
                continue
            found[rec.id] = cid
            clients[cid].size += 1
            label = stratum(rec)
            if label:
                clients[cid].strata.add(label)

    def via(obj: str, field: str) -> Callable[[Any], str | None]:
        return lambda r: index[obj].get(getattr(r, field) or "")

    def status(prefix: str) -> Callable[[Any], str | None]:
        return lambda r: f"{prefix}:{r.status}" if r.status else None

    attach("sessions", Session, lambda r: r.client_id, status("session_status"))
    attach(
        "session_notes",
        SessionNote,
        via("sessions", "session_id"),
        lambda r: "note:inline_image" if r.body_html and "data:image" in r.body_html else None,
    )
    attach("invoices", Invoice, lambda r: r.client_id, status("invoice_status"))
    attach("invoice_items", InvoiceItem, via("invoices", "invoice_id"))
    attach("payments", Payment, via("invoices", "invoice_id"))
    attach("activities", Activity, lambda r: r.client_id, lambda r: f"activity:{r.kind}")
    attach(
        "files",
        FileRecord,
        lambda r: r.client_id or index["sessions"].get(r.session_id or ""),
        lambda r: "file:attachment" if r.path else None,
    )
    owners: dict[str, dict[str, set[str]]] = {
        "clients": {c: {c} for c in clients},
        "users": coached,
        **{obj: {rid: {cid} for rid, cid in found.items()} for obj, found in index.items()},
    }
    for kind, cids in _finding_clients(discovery, owners).items():
        for cid in cids:
            if cid in clients:
                clients[cid].strata.add(f"finding:{kind}")
    loose: dict[str, list[tuple[str, str]]] = {}
    """Stratum of a dangling reference that hangs off no client → records sampled for it."""
    for kind, dangling in (discovery.dangling if discovery is not None else {}).items():
        obj = kind.split(".")[0]
        stratum = f"dangling:{kind}"
        attached = False
        for sid in dangling.source_ids:
            for cid in owners.get(obj, {}).get(sid, ()):
                clients[cid].strata.add(stratum)
                attached = True
        if not attached and obj in owners and obj != "users":
            loose[stratum] = [(obj, sid) for sid in dangling.source_ids[:DANGLING_PER_KIND]]

    strata = sorted({s for info in clients.values() for s in info.strata} | set(loose))
    chosen: list[str] = []
    coverage: dict[str, str] = {s: f"{recs[0][0]}/{recs[0][1]}" for s, recs in loose.items()}
    uncovered = set(strata) - set(coverage)
    while uncovered:
        best = max(
            (c for c in clients if c not in coverage.values() and c not in chosen),
            key=lambda c: (len(clients[c].strata & uncovered), -clients[c].size, c),
            default=None,
        )
        if best is None or not clients[best].strata & uncovered:
            break
        chosen.append(best)
        for s in clients[best].strata & uncovered:
            coverage[s] = best
        uncovered -= clients[best].strata
    rng = random.Random(seed)
    rest = [c for c in clients if c not in chosen]
    rng.shuffle(rest)
    total = sum(clients[c].size for c in chosen) + sum(len(r) for r in loose.values())
    for cid in rest:
        if total >= size:
            break
        if total + clients[cid].size > size * 1.5:
            continue
        chosen.append(cid)
        total += clients[cid].size

    picked = set(chosen)

    def gather(obj: str) -> frozenset[str]:
        return frozenset(rid for rid, cid in index.get(obj, {}).items() if cid in picked)

    extra: dict[str, set[str]] = defaultdict(set)
    for recs in loose.values():
        for obj, sid in recs:
            extra[obj].add(sid)
    ids = {
        "clients": frozenset(chosen),
        "client_properties": frozenset(f"{c}/{k}" for c in chosen for k, _ in props.get(c, [])),
        "families": frozenset(family_of[c] for c in chosen if c in family_of),
        "sessions": gather("sessions"),
        "session_notes": gather("session_notes"),
        "invoices": gather("invoices"),
        "invoice_items": gather("invoice_items"),
        "payments": gather("payments"),
        "activities": gather("activities"),
        "files": gather("files"),
    }
    for obj, sids in extra.items():
        ids[obj] = ids.get(obj, frozenset()) | sids
    return SampleSelection(ids=ids, coverage=coverage, strata=tuple(strata))


def _records(bundle: Bundle, obj: str) -> Iterable[Record]:
    if obj not in bundle.objects:
        return ()
    return (r for r in bundle.read(obj) if isinstance(r, Record))
