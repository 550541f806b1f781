"""Apply a :class:`~crm_ferry.provision.plan.Plan`, journal it, and reverse it.

:func:`apply_plan` runs the plan's operations in order inside the chosen unmanaged solution
(``MSCRM.SolutionUniqueName``), writing each to the schema journal before and after its
request (:mod:`crm_ferry.journal.schema`), publishes the tables it touched and waits until
every new alternate key is Active. :func:`rollback_schema` reverses the journaled operations of this
environment newest first; it refuses (before it deletes anything) to drop a table that has
rows or a column, lookup or option that holds values, unless ``force`` is given.

A provision or rollback killed part-way leaves its run ``running`` and an operation
``pending``: :func:`recover_runs`, which the next provision or rollback calls first, closes
such a run ``interrupted`` (one another live process still writes is refused) and settles
each ``pending`` operation from what the tenant holds (there: ``applied``, so rollback
reverses it; not there: ``failed``, and provisioning makes it again).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.dataverse.errors import NotFound
from crm_ferry.dataverse.metadata import ColumnSpec, label
from crm_ferry.errors import CheckFailed, ConfigError, FerryError, Incomplete, MapError
from crm_ferry.journal import (
    Journal,
    JournalError,
    PostgresTarget,
    SchemaOpOutcome,
    SchemaRunKind,
    journal_exists,
)
from crm_ferry.provision.compare import CHOICE_KINDS
from crm_ferry.provision.ops import Reverse, SchemaOp
from crm_ferry.provision.plan import Plan

PLACEHOLDER_OPTION = "crm-ferry placeholder (removed once the column exists)"
"""The one option a choice with no options yet is created with (the service wants one), and
deleted again right after."""


class ProvisionIncomplete(Incomplete):
    """An operation failed part-way; what ran before it is journaled and can be reversed."""

    def __init__(
        self,
        message: str,
        *,
        run_id: str,
        applied: int,
        hint: str,
        done: ApplyResult | RollbackResult | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.run_id = run_id
        self.applied = applied
        self.done = done
        """What was applied (or reversed) before the failure."""


class RollbackRefused(CheckFailed):
    """Rollback would drop data (rows of a table, values of a column); ``force`` allows it."""

    def __init__(self, held: Sequence[str]) -> None:
        self.held = list(held)
        super().__init__(
            "rollback refused: it would drop data\n" + "\n".join(f"  {h}" for h in held),
            hint="roll back the data first (`crm-ferry rollback <run>`), or pass --force to drop "
            "these tables and columns with their data",
        )


@dataclass(frozen=True, slots=True)
class AppliedOp:
    seq: int
    op: SchemaOp
    metadata_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "metadata_id": self.metadata_id, **self.op.as_dict()}


@dataclass(frozen=True, slots=True)
class ApplyResult:
    run_id: str | None
    """The schema run in the journal (``None`` when there was nothing to do)."""
    applied: tuple[AppliedOp, ...]
    published: tuple[str, ...]
    solution: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "solution": self.solution,
            "applied": [a.as_dict() for a in self.applied],
            "published": list(self.published),
        }


@dataclass(frozen=True, slots=True)
class ReversedOp:
    run_id: str
    seq: int
    reverse: Reverse
    outcome: SchemaOpOutcome
    """``reversed``, or ``absent`` when it was already gone."""

    @property
    def summary(self) -> str:
        """What was done, in words: "deleted column contact.new_tags and its values"."""
        return self.reverse.done(self.outcome)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "seq": self.seq,
            "outcome": self.outcome,
            "summary": self.summary,
            **self.reverse.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class RollbackResult:
    run_id: str | None
    reversed: tuple[ReversedOp, ...]
    published: tuple[str, ...]
    forced: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "reversed": [r.as_dict() for r in self.reversed],
            "published": list(self.published),
            "forced": self.forced,
        }


@dataclass(frozen=True, slots=True)
class Recovered:
    """A schema run found ``running`` with its process gone, closed ``interrupted``; with
    how its unanswered operations were settled."""

    run_id: str
    kind: SchemaRunKind
    pid: int | None
    host: str | None
    found: int = 0
    """Unanswered operations the tenant has: now ``applied`` (rollback reverses them)."""
    missing: int = 0
    """Unanswered operations the tenant does not have: now ``failed`` (made again)."""

    @property
    def message(self) -> str:
        who = f"process {self.pid} on {self.host}" if self.pid is not None else "its process"
        text = (
            f"schema run {self.run_id} ({self.kind}) was interrupted ({who} is gone, it was "
            "left running): closed it as interrupted"
        )
        if self.found or self.missing:
            text += (
                f"; of the operation(s) it sent without an answer, {self.found} took effect "
                f"(journaled as applied) and {self.missing} did not (made again when needed)"
            )
        if self.kind == "rollback":
            text += "; what it did not reverse is reversed by `crm-ferry provision --rollback`"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "kind": self.kind,
            "pid": self.pid,
            "host": self.host,
            "found": self.found,
            "missing": self.missing,
            "message": self.message,
        }


def recover_runs(
    client: DataverseClient, *, journal_path: Path | PostgresTarget
) -> tuple[Recovered, ...]:
    """Close the schema runs left ``running`` by a process that is gone (killed, crashed)
    as ``interrupted``, and settle the unanswered (``pending``) operations of this
    environment's provision runs from the tenant's metadata. A run another live process is
    still writing raises :class:`~crm_ferry.journal.JournalError` before anything changes."""
    if not journal_exists(journal_path):
        return ()
    with Journal(journal_path) as j:
        journal = j.schema
        stale = journal.unfinished()
        for run in stale:
            if journal.is_live(run):
                raise JournalError(
                    f"schema run {run.run_id} ({run.kind}) is still being written by process "
                    f"{run.pid} on {run.host}",
                    hint="wait for that provision to finish, or stop it (Ctrl-C), then run the "
                    "command again",
                )
        closed: dict[str, Recovered] = {}
        for run in stale:
            who = f"process {run.pid} on {run.host}" if run.pid is not None else "its process"
            if journal.close_interrupted(run.run_id, f"{who} stopped before the run ended"):
                closed[run.run_id] = Recovered(run.run_id, run.kind, run.pid, run.host)
        pending = journal.pending(environment=client.url)
        if pending:
            client.metadata.forget()
        for entry in pending:
            op = SchemaOp.from_dict(entry.op)
            there = took_effect(client, op)
            note = (
                "sent, answer lost; found in the tenant"
                if there
                else "never took effect (the run stopped before the service answered)"
            )
            journal.settle(entry, applied=there, note=note)
            seen = closed.get(entry.run_id)
            if seen is not None:
                closed[entry.run_id] = dataclasses.replace(
                    seen, found=seen.found + there, missing=seen.missing + (not there)
                )
    return tuple(closed.values())


def took_effect(client: DataverseClient, op: SchemaOp) -> bool:
    """Whether the tenant has what ``op`` makes (an operation whose answer was lost)."""
    md = client.metadata
    if not md.has_table(op.table):
        return False
    if op.kind == "create_table":
        return True
    if op.kind == "add_option":
        column = md.columns(op.table).get(str(op.params["column"]))
        return column is not None and int(op.params["value"]) in column.options
    if op.kind == "create_key":
        return any((k.logical_name or k.schema_name).lower() == op.name for k in md.keys(op.table))
    return op.name in md.columns(op.table)


# ---------------------------------------------------------------------------
# Apply


def apply_plan(
    plan: Plan,
    client: DataverseClient,
    *,
    journal_path: Path | PostgresTarget,
    solution: str | None = None,
    publish: bool = True,
) -> ApplyResult:
    """Run ``plan`` in order inside ``solution`` (default: the client's), journaling each op.

    Conflicts in the plan stop it before anything is sent. A failing operation raises
    :class:`ProvisionIncomplete`; what ran before it stays journaled for :func:`rollback_schema`.
    """
    if plan.conflicts:
        raise MapError(
            f"{len(plan.conflicts)} conflict(s) between the map and the tenant:\n"
            + "\n".join(f"  {c}" for c in plan.conflicts),
            hint="fix these in mapping.yaml (or in the tenant), then run `crm-ferry provision "
            "--dry-run` again",
        )
    chosen = solution if solution is not None else client.options.solution
    if plan.empty:
        return ApplyResult(None, (), (), chosen)
    if chosen:
        _require_solution(client, chosen)
    applied: list[AppliedOp] = []
    with Journal(journal_path) as j, _in_solution(client, chosen):
        journal = j.schema
        run_id = journal.start_run("provision", environment=client.url, solution=chosen)
        for seq, op in enumerate(plan.ops, start=1):
            journal.record(
                run_id,
                seq,
                kind=op.kind,
                table=op.table,
                name=op.name,
                op=op.as_dict(),
                reverse=op.reverse.as_dict(),
            )
            try:
                metadata_id = _apply_op(client, op, chosen)
            except FerryError as exc:
                journal.failed(run_id, seq, str(exc))
                journal.finish_run(run_id, "failed", str(exc))
                raise ProvisionIncomplete(
                    f"{op.description}: {exc}",
                    run_id=run_id,
                    applied=len(applied),
                    done=ApplyResult(run_id, tuple(applied), (), chosen),
                    hint=f"{len(applied)} operation(s) before it are journaled: fix the cause "
                    "and run `crm-ferry provision` again (it continues where it stopped), or "
                    "`crm-ferry provision --rollback` to undo them",
                ) from exc
            journal.applied(run_id, seq, metadata_id)
            applied.append(AppliedOp(seq, op, metadata_id))
        try:
            published = _publish(client, plan.tables()) if publish else ()
            for op in plan.ops:
                if op.kind == "create_key":
                    client.metadata.wait_key_active(op.table, str(op.params["schema_name"]))
        except FerryError as exc:
            journal.finish_run(run_id, "failed", str(exc))
            raise
        journal.finish_run(run_id, "done")
    return ApplyResult(run_id, tuple(applied), published, chosen)


def column_spec(params: Mapping[str, Any]) -> ColumnSpec:
    """The :class:`ColumnSpec` of a ``create_column`` op's params."""
    options = tuple((int(v), str(t)) for v, t in params.get("options") or ())
    return ColumnSpec(
        kind=params["kind"],
        schema_name=str(params["schema_name"]),
        label=str(params.get("label") or params["schema_name"]),
        max_length=params.get("max_length"),
        precision=params.get("precision"),
        format=params.get("format"),
        datetime_behavior=params.get("datetime_behavior"),
        options=options,
    )


def _apply_op(client: DataverseClient, op: SchemaOp, solution: str | None) -> str | None:
    md = client.metadata
    p = op.params
    if op.kind == "create_table":
        info = md.create_table(
            str(p["schema_name"]),
            display_name=str(p["display_name"]),
            plural_name=str(p["plural_name"]),
            primary_name=str(p["primary_name"]),
        )
        return info.metadata_id
    if op.kind == "create_column":
        if p["kind"] in CHOICE_KINDS and not p.get("options"):
            return _create_empty_choice(client, op.table, column_spec(p))
        return md.create_column(op.table, column_spec(p)) or None
    if op.kind == "add_option":
        body: dict[str, Any] = {
            "EntityLogicalName": op.table,
            "AttributeLogicalName": str(p["column"]),
            "Value": int(p["value"]),
            "Label": label(str(p["label"])),
        }
        if solution:
            body["SolutionUniqueName"] = solution
        client.call("InsertOptionValue", body, idempotent=False)
        md.forget(op.table)
        return None
    if op.kind == "create_lookup":
        return (
            md.create_lookup(
                op.table,
                str(p["schema_name"]),
                target_table=str(p["target_table"]),
                label_text=str(p.get("label") or p["schema_name"]),
                relationship_schema_name=str(p["relationship"]),
            )
            or None
        )
    md.create_key(op.table, str(p["schema_name"]), list(p["columns"]), wait=False)
    return None


def _create_empty_choice(client: DataverseClient, table: str, spec: ColumnSpec) -> str | None:
    """A choice with no options yet: the service wants one to create it, so it is created with
    :data:`PLACEHOLDER_OPTION` (value assigned by the service), which is then deleted."""
    md = client.metadata
    spec = dataclasses.replace(spec, options=((None, PLACEHOLDER_OPTION),))
    metadata_id = md.create_column(table, spec) or None
    column = spec.schema_name.lower()
    md.forget(table)
    options = md.columns(table)[column].options
    for value, text in options.items():
        if text == PLACEHOLDER_OPTION:
            client.call(
                "DeleteOptionValue",
                {"EntityLogicalName": table, "AttributeLogicalName": column, "Value": value},
                idempotent=False,
            )
    md.forget(table)
    return metadata_id


@contextlib.contextmanager
def _in_solution(client: DataverseClient, solution: str | None) -> Iterator[None]:
    """Metadata writes carry ``MSCRM.SolutionUniqueName: solution`` while inside."""
    before = client.options
    if solution == before.solution:
        yield
        return
    client.options = dataclasses.replace(before, solution=solution)
    try:
        yield
    finally:
        client.options = before


def _require_solution(client: DataverseClient, solution: str) -> None:
    escaped = solution.replace("'", "''")
    rows = list(
        client.query_path(
            "solutions",
            params={"$select": "uniquename,ismanaged", "$filter": f"uniquename eq '{escaped}'"},
            page_size=0,
        )
    )
    if not rows:
        raise ConfigError(
            f"the solution {solution!r} does not exist in the environment",
            hint="create the unmanaged solution (with the publisher whose prefix the map uses) "
            "or fix [dataverse] solution in ferry.toml",
        )
    if rows[0].get("ismanaged"):
        raise ConfigError(
            f"the solution {solution!r} is managed; new components need an unmanaged one",
            hint="create an unmanaged solution and set [dataverse] solution in ferry.toml",
        )


def _publish(client: DataverseClient, tables: Sequence[str]) -> tuple[str, ...]:
    md = client.metadata
    md.forget()
    alive = tuple(t for t in dict.fromkeys(tables) if md.has_table(t))
    if alive:
        client.publish(alive)
    return alive


# ---------------------------------------------------------------------------
# Rollback


def rollback_schema(
    client: DataverseClient,
    *,
    journal_path: Path | PostgresTarget,
    run_id: str | None = None,
    force: bool = False,
    publish: bool = True,
) -> RollbackResult:
    """Reverse the journaled schema operations of this environment (of one run, if given),
    newest first; then publish the tables that remain.

    Without ``force`` it first checks every table it would drop for rows and every column,
    lookup and option for values, and raises :class:`RollbackRefused` listing them before it
    changes anything.
    """
    if not journal_exists(journal_path):
        return RollbackResult(None, (), (), force)
    with Journal(journal_path) as j:
        journal = j.schema
        todo = [
            (entry, SchemaOp.from_dict(entry.op))
            for entry in reversed(journal.open_ops(environment=client.url, run_id=run_id))
        ]
        if not todo:
            return RollbackResult(None, (), (), force)
        client.metadata.forget()
        if not force:
            held = data_held(client, [op.reverse for _, op in todo])
            if held:
                raise RollbackRefused(held)
        rb_id = journal.start_run("rollback", environment=client.url, solution=None)
        done: list[ReversedOp] = []
        for entry, op in todo:
            try:
                outcome = undo(client, op.reverse)
            except FerryError as exc:
                journal.finish_run(rb_id, "failed", str(exc))
                raise ProvisionIncomplete(
                    f"{op.reverse.description}: {exc}",
                    run_id=rb_id,
                    applied=len(done),
                    done=RollbackResult(rb_id, tuple(done), (), force),
                    hint=f"{len(done)} operation(s) were reversed before it; fix the cause and "
                    "run `crm-ferry provision --rollback` again to reverse the rest",
                ) from exc
            journal.reversed(entry, by=rb_id, outcome=outcome)
            done.append(ReversedOp(entry.run_id, entry.seq, op.reverse, outcome))
        tables = [op.table for _, op in todo]
        published = _publish(client, tables) if publish else ()
        journal.finish_run(rb_id, "done")
    return RollbackResult(rb_id, tuple(done), published, force)


def undo(client: DataverseClient, r: Reverse) -> SchemaOpOutcome:
    """Run one reverse operation: ``reversed``, or ``absent`` when it was gone already."""
    md = client.metadata
    try:
        if r.kind == "delete_table":
            md.delete_table(r.table)
        elif r.kind == "delete_column":
            md.delete_column(r.table, str(r.params.get("column") or r.name))
        elif r.kind == "delete_option":
            client.call(
                "DeleteOptionValue",
                {
                    "EntityLogicalName": r.table,
                    "AttributeLogicalName": str(r.params["column"]),
                    "Value": int(r.params["value"]),
                },
                idempotent=False,
            )
            md.forget(r.table)
        elif r.kind == "delete_relationship":
            md.delete_relationship(str(r.params.get("schema_name") or r.name))
            md.forget(r.table)
        else:
            md.delete_key(r.table, r.name)
    except NotFound:
        md.forget(r.table)
        return "absent"
    return "reversed"


def data_held(client: DataverseClient, reverses: Sequence[Reverse]) -> list[str]:
    """What running ``reverses`` would drop: tables with rows, columns and options in use."""
    dropped = {r.table for r in reverses if r.kind == "delete_table"}
    out: list[str] = []
    for r in reverses:
        if r.kind == "delete_table":
            if _has_rows(client, r.table):
                out.append(f"table {r.table} has rows")
        elif r.table in dropped:
            continue  # its rows (and so its values) are checked with the table
        elif r.kind in ("delete_column", "delete_relationship"):
            column = str(r.params.get("column") or r.name)
            lookup = r.kind == "delete_relationship"
            if _column_has_values(client, r.table, column, lookup=lookup):
                out.append(f"column {r.table}.{column} holds values")
        elif r.kind == "delete_option":
            column = str(r.params["column"])
            value = int(r.params["value"])
            multi = r.params.get("choice") == "MultiSelectPicklist"
            if _option_in_use(client, r.table, column, value, multi=multi):
                out.append(f"option {value} of {r.table}.{column} is used by rows")
    return out


def _has_rows(client: DataverseClient, table: str) -> bool:
    md = client.metadata
    if not md.has_table(table):
        return False
    rows = client.query(table, select=[md.table(table).primary_id], top=1)
    return next(iter(rows), None) is not None


def _column_has_values(client: DataverseClient, table: str, column: str, *, lookup: bool) -> bool:
    md = client.metadata
    if not md.has_table(table) or column not in md.columns(table):
        return False
    name = f"_{column}_value" if lookup else column
    rows = client.query(table, select=[name], filter=f"{name} ne null", top=1)
    return next(iter(rows), None) is not None


def _option_in_use(
    client: DataverseClient, table: str, column: str, value: int, *, multi: bool
) -> bool:
    md = client.metadata
    if not md.has_table(table) or column not in md.columns(table):
        return False
    if not multi:
        rows = client.query(table, select=[column], filter=f"{column} eq {value}", top=1)
        return next(iter(rows), None) is not None
    # A multi-select choice reads as "v1,v2,..."; ContainValues is not answered everywhere.
    for row in client.query(table, select=[column], filter=f"{column} ne null"):
        chosen = str(row.get(column) or "")
        if str(value) in {v.strip() for v in chosen.split(",")}:
            return True
    return False
