"""The Dataverse Web API client: one environment, one application user.

Why a *sync* :class:`httpx.Client` driven from a thread pool, and not ``AsyncClient``:
every caller (loader, provisioner, doctor, CLI) is sync code; ``httpx.Client`` is
thread-safe and pools connections; the work is I/O bound, so threads release the GIL
while they wait; and a blocking :class:`~crm_ferry.dataverse.throttle.ConcurrencyController`
(a condition variable) is simpler to reason about than an event loop nested in sync
code. Parallelism tops out at 52 in-flight requests per user, well within what threads
handle. The same client runs over a real network or over ``httpx.MockTransport``.

Every request goes through :meth:`DataverseClient.request`, which

* adds the bearer token (one forced refresh and resend on a 401),
* waits for a slot of the user's concurrency window and for any Retry-After pause,
* on 429 pauses the whole user for ``Retry-After`` and resends (never counted as a failure),
* on 5xx, timeouts and dropped connections backs off with jitter and resends, but only
  when resending is safe: the request is idempotent (GET, PATCH/DELETE by id or key, a
  create with a client-supplied id) or it provably never reached the server,
* otherwise raises the :mod:`crm_ferry.dataverse.errors` class for the status and code.
"""

from __future__ import annotations

import json as jsonlib
import random
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import httpx

from crm_ferry.dataverse.auth import CredentialProvider
from crm_ferry.dataverse.batch import (
    BatchItem,
    PartResponse,
    decode_batch,
    encode_batch,
    match_responses,
    operations_of,
)
from crm_ferry.dataverse.bulk import WriteReport, write_many
from crm_ferry.dataverse.errors import (
    ConnectionLost,
    DataverseError,
    RequestTimeout,
    ThrottledError,
    ValidationRejected,
    error_for,
)
from crm_ferry.dataverse.metadata import Metadata
from crm_ferry.dataverse.odata import (
    Ref,
    cleared_by_navigation,
    format_ref,
    id_from_uri,
    json_default,
    without_keys,
)
from crm_ferry.dataverse.throttle import (
    MAX_CONCURRENCY,
    Clock,
    ConcurrencyController,
    RetryPolicy,
    Sleep,
)
from crm_ferry.progress import NO_PROGRESS, Progress

API_VERSION = "v9.2"


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientOptions:
    """Tuning of one client. The defaults suit a production environment."""

    api_version: str = API_VERSION
    timeout: float = 120.0
    """Seconds per request. Bulk messages of 1,000 rows can take a minute."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    initial_concurrency: int = 4
    """In-flight requests before the first ``x-ms-dop-hint`` is seen."""
    max_concurrency: int = 16
    """Upper bound for the adaptive window (at most 52, the per-user limit)."""
    batch_size: int = 500
    """Rows per bulk message or ``$batch`` (at most 1,000)."""
    max_batch_bytes: int = 4_000_000
    """Payload bytes per bulk message or ``$batch`` request."""
    page_size: int = 5000
    disable_affinity: bool = True
    """Drop the ARRAffinity cookie so requests spread over all web servers."""
    solution: str | None = None
    """Unmanaged solution that new metadata joins (``MSCRM.SolutionUniqueName``)."""
    bypass_custom_logic: bool = False
    """Send ``MSCRM.BypassBusinessLogicExecution: CustomSync,CustomAsync`` on writes."""
    visibility_delays: tuple[float, ...] = (0.0, 3.0, 10.0, 20.0)
    """Waits between checks that a new column is queryable (Microsoft's SDK: 0/3/10/20 s)."""
    key_poll_interval: float = 2.0
    key_poll_timeout: float = 600.0

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= 1000:
            raise ValidationRejected(f"batch_size must be 1..1000, not {self.batch_size}")
        if not 1 <= self.max_concurrency <= MAX_CONCURRENCY:
            raise ValidationRejected(
                f"max_concurrency must be 1..{MAX_CONCURRENCY}, not {self.max_concurrency}"
            )


@dataclass(frozen=True, slots=True)
class WhoAmI:
    user_id: str
    business_unit_id: str
    organization_id: str
    dop_hint: int | None


@dataclass(slots=True)
class ClientStats:
    """Counters of one client, for benchmarks and reports."""

    requests: int = 0
    """HTTP requests sent, retries included."""
    retries: int = 0
    throttled: int = 0
    auth_refreshes: int = 0


class _NoAffinity(httpx.BaseTransport):
    """Drops ``Set-Cookie`` from responses: without the ARRAffinity cookie, requests spread
    over all web servers, each with its own limits
    (https://learn.microsoft.com/power-apps/developer/data-platform/send-parallel-requests)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if "set-cookie" in response.headers:
            del response.headers["set-cookie"]
        return response

    def close(self) -> None:
        self._inner.close()


class DataverseClient:
    """Authenticated, throttle-aware access to one Dataverse environment as one user."""

    def __init__(
        self,
        url: str,
        credential: CredentialProvider,
        *,
        transport: httpx.BaseTransport | None = None,
        options: ClientOptions | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.options = options or ClientOptions()
        self.credential = credential
        self.api_path = f"/api/data/{self.options.api_version}"
        self.api_url = f"{self.url}{self.api_path}/"
        self.clock = clock
        self.sleep = sleep
        self._rng = rng or random.Random()
        self.controller = ConcurrencyController(
            initial=self.options.initial_concurrency,
            ceiling=self.options.max_concurrency,
            clock=clock,
            sleep=sleep,
        )
        self.stats = ClientStats()
        self._stats_lock = threading.Lock()
        limits = httpx.Limits(
            max_connections=MAX_CONCURRENCY + 8, max_keepalive_connections=MAX_CONCURRENCY
        )
        inner = transport if transport is not None else httpx.HTTPTransport(limits=limits)
        self._http = httpx.Client(
            base_url=self.api_url,
            transport=_NoAffinity(inner) if self.options.disable_affinity else inner,
            timeout=self.options.timeout,
        )
        self.dop_hint: int | None = None
        self.metadata = Metadata(self)

    def __repr__(self) -> str:
        return f"DataverseClient(url={self.url!r}, user={self.credential.name!r})"

    def close(self) -> None:
        """Close the connections, and the credential's own (it belongs to this client)."""
        self._http.close()
        close = getattr(self.credential, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> DataverseClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def user(self) -> str:
        return self.credential.name

    # ------------------------------------------------------------------------------
    # The request core

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        weight: int = 1,
        accept: frozenset[int] = frozenset(),
    ) -> httpx.Response:
        """Send one request with auth, pacing and retries; return a 2xx/3xx response
        (or one whose status is in ``accept``).

        ``path`` is relative to the API root (``contacts(…)``) or an absolute URL (a
        nextLink). ``idempotent`` defaults to "not a POST". ``weight`` is the number of
        records the request carries, so latency is judged per record.
        """
        method = method.upper()
        safe = idempotent if idempotent is not None else method != "POST"
        policy = self.options.retry
        attempt = 0
        throttle_waited = 0.0
        refreshed = False
        body = content
        extra_headers = dict(headers or {})
        if json is not None:
            body = jsonlib.dumps(json, separators=(",", ":"), default=json_default).encode()
            extra_headers.setdefault("Content-Type", "application/json; charset=utf-8")
        while True:
            err: DataverseError
            sent = True
            self.controller.acquire()
            started = self.clock()
            try:
                headers_now = self._headers(extra_headers, force_refresh=False)
                self._count(requests=1)
                resp = self._http.request(
                    method, path, params=params, content=body, headers=headers_now
                )
            except ConnectionLost as exc:
                # The sign-in endpoint could not be reached: nothing was sent to Dataverse.
                sent = False
                err = exc
                resp = None
            except httpx.TimeoutException as exc:
                sent = not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
                err = RequestTimeout(
                    f"no answer within {self.options.timeout:g} s ({type(exc).__name__})",
                    method=method,
                    url=self._url_of(path),
                )
                resp = None
            except httpx.TransportError as exc:
                sent = not isinstance(exc, httpx.ConnectError)
                err = ConnectionLost(
                    f"connection lost ({type(exc).__name__})", method=method, url=self._url_of(path)
                )
                resp = None
            finally:
                self.controller.release()
            if resp is not None:
                self._note_hint(resp)
                if resp.status_code < 400 or resp.status_code in accept:
                    self.controller.on_success(self.clock() - started, weight)
                    return resp
                if resp.status_code == 401 and not refreshed:
                    refreshed = True
                    self._count(auth_refreshes=1)
                    self.credential.token(force_refresh=True)
                    continue
                err = error_for(
                    resp.status_code,
                    method=method,
                    url=str(resp.request.url),
                    body=resp.content,
                    retry_after=resp.headers.get("retry-after"),
                )
            if isinstance(err, ThrottledError):
                wait = err.retry_after
                if wait is None:
                    wait = policy.default_retry_after
                self._count(throttled=1, retries=1)
                self.controller.on_throttle(wait)
                throttle_waited += wait
                if throttle_waited > policy.max_throttle_wait:
                    raise err
                continue  # acquire() waits out the pause
            if err.transient and (safe or not sent) and attempt + 1 < policy.max_attempts:
                attempt += 1
                self._count(retries=1)
                self.controller.on_failure()
                self.sleep(policy.backoff(attempt, self._rng))
                continue
            raise err

    def _headers(self, extra: Mapping[str, str], *, force_refresh: bool) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self.credential.token(force_refresh=force_refresh)}",
            "Accept": "application/json",
            "OData-MaxVersion": "4.0",
            "OData-Version": "4.0",
        }
        headers.update(extra)
        return headers

    def _note_hint(self, resp: httpx.Response) -> None:
        raw = resp.headers.get("x-ms-dop-hint")
        if raw is None:
            return
        try:
            hint = int(raw)
        except ValueError:
            return
        self.dop_hint = hint
        self.controller.apply_hint(hint)

    def _count(self, **amounts: int) -> None:
        with self._stats_lock:
            for name, n in amounts.items():
                setattr(self.stats, name, getattr(self.stats, name) + n)

    def _url_of(self, path: str) -> str:
        return path if "://" in path else f"{self.api_url}{path}"

    def write_headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """Headers every write carries (the bypass header when asked), plus ``extra``."""
        headers: dict[str, str] = {}
        if self.options.bypass_custom_logic:
            headers["MSCRM.BypassBusinessLogicExecution"] = "CustomSync,CustomAsync"
        if extra:
            headers.update(extra)
        return headers

    # ------------------------------------------------------------------------------
    # Records

    def ref_path(self, table: str, ref: Ref) -> str:
        """``contacts(<id>)`` or ``contacts(key='value',other=5)`` for ``ref``."""
        return f"{self.metadata.entity_set(table)}({format_ref(ref)})"

    def create(
        self, table: str, data: Mapping[str, Any], *, return_representation: bool = False
    ) -> str:
        """Create a record; return its id. Resent on transient errors only if ``data``
        carries the primary id (otherwise a resend could create it twice)."""
        info = self.metadata.table(table)
        headers = self.write_headers()
        if return_representation:
            headers["Prefer"] = "return=representation"
        resp = self.request(
            "POST",
            info.entity_set_name,
            json=dict(data),
            headers=headers,
            idempotent=bool(data.get(info.primary_id)),
        )
        if resp.status_code == 201 and resp.content:
            body = resp.json()
            return str(body.get(info.primary_id, ""))
        return id_from_uri(resp.headers.get("odata-entityid", ""))

    def update(
        self, table: str, ref: Ref, data: Mapping[str, Any], *, etag: str | None = None
    ) -> None:
        """Update an existing record (``If-Match: *`` or the given ETag): 404 if missing."""
        self.request(
            "PATCH",
            self.ref_path(table, ref),
            json=cleared_by_navigation(without_keys(data, ref)),
            headers=self.write_headers({"If-Match": etag or "*"}),
        )

    def upsert(self, table: str, ref: Ref, data: Mapping[str, Any]) -> str | None:
        """Create or update by id or alternate key; return the record id when known.

        Key columns are left out of the body: on the create path the body's values would
        win over the URL's ("Use Upsert", Microsoft Learn)."""
        resp = self.request(
            "PATCH",
            self.ref_path(table, ref),
            json=cleared_by_navigation(without_keys(data, ref)),
            headers=self.write_headers(),
        )
        uri = resp.headers.get("odata-entityid")
        return id_from_uri(uri) if uri else None

    def insert(self, table: str, ref: Ref, data: Mapping[str, Any]) -> None:
        """Create only (``If-None-Match: *``): :class:`DuplicateRecord`/412 if it exists."""
        self.request(
            "PATCH",
            self.ref_path(table, ref),
            json=cleared_by_navigation(without_keys(data, ref)),
            headers=self.write_headers({"If-None-Match": "*"}),
        )

    def delete(self, table: str, ref: Ref, *, etag: str | None = None) -> None:
        headers = {"If-Match": etag} if etag else {}
        self.request("DELETE", self.ref_path(table, ref), headers=self.write_headers(headers))

    def retrieve(
        self,
        table: str,
        ref: Ref,
        *,
        select: Sequence[str] | None = None,
        expand: str | None = None,
    ) -> dict[str, Any]:
        params: dict[str, str] = {}
        if select:
            params["$select"] = ",".join(select)
        if expand:
            params["$expand"] = expand
        resp = self.request("GET", self.ref_path(table, ref), params=params or None)
        return dict(resp.json())

    def query(
        self,
        table: str,
        *,
        select: Sequence[str] | None = None,
        filter: str | None = None,
        orderby: str | None = None,
        expand: str | None = None,
        top: int | None = None,
        page_size: int | None = None,
        annotations: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Rows of ``table``, page by page, following ``@odata.nextLink`` verbatim."""
        params: dict[str, str] = {}
        if select:
            params["$select"] = ",".join(select)
        if filter:
            params["$filter"] = filter
        if orderby:
            params["$orderby"] = orderby
        if expand:
            params["$expand"] = expand
        if top is not None:
            params["$top"] = str(top)
        yield from self.query_path(
            self.metadata.entity_set(table),
            params=params,
            page_size=None if top is not None else page_size,
            annotations=annotations,
        )

    def aggregate(
        self,
        table: str,
        aggregates: Mapping[str, tuple[str, str]],
        *,
        filter: str | None = None,
        groupby: Sequence[str] = (),
    ) -> list[dict[str, Any]]:
        """Aggregates computed by the service (``$apply``; "Aggregate data", Microsoft Learn):
        ``{"total": ("totalamount", "sum"), "n": ("", "count")}`` → one row per group
        (``groupby`` columns, e.g. ``_customerid_value``) with those aliases. Numbers are read
        as :class:`~decimal.Decimal`, so money sums keep their cents. Dataverse refuses an
        aggregate over more than 50,000 rows (``AggregateQueryRecordLimit exceeded``)."""
        terms = [
            f"$count as {alias}" if op == "count" else f"{column} with {op} as {alias}"
            for alias, (column, op) in aggregates.items()
        ]
        apply = f"aggregate({','.join(terms)})"
        if groupby:
            apply = f"groupby(({','.join(groupby)}),{apply})"
        if filter:
            apply = f"filter({filter})/{apply}"
        resp = self.request("GET", self.metadata.entity_set(table), params={"$apply": apply})
        body = jsonlib.loads(resp.content, parse_float=Decimal)
        return [dict(row) for row in body.get("value", [])]

    def retrieve_many(
        self,
        table: str,
        ids: Sequence[str],
        *,
        select: Sequence[str] | None = None,
        annotations: bool = False,
        chunk: int = 50,
    ) -> dict[str, dict[str, Any]]:
        """Rows of ``table`` by primary id (lower case); ids that match no row are absent.

        Ids go in the URL through ``Microsoft.Dynamics.CRM.In``, ``chunk`` at a time, so
        the URL stays far below its length limit."""
        pid = self.metadata.table(table).primary_id
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), chunk):
            values = ",".join(f"'{i}'" for i in ids[start : start + chunk])
            flt = f"Microsoft.Dynamics.CRM.In(PropertyName='{pid}',PropertyValues=[{values}])"
            for row in self.query(table, select=select, filter=flt, annotations=annotations):
                out[str(row[pid]).lower()] = row
        return out

    def query_path(
        self,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        page_size: int | None = None,
        annotations: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Rows from any collection URL (``EntityDefinitions``, ``systemusers``, ...)."""
        prefer = []
        size = page_size if page_size is not None else self.options.page_size
        # $top is ignored when odata.maxpagesize is sent (Microsoft Learn, "Page results").
        if size and not (params and "$top" in params):
            prefer.append(f"odata.maxpagesize={size}")
        if annotations:
            prefer.append('odata.include-annotations="*"')
        headers = {"Prefer": ", ".join(prefer)} if prefer else {}
        next_url: str | None = path
        next_params: Mapping[str, str] | None = params
        while next_url:
            resp = self.request("GET", next_url, params=next_params, headers=headers)
            body = resp.json()
            yield from body.get("value", [])
            next_url = body.get("@odata.nextLink")
            next_params = None

    # ------------------------------------------------------------------------------
    # Actions and functions

    def call(
        self,
        name: str,
        body: Mapping[str, Any] | None = None,
        *,
        method: Literal["GET", "POST"] = "POST",
        idempotent: bool | None = None,
    ) -> dict[str, Any] | None:
        """Call an unbound action (POST) or function (GET); return its JSON, if any."""
        resp = self.request(
            method,
            name,
            json=dict(body) if body is not None else None,
            headers=self.write_headers() if method == "POST" else None,
            idempotent=idempotent,
        )
        if resp.status_code == 204 or not resp.content:
            return None
        return dict(resp.json())

    def who_am_i(self) -> WhoAmI:
        resp = self.request("GET", "WhoAmI")
        body = resp.json()
        return WhoAmI(
            user_id=str(body.get("UserId", "")),
            business_unit_id=str(body.get("BusinessUnitId", "")),
            organization_id=str(body.get("OrganizationId", "")),
            dop_hint=self.dop_hint,
        )

    def win_opportunity(
        self, opportunity_id: str, *, status: int = 3, close: Mapping[str, Any] | None = None
    ) -> None:
        """Close an opportunity as won (patching statecode is not allowed)."""
        self._close_opportunity("WinOpportunity", opportunity_id, status, close)

    def lose_opportunity(
        self, opportunity_id: str, *, status: int = 4, close: Mapping[str, Any] | None = None
    ) -> None:
        self._close_opportunity("LoseOpportunity", opportunity_id, status, close)

    def _close_opportunity(
        self, action: str, opportunity_id: str, status: int, close: Mapping[str, Any] | None
    ) -> None:
        payload: dict[str, Any] = {"subject": "Won" if action.startswith("Win") else "Lost"}
        payload.update(close or {})
        payload["opportunityid@odata.bind"] = f"/opportunities({opportunity_id})"
        # Not idempotent: a second close of a closed opportunity fails.
        self.call(action, {"Status": status, "OpportunityClose": payload}, idempotent=False)

    def publish(self, tables: Sequence[str]) -> None:
        """PublishXml for the given tables (needed after metadata *updates*)."""
        entities = "".join(f"<entity>{t}</entity>" for t in tables)
        xml = f"<importexportxml><entities>{entities}</entities></importexportxml>"
        self.call("PublishXml", {"ParameterXml": xml}, idempotent=True)

    # ------------------------------------------------------------------------------
    # Batches and bulk

    def execute_batch(
        self,
        items: Sequence[BatchItem],
        *,
        continue_on_error: bool = True,
        weight: int | None = None,
    ) -> list[PartResponse | None]:
        """Send a ``$batch``; return one response per operation (``None``: not executed).

        Without ``continue_on_error`` the service stops at the first failure and answers
        400 with only that part (Microsoft Learn, "Execute batch operations"); that is
        raised as the failing part's error class, since which operation failed is unknown."""
        ops = operations_of(items)
        ctype, body = encode_batch(items, api_path=self.api_path)
        headers = self.write_headers({"Content-Type": ctype})
        if continue_on_error:
            headers["Prefer"] = "odata.continue-on-error"
        resp = self.request(
            "POST",
            "$batch",
            content=body,
            headers=headers,
            idempotent=all(op.is_idempotent for op in ops),
            weight=weight or len(ops),
            accept=frozenset({400}),
        )
        rtype = resp.headers.get("content-type", "")
        url = str(resp.request.url)
        if resp.status_code == 400 and "multipart/" not in rtype.lower():
            # The batch as a whole was refused (malformed, bad Content-ID reference).
            raise error_for(400, method="POST", url=url, body=resp.content)
        decoded = decode_batch(rtype, resp.content)
        if resp.status_code == 400 and len(decoded) < len(items):
            # Stopped at a failure, and only the failing part came back: which operation
            # failed (and which ran before it) cannot be told, so say so instead of guessing.
            first = decoded[0] if decoded else None
            part = first[0] if isinstance(first, list) and first else first
            inner = part.error("POST", url) if isinstance(part, PartResponse) else None
            detail = inner.detail if inner else "an operation failed"
            raise type(inner or ValidationRejected(""))(
                f"the batch stopped at a failing operation: {detail}; operations before it "
                "ran, those after it did not (send with continue_on_error to know which)",
                method="POST",
                url=url,
                status=inner.status if inner else 400,
                code=inner.code if inner else None,
            )
        return match_responses(items, decoded)

    def write_many(
        self,
        table: str,
        rows: Sequence[Mapping[str, Any]],
        *,
        op: Literal["upsert", "create", "update"] = "upsert",
        key: Sequence[str] | None = None,
        progress: Progress = NO_PROGRESS,
    ) -> WriteReport:
        """Write many rows of one table: bulk messages where supported, ``$batch`` else.

        See :func:`crm_ferry.dataverse.bulk.write_many`."""
        return write_many([self], table, rows, op=op, key=key, progress=progress)
