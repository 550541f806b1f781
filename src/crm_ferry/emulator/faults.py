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

Only Web API requests are numbered and faulted; sign-in never is. Request *n* (1-based,
counted in arrival order) faults if *n* is listed for a kind, else by one uniform draw from
a generator seeded with ``(seed, n)`` compared with the cumulative probabilities in the
order above: the same seed and request order give the same faults, whatever the threads.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import httpx

from crm_ferry.emulator.layers import (
    FAIL_ITEM,
    REQUEST_NUMBER,
    Clock,
    Handler,
    Sleep,
    monotonic,
    odata_error,
)
from crm_ferry.emulator.protection import REQUESTS_CODE

FaultKind = Literal["throttle", "unavailable", "deadlock", "timeout", "fail_item"]
FAULT_KINDS: tuple[FaultKind, ...] = ("throttle", "unavailable", "deadlock", "timeout", "fail_item")

DEADLOCK_CODE = "0x80044150"
DEADLOCK_MESSAGE = (
    "Generic SQL error. CRM ErrorCode: -2147204784 Sql ErrorCode: -2146232060 Sql Number: 1205"
)


class ConnectionDropped(httpx.ReadTimeout):
    """The emulator held the connection and dropped it without a response."""


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

    def __post_init__(self) -> None:
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
    ) -> None:
        self._inner = inner
        self.schedule = schedule or FaultSchedule()
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._count = 0
        self._throttled_until = -math.inf
        self.injected: dict[FaultKind, int] = dict.fromkeys(FAULT_KINDS, 0)
        """How many faults of each kind were injected so far (for tests and reports)."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self._count += 1
            number = self._count
            now = self._clock()
            kind = self.schedule.fault_for(number)
            if kind == "fail_item" and not is_multi_item(request):
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
        if kind == "throttle":
            return odata_error(
                429,
                REQUESTS_CODE,
                "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
                headers={"Retry-After": str(max(1, math.ceil(burst_left)))},
            )
        if kind == "unavailable":
            return odata_error(503, "", "Service Unavailable")
        if kind == "deadlock":
            return odata_error(500, DEADLOCK_CODE, DEADLOCK_MESSAGE)
        if kind == "timeout":
            self._sleep(self.schedule.timeout_hold_s)
            raise ConnectionDropped(
                f"the emulator dropped the connection after {self.schedule.timeout_hold_s:g} s "
                f"(injected timeout, request {number})",
                request=request,
            )
        if kind == "fail_item":
            request.extensions[FAIL_ITEM] = self.schedule.fail_item_index
        return self._inner(request)
