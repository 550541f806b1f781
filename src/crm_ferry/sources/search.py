"""An index of a bundle's records for finding one: (object, id, display name) of every
record, what it refers to, and what refers to it.

The review page's preview searches it by id or name (:meth:`SourceIndex.search`), lists a
record's children from it (a client's sessions, invoices, notes) and knows from it which
ids the reader rejected. It is built in one pass over the bundle (:func:`index_bundle`) and
kept while the bundle's files stay as they are (:func:`bundle_signature`); a search is a
scan of one list of lower-case strings, a few milliseconds for a 5,000-client practice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from crm_ferry.model import Client, Record, RecordKey, Reject, Session, User
from crm_ferry.sources.bundle import Bundle

__all__ = [
    "PARENT_FIELDS",
    "Entry",
    "SourceIndex",
    "bundle_signature",
    "display_name",
    "index_bundle",
    "parents_of",
]

PARENT_FIELDS: Final[Mapping[str, str]] = {
    "family_id": "families",
    "client_id": "clients",
    "service_type_id": "service_types",
    "package_id": "packages",
    "session_id": "sessions",
    "invoice_id": "invoices",
    "group_id": "groups",
    "coach_id": "users",
    "author_id": "users",
}
"""Reference field → the object it points to (the contract's foreign keys)."""

_NAME_FIELDS: Final = ("name", "title", "subject", "number", "filename", "description")
"""Fields that name a record of another object, the first one set wins."""

SEARCH_LIMIT: Final = 50
"""Results a search returns at most."""


def display_name(record: Record) -> str:
    """What a person calls ``record``: a client's or a user's name, a session's type and
    date, else its name, title, subject, number, file name or description ('' if none)."""
    if isinstance(record, Client):
        name = record.display_name
        if record.organization and record.organization not in name:
            name = f"{name} ({record.organization})"
        return name
    if isinstance(record, User):
        person = " ".join(p for p in (record.first_name, record.last_name) if p)
        return person or record.email or ""
    if isinstance(record, Session):
        day = record.start_at.date().isoformat() if record.start_at is not None else ""
        return " ".join(p for p in (record.session_type or "session", day) if p)
    for name in _NAME_FIELDS:
        value = getattr(record, name, None)
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())[:120]
    return ""


def parents_of(record: Record) -> tuple[RecordKey, ...]:
    """The records ``record`` refers to, by its reference fields (:data:`PARENT_FIELDS`)."""
    keys = []
    for name, obj in PARENT_FIELDS.items():
        value = getattr(record, name, None)
        if isinstance(value, str) and value:
            keys.append(RecordKey(obj, value))
    return tuple(keys)


@dataclass(frozen=True, slots=True)
class Entry:
    """One record of the bundle, as the index knows it."""

    key: RecordKey
    name: str
    kind: str | None = None
    """A client's type (``individual``, ``organization``), an activity's kind, else None."""
    parents: tuple[RecordKey, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "object": self.key.object,
            "id": self.key.id,
            "name": self.name,
            "kind": self.kind,
            "parents": [{"object": p.object, "id": p.id} for p in self.parents],
        }


@dataclass
class SourceIndex:
    """Every record of a bundle by key, its children, and the ids the reader rejected."""

    entries: dict[RecordKey, Entry] = field(default_factory=dict)
    children: dict[RecordKey, list[RecordKey]] = field(default_factory=dict)
    rejected: dict[RecordKey, Reject] = field(default_factory=dict)
    """Records the reader refused (their id was readable): the first reject of each."""
    _haystack: list[tuple[str, Entry]] = field(default_factory=list, repr=False)

    def add(self, entry: Entry) -> None:
        if entry.key in self.entries:  # a duplicate id: the first row is the record
            return
        self.entries[entry.key] = entry
        self._haystack.append((f"{entry.key.id}\t{entry.name}".casefold(), entry))
        for parent in entry.parents:
            self.children.setdefault(parent, []).append(entry.key)

    def get(self, key: RecordKey) -> Entry | None:
        return self.entries.get(key)

    def counts(self) -> dict[str, int]:
        """Records per object."""
        out: dict[str, int] = {}
        for key in self.entries:
            out[key.object] = out.get(key.object, 0) + 1
        return out

    def search(
        self, text: str, *, objects: Iterable[str] = (), limit: int = SEARCH_LIMIT
    ) -> list[Entry]:
        """Records whose id or name holds ``text`` (any case; every word of it), an exact
        id first, then ids and names that start with it, then the rest; only of
        ``objects`` when given."""
        words = text.casefold().split()
        if not words:
            return []
        wanted = frozenset(objects)
        whole = " ".join(words)
        ranked: list[tuple[int, int, Entry]] = []
        for n, (hay, entry) in enumerate(self._haystack):
            if wanted and entry.key.object not in wanted:
                continue
            if not all(w in hay for w in words):
                continue
            ident, _, name = hay.partition("\t")
            if ident == whole:
                rank = 0
            elif ident.startswith(whole) or name.startswith(whole):
                rank = 1
            else:
                rank = 2
            ranked.append((rank, n, entry))
        ranked.sort(key=lambda r: (r[0], r[1]))
        return [entry for _, _, entry in ranked[:limit]]

    def of_object(self, obj: str) -> Iterator[Entry]:
        return (e for k, e in self.entries.items() if k.object == obj)

    def children_of(self, key: RecordKey) -> list[Entry]:
        """The records that refer to ``key`` (a client's sessions, invoices, notes…)."""
        return [self.entries[k] for k in self.children.get(key, ())]


def _kind(record: Record) -> str | None:
    value = getattr(record, "type", None) if isinstance(record, Client) else None
    value = value or getattr(record, "kind", None)
    return value if isinstance(value, str) else None


def index_bundle(bundle: Bundle) -> SourceIndex:
    """Every record of every object ``bundle`` reads, in one pass."""
    index = SourceIndex()
    for obj in bundle.objects:
        for item in bundle.read(obj):
            if isinstance(item, Reject):
                key = RecordKey(item.object, item.source_id) if item.source_id else None
                if key is not None and key not in index.entries:
                    index.rejected.setdefault(key, item)
                continue
            index.add(Entry(item.key, display_name(item), _kind(item), parents_of(item)))
    return index


def bundle_signature(path: Path) -> tuple[tuple[str, int, int], ...]:
    """The names, sizes and modification times of a bundle's files (a zip: of the zip;
    a folder: of the files at its top, the data, not the attachments below): it changes
    whenever an export is replaced or edited, and costs a few ``stat`` calls."""
    if path.is_file():
        st = path.stat()
        return ((path.name, st.st_size, st.st_mtime_ns),)
    out = []
    for child in sorted(path.iterdir()):
        if child.is_file():
            st = child.stat()
            out.append((child.name, st.st_size, st.st_mtime_ns))
    return tuple(out)
