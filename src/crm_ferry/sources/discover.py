"""Source-side discovery: what is in a bundle, what could not be read, what points nowhere."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crm_ferry.settings import Settings


@dataclass(frozen=True, slots=True)
class ObjectSummary:
    """Counts for one object (one file) of the bundle; ``read == accepted + rejected``."""

    object: str
    file: str | None
    format: str | None
    read: int
    accepted: int
    rejected: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "format": self.format,
            "read": self.read,
            "accepted": self.accepted,
            "rejected": self.rejected,
        }


ID_CAP = 10_000
"""At most this many source ids are kept per dangling kind or finding."""


@dataclass(frozen=True, slots=True)
class DanglingSummary:
    """References of one kind that point nowhere, e.g. ``sessions.client_id -> clients``.

    Kinds are named ``<object>.<field> -> <target object>``.
    """

    kind: str
    count: int
    source_ids: tuple[str, ...] = ()
    """Ids of the referencing records (first :data:`ID_CAP`), in file order."""
    examples: tuple[str, ...] = ()
    """A few ``<file>:<line> <id> -> <missing id>`` strings."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "source_ids": list(self.source_ids),
            "examples": list(self.examples),
        }


FINDING_KINDS: dict[str, str] = {
    "clients.missing_email": "client without an email address",
    "clients.duplicate_email": "client whose email is also another client's (case-insensitive)",
    "clients.full_name_only": "client named only by full_name (first/last split by the reader)",
    "clients.non_ascii_name": "client whose name has characters outside ASCII",
    "clients.name_punctuation": "client whose name has an apostrophe or a comma",
    "users.inactive_with_clients": "user that is not active but is the coach of some client",
    "session_notes.inline_images": "note whose body holds inline data: images",
    "invoices.items_total_mismatch": "invoice whose items do not sum to its total_amount",
    "files.over_upload_limit": "file larger than 5,242,880 bytes once base64-encoded",
    "files.linked": "file given by url only, not inside the bundle",
    "files.missing_in_bundle": "file whose path is not inside the bundle",
}
"""Data-quality findings discovery reports (not rejects: the rows are valid) by kind."""


@dataclass(frozen=True, slots=True)
class FindingSummary:
    kind: str
    count: int
    source_ids: tuple[str, ...] = ()
    """Ids of the records concerned (first :data:`ID_CAP`), in file order."""

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "source_ids": list(self.source_ids)}


@dataclass(frozen=True, slots=True)
class SourceDiscovery:
    source: str
    manifest: dict[str, Any]
    objects: dict[str, ObjectSummary]
    dangling: dict[str, DanglingSummary]
    findings: dict[str, FindingSummary]
    custom_properties: dict[str, str]
    """Custom property key -> inferred type (date, number, boolean, choice, text)."""
    top_reject_reasons: list[tuple[str, int]] = field(default_factory=list)
    rejects_path: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "manifest": self.manifest,
            "objects": {k: v.as_dict() for k, v in self.objects.items()},
            "dangling": {k: v.as_dict() for k, v in self.dangling.items()},
            "findings": {k: v.as_dict() for k, v in self.findings.items()},
            "custom_properties": dict(self.custom_properties),
            "top_reject_reasons": [{"reason": r, "count": n} for r, n in self.top_reject_reasons],
            "rejects_path": self.rejects_path,
        }


def discover_source(
    source: Path, settings: Settings, *, rejects_path: Path | None = None
) -> SourceDiscovery:
    """Read the whole bundle once, streaming, and summarise it."""
    raise NotImplementedError
