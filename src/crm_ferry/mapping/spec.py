"""``mapping.yaml``: the map a person confirms before any record moves.

The document is read and written with ruamel.yaml in round-trip mode, so a person's comments,
key order and edits survive every later ``map propose`` (which merges) and ``map confirm``
(which only touches the status lines). The typed view (:class:`MappingSpec`) is parsed from
the document; every problem found while parsing or validating carries the exact place in the
file (line and column) and the path of keys that leads to it.

The layout, documented in full in :data:`HEADER`::

    version: 1
    status: proposed | confirmed
    confirmed_by: / confirmed_at:
    fingerprint: {source: <sha256>, target: <sha256>}
    publisher_prefix: new
    confirm_threshold: 0.8
    options: {opportunities: true, households: true, invoice_lines: invoicedetail,
              match_existing: true}
    owners: {fallback: <user>, coaches: {<coach id>: {email, user, status, reason}}}
    documents: {files: <store>, images: <store>, linked: fail | skip | link}
    value_maps: {<name>: {column, policy, default, values: {<source value>: <option value>}}}
    targets:
      <role>:                       # contact, account, household, service_type, session, ...
        source: <object>            # the bundle object its rows come from
        table: <logical name>       # the Dataverse table
        rows: all | individual | organization | <filter>
        create: {schema_name, display_name, plural_name, primary_name}   # custom tables only
        fields:
          <source field>: {column, type, confidence, reason, header, value_map, truncate,
                           create: {kind, schema_name, max_length, precision, behavior,
                                    options}}
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast, get_args

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from crm_ferry.dataverse.metadata import ColumnKind
from crm_ferry.errors import MapError

MAP_VERSION = 1
MAP_FILE = "mapping.yaml"
DEFAULT_CONFIRM_THRESHOLD = 0.8
"""Field decisions at or above this confidence are the ones a person is expected to confirm
without a second look; ``map show`` lists the lines below it first."""

Status = Literal["proposed", "confirmed"]
Policy = Literal["fail", "default", "keep_text"]
POLICIES: tuple[str, ...] = ("fail", "default", "keep_text")
COLUMN_KINDS: tuple[str, ...] = (
    *get_args(ColumnKind),
    "Lookup",
    "Customer",
    "Owner",
    "State",
    "Status",
    "Uniqueidentifier",
    "Double",
    "BigInt",
)
OWNER_STATUSES: tuple[str, ...] = ("matched", "disabled", "unmatched", "explicit", "fallback")
IMPLICIT_OWNERS: Mapping[str, str] = {
    "note": "a note is owned by its session's owner",
    "attachment": "a file is owned by the owner of its session, else of its client",
    "opportunity": "an opportunity is owned by the owner of its latest session",
}
"""Roles whose rows get an owner although no field of theirs maps to ``ownerid``."""
OWNER_COLUMN = "ownerid"

HEADER = """\
crm-ferry map: how each record of the export becomes a Dataverse row.

Proposed by `crm-ferry map propose`; review it (`crm-ferry map show`), edit what is wrong,
then `crm-ferry map confirm --by NAME`. Nothing loads from a map whose status is not
`confirmed`, or whose fingerprint no longer matches the source export or the target tenant.
Re-proposing keeps your edits and comments, shows what changed, and sets the status back to
`proposed`.

targets.<role>.fields.<source field>:
  column      target column (logical name); empty = not migrated
  type        its Dataverse column type
  confidence  0..1, how sure the proposer is; below confirm_threshold deserves a look
  reason      why the proposer chose it
  header      the column name in the export, when it differs from the field name
  value_map   name of the value map (under value_maps) its values go through
  truncate    true = cut strings longer than the column instead of rejecting the row
  create      the column to provision when the tenant does not have it
value_maps.<name>.policy  what an unknown source value does: fail (reject the row),
                          default (use `default`), keep_text (keep the text in `text_column`)
options.match_existing    true = a client whose e-mail (or name and postal code) matches one
                          contact/account already in the tenant updates that row instead
                          of creating a duplicate; rollback restores its earlier values
owners.fallback           the user (email or UPN) that owns records of coaches without a
                          usable user; owners.coaches.<id>.user overrides one coach
                          (a row's coach: its coach_id, else its coach_email, any case;
                          a session, activity, note or file without one: its client's or
                          session's; `map check` counts the rows the fallback will own)
documents.files           where a file of the export goes: dataverse (a note carrying the
                          file, in blocks when it is large; one over the tenant's upload
                          limit or of a blocked type is rejected with the limit in the
                          reason), sharepoint (the record's folder in SharePoint, linked
                          from its Documents tab; needs [sharepoint] site in ferry.toml),
                          or sharepoint_over_limit (a note when it fits, SharePoint if not)
documents.images          the images inlined in session notes: dataverse only, for now
                          (each becomes a note carrying the image, on its session)
documents.linked          a linked file (a URL or a name, downloaded separately) that is not
                          in the downloads folder ([source] files): fail (migrate refuses to
                          start), skip (skipped with a reason), link (a note holding the URL)
"""


DocumentStore = Literal["dataverse", "sharepoint", "sharepoint_over_limit"]
DOCUMENT_STORES: tuple[str, ...] = get_args(DocumentStore)
LinkedPolicy = Literal["fail", "skip", "link"]
LINKED_POLICIES: tuple[str, ...] = get_args(LinkedPolicy)


@dataclass(frozen=True, slots=True)
class Documents:
    """Where documents go (``documents:``): the export's files, the images inlined in
    notes, and what a linked file missing from the downloads folder does."""

    files: DocumentStore = "dataverse"
    images: DocumentStore = "dataverse"
    linked: LinkedPolicy = "skip"

    def store(self, kind: Literal["files", "images"]) -> DocumentStore:
        return self.files if kind == "files" else self.images

    @property
    def uses_sharepoint(self) -> bool:
        return self.files != "dataverse" or self.images != "dataverse"


# ---------------------------------------------------------------------------
# Problems with a place in the file


@dataclass(frozen=True, slots=True)
class Problem:
    """A problem in the map: where it is and what is wrong."""

    path: str
    """Dotted path of keys, e.g. ``targets.contact.fields.email.column``."""
    message: str
    line: int | None = None
    column: int | None = None
    severity: Literal["error", "warning"] = "error"

    def where(self, file: str = MAP_FILE) -> str:
        if self.line is None:
            return f"{file}: {self.path}"
        return f"{file}:{self.line}:{self.column or 1}: {self.path}"

    def __str__(self) -> str:
        return f"{self.where()}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "message": self.message,
            "line": self.line,
            "column": self.column,
            "severity": self.severity,
        }


def locate(root: Any, path: Sequence[str | int]) -> tuple[int | None, int | None]:
    """1-based line and column of the value (or key) at ``path`` in a round-trip document."""
    node = root
    line: int | None = None
    col: int | None = None
    for part in path:
        lc = getattr(node, "lc", None)
        try:
            if lc is not None and isinstance(node, CommentedMap) and part in node:
                kl, kc, vl, vc = lc.key(part) + lc.value(part)
                # An empty value has no token of its own: ruamel reports the next one.
                empty = node[part] is None
                line, col = (vl, vc) if vl is not None and not empty else (kl, kc)
            elif lc is not None and isinstance(node, list) and isinstance(part, int):
                line, col = lc.item(part)
        except (KeyError, TypeError, IndexError):
            pass
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
    return (None if line is None else line + 1), (None if col is None else col + 1)


class _Collector:
    def __init__(self, root: Any) -> None:
        self.root = root
        self.problems: list[Problem] = []

    def add(self, path: Sequence[str | int], message: str, *, warning: bool = False) -> None:
        line, col = locate(self.root, path)
        self.problems.append(
            Problem(
                ".".join(str(p) for p in path),
                message,
                line,
                col,
                "warning" if warning else "error",
            )
        )


# ---------------------------------------------------------------------------
# The typed view


@dataclass(frozen=True, slots=True)
class ColumnCreate:
    """A column to provision on the target table."""

    kind: str
    schema_name: str
    label: str
    max_length: int | None = None
    precision: int | None = None
    behavior: str | None = None
    """DateTime behaviour: DateOnly, UserLocal, TimeZoneIndependent."""
    format: str | None = None
    options: tuple[tuple[int, str], ...] = ()
    target_table: str | None = None
    """For a lookup: the referenced table."""
    key: bool = False
    """Also create an alternate key on this column (``new_practiceid``)."""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "schema_name": self.schema_name}
        out["label"] = self.label
        for key in ("max_length", "precision", "behavior", "format", "target_table"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.options:
            out["options"] = dict(self.options)
        if self.key:
            out["key"] = True
        return out


@dataclass(frozen=True, slots=True)
class FieldMap:
    """One source field → one target column decision."""

    source: str
    column: str | None
    type: str | None = None
    confidence: float = 1.0
    reason: str = ""
    header: str | None = None
    value_map: str | None = None
    truncate: bool = False
    create: ColumnCreate | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"column": self.column}
        if self.type:
            out["type"] = self.type
        out["confidence"] = round(self.confidence, 2)
        out["reason"] = self.reason
        if self.header:
            out["header"] = self.header
        if self.value_map:
            out["value_map"] = self.value_map
        if self.truncate:
            out["truncate"] = True
        if self.create is not None:
            out["create"] = self.create.as_dict()
        return out


@dataclass(frozen=True, slots=True)
class TableCreate:
    schema_name: str
    display_name: str
    plural_name: str
    primary_name: str
    """Schema name of the primary name column."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema_name": self.schema_name,
            "display_name": self.display_name,
            "plural_name": self.plural_name,
            "primary_name": self.primary_name,
        }


@dataclass(frozen=True, slots=True)
class Target:
    """A role in the load (``contact``, ``session`` ...): rows of a source object → a table."""

    role: str
    source: str
    table: str
    rows: str = "all"
    fields: Mapping[str, FieldMap] = field(default_factory=dict)
    create: TableCreate | None = None
    enabled: bool = True

    def column_of(self, source_field: str) -> str | None:
        fm = self.fields.get(source_field)
        return fm.column if fm else None

    def mapped(self) -> Iterator[FieldMap]:
        return (fm for fm in self.fields.values() if fm.column)

    def owner_field(self) -> str | None:
        """The source field whose column is ``ownerid`` (the coach: the rows' owner)."""
        return next((fm.source for fm in self.mapped() if fm.column == OWNER_COLUMN), None)

    @property
    def sets_owner(self) -> bool:
        """Whether the rows of this target get an owner (a field maps to ``ownerid``, or
        the role is owned like its parent: :data:`IMPLICIT_OWNERS`)."""
        return self.owner_field() is not None or self.role in IMPLICIT_OWNERS


@dataclass(frozen=True, slots=True)
class ValueMap:
    name: str
    values: Mapping[str, Any]
    """Source value (lower case) → option value (int), or a ``[state, status]`` pair."""
    column: str | None = None
    policy: str = "fail"
    default: Any = None
    text_column: str | None = None

    def lookup(self, value: str) -> tuple[bool, Any]:
        """``(True, option)`` for a known value; ``(False, reason)`` for an unknown one."""
        key = value.strip().lower()
        if key in self.values:
            return True, self.values[key]
        if self.policy == "default" and self.default is not None:
            return True, self.default
        return False, f"value {value!r} is not in value map {self.name!r} (policy {self.policy})"


@dataclass(frozen=True, slots=True)
class CoachRef:
    """The coach a row names: a user id (``coach_id``), an e-mail (``coach_email``), both or
    neither. E-mails compare case-insensitively, so they are kept in lower case."""

    coach_id: str | None = None
    email: str | None = None

    @classmethod
    def of(cls, coach_id: Any = None, email: Any = None) -> CoachRef:
        cid = str(coach_id).strip() if coach_id is not None else ""
        mail = str(email).strip().lower() if email is not None else ""
        return cls(cid or None, mail or None)

    @property
    def named(self) -> bool:
        return bool(self.coach_id or self.email)

    @property
    def value(self) -> str | None:
        """What the row holds: the coach id, else the e-mail."""
        return self.coach_id or self.email

    def __str__(self) -> str:
        if self.coach_id and self.email:
            return f"coach {self.coach_id!r} ({self.email})"
        if self.coach_id:
            return f"coach {self.coach_id!r}"
        if self.email:
            return f"coach e-mail {self.email!r}"
        return "no coach"


NO_COACH = CoachRef()


def first_named(*refs: CoachRef | None) -> CoachRef:
    """The first of ``refs`` that names a coach (a session without one: its client's)."""
    return next((r for r in refs if r is not None and r.named), NO_COACH)


@dataclass(frozen=True, slots=True)
class CoachOwner:
    coach_id: str
    email: str | None
    user: str | None
    """The system user (email or UPN) chosen, or None."""
    systemuserid: str | None
    status: str
    reason: str = ""

    @property
    def resolved(self) -> bool:
        return self.systemuserid is not None and self.status in ("matched", "explicit")


@dataclass(frozen=True, slots=True)
class Owners:
    fallback: str | None = None
    fallback_id: str | None = None
    coaches: Mapping[str, CoachOwner] = field(default_factory=dict)
    _by_address: Mapping[str, tuple[CoachOwner, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """Lower-case e-mail → the coaches it names: a coach keyed by its e-mail or having it,
    then coaches whose user has it as e-mail or UPN."""

    def __post_init__(self) -> None:
        named: dict[str, list[CoachOwner]] = {}
        by_user: dict[str, list[CoachOwner]] = {}
        for coach in self.coaches.values():
            for address in dict.fromkeys(a for a in (coach.coach_id, coach.email) if a):
                if "@" in address:
                    named.setdefault(address.strip().lower(), []).append(coach)
            if coach.user and "@" in coach.user:
                by_user.setdefault(coach.user.strip().lower(), []).append(coach)
        index = {k: tuple(v) for k, v in named.items()}
        for address, found in by_user.items():
            index[address] = (*index.get(address, ()), *found)
        object.__setattr__(self, "_by_address", index)

    def unresolved(self) -> list[CoachOwner]:
        """Coaches with no usable owner, when no fallback covers them."""
        if self.fallback_id:
            return []
        return [c for c in self.coaches.values() if not c.resolved]

    def named_by(self, ref: CoachRef) -> CoachOwner | None:
        """The listed coach ``ref`` names, usable or not: by coach id, else by e-mail."""
        return self._usable(ref) or self._listed(ref)

    def coach_for(self, ref: CoachRef) -> CoachOwner | None:
        """The coach with a usable user that owns the rows of ``ref``: by coach id, else by
        e-mail (a coach's key or e-mail, then its user's e-mail or UPN, case-insensitively).
        None: nobody; the fallback owns those rows."""
        return self._usable(ref)

    def owner_for(self, ref: CoachRef) -> str | None:
        """The systemuserid that owns rows naming ``ref`` (its coach's user, else the
        fallback; None when neither)."""
        coach = self._usable(ref)
        return coach.systemuserid if coach is not None else self.fallback_id

    def owner_of(self, coach_id: str | None, coach_email: str | None = None) -> str | None:
        """The systemuserid that owns a coach's records (explicit, matched, or the fallback)."""
        return self.owner_for(CoachRef.of(coach_id, coach_email))

    def _usable(self, ref: CoachRef) -> CoachOwner | None:
        if ref.coach_id:
            coach = self.coaches.get(ref.coach_id)
            if coach is not None and coach.resolved:
                return coach
        if ref.email:
            for coach in self._by_address.get(ref.email, ()):
                if coach.resolved:
                    return coach
        return None

    def _listed(self, ref: CoachRef) -> CoachOwner | None:
        if ref.coach_id and ref.coach_id in self.coaches:
            return self.coaches[ref.coach_id]
        if ref.email:
            found = self._by_address.get(ref.email, ())
            return found[0] if found else None
        return None


@dataclass(frozen=True, slots=True)
class Fingerprint:
    source: str | None = None
    target: str | None = None


@dataclass(frozen=True, slots=True)
class MappingSpec:
    status: str
    targets: Mapping[str, Target]
    value_maps: Mapping[str, ValueMap] = field(default_factory=dict)
    owners: Owners = field(default_factory=Owners)
    documents: Documents = field(default_factory=Documents)
    fingerprint: Fingerprint = field(default_factory=Fingerprint)
    publisher_prefix: str = "new"
    confirm_threshold: float = DEFAULT_CONFIRM_THRESHOLD
    options: Mapping[str, Any] = field(default_factory=dict)
    confirmed_by: str | None = None
    confirmed_at: str | None = None
    version: int = MAP_VERSION

    @property
    def confirmed(self) -> bool:
        return self.status == "confirmed"

    def target(self, role: str) -> Target | None:
        t = self.targets.get(role)
        return t if t is not None and t.enabled else None

    def targets_for(self, source: str) -> list[Target]:
        return [t for t in self.targets.values() if t.source == source and t.enabled]

    def header_map(self) -> dict[str, dict[str, str]]:
        """Per object, export header → canonical field, for the bundle reader's column map."""
        out: dict[str, dict[str, str]] = {}
        for t in self.targets.values():
            for name, fm in t.fields.items():
                if fm.header and fm.header != name and not name.startswith("extra:"):
                    out.setdefault(t.source, {})[fm.header] = name
        return out

    def fields(self) -> Iterator[tuple[Target, FieldMap]]:
        for t in self.targets.values():
            for fm in t.fields.values():
                yield t, fm


# ---------------------------------------------------------------------------
# Reading and writing


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.indent(mapping=2, sequence=4, offset=2)
    y.width = 4096
    y.preserve_quotes = True
    return y


class MapDocument:
    """A ``mapping.yaml`` in round-trip form: the data a person edits, comments included."""

    def __init__(self, data: CommentedMap, path: Path | None = None) -> None:
        self.data = data
        self.path = path

    # -- files -------------------------------------------------------------

    @classmethod
    def load(cls, path: Path) -> MapDocument:
        if not path.exists():
            raise MapError(
                f"{path.name} not found in {path.parent}",
                hint="run `crm-ferry map propose` to write one",
            )
        return cls.loads(path.read_text(encoding="utf-8"), path)

    @classmethod
    def loads(cls, text: str, path: Path | None = None) -> MapDocument:
        name = path.name if path else MAP_FILE
        try:
            data = _yaml().load(text)
        except MarkedYAMLError as exc:
            mark = exc.problem_mark
            where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
            raise MapError(
                f"{where}: not valid YAML: {exc.problem}",
                hint="fix the file at that line and column (wrong indentation, a missing ':' "
                "or an unclosed bracket or quote are the usual causes), then run "
                "`crm-ferry map check` again",
            ) from None
        if not isinstance(data, CommentedMap):
            raise MapError(
                f"{name}: the map must be a YAML mapping at the top level",
                hint="the file starts with `version:` and `targets:`; restore it, or move it "
                "aside and run `crm-ferry map propose` for a new one",
            )
        return cls(data, path)

    @classmethod
    def from_plain(cls, data: Mapping[str, Any], path: Path | None = None) -> MapDocument:
        """A new document from plain data, with :data:`HEADER` as its opening comment."""
        doc = to_commented(data)
        targets = doc.get("targets")
        if isinstance(targets, CommentedMap):
            for role, tnode in targets.items():
                fields = tnode.get("fields") if isinstance(tnode, CommentedMap) else None
                if isinstance(fields, CommentedMap):
                    for fname in list(fields):
                        entry = fields[fname]
                        if isinstance(entry, CommentedMap) and "create" in entry:
                            entry["create"] = to_commented(entry["create"], flow_depth=0)
                        else:
                            fields[fname] = to_commented(entry, flow_depth=0)
                targets[role] = tnode
        doc.yaml_set_start_comment(HEADER)
        return cls(doc, path)

    def dumps(self) -> str:
        buf = io.StringIO()
        _yaml().dump(self.data, buf)
        return buf.getvalue()

    def save(self, path: Path | None = None) -> Path:
        target = path or self.path
        if target is None:
            raise MapError("no path to save the map to")
        tmp = target.with_suffix(".yaml.tmp")
        tmp.write_text(self.dumps(), encoding="utf-8")
        tmp.replace(target)
        self.path = target
        return target

    # -- the typed view --------------------------------------------------------

    def parse(self) -> tuple[MappingSpec | None, list[Problem]]:
        """The typed map and the structural problems found (each with its place)."""
        return _parse(self.data)

    def spec(self) -> MappingSpec:
        """The typed map; :class:`MapError` listing every structural problem if any."""
        spec, problems = self.parse()
        errors = [p for p in problems if p.severity == "error"]
        if errors or spec is None:
            raise MapError(
                f"{len(errors)} problem(s) in the map:\n" + "\n".join(f"  {p}" for p in errors),
                hint="fix these lines in mapping.yaml, then run `crm-ferry map check`",
            )
        return spec

    # -- edits that keep everything else -------------------------------------

    def set_status(self, status: Status, *, by: str | None = None, at: str | None = None) -> None:
        self.data["status"] = status
        self.data["confirmed_by"] = by
        self.data["confirmed_at"] = at


def _opt_str(c: _Collector, node: Mapping[str, Any], key: str, path: list[str | int]) -> str | None:
    value = node.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        c.add([*path, key], f"must be text, not {type(value).__name__}")
        return None
    return value


def _parse_create(c: _Collector, node: Any, path: list[str | int]) -> ColumnCreate | None:
    if node is None:
        return None
    if not isinstance(node, Mapping):
        c.add(path, "must be a mapping with kind and schema_name")
        return None
    kind = node.get("kind")
    if kind not in COLUMN_KINDS:
        c.add([*path, "kind"], f"unknown column kind {kind!r}; one of {', '.join(COLUMN_KINDS)}")
        return None
    schema = _opt_str(c, node, "schema_name", path)
    if not schema:
        c.add([*path, "schema_name"], "a new column needs a schema_name")
        return None
    options: list[tuple[int, str]] = []
    raw_opts = node.get("options") or {}
    if not isinstance(raw_opts, Mapping):
        c.add([*path, "options"], "must map option values to labels")
    else:
        for value, text in raw_opts.items():
            if not isinstance(value, int) or isinstance(value, bool):
                c.add([*path, "options", value], "an option value must be an integer")
                continue
            options.append((value, str(text)))
    max_length = node.get("max_length")
    if max_length is not None and (not isinstance(max_length, int) or max_length < 1):
        c.add([*path, "max_length"], "must be a positive integer")
        max_length = None
    return ColumnCreate(
        kind=str(kind),
        schema_name=schema,
        label=str(node.get("label") or schema),
        max_length=max_length,
        precision=node.get("precision"),
        behavior=_opt_str(c, node, "behavior", path),
        format=_opt_str(c, node, "format", path),
        options=tuple(options),
        target_table=_opt_str(c, node, "target_table", path),
        key=node.get("key") is True,
    )


def _parse_field(c: _Collector, name: str, node: Any, path: list[str | int]) -> FieldMap | None:
    if node is None:
        return FieldMap(source=name, column=None, reason="not migrated")
    if isinstance(node, str):
        return FieldMap(source=name, column=node, reason="set by hand")
    if not isinstance(node, Mapping):
        c.add(path, "must be a column name or a mapping with `column`")
        return None
    conf = node.get("confidence", 1.0)
    if isinstance(conf, bool) or not isinstance(conf, int | float) or not 0 <= conf <= 1:
        c.add([*path, "confidence"], f"must be a number from 0 to 1, not {conf!r}")
        conf = 0.0
    truncate = node.get("truncate", False)
    if not isinstance(truncate, bool):
        c.add([*path, "truncate"], "must be true or false")
        truncate = False
    ftype = _opt_str(c, node, "type", path)
    if ftype and ftype not in COLUMN_KINDS:
        c.add([*path, "type"], f"unknown column type {ftype!r}")
    return FieldMap(
        source=name,
        column=_opt_str(c, node, "column", path),
        type=ftype,
        confidence=float(conf),
        reason=str(node.get("reason") or ""),
        header=_opt_str(c, node, "header", path),
        value_map=_opt_str(c, node, "value_map", path),
        truncate=truncate,
        create=_parse_create(c, node.get("create"), [*path, "create"]),
    )


def _parse_target(c: _Collector, role: str, node: Any) -> Target | None:
    path: list[str | int] = ["targets", role]
    if not isinstance(node, Mapping):
        c.add(path, "must be a mapping with source, table and fields")
        return None
    source = _opt_str(c, node, "source", path)
    table = _opt_str(c, node, "table", path)
    if not source:
        c.add([*path, "source"], "names the export object the rows come from")
    if not table:
        c.add([*path, "table"], "names the Dataverse table the rows go to")
    fields: dict[str, FieldMap] = {}
    raw_fields = node.get("fields") or {}
    if not isinstance(raw_fields, Mapping):
        c.add([*path, "fields"], "must map source fields to columns")
        raw_fields = {}
    seen_columns: dict[str, str] = {}
    for fname, fnode in raw_fields.items():
        fm = _parse_field(c, str(fname), fnode, [*path, "fields", str(fname)])
        if fm is None:
            continue
        if fm.column:
            if fm.column in seen_columns:
                c.add(
                    [*path, "fields", str(fname), "column"],
                    f"column {fm.column!r} is already the target of field "
                    f"{seen_columns[fm.column]!r}",
                )
            seen_columns[fm.column] = str(fname)
        fields[str(fname)] = fm
    create = None
    raw_create = node.get("create")
    if raw_create is not None:
        if not isinstance(raw_create, Mapping) or not raw_create.get("schema_name"):
            c.add([*path, "create"], "a new table needs schema_name, display_name, primary_name")
        else:
            create = TableCreate(
                schema_name=str(raw_create["schema_name"]),
                display_name=str(raw_create.get("display_name") or raw_create["schema_name"]),
                plural_name=str(raw_create.get("plural_name") or raw_create["schema_name"]),
                primary_name=str(
                    raw_create.get("primary_name") or f"{raw_create['schema_name']}Name"
                ),
            )
    enabled = node.get("enabled", True)
    if not isinstance(enabled, bool):
        c.add([*path, "enabled"], "must be true or false")
        enabled = True
    if not source or not table:
        return None
    return Target(
        role=role,
        source=source,
        table=table,
        rows=str(node.get("rows") or "all"),
        fields=fields,
        create=create,
        enabled=enabled,
    )


def _parse_value_map(c: _Collector, name: str, node: Any) -> ValueMap | None:
    path: list[str | int] = ["value_maps", name]
    if not isinstance(node, Mapping):
        c.add(path, "must be a mapping with values and a policy")
        return None
    policy = node.get("policy", "fail")
    if policy not in POLICIES:
        c.add([*path, "policy"], f"unknown policy {policy!r}; one of {', '.join(POLICIES)}")
        policy = "fail"
    values = node.get("values") or {}
    if not isinstance(values, Mapping):
        c.add([*path, "values"], "must map source values to option values")
        values = {}
    clean: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            c.add([*path, "values", key], "has no option value yet; pick one")
            continue
        ok_int = isinstance(value, int) and not isinstance(value, bool)
        ok_pair = (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        )
        if not (ok_int or ok_pair):
            c.add([*path, "values", key], f"must be an option value (integer), not {value!r}")
            continue
        clean[str(key).strip().lower()] = list(value) if ok_pair else value
    if policy == "default" and node.get("default") is None:
        c.add([*path, "default"], "policy `default` needs a default value")
    if policy == "keep_text" and not node.get("text_column"):
        c.add([*path, "text_column"], "policy `keep_text` needs a text_column")
    return ValueMap(
        name=name,
        values=clean,
        column=_opt_str(c, node, "column", path),
        policy=str(policy),
        default=node.get("default"),
        text_column=_opt_str(c, node, "text_column", path),
    )


def _parse_owners(c: _Collector, node: Any) -> Owners:
    if node is None:
        return Owners()
    if not isinstance(node, Mapping):
        c.add(["owners"], "must be a mapping with fallback and coaches")
        return Owners()
    coaches: dict[str, CoachOwner] = {}
    raw = node.get("coaches") or {}
    if not isinstance(raw, Mapping):
        c.add(["owners", "coaches"], "must map coach ids to users")
        raw = {}
    for cid, cnode in raw.items():
        path: list[str | int] = ["owners", "coaches", str(cid)]
        if not isinstance(cnode, Mapping):
            c.add(path, "must be a mapping with email, user and status")
            continue
        status = str(cnode.get("status") or "unmatched")
        if status not in OWNER_STATUSES:
            c.add([*path, "status"], f"unknown status {status!r}; one of {OWNER_STATUSES}")
        coaches[str(cid)] = CoachOwner(
            coach_id=str(cid),
            email=_opt_str(c, cnode, "email", path),
            user=_opt_str(c, cnode, "user", path),
            systemuserid=_opt_str(c, cnode, "systemuserid", path),
            status=status,
            reason=str(cnode.get("reason") or ""),
        )
    return Owners(
        fallback=_opt_str(c, node, "fallback", ["owners"]),
        fallback_id=_opt_str(c, node, "fallback_id", ["owners"]),
        coaches=coaches,
    )


def _parse(data: CommentedMap) -> tuple[MappingSpec | None, list[Problem]]:
    c = _Collector(data)
    version = data.get("version", MAP_VERSION)
    if version != MAP_VERSION:
        c.add(["version"], f"this crm-ferry reads map version {MAP_VERSION}, not {version!r}")
    status = data.get("status", "proposed")
    if status not in ("proposed", "confirmed"):
        c.add(["status"], f"must be proposed or confirmed, not {status!r}")
        status = "proposed"
    threshold = data.get("confirm_threshold", DEFAULT_CONFIRM_THRESHOLD)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        c.add(["confirm_threshold"], "must be a number from 0 to 1")
        threshold = DEFAULT_CONFIRM_THRESHOLD
    fp = data.get("fingerprint") or {}
    if not isinstance(fp, Mapping):
        c.add(["fingerprint"], "must be a mapping with source and target")
        fp = {}
    targets: dict[str, Target] = {}
    raw_targets = data.get("targets")
    if not isinstance(raw_targets, Mapping) or not raw_targets:
        c.add(["targets"], "the map has no targets")
        raw_targets = {}
    for role, tnode in raw_targets.items():
        t = _parse_target(c, str(role), tnode)
        if t is not None:
            targets[str(role)] = t
    value_maps: dict[str, ValueMap] = {}
    raw_vm = data.get("value_maps") or {}
    if not isinstance(raw_vm, Mapping):
        c.add(["value_maps"], "must map names to value maps")
        raw_vm = {}
    for name, vnode in raw_vm.items():
        vm = _parse_value_map(c, str(name), vnode)
        if vm is not None:
            value_maps[str(name)] = vm
    for role, t in targets.items():
        for fname, fm in t.fields.items():
            if fm.value_map and fm.value_map not in value_maps:
                c.add(
                    ["targets", role, "fields", fname, "value_map"],
                    f"value map {fm.value_map!r} is not defined under value_maps",
                )
    options = data.get("options") or {}
    if not isinstance(options, Mapping):
        c.add(["options"], "must be a mapping")
        options = {}
    spec = MappingSpec(
        status=str(status),
        targets=targets,
        value_maps=value_maps,
        owners=_parse_owners(c, data.get("owners")),
        documents=_parse_documents(c, data.get("documents")),
        fingerprint=Fingerprint(source=fp.get("source"), target=fp.get("target")),
        publisher_prefix=str(data.get("publisher_prefix") or "new"),
        confirm_threshold=float(threshold),
        options=dict(options),
        confirmed_by=data.get("confirmed_by"),
        confirmed_at=None if data.get("confirmed_at") is None else str(data["confirmed_at"]),
        version=MAP_VERSION,
    )
    return spec, c.problems


def _parse_documents(c: _Collector, node: Any) -> Documents:
    if node is None:
        return Documents()
    if not isinstance(node, Mapping):
        c.add(["documents"], "must be a mapping with files, images and linked")
        return Documents()
    values: dict[str, str] = {}
    for key, allowed in (
        ("files", DOCUMENT_STORES),
        ("images", DOCUMENT_STORES),
        ("linked", LINKED_POLICIES),
    ):
        value = node.get(key)
        if value is None:
            continue
        if value not in allowed:
            c.add(["documents", key], f"must be one of {', '.join(allowed)}, not {value!r}")
            continue
        if key == "images" and value != "dataverse":
            # a note's inline images stay notes on the session: refused rather than ignored
            c.add(
                ["documents", key],
                f"{value} is not supported for the images inlined in notes yet: set dataverse "
                "(each image becomes a note carrying it, on the session)",
            )
            continue
        values[key] = str(value)
    for key in node:
        if str(key) not in ("files", "images", "linked"):
            c.add(["documents", str(key)], "is not a setting of documents (files, images, linked)")
    default = Documents()
    return Documents(
        files=cast(DocumentStore, values.get("files", default.files)),
        images=cast(DocumentStore, values.get("images", default.images)),
        linked=cast(LinkedPolicy, values.get("linked", default.linked)),
    )


def digest(value: Any) -> str:
    """A stable sha256 of a JSON-able value (the fingerprints of source and target)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def to_commented(value: Any, *, flow_depth: int | None = None, _depth: int = 0) -> Any:
    """Plain dicts and lists → round-trip nodes.

    The field entries of ``targets`` (depth 4) are written in flow style, one line each,
    so a person reads the map as a table.
    """
    if isinstance(value, Mapping):
        m = CommentedMap()
        for k, v in value.items():
            m[k] = to_commented(v, flow_depth=flow_depth, _depth=_depth + 1)
        if flow_depth is not None and _depth >= flow_depth:
            m.fa.set_flow_style()
        return m
    if isinstance(value, list | tuple):
        s = CommentedSeq(to_commented(v, flow_depth=flow_depth, _depth=_depth + 1) for v in value)
        s.fa.set_flow_style()
        return s
    return value
