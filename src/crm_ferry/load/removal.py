"""Records gone from the source at a delta, and what a delta does about them.

A delta reads the whole newer export. A record the id map knows (crm-ferry wrote a row for
it) that the export no longer holds is *removed* from the source. Opportunities are built
from many sessions (one per client, service type and currency): an opportunity is removed
when every session it was made of is gone; a session removed or changed otherwise changes
its opportunity, which the plan re-sends like any changed row. A record the export still
holds but cannot be read or transformed (a reject) is not removed.

What happens to the rows of a removed record is the policy (``[delta] removed`` in
``ferry.toml``, ``crm-ferry delta --removed``):

``report``      nothing is written; the records are listed.
``deactivate``  each row of a table with an *Inactive* state (contacts, accounts, custom
                tables) is set to it (``statecode`` 1 with that state's default status);
                rows of tables without one (activities, invoices, opportunities, notes) are
                left as they are and listed with the reason, and so is a row an earlier
                delta deactivated that someone made active again in Dynamics. A row that
                is inactive already, or gone from the tenant, needs nothing.
``delete``      each row is deleted, children before parents (the reverse of the load
                order). A row crm-ferry did not create (matched to a row already in the
                tenant), a row that rows of records still in the source point to (deleting
                it would take them with it or cut them loose), and a row whose journal
                contents were purged (rollback could not make it again) are left as they
                are and listed with the reason.

A record back in the source whose rows an earlier delta deactivated gets them made active
again (the table's Active state with its default status), whatever the policy: the same
kind of operation, with the same op key, as the deactivation it undoes.

Whatever is written is journaled as operations of the delta run before it is sent (the
journal's contract, which rollback undoes):

- a deactivation: kind ``state``, op key ``<table>/<id>/state/removed``, payload
  ``{"statecode": 1, "statuscode": <the Inactive state's default status>}``, ``existed``
  true, ``prev_payload`` ``{"statecode": …, "statuscode": …}`` as read from the tenant
  when the delta planned it, ``prev_hash`` the id map's hash of that op key (none, unless
  an earlier delta wrote one);
- a deletion: kind ``delete``, op key ``<table>/<id>/delete/removed``, payload null,
  ``existed`` true, ``prev_hash`` null, ``prev_payload`` ``{"entries": [...]}``: every id-map
  entry of the row in op-key order, each ``{"op_key", "kind", "payload", "action", "hash",
  "role", "source_object", "source_id", "run_id"}``, from which rollback makes the row again
  and puts its id map back. Once a delete is done the row's id-map entries are removed.

Both are in :data:`PHASE_REMOVE`, after every other write of the run, with the rank
``last load rank - the role's load rank``, so children go before their parents. One
exception: the lines of a closed (paid, canceled) invoice that is deleted too go in the
phase after it: the service refuses to delete them on their own and deletes them with the
invoice, so their delete finds them gone (a 404 counts as done).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.dataverse.errors import DataverseError, NotFound
from crm_ferry.journal import REMOVAL_MARK, Journal, JournalOp, RowEntry
from crm_ferry.transform.ops import PHASE_STATE, content_hash

__all__ = [
    "AGGREGATED_OBJECT",
    "PHASE_REMOVE",
    "REMOVED_POLICIES",
    "Removal",
    "RemovalCounts",
    "RemovalReport",
    "RemovedPolicy",
    "RemovedRow",
    "removal_op_key",
]

RemovedPolicy = Literal["report", "deactivate", "delete"]
"""What a delta does with the rows of a record gone from the source."""
REMOVED_POLICIES: tuple[RemovedPolicy, ...] = get_args(RemovedPolicy)

PHASE_REMOVE = PHASE_STATE + 1
"""After every write of the run: the rows, their links, their states and actions."""
AGGREGATED_OBJECT = "opportunities"
"""The object name delta reports aggregates under (their rows come from many sessions)."""
INACTIVE = "Inactive"
"""The invariant name of the state a deactivated row goes to."""
STATE_COLUMNS = ("statecode", "statuscode")
LOCKED_WITH_PARENT: Mapping[str, tuple[str, str]] = {
    "invoicedetail": ("invoice", "invoiceid@odata.bind"),
}
"""Child table → (parent table, the child's lookup to it): children the platform will
not delete on their own while the parent is closed (a paid invoice's lines are read-only);
deleting the parent takes them with it."""


def removal_op_key(table: str, row_id: str, kind: str) -> str:
    """``<table>/<id>/<kind>/removed``: one deactivation or delete per row."""
    return f"{table}/{row_id}/{kind}/{REMOVAL_MARK}"


@dataclass(frozen=True, slots=True)
class RemovedRow:
    """A row crm-ferry wrote for a record no longer in the source."""

    object: str
    """The record's object as delta reports it (``sessions``, ``opportunities``)."""
    source_object: str
    """The object its id-map entries name (an opportunity's is ``sessions``)."""
    source_id: str
    role: str
    table: str
    row_id: str


@dataclass(slots=True)
class RemovalCounts:
    """One object's records gone from the source, and what became of their rows."""

    records: int = 0
    rows: int = 0
    done: int = 0
    """Rows deactivated or deleted by this run."""
    failed: int = 0
    pending: int = 0
    """Journaled and not yet answered (the run stopped before them)."""
    already: int = 0
    """Rows with nothing left to do: inactive already, or gone from the tenant."""
    kept: int = 0
    """Rows the policy would touch but that were left as they are (see the reasons)."""

    def as_dict(self) -> dict[str, int]:
        return {
            "records": self.records,
            "rows": self.rows,
            "done": self.done,
            "failed": self.failed,
            "pending": self.pending,
            "already": self.already,
            "kept": self.kept,
        }


@dataclass(slots=True)
class RemovalReport:
    """What a delta found gone from the source and did about it."""

    policy: RemovedPolicy
    objects: dict[str, RemovalCounts] = field(default_factory=dict)
    kept: list[dict[str, str]] = field(default_factory=list)
    """Rows left as they are, each with ``object``, ``id``, ``table``, ``row``, ``reason``."""
    already: list[dict[str, str]] = field(default_factory=list)
    """Rows with nothing to do, each with why (``reason``)."""
    returned: dict[str, RemovalCounts] = field(default_factory=dict)
    """Records back in the source whose rows an earlier delta deactivated: per object, the
    rows made active again (``done``)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "objects": {k: v.as_dict() for k, v in self.objects.items()},
            "returned": {k: v.as_dict() for k, v in self.returned.items()},
            "kept": self.kept[:200],
            "already": self.already[:200],
        }


@dataclass(frozen=True, slots=True)
class _StateModel:
    """A table's states: ``(value, invariant name, default status)``; empty: no state."""

    states: tuple[tuple[int, str, int | None], ...]

    def inactive(self) -> tuple[int, int] | None:
        for value, name, status in self.states:
            if name == INACTIVE and status is not None:
                return value, status
        return None

    def active(self) -> tuple[int, int] | None:
        for value, _, status in self.states:
            if value == 0 and status is not None:
                return value, status
        return None

    def names(self) -> str:
        return ", ".join(name for _, name, _ in self.states)


class Removal:
    """Finds the records of a delta that are gone from the source, and journals what the
    policy does with their rows (the run's sender then sends it)."""

    def __init__(
        self,
        journal: Journal,
        client: DataverseClient,
        *,
        policy: RemovedPolicy,
        ranks: Mapping[str, int],
        aggregates: Mapping[str, str],
    ) -> None:
        if policy not in REMOVED_POLICIES:
            raise ValueError(f"unknown removal policy {policy!r}")
        self.j = journal
        self.client = client
        self.policy: RemovedPolicy = policy
        self.ranks = ranks
        self.aggregates = dict(aggregates)
        """Aggregate role → the source object its rows are built from."""
        self.rows: list[RemovedRow] = []
        self.returned: list[RemovedRow] = []
        """Rows an earlier delta deactivated whose record is in the source again."""
        self.report = RemovalReport(policy)
        self._states: dict[str, _StateModel] = {}

    # -- which records are gone ----------------------------------------------------------

    def find(
        self,
        seen: Mapping[str, Collection[str]],
        aggregates_seen: Mapping[str, Collection[str]],
        run_id: str | None = None,
    ) -> dict[str, list[str]]:
        """Object → ids of its records gone from the source (sorted): records of the
        objects the bundle holds (``seen``: every id the export has, rejects included)
        that the id map knows, and aggregates of a read object that the plan no longer
        built (``aggregates_seen``: role → the aggregate ids it built). In a resumed run
        (``run_id``), rows it deleted before it stopped count too (the id map forgot them)."""
        out: dict[str, list[str]] = {}
        roles = tuple(self.aggregates)
        for obj, ids in seen.items():
            known = self.j.records_written(obj, except_roles=roles)
            gone = sorted(known.difference(ids))
            if gone:
                out[obj] = gone
                self._rows(obj, obj, gone, except_roles=roles)
        for role, source in self.aggregates.items():
            if source not in seen:
                continue  # the bundle has no such file: nothing to compare with
            known = self.j.records_written(source, roles=(role,))
            gone = sorted(known.difference(aggregates_seen.get(role, ())))
            if gone:
                out.setdefault(AGGREGATED_OBJECT, []).extend(gone)
                self._rows(AGGREGATED_OBJECT, source, gone, roles=(role,))
        listed = {(r.table, r.row_id) for r in self.rows}
        for op in self.j.removal_ops(run_id) if run_id is not None else ():
            if op.kind != "delete" or (op.table, op.row_id) in listed:
                continue
            obj = AGGREGATED_OBJECT if op.role in self.aggregates else op.source_object
            self.rows.append(
                RemovedRow(obj, op.source_object, op.source_id, op.role, op.table, op.row_id)
            )
            if op.source_id not in out.get(obj, ()):
                out[obj] = sorted([*out.get(obj, ()), op.source_id])
        for obj, ids in out.items():
            self.report.objects[obj] = RemovalCounts(records=len(ids))
        for row in self.rows:
            self.report.objects[row.object].rows += 1
        self._returned(seen, aggregates_seen)
        return out

    def _returned(
        self, seen: Mapping[str, Collection[str]], aggregates_seen: Mapping[str, Collection[str]]
    ) -> None:
        """Rows an earlier delta deactivated whose record the source holds again."""
        records: dict[str, set[str]] = defaultdict(set)
        for e in self.j.removal_entries("state"):
            if (e.payload or {}).get("statecode") in (None, 0):
                continue  # made active again already
            if e.role in self.aggregates:
                obj, ids = AGGREGATED_OBJECT, aggregates_seen.get(e.role)
            else:
                obj, ids = e.source_object, seen.get(e.source_object)
            if ids is None or e.source_id not in ids:
                continue
            self.returned.append(
                RemovedRow(obj, e.source_object, e.source_id, e.role, e.table, e.row_id)
            )
            records[obj].add(e.source_id)
        for obj, ids in records.items():
            self.report.returned[obj] = RemovalCounts(
                records=len(ids), rows=sum(1 for r in self.returned if r.object == obj)
            )

    def _rows(
        self,
        obj: str,
        source_object: str,
        ids: Sequence[str],
        *,
        roles: Sequence[str] | None = None,
        except_roles: Sequence[str] = (),
    ) -> None:
        for sid, role, table, rid in self.j.rows_of_records(
            source_object, ids, roles=roles, except_roles=except_roles
        ):
            self.rows.append(RemovedRow(obj, source_object, sid, role, table, rid))

    # -- what is done about them ---------------------------------------------------------

    def plan(self, run_id: str) -> int:
        """Journal the run's operations on the removed rows (``pending``); the number
        journaled now. A resumed run keeps what it journaled before."""
        journaled = {o.op_key for o in self.j.removal_ops(run_id)}
        back = [
            r for r in self.returned if removal_op_key(r.table, r.row_id, "state") not in journaled
        ]
        ops = self._reactivations(run_id, back) if back else []
        self.j.add_planned_ops(ops)
        if self.policy == "report" or not self.rows:
            return len(ops)
        kind = "state" if self.policy == "deactivate" else "delete"
        todo = [r for r in self.rows if removal_op_key(r.table, r.row_id, kind) not in journaled]
        if kind == "state":
            more = self._deactivations(run_id, todo)
        else:
            going = {k.split("/")[1].lower() for k in journaled if k.split("/")[2] == "delete"}
            more = self._deletes(run_id, todo, going)
        self.j.add_planned_ops(more)
        return len(ops) + len(more)

    def _reactivations(self, run_id: str, rows: Sequence[RemovedRow]) -> list[JournalOp]:
        """Rows an earlier delta deactivated, their record back in the source: made active
        again (the table's Active state with its default status), whatever the policy."""
        ops: list[JournalOp] = []
        seq = self.j.next_seq(run_id)
        by_table: dict[str, list[RemovedRow]] = defaultdict(list)
        for row in rows:
            by_table[row.table].append(row)
        for table, group in by_table.items():
            target = self._state_model(table).active()
            if target is None:
                continue
            payload = {"statecode": target[0], "statuscode": target[1]}
            keys = [removal_op_key(table, r.row_id, "state") for r in group]
            known = self.j.known_hashes(keys)
            current = self.client.retrieve_many(
                table, [r.row_id for r in group], select=list(STATE_COLUMNS)
            )
            for row, key in zip(group, keys, strict=True):
                now = current.get(row.row_id.lower())
                counts = self.report.returned[row.object]
                if now is None or now.get("statecode") == target[0]:
                    counts.already += 1  # gone from the tenant, or made active in Dynamics
                    continue
                last = known.get(key)
                before = {c: now.get(c) for c in STATE_COLUMNS}
                prev = None if last is None else last[0]
                ops.append(self._op(run_id, seq, row, "state", payload, prev, before))
                seq += 1
        return ops

    def _rank(self, role: str) -> int:
        top = max(self.ranks.values(), default=0)
        return max(0, top - self.ranks.get(role, top))

    def _op(
        self,
        run_id: str,
        seq: int,
        row: RemovedRow,
        kind: str,
        payload: dict[str, Any] | None,
        prev_hash: str | None,
        prev_payload: dict[str, Any],
    ) -> JournalOp:
        return JournalOp(
            run_id=run_id,
            seq=seq,
            op_key=removal_op_key(row.table, row.row_id, kind),
            role=row.role,
            table=row.table,
            row_id=row.row_id,
            kind=kind,
            phase=PHASE_REMOVE,
            rank=self._rank(row.role),
            source_object=row.source_object,
            source_id=row.source_id,
            hash=content_hash(payload if payload is not None else {"delete": row.row_id}),
            payload=payload,
            existed=True,
            prev_hash=prev_hash,
            prev_payload=prev_payload,
            state="pending",
            error=None,
        )

    def _keep(self, row: RemovedRow, reason: str) -> None:
        self.report.kept.append(_described(row, reason))
        self.report.objects[row.object].kept += 1

    def _already(self, row: RemovedRow, reason: str) -> None:
        self.report.already.append(_described(row, reason))
        self.report.objects[row.object].already += 1

    def _deactivations(self, run_id: str, rows: Sequence[RemovedRow]) -> list[JournalOp]:
        ops: list[JournalOp] = []
        seq = self.j.next_seq(run_id)
        by_table: dict[str, list[RemovedRow]] = {}
        for row in rows:
            by_table.setdefault(row.table, []).append(row)
        for table, group in by_table.items():
            model = self._state_model(table)
            target = model.inactive()
            if target is None:
                reason = (
                    f"{table} has no Inactive state (its states: {model.names()})"
                    if model.states
                    else f"{table} has no state"
                )
                for row in group:
                    self._keep(row, reason + ": not deactivatable, left as it is")
                continue
            state, status = target
            payload = {"statecode": state, "statuscode": status}
            keys = [removal_op_key(table, r.row_id, "state") for r in group]
            known = self.j.known_hashes(keys)
            current = self.client.retrieve_many(
                table, [r.row_id for r in group], select=list(STATE_COLUMNS)
            )
            for row, key in zip(group, keys, strict=True):
                now = current.get(row.row_id.lower())
                if now is None:
                    self._already(row, "no longer in Dynamics")
                    continue
                before = {c: now.get(c) for c in STATE_COLUMNS}
                last = known.get(key)
                earlier = last is not None and last[0] == content_hash(payload)
                if before["statecode"] == state:
                    self._already(
                        row, "deactivated by an earlier delta" if earlier else "inactive already"
                    )
                    continue
                if earlier:
                    # someone made it active again in Dynamics: that edit is not overwritten
                    self._keep(
                        row,
                        "deactivated by an earlier delta and active again in Dynamics since: "
                        "left as it is; deactivate it in Dynamics if it should stay inactive",
                    )
                    continue
                ops.append(
                    self._op(
                        run_id,
                        seq,
                        row,
                        "state",
                        payload,
                        None if last is None else last[0],
                        before,
                    )
                )
                seq += 1
        return ops

    def _deletes(
        self, run_id: str, rows: Sequence[RemovedRow], going: Collection[str] = ()
    ) -> list[JournalOp]:
        """Delete operations for ``rows`` (``going``: rows whose delete the run journaled
        already, which keep nothing). Rows that cannot go are kept, with the reason; a kept
        row keeps what it points to in turn."""
        doomed = {r.row_id.lower(): r for r in rows}
        entries: dict[str, list[RowEntry]] = {}
        by_table: dict[str, list[RemovedRow]] = defaultdict(list)
        for row in rows:
            by_table[row.table].append(row)
        for table, group in by_table.items():
            for rid, mine in self.j.row_entries(table, [r.row_id for r in group]).items():
                entries[rid.lower()] = mine
        matched = {m.row_id.lower() for m in self.j.matches()}
        for rid in list(doomed):
            if rid in matched:
                self._keep(
                    doomed.pop(rid),
                    "the row was in Dynamics before the migration (matched): not deleted; "
                    "deactivate it, or delete it in Dynamics if it should go",
                )
            elif any(e.payload is None and e.kind != "delete" for e in entries.get(rid, [])):
                self._keep(
                    doomed.pop(rid),
                    "its journal contents were purged, so rollback could not make it again: "
                    "not deleted; delete it in Dynamics if it should go",
                )
        closed = self._closed_parents(doomed.values(), entries)
        # rows of records still in the source that point to a row keep it (a delete would
        # take them with it or cut them loose)
        pointers = self.j.rows_pointing_to(doomed)
        changed = True
        while changed:
            changed = False
            for tbl, rid, sobj, sid, target in pointers:
                stays = rid.lower() not in doomed and rid.lower() not in going
                if target in doomed and stays and rid.lower() != target:
                    self._keep(
                        doomed.pop(target),
                        f"{sobj}/{sid} ({tbl} {rid}) still points to it: not deleted; "
                        "remove that record from the source too, or use --removed deactivate",
                    )
                    changed = True
            for rid, (parent_table, parent) in closed.items():
                if rid in doomed and parent not in doomed:
                    row = doomed.pop(rid)
                    self._keep(
                        row,
                        f"its {parent_table} {parent} is closed, and Dynamics does not delete "
                        f"the {row.table} of a closed {parent_table} on its own: not deleted; "
                        f"remove the {parent_table} from the source too, or reopen it",
                    )
                    changed = True
        ops: list[JournalOp] = []
        seq = self.j.next_seq(run_id)
        for row in rows:
            rid = row.row_id.lower()
            if rid not in doomed:
                continue
            prev = {"entries": [_entry(e) for e in entries.get(rid, [])]}
            op = self._op(run_id, seq, row, "delete", None, None, prev)
            if rid in closed:
                # the service deletes it with its closed parent and refuses it alone: its
                # delete goes after the parent's and finds it gone (done)
                op = replace(op, phase=PHASE_REMOVE + 1)
            ops.append(op)
            seq += 1
        return ops

    def _closed_parents(
        self, rows: Iterable[RemovedRow], entries: Mapping[str, Sequence[RowEntry]]
    ) -> dict[str, tuple[str, str]]:
        """Row id → (parent table, parent id) of the rows the service will not delete on
        their own because their parent is closed (:data:`LOCKED_WITH_PARENT`: the lines of
        a paid invoice); deleting the parent takes them with it."""
        parents: dict[str, dict[str, str]] = defaultdict(dict)
        for row in rows:
            locked = LOCKED_WITH_PARENT.get(row.table)
            if locked is None:
                continue
            parent_table, bind = locked
            for e in entries.get(row.row_id.lower(), []):
                ref = (e.payload or {}).get(bind) if e.kind == "upsert" else None
                if isinstance(ref, str) and "(" in ref:
                    parent = ref.rsplit("(", 1)[1].rstrip(")").lower()
                    parents[parent_table][row.row_id.lower()] = parent
        out: dict[str, tuple[str, str]] = {}
        for parent_table, of in parents.items():
            states = self.client.retrieve_many(
                parent_table, sorted(set(of.values())), select=["statecode"]
            )
            for rid, parent in of.items():
                if (states.get(parent) or {}).get("statecode") not in (None, 0):
                    out[rid] = (parent_table, parent)
        return out

    def _state_model(self, table: str) -> _StateModel:
        """The table's states from its metadata (``StateAttributeMetadata``)."""
        if table not in self._states:
            try:
                attrs = list(
                    self.client.query_path(
                        f"EntityDefinitions(LogicalName='{table}')/Attributes/"
                        "Microsoft.Dynamics.CRM.StateAttributeMetadata",
                        params={"$select": "LogicalName", "$expand": "OptionSet"},
                        page_size=0,
                    )
                )
            except NotFound:
                attrs = []
            except DataverseError as exc:
                raise DataverseError(
                    f"cannot read the states of {table}: {exc.detail}",
                    method=exc.method,
                    url=exc.url,
                    status=exc.status,
                    code=exc.code,
                    hint="the application user needs read access to the table's metadata; "
                    "or run the delta with --removed report",
                ) from exc
            states: list[tuple[int, str, int | None]] = []
            for attr in attrs:
                if attr.get("LogicalName") != "statecode":
                    continue
                for o in (attr.get("OptionSet") or {}).get("Options", []):
                    name = o.get("InvariantName") or _label(o.get("Label"))
                    status = o.get("DefaultStatus")
                    states.append(
                        (int(o["Value"]), str(name), None if status is None else int(status))
                    )
            self._states[table] = _StateModel(tuple(states))
        return self._states[table]

    # -- after sending ---------------------------------------------------------------------

    def settle(self, run_id: str) -> RemovalReport:
        """The report, with the outcome of every removal operation of the run."""
        # aggregate rows report under their own name
        objects = dict.fromkeys(self.aggregates, AGGREGATED_OBJECT)
        for op in self.j.removal_ops(run_id):
            obj = objects.get(op.role, op.source_object)
            back = op.kind == "state" and (op.payload or {}).get("statecode") == 0
            counts = (self.report.returned if back else self.report.objects).setdefault(
                obj, RemovalCounts()
            )
            if op.state == "done":
                counts.done += 1
            elif op.state == "failed":
                counts.failed += 1
            else:
                counts.pending += 1
        return self.report


def _entry(e: RowEntry) -> dict[str, Any]:
    return e.as_dict()


def _described(row: RemovedRow, reason: str) -> dict[str, str]:
    return {
        "object": row.object,
        "id": row.source_id,
        "table": row.table,
        "row": row.row_id,
        "reason": reason,
    }


def _label(value: Any) -> str:
    if isinstance(value, Mapping):
        local = value.get("UserLocalizedLabel")
        if isinstance(local, Mapping) and local.get("Label"):
            return str(local["Label"]).replace(" ", "")
    return ""
