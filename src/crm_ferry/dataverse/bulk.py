"""Writing many rows of one table: bulk messages, ``$batch`` fallback, bisection of bad rows.

:func:`write_many` is what the loader calls. For each table it

1. decides once whether the table supports the bulk message (``UpsertMultiple``,
   ``CreateMultiple``, ``UpdateMultiple``): first by the ``sdkmessagefilters`` query from
   "Use bulk operation messages" on Microsoft Learn
   (https://learn.microsoft.com/power-apps/developer/data-platform/bulk-operations), and
   if that cannot be read, by trying and falling back on the "not supported" answer;
2. cuts the rows into chunks of at most ``batch_size`` rows and ``max_batch_bytes`` bytes;
3. sends the chunks in parallel over every client given (several application users
   share the work, each within its own limits);
4. on a bulk message that fails for a row's reason (standard tables roll back the whole
   request), splits the chunk in halves and resends each, until the bad rows stand alone:
   one bad row in 1,000 costs about ``2 * log2(1000)`` = 20 extra requests, and every
   bad row comes back with its own Dataverse error;
5. on ``$batch`` (``Prefer: odata.continue-on-error``), maps each inner response back to
   its row and resends only the rows whose part was throttled or failed transiently.

A request whose answer was lost (a timeout or a dropped connection, once the client's own
retries are spent) may well have been carried out: its rows are not failed and not split
further, they come back **unsettled** (``RowResult.unsettled``), for the caller to read the
tenant before it sends them again. So are the rows of a ``CreateMultiple`` (or a create
part of a ``$batch``) refused because a row with that id is there already (duplicate key,
``0x80040237``), a create resent after a lost answer: the rows already there are found by
one read and come back unsettled, the others are created again, and the chunk is not
split down to single rows.

Throttled requests are waited out by the client and never count as a failed row.
Errors that are not about a row (sign-in, missing privilege) stop the write and raise.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from crm_ferry.dataverse.batch import BatchOperation
from crm_ferry.dataverse.errors import (
    NOT_FOUND_CODES,
    AuthError,
    ConnectionLost,
    DataverseError,
    DuplicateRecord,
    PrivilegeError,
    RequestTimeout,
    ThrottledError,
    ValidationRejected,
)
from crm_ferry.dataverse.odata import format_ref, id_from_uri, json_default
from crm_ferry.progress import NO_PROGRESS, Progress

if TYPE_CHECKING:
    from crm_ferry.dataverse.client import DataverseClient
    from crm_ferry.dataverse.metadata import TableInfo

Op = Literal["upsert", "create", "update", "delete"]
"""``delete`` goes in ``$batch`` DELETE parts (there is no bulk message for it); a row
already gone (404) counts as deleted."""
_MESSAGES: dict[str, str] = {
    "upsert": "UpsertMultiple",
    "create": "CreateMultiple",
    "update": "UpdateMultiple",
}


@dataclass(frozen=True, slots=True)
class RowResult:
    """The outcome of one row: written (``ok``), rejected with its Dataverse error, or
    ``unsettled``: not known from the answer (it was lost, or a create found the row there
    already; ``error`` says which), to be read from the tenant."""

    index: int
    ok: bool
    id: str | None = None
    error: DataverseError | None = None
    unsettled: bool = False

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "ok": self.ok, "id": self.id}
        if self.unsettled:
            out["unsettled"] = True
        if self.error is not None:
            out["error"] = {"type": type(self.error).__name__, **self.error.attrs()}
        return out


@dataclass(slots=True)
class WriteReport:
    """Per-row outcomes of :func:`write_many`, in input order."""

    table: str
    op: str
    results: list[RowResult]
    requests: int = 0
    """HTTP requests sent for this write, retries included."""
    used_bulk: bool = False
    """Whether the bulk message was used (else ``$batch``)."""

    @property
    def written(self) -> int:
        return sum(1 for r in self.results if r.ok)

    @property
    def rejected(self) -> list[RowResult]:
        return [r for r in self.results if not r.ok]

    @property
    def unsettled(self) -> list[RowResult]:
        """Rows whose outcome the answers do not tell (see :class:`RowResult`)."""
        return [r for r in self.results if r.unsettled]

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "op": self.op,
            "rows": len(self.results),
            "written": self.written,
            "rejected": [r.as_dict() for r in self.rejected],
            "requests": self.requests,
            "used_bulk": self.used_bulk,
        }


@dataclass(slots=True)
class _Job:
    table: TableInfo
    op: Op
    key: tuple[str, ...] | None
    rows: Sequence[Mapping[str, Any]]
    results: dict[int, RowResult] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    fatal: BaseException | None = None
    use_bulk: bool = True

    def done(self, result: RowResult) -> None:
        with self.lock:
            self.results[result.index] = result


def write_many(
    clients: Sequence[DataverseClient],
    table: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    op: Op = "upsert",
    key: Sequence[str] | None = None,
    progress: Progress = NO_PROGRESS,
) -> WriteReport:
    """Write ``rows`` (Dataverse payloads) to ``table``; never raises for a row's problem.

    ``op="upsert"`` and ``"update"`` identify each row by its primary id column (e.g.
    ``contactid``) or, with ``key``, by those alternate-key columns; ``"create"`` may
    carry the primary id; ``"delete"`` deletes each row by its primary id (``$batch``; a
    row already gone counts as deleted). Raises only for problems that are not about rows
    (sign-in, privileges, a table that does not exist).
    """
    if not clients:
        raise ValidationRejected("write_many needs at least one client")
    first = clients[0]
    before = sum(c.stats.requests for c in clients)
    info = first.metadata.table(table)
    job = _Job(table=info, op=op, key=tuple(key) if key else None, rows=rows)
    _check_identity(job)
    if rows:
        job.use_bulk = job.op != "delete" and _supports_bulk(first, info, job)
        chunks = _chunks(job, first.options.batch_size, first.options.max_batch_bytes)
        progress.start(f"write {table}", total=len(rows))
        _run(clients, job, chunks, progress)
        progress.finish(f"write {table}")
    if job.fatal is not None:
        raise job.fatal
    return WriteReport(
        table=table,
        op=op,
        results=[job.results[i] for i in range(len(rows))],
        requests=sum(c.stats.requests for c in clients) - before,
        used_bulk=job.use_bulk,
    )


def _check_identity(job: _Job) -> None:
    if job.op == "create":
        return
    pk = job.table.primary_id
    for i, row in enumerate(job.rows):
        if job.key:
            missing = [k for k in job.key if row.get(k) in (None, "")]
            if missing:
                raise ValidationRejected(f"row {i}: alternate key column(s) {missing} missing")
        elif not row.get(pk):
            raise ValidationRejected(
                f"row {i}: {job.op} needs the primary id {pk!r} or an alternate key",
                hint="give every row a deterministic id, or pass key=(...)",
            )


# ---------------------------------------------------------------------------
# Probing support for bulk messages


def _supports_bulk(client: DataverseClient, info: TableInfo, job: _Job) -> bool:
    if job.op == "update" and job.key:
        return False  # UpdateMultiple targets carry the primary id
    message = _MESSAGES[job.op]
    cache = client.metadata.bulk_support
    cache_key = (info.logical_name, message)
    if cache_key in cache:
        return cache[cache_key] is not False
    try:
        rows = list(
            client.query_path(
                "sdkmessagefilters",
                params={
                    "$select": "sdkmessagefilterid",
                    "$filter": "sdkmessageid/name eq @message and primaryobjecttypecode eq @table",
                    "@message": f"'{message}'",
                    "@table": f"'{info.logical_name}'",
                },
                page_size=0,
            )
        )
    except AuthError:
        raise
    except DataverseError:
        # Unreadable (no read privilege on sdkmessagefilter, or not offered): unknown, so
        # try the bulk message and fall back on its "not supported" answer.
        cache[cache_key] = None
        return True
    cache[cache_key] = bool(rows)
    return bool(rows)


NOT_SUPPORTED_CODE = "0x80040800"
"""SdkEntityDoesNotSupportMessage: "The 'X' method does not support entities of type 'y'."."""


def _not_supported(exc: DataverseError) -> bool:
    if exc.code in NOT_FOUND_CODES:
        return False
    if exc.code == NOT_SUPPORTED_CODE:
        return True
    text = (exc.detail or "").lower()
    return exc.status in (405, 501) or any(
        phrase in text
        for phrase in (
            "does not support entities",
            "not supported",
            "isn't supported",
            "not implemented",
            "resource not found for the segment",
            "is not enabled for",
        )
    )


# ---------------------------------------------------------------------------
# Chunking and dispatch

Chunk = list[int]


def _row_size(row: Mapping[str, Any]) -> int:
    return len(json.dumps(row, separators=(",", ":"), default=json_default)) + 64


def _chunks(job: _Job, batch_size: int, max_bytes: int) -> list[Chunk]:
    chunks: list[Chunk] = []
    current: Chunk = []
    size = 0
    for i, row in enumerate(job.rows):
        n = _row_size(row)
        if current and (len(current) >= batch_size or size + n > max_bytes):
            chunks.append(current)
            current, size = [], 0
        current.append(i)
        size += n
    if current:
        chunks.append(current)
    return chunks


def _run(
    clients: Sequence[DataverseClient], job: _Job, chunks: list[Chunk], progress: Progress
) -> None:
    """Deal the chunks round-robin to the users; a user whose queue is empty takes work
    from a user that is paused by a 429, so a throttled user's share flows to the others."""
    queues: list[deque[Chunk]] = [deque() for _ in clients]
    for n, chunk in enumerate(chunks):
        queues[n % len(clients)].append(chunk)
    lock = threading.Lock()
    task = f"write {job.table.logical_name}"

    def take(k: int) -> Chunk | None:
        with lock:
            if queues[k]:
                return queues[k].popleft()
            paused = [
                j for j, c in enumerate(clients) if queues[j] and c.controller.paused_for() > 0
            ]
            if not paused:
                return None
            fullest = max(paused, key=lambda j: len(queues[j]))
            return queues[fullest].pop()

    def worker(k: int, client: DataverseClient) -> None:
        while job.fatal is None:
            wait = client.controller.paused_for()
            if wait > 0:
                client.sleep(wait)  # the other users take this one's work meanwhile
                continue
            chunk = take(k)
            if chunk is None:
                return
            try:
                _write_chunk(client, job, chunk)
            except BaseException as exc:
                with job.lock:
                    if job.fatal is None:
                        job.fatal = exc
                return
            progress.advance(task, len(chunk))

    threads = []
    per_client = max(1, -(-len(chunks) // len(clients)))
    for k, client in enumerate(clients):
        for _ in range(min(client.options.max_concurrency, per_client)):
            t = threading.Thread(target=worker, args=(k, client), daemon=True)
            t.start()
            threads.append(t)
    for t in threads:
        t.join()


def _write_chunk(client: DataverseClient, job: _Job, chunk: Chunk) -> None:
    if job.use_bulk:
        _bulk(client, job, chunk)
    else:
        _batch(client, job, chunk)


# ---------------------------------------------------------------------------
# Bulk messages with bisection


def _target(job: _Job, row: Mapping[str, Any]) -> dict[str, Any]:
    target = {"@odata.type": f"Microsoft.Dynamics.CRM.{job.table.logical_name}"}
    if job.key and job.op == "upsert":
        ref = {k: row[k] for k in job.key}
        target["@odata.id"] = f"{job.table.entity_set_name}({format_ref(ref)})"
        # Key columns stay out of the body: on create the body's values would win.
        target.update({k: v for k, v in row.items() if k not in job.key})
    else:
        target.update(row)
    return target


def _bulk(client: DataverseClient, job: _Job, chunk: Chunk) -> None:
    message = _MESSAGES[job.op]
    path = f"{job.table.entity_set_name}/Microsoft.Dynamics.CRM.{message}"
    body = {"Targets": [_target(job, job.rows[i]) for i in chunk]}
    idempotent = job.op != "create" or all(job.rows[i].get(job.table.primary_id) for i in chunk)
    try:
        resp = client.request(
            "POST",
            path,
            json=body,
            headers=client.write_headers(),
            idempotent=idempotent,
            weight=len(chunk),
        )
    except (AuthError, PrivilegeError, ThrottledError):
        # ThrottledError here means the throttle budget ran out: not a row's fault.
        raise
    except DataverseError as exc:
        if answer_lost(exc):
            _unsettled(job, chunk, exc)  # it may have been carried out: nothing to split
            return
        if _not_supported(exc):
            client.metadata.bulk_support[(job.table.logical_name, message)] = False
            job.use_bulk = False
            _batch(client, job, chunk)
            return
        if (
            job.op == "create"
            and isinstance(exc, DuplicateRecord)
            and _there(client, job, chunk, exc)
        ):
            return
        if len(chunk) == 1:
            job.done(RowResult(chunk[0], False, _row_id(job, job.rows[chunk[0]]), exc))
            return
        mid = len(chunk) // 2
        _bulk(client, job, chunk[:mid])
        _bulk(client, job, chunk[mid:])
        return
    ids: list[Any] = []
    if resp.content:
        try:
            ids = list(resp.json().get("Ids") or [])
        except ValueError:
            ids = []
    for pos, i in enumerate(chunk):
        row_id = str(ids[pos]) if pos < len(ids) else _row_id(job, job.rows[i])
        job.done(RowResult(i, True, row_id))


def _row_id(job: _Job, row: Mapping[str, Any]) -> str | None:
    value = row.get(job.table.primary_id)
    return str(value) if value else None


def answer_lost(exc: DataverseError) -> bool:
    """No answer came (a timeout, a dropped connection): the request may have been carried
    out or not."""
    return isinstance(exc, RequestTimeout | ConnectionLost)


def _unsettled(job: _Job, chunk: Chunk, exc: DataverseError) -> None:
    for i in chunk:
        job.done(RowResult(i, False, _row_id(job, job.rows[i]), exc, unsettled=True))


def _there(client: DataverseClient, job: _Job, chunk: Chunk, exc: DataverseError) -> bool:
    """A ``CreateMultiple`` refused as a duplicate: the rows of ``chunk`` whose id is taken
    come back unsettled (one read finds them), the others are created again without them.
    False when none is there (the duplicate is another key, or ids are missing): then the
    chunk is split as for any row's error."""
    pk = job.table.primary_id
    ids = {i: str(job.rows[i].get(pk) or "") for i in chunk}
    if not all(ids.values()):
        return False
    try:
        found = client.retrieve_many(job.table.logical_name, list(ids.values()), select=[pk])
    except DataverseError:
        return False
    there = [i for i in chunk if ids[i].lower() in found]
    if not there:
        return False
    _unsettled(job, there, exc)
    rest = [i for i in chunk if i not in set(there)]
    if rest:
        _bulk(client, job, rest)
    return True


# ---------------------------------------------------------------------------
# $batch with continue-on-error


def _operation(client: DataverseClient, job: _Job, row: Mapping[str, Any]) -> BatchOperation:
    info = job.table
    headers = client.write_headers()
    pk = info.primary_id
    if job.op == "create":
        return BatchOperation(
            "POST",
            info.entity_set_name,
            body=dict(row),
            headers=headers,
            idempotent=bool(row.get(pk)),
        )
    if job.key:
        ref: Any = {k: row[k] for k in job.key}
        body = {k: v for k, v in row.items() if k not in job.key}
    else:
        ref = str(row[pk])
        body = {k: v for k, v in row.items() if k != pk}
    if job.op == "delete":
        return BatchOperation("DELETE", f"{info.entity_set_name}({format_ref(ref)})")
    if job.op == "update":
        headers = {**headers, "If-Match": "*"}
    return BatchOperation(
        "PATCH", f"{info.entity_set_name}({format_ref(ref)})", body=body, headers=headers
    )


def _batch(client: DataverseClient, job: _Job, chunk: Chunk) -> None:
    policy = client.options.retry
    pk = job.table.primary_id
    pending = list(chunk)
    attempts: dict[int, int] = {}
    throttle_waited = 0.0
    while pending:
        ops = [_operation(client, job, job.rows[i]) for i in pending]
        try:
            responses = client.execute_batch(ops, continue_on_error=True)
        except (AuthError, PrivilegeError, ThrottledError):
            raise
        except DataverseError as exc:
            if answer_lost(exc):
                _unsettled(job, pending, exc)
                return
            if len(pending) == 1:
                job.done(RowResult(pending[0], False, _row_id(job, job.rows[pending[0]]), exc))
                return
            mid = len(pending) // 2
            _batch(client, job, pending[:mid])
            _batch(client, job, pending[mid:])
            return
        retry: list[int] = []
        pause = 0.0
        for pos, (i, resp) in enumerate(zip(pending, responses, strict=True)):
            row = job.rows[i]
            if resp is None:
                retry.append(i)  # the service stopped before this part
                continue
            if job.op == "delete" and (resp.ok or resp.status == 404):
                job.done(RowResult(i, True, _row_id(job, row)))  # 404: gone already
                continue
            if resp.ok:
                uri = resp.entity_id
                job.done(RowResult(i, True, id_from_uri(uri) if uri else _row_id(job, row)))
                continue
            err = resp.error(ops[pos].method, ops[pos].url)
            assert err is not None
            if isinstance(err, AuthError | PrivilegeError):
                raise err
            if job.op == "create" and isinstance(err, DuplicateRecord) and row.get(pk):
                job.done(RowResult(i, False, _row_id(job, row), err, unsettled=True))
            elif isinstance(err, ThrottledError):
                pause = max(pause, err.retry_after or policy.default_retry_after)
                retry.append(i)
            elif err.transient and attempts.get(i, 0) + 1 < policy.max_attempts:
                attempts[i] = attempts.get(i, 0) + 1
                retry.append(i)
            else:
                job.done(RowResult(i, False, _row_id(job, row), err))
        if retry:
            if pause:
                throttle_waited += pause
                if throttle_waited > policy.max_throttle_wait:
                    raise ThrottledError(
                        f"still throttled after {throttle_waited:g} s of Retry-After pauses",
                        retry_after=pause,
                    )
                client.controller.on_throttle(pause)
            else:
                client.sleep(policy.backoff(max(attempts.get(i, 1) for i in retry)))
        pending = retry
