"""What the SharePoint client hands back: a site, a drive (document library), a drive item."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Site:
    id: str
    """``{hostname},{site collection id},{site id}``."""
    name: str
    display_name: str
    web_url: str

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> Site:
        return cls(
            str(body["id"]),
            str(body.get("name") or ""),
            str(body.get("displayName") or body.get("name") or ""),
            str(body.get("webUrl") or ""),
        )


@dataclass(frozen=True, slots=True)
class Drive:
    """A document library, as a drive."""

    id: str
    name: str
    web_url: str

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> Drive:
        return cls(str(body["id"]), str(body.get("name") or ""), str(body.get("webUrl") or ""))


@dataclass(frozen=True, slots=True)
class DriveItem:
    """A folder or a file in a drive."""

    id: str
    drive_id: str
    name: str
    size: int
    folder: bool
    e_tag: str | None = None
    web_url: str | None = None
    parent_id: str | None = None
    quick_xor_hash: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, body: Mapping[str, Any], drive_id: str | None = None) -> DriveItem:
        parent = body.get("parentReference") or {}
        file = body.get("file") or {}
        hashes = file.get("hashes") or {} if isinstance(file, Mapping) else {}
        return cls(
            id=str(body["id"]),
            drive_id=str(parent.get("driveId") or drive_id or ""),
            name=str(body.get("name") or ""),
            size=int(body.get("size") or 0),
            folder="folder" in body or "root" in body,
            e_tag=body.get("eTag"),
            web_url=body.get("webUrl"),
            parent_id=parent.get("id"),
            quick_xor_hash=hashes.get("quickXorHash") if isinstance(hashes, Mapping) else None,
            raw=dict(body),
        )
