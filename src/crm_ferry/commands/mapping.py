"""``crm-ferry init`` and ``crm-ferry map propose|show|check|confirm``.

* :func:`init` creates a migration project (``ferry.toml`` without secrets, ``.gitignore``,
  an owner-only ``runs/``);
* :func:`map_propose` profiles the source, reads the tenant's metadata, proposes, resolves
  owners, fingerprints, merges with an existing ``mapping.yaml`` and saves it;
* :func:`map_show` lists the decisions, the doubtful ones first;
* :func:`map_check` lists every problem with its place in the file (:func:`check_document`
  on what :func:`read_check_inputs` read: a user interface may keep those between checks);
* :func:`map_confirm` refuses while errors or unresolved owners remain, and while lines under
  the confirm threshold remain that the person did not accept (:class:`LowConfidence`),
  else stamps the target fingerprint and marks the map confirmed by a person at a UTC time.

A client can be passed (tests and the demo pass one wired to the embedded emulator);
otherwise one is built from the settings and closed afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from crm_ferry.commands._project import (
    connected,
    downloads_folder,
    init_source,
    map_file,
    source_path,
)
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.dataverse.metadata import Metadata
from crm_ferry.errors import MapError
from crm_ferry.mapping.check import check_map
from crm_ferry.mapping.fingerprint import MetadataReader, source_fingerprint, target_fingerprint
from crm_ferry.mapping.matcher import propose
from crm_ferry.mapping.merge import (
    load_last_proposal,
    merge_proposal,
    plain_value,
    save_last_proposal,
)
from crm_ferry.mapping.names import check_prefix
from crm_ferry.mapping.owners import (
    Coach,
    OwnerUsage,
    SystemUser,
    collect_coaches,
    fetch_system_users,
    resolve_owners,
)
from crm_ferry.mapping.owners_section import dedupe, owner_problems, refresh_owners
from crm_ferry.mapping.profile import SourceProfile, profile_source
from crm_ferry.mapping.spec import MapDocument, MappingSpec, Problem
from crm_ferry.settings import CONFIG_FILE, Settings
from crm_ferry.sources.bundle import open_bundle
from crm_ferry.sources.downloads import LinkedSummary, linked_summary

__all__ = [
    "CheckInputs",
    "CheckResult",
    "ConfirmResult",
    "InitResult",
    "LowConfidence",
    "MapLine",
    "ProposeResult",
    "Proposer",
    "ShowResult",
    "below_threshold",
    "check_document",
    "init",
    "map_check",
    "map_confirm",
    "map_lines",
    "map_propose",
    "map_show",
    "read_check_inputs",
    "read_linked_files",
    "read_source",
]

Proposer = Callable[[SourceProfile, Metadata, str], Mapping[str, Any]]
"""(profile, metadata, publisher prefix) → a plain map document (owners and fingerprint
left for :func:`map_propose` to fill)."""


# ---------------------------------------------------------------------------
# Shared pieces


def read_source(
    settings: Settings,
    source: Path | None = None,
    *,
    samples: int = 5,
    usage: OwnerUsage | None = None,
) -> tuple[SourceProfile, list[Coach]]:
    """The source profile and the coaches of the configured bundle (one open); with
    ``usage``, the rows each coach owns are counted into it."""
    path = source_path(settings, source)
    with open_bundle(
        path, column_map=settings.column_map, line_limit=settings.line_limit
    ) as bundle:
        profile = profile_source(bundle, samples=samples)
        coaches = collect_coaches(bundle, usage)
    return profile, coaches


def _default_proposer(profile: SourceProfile, metadata: Metadata, prefix: str) -> Mapping[str, Any]:
    return propose(profile, metadata, prefix=prefix).document


# ---------------------------------------------------------------------------
# propose


@dataclass(frozen=True, slots=True)
class ProposeResult:
    path: Path
    created: bool
    """True when there was no map before (nothing to merge)."""
    diff: tuple[str, ...]
    kept: tuple[str, ...]
    """The person's edits kept although the new proposal differs there."""
    status: str
    owners: Mapping[str, int]
    """Coaches per owner status (matched, disabled, unmatched, explicit, fallback)."""
    unresolved: tuple[str, ...]
    problems: tuple[Problem, ...]
    fingerprint: Mapping[str, str | None]
    fields: int
    below_threshold: int
    had_base: bool = True

    @property
    def changed(self) -> bool:
        return self.created or bool(self.diff)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "created": self.created,
            "changed": self.changed,
            "status": self.status,
            "diff": list(self.diff),
            "kept": list(self.kept),
            "owners": dict(self.owners),
            "unresolved_owners": list(self.unresolved),
            "problems": [p.as_dict() for p in self.problems],
            "fingerprint": dict(self.fingerprint),
            "fields": self.fields,
            "below_threshold": self.below_threshold,
            "had_last_proposal": self.had_base,
        }


def map_propose(
    settings: Settings,
    *,
    client: DataverseClient | None = None,
    source: Path | None = None,
    proposer: Proposer | None = None,
) -> ProposeResult:
    """Propose (or re-propose and merge) the project's ``mapping.yaml`` and save it."""
    usage = OwnerUsage()
    profile, coaches = read_source(settings, source, usage=usage)
    prefix = settings.publisher_prefix
    path = map_file(settings)
    existing = MapDocument.load(path) if path.exists() else None
    with connected(settings, client) as dv:
        metadata = dv.metadata
        propose_fn = proposer or _default_proposer
        proposal: dict[str, Any] = dict(propose_fn(profile, metadata, prefix))
        current_owners = plain_value(existing.data.get("owners")) if existing is not None else None
        resolution = resolve_owners(coaches, fetch_system_users(dv), current=current_owners)
        proposal["owners"] = resolution.section
        src_fp = source_fingerprint(profile)
        proposal["fingerprint"] = {
            "source": src_fp,
            "target": target_fingerprint(proposal, metadata),
        }
        if existing is None:
            doc = MapDocument.from_plain(proposal, path)
            diff: list[str] = []
            kept: list[str] = []
            had_base = True
        else:
            base = load_last_proposal(settings.project_dir)
            merged = merge_proposal(
                existing,
                proposal,
                base,
                fingerprint=lambda d: {
                    "source": src_fp,
                    "target": target_fingerprint(d.data, metadata),
                },
            )
            doc, diff, kept, had_base = merged.document, merged.diff, merged.kept, merged.had_base
        if existing is None or diff:
            doc.save(path)
            doc = MapDocument.load(path)  # read back: problems point at lines of the saved file
        save_last_proposal(settings.project_dir, proposal)
        owner_issues = owner_problems(doc, resolution)
        checked = check_map(doc, profile, metadata, usage=usage, known=owner_issues)
        problems = dedupe([*owner_issues, *checked])
    spec, _ = doc.parse()
    fields = below = 0
    if spec is not None:
        for _, fm in spec.fields():
            fields += 1
            if fm.column and fm.confidence < spec.confirm_threshold:
                below += 1
    fp = doc.data.get("fingerprint") or {}
    return ProposeResult(
        path=path,
        created=existing is None,
        diff=tuple(diff),
        kept=tuple(kept),
        status=str(doc.data.get("status")),
        owners=resolution.counts(),
        unresolved=tuple(resolution.unresolved),
        problems=tuple(problems),
        fingerprint={"source": fp.get("source"), "target": fp.get("target")},
        fields=fields,
        below_threshold=below,
        had_base=had_base,
    )


# ---------------------------------------------------------------------------
# show


@dataclass(frozen=True, slots=True)
class MapLine:
    role: str
    source: str
    """``object.field``."""
    field: str
    table: str
    column: str | None
    type: str | None
    confidence: float
    reason: str
    value_map: str | None
    below_threshold: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "source": self.source,
            "field": self.field,
            "table": self.table,
            "column": self.column,
            "type": self.type,
            "confidence": self.confidence,
            "reason": self.reason,
            "value_map": self.value_map,
            "below_threshold": self.below_threshold,
        }


@dataclass(frozen=True, slots=True)
class ShowResult:
    path: Path
    status: str
    confirmed_by: str | None
    confirmed_at: str | None
    confirm_threshold: float
    lines: tuple[MapLine, ...]
    """Mapped fields below the threshold first (least sure first), then the rest in order."""
    owners: Mapping[str, Mapping[str, Any]]
    fallback: str | None
    problems: tuple[Problem, ...]
    """Structural problems only (``map check`` checks against source and tenant)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "status": self.status,
            "confirmed_by": self.confirmed_by,
            "confirmed_at": self.confirmed_at,
            "confirm_threshold": self.confirm_threshold,
            "lines": [line.as_dict() for line in self.lines],
            "owners": {k: dict(v) for k, v in self.owners.items()},
            "fallback": self.fallback,
            "problems": [p.as_dict() for p in self.problems],
        }


def map_lines(spec: MappingSpec) -> list[MapLine]:
    """Every field decision of ``spec``, in the map's order."""
    return [
        MapLine(
            role=t.role,
            source=f"{t.source}.{fm.source}",
            field=fm.source,
            table=t.table,
            column=fm.column,
            type=fm.type,
            confidence=fm.confidence,
            reason=fm.reason,
            value_map=fm.value_map,
            below_threshold=bool(fm.column) and fm.confidence < spec.confirm_threshold,
        )
        for t, fm in spec.fields()
    ]


def below_threshold(spec: MappingSpec) -> tuple[MapLine, ...]:
    """The mapped lines under the map's ``confirm_threshold``, least sure first."""
    doubtful = (ln for ln in map_lines(spec) if ln.below_threshold)
    return tuple(sorted(doubtful, key=lambda ln: ln.confidence))


def map_show(settings: Settings) -> ShowResult:
    """The decisions of the project's map, the ones below the confirm threshold first."""
    path = map_file(settings)
    doc = MapDocument.load(path)
    spec, problems = doc.parse()
    if spec is None:
        raise MapError("the map cannot be read", hint="run `crm-ferry map check`")
    lines = map_lines(spec)
    ordered = [*below_threshold(spec), *(ln for ln in lines if not ln.below_threshold)]
    owners = {
        cid: {
            "email": c.email,
            "user": c.user,
            "systemuserid": c.systemuserid,
            "status": c.status,
            "reason": c.reason,
        }
        for cid, c in spec.owners.coaches.items()
    }
    return ShowResult(
        path=path,
        status=spec.status,
        confirmed_by=spec.confirmed_by,
        confirmed_at=spec.confirmed_at,
        confirm_threshold=spec.confirm_threshold,
        lines=tuple(ordered),
        owners=owners,
        fallback=spec.owners.fallback,
        problems=tuple(problems),
    )


# ---------------------------------------------------------------------------
# check and confirm


@dataclass(frozen=True, slots=True)
class CheckResult:
    path: Path
    status: str
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "status": self.status,
            "ok": self.ok,
            "errors": len(self.errors),
            "warnings": len(self.problems) - len(self.errors),
            "problems": [p.as_dict() for p in self.problems],
        }


def read_linked_files(settings: Settings, source: Path | None = None) -> LinkedSummary:
    """The bundle's linked files against the downloads folder (``[source] files``)."""
    downloads = downloads_folder(settings)
    path = source_path(settings, source)
    with open_bundle(
        path, column_map=settings.column_map, line_limit=settings.line_limit
    ) as bundle:
        return linked_summary(bundle, downloads)


@dataclass(frozen=True, slots=True)
class CheckInputs:
    """What checking a map reads besides the map and the tenant's metadata: the source
    profile, the rows each coach owns, the tenant's users and (when asked) the linked files
    against the downloads folder. A user interface may keep them between checks."""

    profile: SourceProfile
    usage: OwnerUsage
    users: list[SystemUser]
    linked: LinkedSummary | None = None


def read_check_inputs(
    settings: Settings, dv: DataverseClient, source: Path | None = None, *, linked: bool = False
) -> CheckInputs:
    """Read the source (one open), the tenant's users and, with ``linked``, the linked files."""
    usage = OwnerUsage()
    profile, _ = read_source(settings, source, usage=usage)
    files = read_linked_files(settings, source) if linked else None
    return CheckInputs(profile, usage, fetch_system_users(dv), files)


def check_document(
    doc: MapDocument, inputs: CheckInputs, metadata: MetadataReader
) -> list[Problem]:
    """Every problem of ``doc`` (its owners re-resolved against the users, in memory), as
    ``map check`` reports them."""
    doc, _, owners = refresh_owners(doc, inputs.users)
    checked = check_map(
        doc, inputs.profile, metadata, usage=inputs.usage, known=owners, linked=inputs.linked
    )
    return dedupe([*owners, *checked])


def _checked(
    settings: Settings,
    dv: DataverseClient,
    source: Path | None,
    *,
    as_proposal: bool = False,
    linked: bool = False,
) -> tuple[MapDocument, list[Problem]]:
    """The project's map with its owners re-resolved (in memory), and all its problems;
    ``linked``: with the linked files the downloads folder lacks."""
    doc = MapDocument.load(map_file(settings))
    if as_proposal:
        doc.set_status("proposed")  # re-checked as a proposal; confirming stamps it anew
    inputs = read_check_inputs(settings, dv, source, linked=linked)
    return doc, check_document(doc, inputs, dv.metadata)


def map_check(
    settings: Settings, *, client: DataverseClient | None = None, source: Path | None = None
) -> CheckResult:
    """Every problem of the project's map against its source and the tenant (nothing saved)."""
    with connected(settings, client) as dv:
        doc, problems = _checked(settings, dv, source, linked=True)
    return CheckResult(map_file(settings), str(doc.data.get("status")), tuple(problems))


class LowConfidence(MapError):
    """``map confirm`` found lines under the confirm threshold nobody accepted: each is
    listed (``lines``, for ``--json``), and the map stays as it was."""

    def __init__(self, lines: Sequence[MapLine], *, threshold: float) -> None:
        self.threshold = threshold
        self.lines = [ln.as_dict() for ln in lines]
        """Every line under the threshold, least sure first (as ``map show --json``)."""
        shown = "\n".join(f"  {_line_text(ln)}" for ln in lines)
        super().__init__(
            f"the map is not confirmed: {len(lines)} line(s) under the confirm threshold "
            f"{threshold:g} need a look:\n{shown}",
            hint="review them (`crm-ferry map show` lists them first) and fix mapping.yaml "
            "where they are wrong; then confirm with --accept-low-confidence to accept the "
            "rest as they are (or answer yes when asked at a terminal)",
        )


def _line_text(ln: MapLine) -> str:
    """``targets.contact.fields.email: clients.email → contact.emailaddress1 (0.30): why``."""
    where = f"targets.{ln.role}.fields.{ln.field}"
    return f"{where}: {ln.source} → {ln.table}.{ln.column} ({ln.confidence:.2f}): {ln.reason}"


@dataclass(frozen=True, slots=True)
class ConfirmResult:
    path: Path
    confirmed_by: str
    confirmed_at: str
    fingerprint: Mapping[str, str | None]
    warnings: tuple[Problem, ...]
    low_confidence: tuple[MapLine, ...] = ()
    """The lines under the confirm threshold the person accepted as they are."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "status": "confirmed",
            "confirmed_by": self.confirmed_by,
            "confirmed_at": self.confirmed_at,
            "fingerprint": dict(self.fingerprint),
            "warnings": [p.as_dict() for p in self.warnings],
            "low_confidence": [ln.as_dict() for ln in self.low_confidence],
        }


def map_confirm(
    settings: Settings,
    *,
    by: str,
    client: DataverseClient | None = None,
    source: Path | None = None,
    now: datetime | None = None,
    accept_low_confidence: bool = False,
    ask: Callable[[list[MapLine]], bool] | None = None,
) -> ConfirmResult:
    """Mark the map confirmed by ``by``; :class:`MapError` while any error remains, and
    :class:`LowConfidence` while lines under the confirm threshold remain that nobody
    accepted: ``accept_low_confidence``, or ``ask`` (shown the lines) answering True."""
    name = by.strip()
    if not name:
        raise MapError("confirm needs the name of the person confirming", hint="pass --by NAME")
    with connected(settings, client) as dv:
        doc, problems = _checked(settings, dv, source, as_proposal=True)
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            shown = "\n".join(f"  {p}" for p in errors[:20])
            more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
            raise MapError(
                f"the map cannot be confirmed: {len(errors)} problem(s) remain:\n{shown}{more}",
                hint="fix them in mapping.yaml (for owners: set owners.fallback or "
                "owners.coaches.<id>.user), check with `crm-ferry map check`, confirm again",
            )
        spec = doc.spec()
        doubtful = list(below_threshold(spec))
        if doubtful and not accept_low_confidence and not (ask is not None and ask(doubtful)):
            raise LowConfidence(doubtful, threshold=spec.confirm_threshold)
        target = target_fingerprint(spec, dv.metadata)
    fp = doc.data.get("fingerprint")
    if not isinstance(fp, CommentedMap):
        fp = CommentedMap()
        doc.data["fingerprint"] = fp
    fp["target"] = target
    at = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    at = at.replace("+00:00", "Z")
    doc.set_status("confirmed", by=name, at=at)
    doc.save()
    return ConfirmResult(
        path=map_file(settings),
        confirmed_by=name,
        confirmed_at=at,
        fingerprint={"source": fp.get("source"), "target": target},
        warnings=tuple(p for p in problems if p.severity == "warning"),
        low_confidence=tuple(doubtful),
    )


# ---------------------------------------------------------------------------
# init


FERRY_TOML = """\
# crm-ferry migration project: The Practice -> Dynamics 365 Sales (Dataverse).
#
# No secrets in this file (crm-ferry refuses to read them from a file): the client secret
# comes from CRM_FERRY_CLIENT_SECRET or the OS keyring (service "crm-ferry", user = the
# client id). Every setting can be overridden by CRM_FERRY_<SECTION>_<KEY>.

[source]
# The Practice export: a folder or a .zip, relative to this folder.
{source}
# The longest line of an export file read, in MiB (a longer one is a reject naming it).
# line_limit_mib = 4
# Export headers that differ from the contract, per object: "header as written" = "field".
# [source.columns.clients]
# "Client Ref" = "id"

[dataverse]
# The environment, and the app registration that signs in to it.
{url}
{tenant}
{client_id}
# Where the app signs in (default https://login.microsoftonline.com/<tenant>). For the
# emulator: the authority `crm-ferry emulator serve` prints (CRM_FERRY_DATAVERSE_AUTHORITY).
{authority}
# The unmanaged solution new tables and columns join, and its publisher's prefix.
{solution}
publisher_prefix = "{prefix}"
# More application users to share a large load: service-protection limits are per user.
# Each one signs in with its own credential: CRM_FERRY_CLIENT_SECRET_<CLIENT ID> (dashes as
# underscores, upper case) or the keyring.
# extra_client_ids = ["00000000-0000-0000-0000-000000000001"]

[load]
# Rows per request (at most 1000) and requests in flight (at most 52 per user).
# batch_size = 500
# max_concurrency = 16
# How many of an object's records may be rejected before migrate and delta exit 8 and
# verify --check exits 7: a share ("2%") or a number of records (0: none may be).
# reject_threshold = "2%"
# [load.reject_thresholds]
# sessions = "5%"
"""

GITIGNORE = """\
# crm-ferry: keep the map (mapping.yaml) and ferry.toml in git, not the run data.
journal.sqlite
journal.sqlite-*
journal-moved-*.sqlite*
runs/
references/
"""


@dataclass(frozen=True, slots=True)
class InitResult:
    project_dir: Path
    created: tuple[str, ...]
    kept: tuple[str, ...]
    """Files that already existed and were left as they were."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "project_dir": str(self.project_dir),
            "created": list(self.created),
            "kept": list(self.kept),
        }


def _setting(key: str, value: str | None, example: str) -> str:
    if value:
        return f"{key} = {_toml_str(value)}"
    return f"# {key} = {_toml_str(example)}"


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def init(
    settings: Settings,
    *,
    directory: Path,
    source: str | None = None,
    environment_url: str | None = None,
    tenant: str | None = None,
    client_id: str | None = None,
    solution: str | None = None,
    publisher_prefix: str = "new",
    authority: str | None = None,
) -> InitResult:
    """Create a migration project in ``directory`` (relative to the current project folder):
    ferry.toml (no secrets), .gitignore, runs/ (owner-only); existing files are never
    overwritten."""
    directory = settings.resolve(directory)
    check_prefix(publisher_prefix)
    if source is not None:  # a bundle that is not there is refused before anything is made
        source = init_source(settings, directory, source)
    directory.mkdir(parents=True, exist_ok=True)
    created: list[str] = []
    kept: list[str] = []
    toml = FERRY_TOML.format(
        source=_setting("path", source, "export.zip"),
        url=_setting("url", environment_url, "https://contoso.crm.dynamics.com"),
        tenant=_setting("tenant", tenant, "contoso.onmicrosoft.com"),
        client_id=_setting("client_id", client_id, "00000000-0000-0000-0000-000000000000"),
        authority=_setting("authority", authority, "http://127.0.0.1:8000/<tenant>"),
        solution=_setting("solution", solution, "PracticeMigration"),
        prefix=publisher_prefix,
    )
    for name, text in ((CONFIG_FILE, toml), (".gitignore", GITIGNORE)):
        target = directory / name
        if target.exists():
            kept.append(name)
            continue
        target.write_text(text, encoding="utf-8")
        created.append(name)
    runs = directory / "runs"
    if runs.exists():
        kept.append("runs/")
    else:
        runs.mkdir(mode=0o700)
        created.append("runs/")
    os.chmod(runs, 0o700)
    Settings.load(directory, env={})  # what was written must read back
    return InitResult(directory, tuple(created), tuple(kept))
