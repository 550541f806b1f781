"""Undoing one run: rows written again, restored, then deleted, each step journaled.

The order is the one the links need: rows the run deleted are written again first (in load
order: parents before children), then rows the run changed get back their values (so a
matched contact no longer points at a household account before that account goes), then
rows the run made are deleted (in reverse load order: children before parents).

Before a row is touched it is read. It stays as it is, and is listed as a **conflict**,
when a person changed it since (its last writer is not one of the project's application
users, or a column the project wrote holds something else; the columns and who changed it
are listed), or when a row the project did not write (or a row of another run) points at
it: deleting it would take that row with it or leave it pointing nowhere. ``force``
overrides the first kind, never the second: rows of others are not deleted by cascade.

Each step is journaled before its request (``pending``) and after its answer, so an
interrupted rollback resumes where it stopped: a row restored before the interruption is
not mistaken for a conflict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from crm_ferry.dataverse.errors import DataverseError
from crm_ferry.errors import FerryError
from crm_ferry.journal import Journal, JournalError, RunState, UndoStep
from crm_ferry.load.images import BIND, STATE
from crm_ferry.load.rollback.plan import UndoRow, plan_rows, planned_counts
from crm_ferry.load.rollback.tenant import READ_ONLY_WHEN_CLOSED, Pointer, Tenant
from crm_ferry.progress import NO_PROGRESS, Progress
from crm_ferry.reconcile.diff import lookup_id
from crm_ferry.transform.roles.sharepoint import FILE_TABLE

GROUP = 500
"""Rows judged and undone at a time (read back together, deleted in ``$batch`` requests)."""
SETTLED = frozenset({"done", "gone"})


@dataclass(slots=True)
class RollbackResult:
    run_id: str
    rollback_id: str
    deleted: int = 0
    restored: int = 0
    recreated: int = 0
    already_gone: int = 0
    """Rows with nothing left to undo: gone already, or already as they were before."""
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    preview: bool = False
    planned: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def complete(self) -> bool:
        """Nothing left behind: no failure, no row kept."""
        return not self.failures and not self.conflicts

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "rollback_id": self.rollback_id,
            "preview": self.preview,
            "deleted": self.deleted,
            "restored": self.restored,
            "recreated": self.recreated,
            "already_gone": self.already_gone,
            "conflicts": self.conflicts,
            "failures": self.failures,
            "warnings": self.warnings,
            "planned": self.planned,
        }


CLOSING = frozenset({"state", "close", "action"})
KIND_ORDER = {"upsert": 0, "update": 0, "state": 1, "close": 1, "action": 2}


def _entry_kind(entry: Mapping[str, Any]) -> str:
    return str(entry.get("kind") or str(entry.get("op_key", "")).split("/")[2])


def _entry_order(entry: Mapping[str, Any]) -> tuple[int, int]:
    """Id-map entries in the order they were written: by phase, then kind."""
    phase = str(entry.get("op_key", "")).rsplit("/", 1)[-1]
    return (int(phase) if phase.isdigit() else 9, KIND_ORDER.get(_entry_kind(entry), 3))


def _groups(rows: Sequence[UndoRow]) -> list[tuple[str, list[UndoRow]]]:
    """Consecutive rows of one table, at most :data:`GROUP` at a time."""
    out: list[tuple[str, list[UndoRow]]] = []
    for row in rows:
        if out and out[-1][0] == row.table and len(out[-1][1]) < GROUP:
            out[-1][1].append(row)
        else:
            out.append((row.table, [row]))
    return out


FileOutcome = Literal["deleted", "gone", "changed"]


class FileUndo(Protocol):
    """Removes a file a run put in SharePoint (``load.sharepoint.SharePointSender``)."""

    def remove(
        self, payload: Mapping[str, Any] | None
    ) -> Literal["deleted", "gone", "changed"]: ...


class Rollback:
    def __init__(
        self,
        journal: Journal,
        tenant: Tenant,
        *,
        progress: Progress = NO_PROGRESS,
        files: FileUndo | None = None,
    ) -> None:
        self.j = journal
        self.tenant = tenant
        self.progress = progress
        self.files = files
        """Where the files of ``file`` operations are deleted (None: no SharePoint)."""

    # -- planning ---------------------------------------------------------------------

    def plan(self, run_id: str) -> list[UndoRow]:
        """The rows of a run still to undo (rows an earlier rollback settled left out)."""
        steps = self.j.undo_steps(run_id)
        rows = plan_rows(self.j.ops(run_id))
        return [
            r
            for r in rows
            if (s := steps.get((r.table, r.row_id, r.action))) is None or s.state not in SETTLED
        ]

    def preview(self, run_id: str) -> RollbackResult:
        return RollbackResult(run_id, "", preview=True, planned=planned_counts(self.plan(run_id)))

    # -- the whole rollback of one run ------------------------------------------------------

    def run(self, run_id: str, *, force: bool = False) -> RollbackResult:
        info = self.j.run(run_id)
        if info.kind == "rollback":
            raise JournalError(f"{run_id} is itself a rollback", hint="roll back a load run")
        if info.state == "rolled_back":
            raise JournalError(
                f"run {run_id} was already rolled back by {info.rolled_back_by}",
                hint="list runs with `crm-ferry runs`",
            )
        unfinished = [
            r
            for r in self.j.runs()
            if r.kind == "rollback"
            and r.state in ("running", "interrupted")
            and r.source == run_id
            and not self.j.is_live(r)
        ]
        if unfinished:
            rid = self.j.resume_run(unfinished[-1].run_id).run_id
        else:
            rid = self.j.start_run("rollback", note=f"rollback of {run_id}", source=run_id)
        try:
            return self._run(info.run_id, rid, info.started_at, force)
        except BaseException:
            # stopped (Ctrl-C, a lost connection): every step so far is journaled, and the
            # next rollback of this run continues this one
            self.j.interrupt_run(rid)
            raise

    def _run(self, run_id: str, rid: str, started_at: str, force: bool) -> RollbackResult:
        result = RollbackResult(run_id, rid)
        rows = self.plan(run_id)
        steps = self.j.undo_steps(run_id)
        doomed = {r.row_id.lower() for r in rows if r.action == "delete"}
        doomed |= {
            s.row_id.lower() for s in steps.values() if s.action == "delete" and s.state in SETTLED
        }
        by_action: dict[str, list[UndoRow]] = {"recreate": [], "restore": [], "delete": []}
        for row in rows:
            by_action[row.action].append(row)
        self.progress.start("rollback", total=len(rows))
        job = _Job(self, run_id, rid, result, force, doomed, started_at)
        # the deletes went children first (their rank counts down the load order; the
        # lines of a closed invoice went after it, in a later phase): rows come back
        # parents first, by rank alone
        job.recreate(
            sorted(by_action["recreate"], key=lambda r: (r.order[1], r.order[2]), reverse=True)
        )
        for table, group in _groups(by_action["restore"]):
            job.restore(table, group)
        deletes = sorted(by_action["delete"], key=lambda r: r.order)[::-1]
        job.files([r for r in deletes if r.table == FILE_TABLE])  # last loaded: first undone
        job.delete([r for r in deletes if r.table != FILE_TABLE])
        self.progress.finish("rollback")
        result.warnings.extend(self.tenant.warnings)
        state: RunState = "done" if result.ok else "failed"
        self.j.finish_run(
            rid,
            state,
            {
                "deleted": result.deleted,
                "restored": result.restored,
                "recreated": result.recreated,
                "already_gone": result.already_gone,
                "conflicts": len(result.conflicts),
                "failures": len(result.failures),
            },
        )
        if result.ok:
            self.j.mark_rolled_back(
                run_id,
                state="rolled_back" if not result.conflicts else "partly_rolled_back",
                by=rid,
            )
        return result


@dataclass
class _Job:
    """The rollback of one run in progress: the steps it journals and what it counts."""

    rb: Rollback
    run_id: str
    rollback_id: str
    result: RollbackResult
    force: bool
    doomed: set[str]
    started_at: str
    kept: set[str] = field(default_factory=set)
    """Rows this rollback leaves as they are (conflicts)."""
    owners_restored: set[str] = field(default_factory=set)
    """Owners this rollback gave rows back: giving a row its owner back assigns the rows
    related to it by a relationship that cascades Assign (a contact's opportunities, the
    activities regarding it), which is this rollback's doing, not a person's edit."""

    @property
    def tenant(self) -> Tenant:
        return self.rb.tenant

    @property
    def j(self) -> Journal:
        return self.rb.j

    # -- bookkeeping ------------------------------------------------------------------

    def _step(self, row: UndoRow, state: str, detail: dict[str, Any] | None = None) -> UndoStep:
        return UndoStep(
            self.run_id,
            row.table,
            row.row_id,
            row.action,
            state,  # type: ignore[arg-type]
            self.rollback_id,
            detail,
        )

    def _journal(self, rows: Iterable[UndoRow], state: str) -> None:
        self.j.record_undo([self._step(r, state) for r in rows])

    def _settle(self, row: UndoRow, state: str) -> None:
        """The row is undone (``done``) or had nothing left to undo (``gone``)."""
        self._settle_all([row], state)

    def _settle_all(self, rows: Sequence[UndoRow], state: str) -> None:
        """:meth:`_settle` of many rows, journaled in one transaction."""
        if not rows:
            return
        self.j.record_undo(
            [self._step(r, state) for r in rows],
            forget=[(r.table, r.row_id) for r in rows if r.action == "delete"],
            restore=[op for r in rows if r.action == "restore" for op in r.ops],
        )
        for row in rows:
            if row.action == "recreate" and state == "done":
                self.j.restore_entries(row.table, row.row_id, row.entries)
            if state == "gone":
                self.result.already_gone += 1
            elif row.action == "delete":
                self.result.deleted += 1
            elif row.action == "restore":
                self.result.restored += 1
            else:
                self.result.recreated += 1
        self.rb.progress.advance("rollback", len(rows))

    def files(self, rows: Sequence[UndoRow]) -> None:
        """Delete the files the run put in SharePoint; a file changed since is kept."""
        sender = self.rb.files
        for row in rows:
            if sender is None:
                self._fail(
                    row,
                    "the run put this file in SharePoint: set [sharepoint] site in ferry.toml "
                    "so that rollback can delete it, then run the rollback again",
                )
                continue
            try:
                outcome = sender.remove(row.ops[0].payload)
            except FerryError as exc:
                self._fail(row, f"{exc} ({exc.hint})" if exc.hint else str(exc))
                continue
            if outcome == "changed":
                self._keep(row, "the file in SharePoint changed since this run put it there")
            else:
                self._settle(row, "done" if outcome == "deleted" else "gone")

    def _fail(self, row: UndoRow, error: str) -> None:
        self.j.record_undo([self._step(row, "failed", {"error": error})])
        self.result.failures.append(
            {"table": row.table, "id": row.row_id, "action": row.action, "error": error}
        )
        self.rb.progress.advance("rollback")

    def _keep(self, row: UndoRow, reason: str, **detail: Any) -> None:
        """The row stays as it is: a conflict, journaled and listed."""
        self.doomed.discard(row.row_id.lower())
        self.kept.add(row.row_id.lower())
        entry: dict[str, Any] = {
            "table": row.table,
            "id": row.row_id,
            "action": row.action,
            "reason": reason,
        }
        entry.update(detail)
        entry.setdefault("columns", [])
        self.j.record_undo([self._step(row, "kept", entry)])
        self.result.conflicts.append(entry)
        self.rb.progress.advance("rollback")

    def _edited(
        self, row: UndoRow, current: Mapping[str, Any], expected: Mapping[str, Any]
    ) -> bool:
        """Keep ``row`` (and say so) when a person changed it since the project wrote it."""
        # a link to a row this rollback deletes was cleared by that delete (RemoveLink)
        compared = {
            k: v
            for k, v in expected.items()
            if not (k.endswith(BIND) and (lookup_id(v) or "") in self.doomed)
        }
        columns = self.tenant.differences(row.table, compared, current)
        person = self.tenant.by_person(current)
        if person is not None:
            known = {**(row.image or {}), **expected}
            full = self.tenant.full_row(row.table, row.row_id)
            columns = sorted(set(columns) | set(self.tenant.edited_columns(row.table, full, known)))
        if not columns and person is None:
            return False
        if person is None and columns == ["ownerid"]:
            owner = lookup_id(current.get("_ownerid_value"))
            if owner is not None and owner in self.owners_restored:
                return False
        if self.force:
            return False
        detail: dict[str, Any] = {"columns": columns}
        if person is not None:
            detail["modified_by"] = self.tenant.user_name(person)
            detail["modified_by_id"] = person
            detail["modified_on"] = current.get("modifiedon")
        self._keep(row, "edited in Dynamics since the run", **detail)
        return True

    def _why_kept(self, blocking: Sequence[Pointer]) -> str:
        if any(p.run_id is None for p in blocking):
            return "rows the project did not write point at it"
        if all(p.row_id in self.kept for p in blocking):
            return "a row kept as it is points at it"
        return "rows of another run point at it: roll that run back first"

    def _project_wrote(self, rows: Sequence[UndoRow]) -> dict[str, dict[str, Any]]:
        """Per row id: the columns the project last wrote to it (the id map), lookups as
        binds, create-only columns left out (what the tenant should hold now)."""
        written = self.j.written_rows((r.table, r.row_id) for r in rows)
        out: dict[str, dict[str, Any]] = {}
        for r in rows:
            merged: dict[str, Any] = {}
            for entry in written.get((r.table, r.row_id), []):
                if entry.kind in ("upsert", "update") and entry.payload:
                    merged.update(entry.payload)
            if not r.settled:
                merged.update(r.written)  # a write whose answer was lost may have landed
            skip = {"overriddencreatedon", *(k for o in r.ops for k in o.create_only)}
            out[r.row_id.lower()] = {
                k: v
                for k, v in merged.items()
                if k not in skip and ("@" not in k or k.endswith(BIND))
            }
        return out

    # -- recreate ---------------------------------------------------------------------

    def recreate(self, rows: Sequence[UndoRow]) -> None:
        """Write again the rows the run deleted: every row first (parents before children),
        then their states and actions (a paid invoice takes no line once it is paid)."""
        todo: list[UndoRow] = []
        for table, group in _groups(rows):
            current = self.tenant.rows(table, [r.row_id for r in group], ())
            for row in group:
                if row.row_id.lower() in current:
                    self._settle(row, "gone")  # there again: the delete never ran
                elif not row.entries:
                    self._fail(row, "the delete kept nothing to write the row again from")
                else:
                    todo.append(row)
        self._journal(todo, "pending")
        failed: set[str] = set()
        for closing in (False, True):
            for row in todo:
                if row.row_id in failed:
                    continue
                try:
                    for entry in sorted(row.entries, key=_entry_order):
                        if (_entry_kind(entry) in CLOSING) == closing:
                            self._replay(row.table, row.row_id, entry)
                except DataverseError as exc:
                    failed.add(row.row_id)
                    self._fail(row, str(exc))
        for row in todo:
            if row.row_id not in failed:
                self._settle(row, "done")

    def _replay(self, table: str, row_id: str, entry: Mapping[str, Any]) -> None:
        kind = _entry_kind(entry)
        payload = dict(entry.get("payload") or {})
        if kind == "action":
            self.tenant.call(str(entry.get("action") or "WinOpportunity"), payload)
        elif kind in ("state", "close"):
            self.tenant.set_state(table, row_id, payload)
        else:
            self.tenant.write(table, row_id, payload)

    # -- restore ----------------------------------------------------------------------

    def restore(self, table: str, rows: Sequence[UndoRow]) -> None:
        wrote = self._project_wrote(rows)
        keys = {k for r in rows for k in (*r.written, *r.before)}
        current = self.tenant.rows(table, [r.row_id for r in rows], keys)
        for row in rows:
            now = current.get(row.row_id.lower())
            if now is None:
                self._settle(row, "gone")
                continue
            if row.purged:
                self._fail(row, "no before-image: the run's record contents were purged")
                continue
            target = self._target(row, now)
            state_back = row.state_before is not None and any(
                now.get(k) != v for k, v in (row.state_before or {}).items()
            )
            if not self.tenant.differences(table, target, now) and not state_back:
                self._settle(row, "gone")  # already as before (never written, or restored)
                continue
            expected = {k: v for k, v in wrote[row.row_id.lower()].items() if k in row.written}
            if self._edited(row, now, expected):
                continue
            self._journal([row], "pending")
            try:
                self._restore_one(table, row, now, target)
            except DataverseError as exc:
                self._fail(row, str(exc))
                continue
            self._settle(row, "done")

    @staticmethod
    def _target(row: UndoRow, now: Mapping[str, Any]) -> dict[str, Any]:
        """The values to write back: each written column's value before the run."""
        return {k: v for k, v in row.before.items() if k not in STATE}

    def _restore_one(
        self, table: str, row: UndoRow, now: Mapping[str, Any], target: Mapping[str, Any]
    ) -> None:
        closed = now.get("statecode") not in (None, 0)
        after = row.state_before
        if after is None and closed:
            after = {k: now[k] for k in STATE if k in now}  # closed again once restored
        if closed:
            self.tenant.reopen(table, row.row_id)
        if target:
            self.tenant.update(table, row.row_id, target)
            owner = target.get("ownerid" + BIND)
            if isinstance(owner, str) and (owner_id := lookup_id(owner)) is not None:
                self.owners_restored.add(owner_id)
        if row.won:
            made_by_run = self.tenant.closes_of(row.row_id, self.started_at)
            if row.close_before is not None:
                # closed again by the run: its close is the newest; an older one made in the
                # same second as the run started is the close the row had, and stays
                made_by_run = made_by_run[-1:]
            for close in made_by_run:
                self.tenant.delete("opportunityclose", [close])
        if after is not None and (after.get("statecode") not in (None, 0) or "statuscode" in after):
            if row.close_before is None:
                self.tenant.set_state(table, row.row_id, after)
                return
            # closed back with the close it had; that close is still there, so the one
            # this makes goes again
            kept = set(self.tenant.closes_of(row.row_id, ""))
            self.tenant.set_state(table, row.row_id, after, close=row.close_before)
            made = [c for c in self.tenant.closes_of(row.row_id, "") if c not in kept]
            if made:
                self.tenant.delete("opportunityclose", made)

    # -- delete -----------------------------------------------------------------------

    def delete(self, rows: Sequence[UndoRow]) -> None:
        """Delete ``rows`` (in the order given), :data:`GROUP` at a time: while one group's
        deletes are out, the next group is read and judged. A group's deletes go only once
        the group before has its answers, so the order holds across tables."""
        in_flight: tuple[list[UndoRow], Future[dict[str, str | None]]] | None = None
        with ThreadPoolExecutor(1, thread_name_prefix="rollback-delete") as sender:
            for table, group in _groups(rows):
                doomed = self._judge(table, group)
                if in_flight is not None:
                    self._answered(in_flight[0], in_flight[1].result())
                    in_flight = None
                if doomed:
                    ids = [r.row_id for r in doomed]
                    in_flight = (doomed, sender.submit(self.tenant.delete, table, ids))
            if in_flight is not None:
                self._answered(in_flight[0], in_flight[1].result())

    def _judge(self, table: str, rows: Sequence[UndoRow]) -> list[UndoRow]:
        """Of ``rows`` (one table), those to delete now, unlocked and journaled ``pending``;
        the others are settled (gone already) or kept (conflicts)."""
        wrote = self._project_wrote(rows)
        keys = {k for payload in wrote.values() for k in payload}
        current = self.tenant.rows(table, [r.row_id for r in rows], keys)
        candidates: list[UndoRow] = []
        self._settle_all([r for r in rows if r.row_id.lower() not in current], "gone")
        for row in rows:
            now = current.get(row.row_id.lower())
            if now is not None and not self._edited(row, now, wrote[row.row_id.lower()]):
                candidates.append(row)
        if not candidates:
            return []
        found = self.tenant.pointers(table, [r.row_id for r in candidates], doomed=self.doomed)
        owners = self.j.owners_of_rows(p.row_id for ps in found.values() for p in ps)
        doomed: list[UndoRow] = []
        for row in candidates:
            blocking = [
                replace(p, run_id=owners.get(p.row_id))
                for p in found.get(row.row_id.lower(), [])
                # a row the service made for the project's own write (an activity party,
                # the close of a won opportunity) is in no id map and goes with its parent;
                # an activity's parties are part of it (activityparty has no createdby)
                if not (p.made_by_project and p.row_id not in owners)
                and not (p.table == "activityparty" and p.column == "activityid")
            ]
            if blocking:
                self._keep(
                    row, self._why_kept(blocking), pointing=[p.as_dict() for p in blocking[:20]]
                )
                continue
            doomed.append(row)
        self._unlock(table, doomed, current)
        self._journal(doomed, "pending")
        return doomed

    def _answered(self, doomed: Sequence[UndoRow], answers: Mapping[str, str | None]) -> None:
        """Settle deleted rows from the service's answers."""
        self._settle_all([r for r in doomed if answers.get(r.row_id) is None], "done")
        self._settle_all([r for r in doomed if answers.get(r.row_id) == "gone"], "gone")
        for row in doomed:
            answer = answers.get(row.row_id)
            if answer is not None and answer != "gone":
                self._fail(row, answer)

    def _unlock(
        self, table: str, rows: Sequence[UndoRow], current: Mapping[str, Mapping[str, Any]]
    ) -> None:
        """Move read-only rows (closed invoices, the heads of invoice lines this rollback
        deletes too) back to their open state, so that the service lets them go."""
        closed: set[tuple[str, str]] = set()
        heads: dict[str, set[str]] = {}
        for row in rows:
            now = current.get(row.row_id.lower()) or {}
            if table in READ_ONLY_WHEN_CLOSED and now.get("statecode") not in (None, 0):
                closed.add((table, row.row_id))
            head = self.tenant.head_of(table, now)
            if head is not None and head[1] in self.doomed:
                heads.setdefault(head[0], set()).add(head[1])
        for head_table, ids in heads.items():
            found = self.tenant.rows(head_table, sorted(ids), ())
            closed |= {
                (head_table, rid) for rid, r in found.items() if r.get("statecode") not in (None, 0)
            }
        by_table: dict[str, list[str]] = {}
        for head_table, head_id in sorted(closed):
            by_table.setdefault(head_table, []).append(head_id)
        for head_table, reopen in by_table.items():
            for head_id, error in self.tenant.reopen_many(head_table, reopen).items():
                if error not in (None, "gone"):  # a row gone since is deleted already
                    self.result.warnings.append(f"could not reopen {head_table} {head_id}: {error}")
