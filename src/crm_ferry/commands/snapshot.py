"""``crm-ferry snapshot``: the configured tenant's metadata, users and settings in one file.

It reads, through the project's own client and nothing else, the definitions of every
table the map touches (its targets, and the tables every load needs besides them:
:data:`~crm_ferry.transform.schema.EXTRA_TABLES`) and of the tables they relate to, one
level out; the users, teams, business units, currencies, price lists and their products,
the organization settings crm-ferry consults, publishers and solutions
(:mod:`crm_ferry.snapshot`). It writes ``tenant-snapshot.json`` in the project folder (or
``out``). Without a ``mapping.yaml`` the default map's tables are read, as ``discover``
audits the tenant against the default map.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crm_ferry import __version__
from crm_ferry.commands._project import connected, map_file, require_environment
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.dataverse.errors import NotFound, PrivilegeError
from crm_ferry.mapping.defaults import default_targets
from crm_ferry.mapping.spec import MapDocument
from crm_ferry.progress import NO_PROGRESS, Progress
from crm_ferry.settings import Settings
from crm_ferry.snapshot import (
    SNAPSHOT_FILE,
    counts,
    read_directory,
    read_tables,
    snapshot_document,
    write_snapshot,
)
from crm_ferry.transform.schema import EXTRA_TABLES

__all__ = ["SnapshotResult", "snapshot"]


@dataclass(frozen=True, slots=True)
class SnapshotResult:
    """Where the snapshot went and what it holds."""

    path: Path
    environment_url: str
    taken_at: str
    map_source: str
    """``mapping.yaml``, or ``the default map`` when the project has none yet."""
    counts: Mapping[str, int] = field(default_factory=dict)
    absent: tuple[str, ...] = ()
    """Tables the tenant does not have that the snapshot would have read (left out)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "environment_url": self.environment_url,
            "taken_at": self.taken_at,
            "map": self.map_source,
            "counts": dict(self.counts),
            "absent": list(self.absent),
        }


def snapshot(
    settings: Settings,
    *,
    out: Path | None = None,
    client: DataverseClient | None = None,
    progress: Progress = NO_PROGRESS,
) -> SnapshotResult:
    """Read the configured tenant and write its snapshot; see the module's docstring.

    ``client`` (tests, the demo) replaces the one built from the settings. A table the map
    writes that the tenant lacks is a :class:`NotFound` naming it; a read the application
    user may not make is a :class:`PrivilegeError` naming what could not be read."""
    if client is None:
        require_environment(settings)
    required, optional, source = _map_tables(settings)
    path = settings.resolve(out) if out is not None else settings.project_dir / SNAPSHOT_FILE
    with connected(settings, client) as dv:
        with _reading("the table definitions"):
            reading = read_tables(dv, sorted(required | optional), progress=progress)
        _check_required(reading.missing, required, source)
        with _reading("the users, currencies, price lists and settings"):
            directory = read_directory(dv, progress=progress)
        url = dv.url
    taken_at = datetime.now(UTC).isoformat(timespec="seconds")
    document = snapshot_document(
        environment_url=url,
        taken_at=taken_at,
        crm_ferry_version=__version__,
        map_tables=sorted(required | optional),
        tables=reading.tables,
        global_option_sets=reading.global_option_sets,
        directory=directory,
    )
    write_snapshot(document, path)
    return SnapshotResult(
        path=path,
        environment_url=document["environment_url"],
        taken_at=taken_at,
        map_source=source,
        counts=counts(document),
        absent=tuple(sorted({*reading.missing, *directory["absent"]})),
    )


def _map_tables(settings: Settings) -> tuple[set[str], set[str], str]:
    """(tables the map writes and does not create, the other tables to read if the tenant
    has them, where the map came from). The map need not be confirmed: a snapshot is taken
    before provisioning as well as after, so a table the map creates may be missing."""
    path = map_file(settings)
    prefix = settings.publisher_prefix
    if path.is_file():
        spec = MapDocument.load(path).spec()
        targets = [t for t in spec.targets.values() if t.enabled]
        written = {t.table for t in targets}
        created = {t.table for t in targets if t.create is not None}
        source = path.name
    else:
        written = {t.table for t in default_targets(prefix)}
        created = {t for t in written if t.startswith(f"{prefix}_")}
        source = "the default map"
    required = written - created
    return required, (created | set(EXTRA_TABLES)) - required, source


def _check_required(missing: tuple[str, ...], required: set[str], source: str) -> None:
    """A table the map writes but does not create must be in the tenant."""
    lacking = sorted(set(missing) & required)
    if lacking:
        raise NotFound(
            f"the tenant has no table {', '.join(lacking)}, which {source} writes",
            hint=f"check the target tables in {source} (a custom table the map should create "
            "needs its `create:` block; invoice comes with Dynamics 365 Sales), then run "
            "`crm-ferry snapshot` again",
        )


@contextmanager
def _reading(what: str) -> Iterator[None]:
    """A 403 while reading ``what`` becomes an error naming it and the fix."""
    try:
        yield
    except PrivilegeError as exc:
        raise PrivilegeError(
            f"the snapshot could not read {what}: {exc.detail}",
            method=exc.method,
            url=exc.url,
            status=exc.status,
            code=exc.code,
            hint="give the application user a security role that reads table definitions "
            "and these tables (System Customizer does, with Basic User for the rest), then "
            "run `crm-ferry snapshot` again",
        ) from exc
