"""A tenant snapshot as the emulator reads it: the file, checked for its format, and its digest.

The file is the one ``crm-ferry snapshot`` writes (format ``crm-ferry/tenant-snapshot``,
version 1; see :mod:`crm_ferry.snapshot.document`). The emulator reads it on its own (it
shares no code with the client side that wrote it): only the format and version are
checked here; what the definitions and rows mean is read by :mod:`.definitions` and
:mod:`.rows`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from crm_ferry.errors import ConfigError

__all__ = ["FORMAT", "VERSION", "TenantSnapshot", "load_snapshot"]

FORMAT: Final = "crm-ferry/tenant-snapshot"
VERSION: Final = 1
SECTIONS: Final = (
    "tables",
    "global_option_sets",
    "users",
    "teams",
    "business_units",
    "currencies",
    "price_lists",
    "products",
    "units",
    "organization",
    "publishers",
    "solutions",
)
"""What a version 1 snapshot holds besides its header."""


@dataclass(frozen=True, slots=True, eq=False)
class TenantSnapshot:
    """A snapshot read from its file: the document and where it came from."""

    path: Path
    document: Mapping[str, Any]
    digest: str
    """SHA-256 of the document without ``taken_at``: two snapshots of one tenant that
    differ only in when they were taken serve the same tenant."""

    @property
    def tables(self) -> Mapping[str, Any]:
        return dict(self.document["tables"])

    def section(self, name: str) -> Any:
        return self.document[name]


def load_snapshot(path: Path) -> TenantSnapshot:
    """Read and check ``path``; a file that is not a version 1 tenant snapshot is a
    :class:`~crm_ferry.errors.ConfigError` saying what is wrong with it."""
    try:
        document = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no tenant snapshot at {path}") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} is not a readable tenant snapshot: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ConfigError(f"{path} is not a tenant snapshot (format {FORMAT!r})")
    if document.get("version") != VERSION:
        raise ConfigError(
            f"{path} is a version {document.get('version')!r} tenant snapshot; the emulator "
            f"serves version {VERSION}",
            hint="take the snapshot again with this crm-ferry (`crm-ferry snapshot`)",
        )
    lacking = [name for name in SECTIONS if name not in document]
    if lacking:
        raise ConfigError(f"the tenant snapshot {path} has no {', '.join(lacking)}")
    body = {k: v for k, v in document.items() if k != "taken_at"}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()
    return TenantSnapshot(path=path, document=document, digest=digest)
