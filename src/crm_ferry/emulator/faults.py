"""Fault injection: the failures a bulk load meets in the real service, on a seeded schedule.

Kinds, with the signatures Microsoft documents:

- ``throttle``: a burst of ``429`` with ``Retry-After``; every Web API request gets it until
  the burst's ``Retry-After`` has passed on the emulator's clock, so a client that waits as
  told recovers and one that hammers keeps failing
  (https://learn.microsoft.com/power-apps/developer/data-platform/api-limits).
- ``unavailable``: ``503 Service Unavailable``.
- ``deadlock``: ``500`` "Generic SQL error" with CRM code -2147204784 (``0x80044150``) and
  Sql Number 1205, what concurrent writes to one record cause
  (https://learn.microsoft.com/troubleshoot/power-platform/power-apps/dataverse/bulk-operation-errors).
- ``timeout``: the connection is held for ``timeout_hold_s`` and then dropped without an
  answer (the 2-minute operation limit seen from the client). In process this raises
  :class:`httpx.ReadTimeout`; the HTTP server closes the socket instead.
- ``fail_item``: item ``fail_item_index`` of a ``$batch`` or bulk request fails with the
  data plane's own "Generic SQL error", through ``request.extensions["crm_ferry.fail_item"]``.
- ``lost``: a write (POST, PATCH, PUT, DELETE; reads never get it) is carried out, and then
  the connection is reset before the answer reaches the client: the service wrote what the
  request held, the client cannot know it (a timeout or a reset after the write). In
  process this raises :class:`AnswerLost` (an :class:`httpx.ReadError`); the HTTP server
  closes the socket instead.
- ``corrupt`` (not a request fault: the request succeeds): one column of some rows written
  to one table is stored with another value than the one sent, so what is read back differs
  from what was written, as a faulty integration or plug-in would do. It proves that a
  read-back comparison (``crm-ferry sample``, ``crm-ferry verify``) catches a silent change.
  A :class:`Corruption` names the table (logical name), the column, and which rows: every
  ``every``-th row of that table whose body carries the column (counted in arrival order,
  across single requests, bulk messages and ``$batch`` parts), optionally only rows whose
  URL or body holds ``match`` (a record id, or an alternate-key value such as the source
  id). The value stored is ``value`` when given, else :func:`corrupt_value` of the one sent
  (a text with its first character changed, a date one day later, a number plus one, a
  boolean negated). Single writes (POST/PATCH/PUT) and the ``Targets`` of bulk messages
  (CreateMultiple, UpdateMultiple, UpsertMultiple) are rewritten here, before the request
  reaches the data plane; the parts of a ``$batch`` are rewritten by the data plane through
  ``request.extensions["crm_ferry.rewrite"]`` (:data:`~crm_ferry.emulator.layers.REWRITE`),
  just before each part runs. ``FaultInjector.corrupted`` lists every value changed.

Only Web API requests are numbered and faulted; sign-in never is. Microsoft Graph's
requests (:mod:`crm_ferry.emulator.graph`) go through an injector of their own, numbered on
their own and answered in Graph's error shape (``answer``). Request *n* (1-based,
counted in arrival order) faults if *n* is listed for a kind, else by one uniform draw from
a generator seeded with ``(seed, n)`` compared with the cumulative probabilities in the
order above: the same seed and request order give the same faults, whatever the threads.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from urllib.parse import unquote

import httpx

from crm_ferry.emulator.layers import (
    FAIL_ITEM,
    REQUEST_NUMBER,
    REWRITE,
    Clock,
    Handler,
    Sleep,
    api_path,
    monotonic,
    odata_error,
)
from crm_ferry.emulator.protection import REQUESTS_CODE

FaultKind = Literal["throttle", "unavailable", "deadlock", "timeout", "fail_item", "lost"]
FAULT_KINDS: tuple[FaultKind, ...] = (
    "throttle",
    "unavailable",
    "deadlock",
    "timeout",
    "fail_item",
    "lost",
)

DEADLOCK_CODE = "0x80044150"
DEADLOCK_MESSAGE = (
    "Generic SQL error. CRM ErrorCode: -2147204784 Sql ErrorCode: -2146232060 Sql Number: 1205"
)


class ConnectionDropped(httpx.ReadTimeout):
    """The emulator held the connection and dropped it without a response."""


class AnswerLost(httpx.ReadError):
    """The emulator carried the request out, then reset the connection before answering."""


_LOST_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})

FaultAnswer = Callable[[FaultKind, httpx.Request, int], httpx.Response]
"""The response of an injected ``throttle`` (with its Retry-After seconds), ``unavailable``
or ``deadlock`` fault to a request."""


def dataverse_answer(kind: FaultKind, request: httpx.Request, retry_after_s: int) -> httpx.Response:
    """The Web API's answers: 429 with the requests-limit code, 503, a SQL deadlock."""
    if kind == "throttle":
        return odata_error(
            429,
            REQUESTS_CODE,
            "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
            headers={"Retry-After": str(retry_after_s)},
        )
    if kind == "unavailable":
        return odata_error(503, "", "Service Unavailable")
    return odata_error(500, DEADLOCK_CODE, DEADLOCK_MESSAGE)


@dataclass(frozen=True, slots=True, kw_only=True)
class Corruption:
    """Store another value in ``column`` of some rows written to ``table`` (see the module
    docstring). ``every=3`` corrupts the 3rd, 6th, 9th ... row that carries the column;
    ``match`` limits it to rows whose URL or body holds that text; ``value`` (when not None)
    is stored instead of :func:`corrupt_value` of the value sent."""

    table: str
    column: str
    every: int = 1
    match: str | None = None
    value: str | int | float | bool | None = None

    def __post_init__(self) -> None:
        if not self.table or not self.column:
            raise ValueError("a corruption needs a table and a column")
        if self.every < 1:
            raise ValueError(f"corrupt every must be at least 1, not {self.every}")

    @classmethod
    def parse(cls, text: str) -> Corruption:
        """``TABLE.COLUMN[:EVERY][@MATCH]``, e.g. ``contact.lastname:10`` or
        ``contact.lastname@cli_000003`` (what ``--fault-corrupt`` takes)."""
        spec, _, match = text.partition("@")
        spec, sep, every = spec.partition(":")
        table, dot, column = spec.strip().partition(".")
        if not dot or not table or not column:
            raise ValueError(f"{text!r}: expected TABLE.COLUMN[:EVERY][@MATCH]")
        try:
            n = int(every) if sep else 1
        except ValueError:
            raise ValueError(f"{text!r}: EVERY must be a whole number") from None
        return cls(table=table, column=column, every=n, match=match or None)


CorruptSpec = Corruption | Mapping[str, Any] | Iterable[Corruption | Mapping[str, Any]]
"""What ``FaultSchedule(corrupt=...)`` takes: one :class:`Corruption` or its fields as a
mapping (``{"table": "contact", "column": "lastname", "every": 5}``), or several."""


def _corruptions(spec: CorruptSpec) -> tuple[Corruption, ...]:
    if isinstance(spec, Corruption | Mapping):
        return (_corruption(spec),)
    return tuple(_corruption(item) for item in spec)


def _corruption(item: object) -> Corruption:
    if isinstance(item, Corruption):
        return item
    if isinstance(item, Mapping):
        try:
            return Corruption(**dict(item))
        except TypeError as exc:
            raise ValueError(f"bad corruption {dict(item)!r}: {exc}") from None
    raise ValueError(f"bad corruption {item!r}: expected a Corruption or a mapping")


def corrupt_value(value: Any) -> Any:
    """A different value of the same kind: a boolean negated, a number plus one, an ISO
    date or date-time one day later (in the same form), a numeric text plus one, any other
    text with its first character changed (same length). ``None`` and structures stay."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if not isinstance(value, str):
        return value
    if not value:
        return "X"
    text = value.strip()
    if len(text) >= 10 and text[4:5] == "-" and text[7:8] == "-":
        try:
            if len(text) == 10:
                return (date.fromisoformat(text) + timedelta(days=1)).isoformat()
            moved = datetime.fromisoformat(text.replace("Z", "+00:00")) + timedelta(days=1)
            out = moved.isoformat()
            return out.replace("+00:00", "Z") if text.endswith("Z") else out
        except ValueError:
            pass
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = None
    if number is not None and number.is_finite():
        return str(number + 1)
    return ("Y" if value[0] == "X" else "X") + value[1:]


@dataclass(frozen=True, slots=True)
class CorruptedWrite:
    """One value the emulator stored differently from what was sent."""

    table: str
    column: str
    address: str
    """Where the row was written: the request path, or the bulk target's ``@odata.id`` /
    primary id."""
    sent: Any
    stored: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultSchedule:
    """Which Web API requests fail, and how. Empty (no faults) by default."""

    seed: int = 0
    probabilities: Mapping[FaultKind, float] = field(default_factory=dict)
    at: Mapping[FaultKind, frozenset[int]] = field(default_factory=dict)
    """Explicit 1-based request numbers per kind; these win over the probabilities."""
    retry_after_s: int = 5
    timeout_hold_s: float = 120.0
    fail_item_index: int = 0
    corrupt: CorruptSpec = ()
    """Values stored differently from what was sent (see :class:`Corruption`)."""
    corruptions: tuple[Corruption, ...] = field(init=False, default=())
    """``corrupt`` as a tuple of :class:`Corruption`."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "corruptions", _corruptions(self.corrupt))
        unknown = (set(self.probabilities) | set(self.at)) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FAULT_KINDS}")
        total = sum(self.probabilities.values())
        if any(p < 0 for p in self.probabilities.values()) or total > 1:
            raise ValueError("fault probabilities must be >= 0 and add up to at most 1")

    @property
    def active(self) -> bool:
        return bool(self.at) or any(p > 0 for p in self.probabilities.values())

    def fault_for(self, number: int) -> FaultKind | None:
        """The fault request ``number`` gets (deterministic in the seed and the number)."""
        for kind in FAULT_KINDS:
            if number in self.at.get(kind, frozenset()):
                return kind
        if not any(p > 0 for p in self.probabilities.values()):
            return None
        draw = random.Random(f"{self.seed}:{number}").random()
        edge = 0.0
        for kind in FAULT_KINDS:
            edge += self.probabilities.get(kind, 0.0)
            if draw < edge:
                return kind
        return None


_WRITE_METHODS = frozenset({"POST", "PATCH", "PUT"})
_BULK_WRITES = ("CreateMultiple", "UpdateMultiple", "UpsertMultiple")


def _entity_set(path: str) -> tuple[str, str] | None:
    """(entity set, rest) of a Web API path ``.../<set>[(<key>)][/...]``."""
    split = api_path(path)
    if split is None:
        return None
    rest = unquote(split[1])
    head = rest.split("/", 1)[0]
    name = head.split("(", 1)[0]
    return (name, rest) if name else None


def is_multi_item(request: httpx.Request) -> bool:
    """A ``$batch`` or a bulk message (CreateMultiple, UpsertMultiple, ...)."""
    last = request.url.path.rstrip("/").rsplit("/", 1)[-1]
    return last == "$batch" or (last.startswith("Microsoft.Dynamics.CRM.") and "Multiple" in last)


class FaultInjector:
    """A layer that applies a :class:`FaultSchedule` to Web API requests. Thread-safe."""

    def __init__(
        self,
        inner: Handler,
        schedule: FaultSchedule | None = None,
        *,
        clock: Clock = monotonic,
        sleep: Sleep = time.sleep,
        table_of: Callable[[str], str | None] | None = None,
        answer: FaultAnswer = dataverse_answer,
    ) -> None:
        """``table_of``: the table (logical name) of an entity set name, for corruptions
        (without it, or when it answers None, ``<table>s`` is taken as the set's name).
        ``answer``: the responses of the faults that answer (the Web API's by default)."""
        self._inner = inner
        self._answer = answer
        self.schedule = schedule or FaultSchedule()
        self._table_of = table_of
        self._written: dict[int, int] = {}
        self.corrupted: list[CorruptedWrite] = []
        """Every value stored differently from what was sent, in order."""
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._count = 0
        self._throttled_until = -math.inf
        self.injected: dict[FaultKind, int] = dict.fromkeys(FAULT_KINDS, 0)
        """How many faults of each kind were injected so far (for tests and reports)."""

    @property
    def numbered(self) -> int:
        """How many requests were numbered so far: the next one is ``numbered + 1``."""
        with self._lock:
            return self._count

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self._count += 1
            number = self._count
            now = self._clock()
            kind = self.schedule.fault_for(number)
            if kind == "fail_item" and not is_multi_item(request):
                kind = None
            if kind == "lost" and request.method.upper() not in _LOST_METHODS:
                kind = None
            burst_left = self._throttled_until - now
            if kind is None and burst_left > 0:
                kind = "throttle"
            elif kind == "throttle":
                burst_left = self.schedule.retry_after_s
                self._throttled_until = now + burst_left
            if kind is not None:
                self.injected[kind] += 1
        request.extensions[REQUEST_NUMBER] = number
        if kind in ("throttle", "unavailable", "deadlock"):
            wait = max(1, math.ceil(burst_left)) if kind == "throttle" else 0
            return self._answer(kind, request, wait)
        if kind == "timeout":
            self._sleep(self.schedule.timeout_hold_s)
            raise ConnectionDropped(
                f"the emulator dropped the connection after {self.schedule.timeout_hold_s:g} s "
                f"(injected timeout, request {number})",
                request=request,
            )
        if kind == "fail_item":
            request.extensions[FAIL_ITEM] = self.schedule.fail_item_index
        if self.schedule.corruptions and request.method.upper() in _WRITE_METHODS:
            request = self.rewrite(request)
        response = self._inner(request)
        if kind == "lost":
            response.read()  # the service finished its work; only the answer goes missing
            response.close()
            raise AnswerLost(
                f"the emulator reset the connection after carrying out request {number} "
                f"(injected lost answer, HTTP {response.status_code} not delivered)",
                request=request,
            )
        return response

    # -- corruption -----------------------------------------------------------------------

    def rewrite(self, request: httpx.Request) -> httpx.Request:
        """``request`` with the scheduled corruptions applied to what it writes.

        A ``$batch`` is passed on unchanged, carrying this method under
        :data:`~crm_ferry.emulator.layers.REWRITE` for the data plane to call on each part;
        the request returned never carries it (a bulk part's own inner requests must not be
        corrupted twice).
        """
        request.extensions.pop(REWRITE, None)
        if request.method.upper() not in _WRITE_METHODS:
            return request
        where = _entity_set(request.url.path)
        if where is None:
            return request
        set_name, rest = where
        if set_name == "$batch":
            request.extensions[REWRITE] = self.rewrite
            return request
        try:
            body = json.loads(request.read() or b"null")
        except ValueError:
            return request
        if not isinstance(body, dict):
            return request
        message = rest.rsplit("Microsoft.Dynamics.CRM.", 1)[-1] if "/" in rest else ""
        changed = False
        if message in _BULK_WRITES:
            targets = body.get("Targets")
            if isinstance(targets, list):
                for item in targets:
                    if isinstance(item, dict):
                        table = str(item.get("@odata.type", "")).rsplit(".", 1)[-1]
                        address = str(item.get("@odata.id") or "")
                        changed |= self._corrupt(table or None, set_name, item, address)
        elif "/" not in rest.rstrip("/"):
            changed = self._corrupt(None, set_name, body, request.url.path)
        if not changed:
            return request
        headers = [
            (k, v)
            for k, v in request.headers.multi_items()
            if k.lower() not in ("content-length", "transfer-encoding")
        ]
        return httpx.Request(
            request.method,
            request.url,
            headers=headers,
            content=json.dumps(body).encode("utf-8"),
            extensions=dict(request.extensions),
        )

    def _targets(self, rule: Corruption, table: str | None, set_name: str) -> bool:
        if table is not None:
            return table == rule.table
        resolved = self._table_of(set_name) if self._table_of is not None else None
        if resolved is not None:
            return resolved == rule.table
        return set_name in (rule.table, f"{rule.table}s")

    def _corrupt(self, table: str | None, set_name: str, row: dict[str, Any], address: str) -> bool:
        """Apply every corruption due on ``row`` (in place); whether any was."""
        changed = False
        for index, rule in enumerate(self.schedule.corruptions):
            sent = row.get(rule.column)
            if sent is None or isinstance(sent, dict | list):
                continue
            if not self._targets(rule, table, set_name):
                continue
            if rule.match is not None and rule.match not in address + json.dumps(row):
                continue
            with self._lock:
                n = self._written[index] = self._written.get(index, 0) + 1
                if n % rule.every:
                    continue
                stored = rule.value if rule.value is not None else corrupt_value(sent)
                row[rule.column] = stored
                self.corrupted.append(
                    CorruptedWrite(
                        table or rule.table, rule.column, address or set_name, sent, stored
                    )
                )
            changed = True
        return changed
