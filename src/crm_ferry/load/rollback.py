"""Rollback: undo a run from its journal, in reverse load order, without clobbering edits.

For every operation the run completed, newest first:

- a row the run **created** (no earlier run had written it) is deleted;
- a row the run **changed** (an earlier run had written it) gets back the values the earlier
  run wrote (the before-image journaled with the operation);
- state changes, closes and actions on a row that is deleted with it need nothing more.

Before touching a row, its current values of the columns the run wrote are compared with
what the run wrote. A difference means someone edited the row in Dynamics after the run:
the row is left as it is and reported as a conflict, unless ``force``. Rollback is itself
a journaled run (kind ``rollback``) and can be resumed: deleting a row that is already gone
counts as done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from crm_ferry.dataverse.batch import BatchOperation
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.dataverse.errors import DataverseError
from crm_ferry.journal import Journal, JournalError, JournalOp, RunState
from crm_ferry.progress import NO_PROGRESS, Progress
from crm_ferry.reconcile.diff import compare_row, lookup_id

ID_CHUNK = 50
"""Rows read back per query when checking for conflicts (ids in the URL)."""
BATCH = 100
"""Deletes per ``$batch``."""


@dataclass(slots=True)
class RollbackResult:
    run_id: str
    rollback_id: str
    deleted: int = 0
    restored: int = 0
    already_gone: int = 0
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    preview: bool = False
    planned: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "rollback_id": self.rollback_id,
            "preview": self.preview,
            "deleted": self.deleted,
            "restored": self.restored,
            "already_gone": self.already_gone,
            "conflicts": self.conflicts,
            "failures": self.failures,
            "planned": self.planned,
        }


class Rollback:
    def __init__(
        self,
        journal: Journal,
        client: DataverseClient,
        *,
        lookups: Mapping[str, Mapping[str, str]] | None = None,
        progress: Progress = NO_PROGRESS,
    ) -> None:
        self.j = journal
        self.client = client
        self.lookups = lookups or {}
        self.progress = progress
        self._columns: dict[str, Mapping[str, Any]] = {}
        self._protected: set[str] = set()
        """Rows a kept (conflicting) row points to: deleting them would cascade to it or
        leave it pointing nowhere, so they stay too."""

    def _lookups(self, table: str) -> Mapping[str, str]:
        if table not in self.lookups:
            rels = self.client.metadata.relationships(table)
            self.lookups = {
                **self.lookups,
                table: {r.navigation_property: r.referencing_attribute for r in rels},
            }
        return self.lookups[table]

    def plan(self, run_id: str) -> tuple[list[JournalOp], list[JournalOp]]:
        """(rows to delete, rows to restore) of a run, in reverse load order."""
        ops = self.j.ops(run_id, state="done")
        ops.reverse()
        # Only the rows' own writes (phase 0) create rows; second-pass links and state
        # changes touch rows that go with them.
        to_delete = [o for o in ops if o.kind == "upsert" and not o.existed and o.phase == 0]
        deleted_rows = {(o.table, o.row_id) for o in to_delete}
        to_restore = [
            o
            for o in ops
            if (o.table, o.row_id) not in deleted_rows and o.existed and o.kind == "upsert"
        ]
        return to_delete, to_restore

    def preview(self, run_id: str) -> RollbackResult:
        to_delete, to_restore = self.plan(run_id)
        planned: dict[str, dict[str, int]] = {}
        for o in to_delete:
            planned.setdefault(o.table, {"delete": 0, "restore": 0})["delete"] += 1
        for o in to_restore:
            planned.setdefault(o.table, {"delete": 0, "restore": 0})["restore"] += 1
        return RollbackResult(run_id, "", preview=True, planned=planned)

    def run(self, run_id: str, *, force: bool = False) -> RollbackResult:
        info = self.j.run(run_id)
        if info.kind == "rollback":
            raise JournalError(f"{run_id} is itself a rollback", hint="roll back a load run")
        if info.rolled_back_by and info.state == "rolled_back":
            raise JournalError(
                f"run {run_id} was already rolled back by {info.rolled_back_by}",
                hint="list runs with `crm-ferry runs`",
            )
        pending = [
            r
            for r in self.j.runs()
            if r.kind == "rollback" and r.state == "running" and r.note == f"rollback of {run_id}"
        ]
        rid = (
            pending[-1].run_id
            if pending
            else self.j.start_run("rollback", note=f"rollback of {run_id}", source=run_id)
        )
        result = RollbackResult(run_id, rid)
        to_delete, to_restore = self.plan(run_id)
        self.progress.start("rollback", total=len(to_delete) + len(to_restore))
        self._restore(run_id, to_restore, result, force)
        self._delete(run_id, to_delete, result, force)
        deletes = [f for f in result.failures if f.get("action") == "delete"]
        if deletes:
            # A child of a read-only parent (the line of a paid invoice) cannot be deleted
            # on its own; deleting the parent removes it (cascade). Try those once more.
            retry_ids = {f["id"] for f in deletes}
            retry = [o for o in to_delete if o.row_id in retry_ids]
            result.failures = [f for f in result.failures if f not in deletes]
            self._delete(run_id, retry, result, force=True)
        self.progress.finish("rollback")
        conflicts = {(c["table"], c["id"]) for c in result.conflicts}
        state: RunState = "done" if not result.failures else "failed"
        self.j.finish_run(
            rid,
            state,
            {
                "deleted": result.deleted,
                "restored": result.restored,
                "already_gone": result.already_gone,
                "conflicts": len(conflicts),
                "failures": len(result.failures),
            },
        )
        if state == "done":
            self.j.mark_rolled_back(
                run_id, state="rolled_back" if not conflicts else "partly_rolled_back", by=rid
            )
        return result

    # -- reading current rows ---------------------------------------------------------

    def _current(self, table: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return self.client.retrieve_many(table, ids, chunk=ID_CHUNK)

    def _conflict(self, op: JournalOp, row: Mapping[str, Any] | None) -> list[str]:
        """Columns the run wrote whose value in Dynamics differs from what it wrote."""
        if row is None or op.payload is None:
            return []
        if op.table not in self._columns:
            self._columns[op.table] = self.client.metadata.columns(op.table)
        diffs = compare_row(
            op.table,
            {k: v for k, v in op.payload.items() if k not in op.create_only},
            row,
            columns=self._columns[op.table],
            source_values={},
            navigation=self._lookups(op.table),
        )
        return [d.field for d in diffs if d.verdict == "mismatch"]

    def _still_ours(
        self,
        op: JournalOp,
        current: Mapping[str, Mapping[str, Any]],
        result: RollbackResult,
        force: bool,
        action: str,
    ) -> bool:
        """Whether ``op``'s row is there as the run left it (or ``force``); a row already
        gone is settled, a row edited since is a conflict and stays."""
        row = current.get(op.row_id.lower())
        if row is None:
            result.already_gone += 1
            self.j.restore(op)
            return False
        changed = self._conflict(op, row)
        if changed and not force:
            result.conflicts.append(
                {"table": op.table, "id": op.row_id, "columns": changed, "action": action}
            )
            self._keep(op)
            return False
        return True

    def _keep(self, op: JournalOp) -> None:
        """``op``'s row stays: protect the rows it points to."""
        for key, value in (op.payload or {}).items():
            if key.endswith("@odata.bind"):
                ref = lookup_id(value)
                if ref:
                    self._protected.add(ref)

    def _by_table(self, ops: Sequence[JournalOp]) -> list[tuple[str, list[JournalOp]]]:
        groups: list[tuple[str, list[JournalOp]]] = []
        for op in ops:
            if groups and groups[-1][0] == op.table:
                groups[-1][1].append(op)
            else:
                groups.append((op.table, [op]))
        return groups

    # -- restoring and deleting -----------------------------------------------------------

    def _restore(
        self, run_id: str, ops: Sequence[JournalOp], result: RollbackResult, force: bool
    ) -> None:
        for table, group in self._by_table(ops):
            current = self._current(table, [o.row_id for o in group])
            for op in group:
                if not self._still_ours(op, current, result, force, "restore"):
                    continue
                if op.prev_payload is None:
                    result.failures.append(
                        {
                            "table": table,
                            "id": op.row_id,
                            "error": "no before-image (the run was purged)",
                        }
                    )
                    continue
                # columns the service takes only on create keep the value they were made with
                image = {k: v for k, v in op.prev_payload.items() if k not in op.create_only}
                try:
                    self.client.update(table, op.row_id, image)
                except DataverseError as exc:
                    result.failures.append(
                        {"table": table, "id": op.row_id, "error": str(exc), "action": "restore"}
                    )
                    continue
                self.j.restore(op)
                result.restored += 1
                self.progress.advance("rollback")

    def _delete(
        self, run_id: str, ops: Sequence[JournalOp], result: RollbackResult, force: bool
    ) -> None:
        for table, group in self._by_table(ops):
            current = self._current(table, [o.row_id for o in group])
            doomed: list[JournalOp] = []
            for op in group:
                if not self._still_ours(op, current, result, force, "delete"):
                    continue
                if op.row_id.lower() in self._protected and not force:
                    result.conflicts.append(
                        {
                            "table": table,
                            "id": op.row_id,
                            "columns": [],
                            "action": "kept: a row edited since the run points to it",
                        }
                    )
                    self._keep(op)
                    continue
                doomed.append(op)
            entity_set = self.client.metadata.entity_set(table)
            for start in range(0, len(doomed), BATCH):
                chunk = doomed[start : start + BATCH]
                items = [BatchOperation("DELETE", f"{entity_set}({o.row_id})") for o in chunk]
                try:
                    answers = self.client.execute_batch(items)
                except DataverseError as exc:
                    for o in chunk:
                        result.failures.append(
                            {"table": table, "id": o.row_id, "error": str(exc), "action": "delete"}
                        )
                    continue
                for op, part in zip(chunk, answers, strict=True):
                    if part is not None and (part.ok or part.status == 404):
                        if part.status == 404:
                            result.already_gone += 1
                        else:
                            result.deleted += 1
                        self.j.forget_row(op.table, op.row_id)
                    else:
                        err = (
                            str(part.error("DELETE", entity_set))
                            if part is not None
                            else "not executed"
                        )
                        result.failures.append(
                            {"table": table, "id": op.row_id, "error": err, "action": "delete"}
                        )
                self.progress.advance("rollback", len(chunk))
