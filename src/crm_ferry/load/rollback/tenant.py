"""What rollback reads from and does to the tenant: rows as they are now, who changed them,
what points at them, and the writes that undo a run (state changes included).

Dataverse protects some rows: a Paid, Canceled or Closed invoice and its lines are
read-only (reference §7.3: "it and its invoice products cannot be changed"), a closed
activity takes no update but being reopened (§7.7), a won or lost opportunity is closed
through actions (WinOpportunity / LoseOpportunity, §7.2) and reopened by setting it open.
Such a row is first moved back to its open state, then restored or deleted; a row whose
state before the run was closed is closed again the way the service requires.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from crm_ferry.dataverse.batch import BatchOperation
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.dataverse.errors import DataverseError
from crm_ferry.dataverse.metadata import ColumnInfo
from crm_ferry.dataverse.pool import ClientPool
from crm_ferry.load.images import BIND, LOOKUP_TYPES, STATE, nav_columns, navigations
from crm_ferry.reconcile.diff import compare_row, lookup_id

READ_CHUNK = 50
"""Rows read back per query (ids in the URL)."""
REF_CHUNK = 100
"""Ids per query when looking for rows that point at rows about to be deleted."""
BATCH = 100
"""Deletes per ``$batch``."""
PARALLEL = 4
"""Requests in flight per application user: the ``x-ms-dop-hint`` Microsoft's sample
environment sends (each user's own concurrency window paces them further)."""
READ_ONLY_WHEN_CLOSED = frozenset({"invoice", "quote", "salesorder"})
"""Tables whose rows (and lines) accept no write but a state change once closed."""
LINES = {"invoicedetail": ("invoiceid", "invoice")}
"""Line tables and the lookup to the head row whose state makes them read-only."""
SYSTEM = frozenset(
    {
        "createdon",
        "modifiedon",
        "createdby",
        "modifiedby",
        "versionnumber",
        "ownerid",
        "owningbusinessunit",
        "owninguser",
        "owningteam",
        "transactioncurrencyid",
        "exchangerate",
        "overriddencreatedon",
        "importsequencenumber",
        "statecode",
        "statuscode",
    }
)
"""Columns the service fills on every row: never a sign that a person edited it."""
MODIFIED_BY = "_modifiedby_value"
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Pointer:
    """A row that points at a row rollback means to delete."""

    table: str
    row_id: str
    column: str
    cascade: str
    made_by_project: bool
    """Made by one of the project's application users."""
    run_id: str | None = None
    """The crm-ferry run that last wrote it (None: in no id map)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "id": self.row_id,
            "column": self.column,
            "cascade": self.cascade,
            "run_id": self.run_id,
        }


class Tenant:
    """The tenant as rollback sees it, through the project's application users: reads and
    deletes go out several at a time, spread over every user (each has its own
    service-protection budget); single writes go through the first."""

    def __init__(
        self, clients: DataverseClient | Sequence[DataverseClient], users: Iterable[str]
    ) -> None:
        self.pool = ClientPool([clients] if isinstance(clients, DataverseClient) else clients)
        self.client = self.pool.primary
        self.md = self.client.metadata
        self.users = {u.lower() for u in users if u}
        """System users of the project's application users: their writes are the project's."""
        self._columns: dict[str, Mapping[str, ColumnInfo]] = {}
        self._names: dict[str, str] = {}
        self.warnings: list[str] = []

    def _map(self, fn: Callable[[DataverseClient, T], R], items: Sequence[T]) -> list[R]:
        """``fn(client, item)`` for every item, in order, :data:`PARALLEL` requests per user
        in flight; each goes to the next user that is not waiting out a ``Retry-After``."""
        if len(items) <= 1:
            return [fn(self.client, item) for item in items]
        width = min(len(items), PARALLEL * len(self.pool.clients))
        with ThreadPoolExecutor(width, thread_name_prefix="rollback") as pool:
            return list(pool.map(lambda item: fn(self.pool.pick(), item), items))

    def columns(self, table: str) -> Mapping[str, ColumnInfo]:
        if table not in self._columns:
            self._columns[table] = self.md.columns(table)
        return self._columns[table]

    # -- reading ----------------------------------------------------------------------

    def rows(
        self, table: str, ids: Sequence[str], keys: Iterable[str] | None = None
    ) -> dict[str, dict[str, Any]]:
        """Rows by id (lower case), as they are now, with lookup annotations: the columns of
        ``keys`` (write-payload keys) and what rollback always looks at (state, who changed
        it, the head of a line), or every column without ``keys``."""
        select = None if keys is None else self._select(table, keys)
        pid = self.md.table(table).primary_id

        def read(client: DataverseClient, chunk: Sequence[str]) -> list[dict[str, Any]]:
            return list(
                client.query(table, select=select, filter=_in(pid, chunk), annotations=True)
            )

        out: dict[str, dict[str, Any]] = {}
        for found in self._map(read, _chunks(ids, READ_CHUNK)):
            out.update((str(row[pid]).lower(), row) for row in found)
        return out

    def full_row(self, table: str, row_id: str) -> dict[str, Any]:
        """Every column of one row (to tell which columns a person filled in)."""
        return self.rows(table, [row_id]).get(row_id.lower()) or {}

    def _select(self, table: str, keys: Iterable[str]) -> list[str]:
        columns = self.columns(table)
        navs = nav_columns(self.md, table)
        wanted = {self.md.table(table).primary_id, "modifiedon", "modifiedby", *STATE}
        if table in LINES:
            wanted.add(LINES[table][0])
        for key in keys:
            wanted.add(
                navs.get(key[: -len(BIND)], key[: -len(BIND)]) if key.endswith(BIND) else key
            )
        return sorted(
            f"_{c}_value" if columns[c].type in LOOKUP_TYPES else c for c in wanted if c in columns
        )

    def by_person(self, row: Mapping[str, Any]) -> str | None:
        """Who last changed the row, when that was not the project's own user."""
        who = lookup_id(row.get(MODIFIED_BY))
        if who is None or not self.users or who in self.users:
            return None
        return who

    def user_name(self, user_id: str) -> str:
        if user_id not in self._names:
            try:
                row = self.client.retrieve("systemuser", user_id, select=["fullname"])
                self._names[user_id] = str(row.get("fullname") or user_id)
            except DataverseError:
                self._names[user_id] = user_id
        return self._names[user_id]

    def differences(
        self, table: str, expected: Mapping[str, Any], row: Mapping[str, Any]
    ) -> list[str]:
        """Columns of ``expected`` (a write payload) whose value in ``row`` differs."""
        if not expected:
            return []
        diffs = compare_row(
            table,
            expected,
            row,
            columns=self.columns(table),
            source_values={},
            navigation=nav_columns(self.md, table),
        )
        return sorted({d.field for d in diffs if d.verdict in ("mismatch", "missing")})

    def edited_columns(
        self, table: str, row: Mapping[str, Any], known: Mapping[str, Any]
    ) -> list[str]:
        """Columns a person filled in that crm-ferry never wrote (``known``: everything the
        project wrote to the row, or the row's before-image)."""
        navs = nav_columns(self.md, table)
        written = {
            navs.get(k[: -len(BIND)], k[: -len(BIND)]) if k.endswith(BIND) else k for k in known
        }
        out = []
        for name, info in self.columns(table).items():
            if name in SYSTEM or name in written or not info.is_valid_for_update:
                continue
            value = row.get(f"_{name}_value") if info.type in LOOKUP_TYPES else row.get(name)
            if value not in (None, "", False):
                out.append(name)
        return out

    def pointers(
        self, table: str, ids: Sequence[str], *, doomed: set[str]
    ) -> dict[str, list[Pointer]]:
        """Rows that point at ``ids`` (id → pointers), found through every one-to-many
        relationship of ``table``: a delete takes them with it or changes them, as the
        relationship's cascade configuration says. Rows in ``doomed`` (deleted by this
        rollback anyway) are left out."""
        queries: list[tuple[Any, str, list[str], Sequence[str]]] = []
        for rel in self.md.referencing(table):
            child = rel.referencing_entity
            try:
                pid = self.md.table(child).primary_id
                child_columns = self.columns(child)
            except DataverseError as exc:
                self.warnings.append(
                    f"cannot check {child}.{rel.referencing_attribute} for rows pointing at "
                    f"{table}: {exc}"
                )
                continue
            column = f"_{rel.referencing_attribute}_value"
            select = [pid, column] + (["_createdby_value"] if "createdby" in child_columns else [])
            queries += [(rel, pid, select, chunk) for chunk in _chunks(ids, REF_CHUNK)]

        def look(
            client: DataverseClient, q: tuple[Any, str, list[str], Sequence[str]]
        ) -> list[dict[str, Any]]:
            rel, _, select, chunk = q
            flt = _in(f"_{rel.referencing_attribute}_value", chunk)
            return list(client.query(rel.referencing_entity, select=select, filter=flt))

        out: dict[str, list[Pointer]] = {}
        for (rel, pid, _, _), found_rows in zip(queries, self._map(look, queries), strict=True):
            column = f"_{rel.referencing_attribute}_value"
            for found in found_rows:
                rid = str(found[pid]).lower()
                target = lookup_id(found.get(column))
                if target is None or rid in doomed or rid == target:
                    continue
                made_by = lookup_id(found.get("_createdby_value"))
                out.setdefault(target, []).append(
                    Pointer(
                        rel.referencing_entity,
                        rid,
                        rel.referencing_attribute,
                        rel.cascade_delete,
                        made_by is not None and made_by in self.users,
                    )
                )
        return out

    # -- writing ----------------------------------------------------------------------

    def reopen(self, table: str, row_id: str) -> None:
        """Move a closed row back to its open state (statecode 0, its default status)."""
        self.client.update(table, row_id, {"statecode": 0})

    def set_state(
        self,
        table: str,
        row_id: str,
        state: Mapping[str, Any],
        *,
        close: Mapping[str, Any] | None = None,
    ) -> None:
        """Put a row in ``state`` the way the service takes it (an opportunity is closed
        through WinOpportunity / LoseOpportunity, with ``close`` as its close if given;
        everything else by its state columns)."""
        code = state.get("statecode")
        if table == "opportunity" and code in (1, 2):
            status = state.get("statuscode")
            options: dict[str, Any] = {"status": status} if status else {}
            if close is not None:
                options["close"] = {k: v for k, v in close.items() if "@" not in k}
            if code == 1:
                self.client.win_opportunity(row_id, **options)
            else:
                self.client.lose_opportunity(row_id, **options)
            return
        self.client.update(table, row_id, {k: v for k, v in state.items() if k in STATE})

    def update(self, table: str, row_id: str, values: Mapping[str, Any]) -> None:
        self.client.update(table, row_id, dict(values))

    def write(self, table: str, row_id: str, payload: Mapping[str, Any]) -> None:
        """Write a row by its id (made if it is not there)."""
        self.client.upsert(table, row_id, dict(payload))

    def call(self, action: str, body: Mapping[str, Any]) -> None:
        self.client.call(action, dict(body), idempotent=False)

    def delete(self, table: str, ids: Sequence[str]) -> dict[str, str | None]:
        """Delete rows in ``$batch`` requests: id → None (deleted), ``"gone"`` (404), or the
        error the service gave."""
        return self._each(table, ids, "DELETE")

    def reopen_many(self, table: str, ids: Sequence[str]) -> dict[str, str | None]:
        """:meth:`reopen` of many rows in ``$batch`` requests, answered as :meth:`delete`."""
        return self._each(table, ids, "PATCH", {"statecode": 0}, {"If-Match": "*"})

    def _each(
        self,
        table: str,
        ids: Sequence[str],
        method: str,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, str | None]:
        """One request per row, :data:`BATCH` to a ``$batch`` (each part on its own: one
        refused row does not stop the others)."""
        entity_set = self.md.entity_set(table)

        def send(client: DataverseClient, chunk: Sequence[str]) -> dict[str, str | None]:
            items = [
                BatchOperation(method, f"{entity_set}({i})", body, dict(headers or {}))
                for i in chunk
            ]
            try:
                answers = client.execute_batch(items)
            except DataverseError as exc:
                return dict.fromkeys(chunk, str(exc))
            out: dict[str, str | None] = {}
            for row_id, part in zip(chunk, answers, strict=True):
                if part is not None and part.ok:
                    out[row_id] = None
                elif part is not None and part.status == 404:
                    out[row_id] = "gone"
                else:
                    out[row_id] = (
                        str(part.error(method, entity_set)) if part is not None else "not run"
                    )
            return out

        answers: dict[str, str | None] = {}
        for part in self._map(send, _chunks(ids, BATCH)):
            answers.update(part)
        return answers

    def closes_of(self, opportunity_id: str, since: str) -> list[str]:
        """Opportunity closes the project's user made for an opportunity since ``since``,
        oldest first (by ``versionnumber``, which grows with every write, so closes made
        within the same second keep their order)."""
        if not self.md.has_table("opportunityclose"):
            return []
        pid = self.md.table("opportunityclose").primary_id
        rows = self.client.query(
            "opportunityclose",
            select=[pid, "_createdby_value", "createdon", "versionnumber"],
            filter=f"_opportunityid_value eq {opportunity_id}",
        )
        ours = [
            r
            for r in rows
            if lookup_id(r.get("_createdby_value")) in self.users
            and str(r.get("createdon") or "") >= since
        ]
        ours.sort(key=lambda r: (str(r.get("createdon") or ""), int(r.get("versionnumber") or 0)))
        return [str(r[pid]) for r in ours]

    def head_of(self, table: str, row: Mapping[str, Any]) -> tuple[str, str] | None:
        """For a line (an invoice product): ``(head table, head id)``."""
        line = LINES.get(table)
        if line is None:
            return None
        head = lookup_id(row.get(f"_{line[0]}_value"))
        return None if head is None else (line[1], head)

    def lookup_navigation(self, table: str, column: str, target: str) -> str | None:
        return navigations(self.md, table).get(column, {}).get(target)


def _chunks(ids: Sequence[str], size: int) -> list[Sequence[str]]:
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def _in(column: str, ids: Iterable[str]) -> str:
    """A ``$filter`` on ``column`` being one of ``ids`` (``Microsoft.Dynamics.CRM.In``)."""
    values = ",".join(f"'{i}'" for i in ids)
    return f"Microsoft.Dynamics.CRM.In(PropertyName='{column}',PropertyValues=[{values}])"
