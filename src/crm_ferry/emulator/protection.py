"""Service-protection limits, per application user, as Dataverse enforces them.

https://learn.microsoft.com/power-apps/developer/data-platform/api-limits

Three limits per user over a sliding window (defaults: 6,000 requests and 1,200,000 ms of
combined execution time in 300 s, 52 requests at once). Going over any of them returns
``429 Too Many Requests`` with a ``Retry-After`` header in whole seconds and the documented
error code and message. The concurrency limit is checked first and answers at once: a
request over it is never queued. A request sent before the ``Retry-After`` it was given has
passed is refused again and the wait grows by ``hammer_penalty_s`` (the documentation: a
client that keeps sending gets longer Retry-After values). A ``$batch`` or a bulk message
counts as one request, but all of its execution time counts.

Execution time comes from a cost model, not the wall clock, so tests are deterministic:
``request_cost_ms + record_cost_ms * records`` (``read_record_cost_ms`` per row for a GET),
where ``records`` is what the data plane reports in
``response.extensions["crm_ferry.records"]``. It is charged when the request
completes. The defaults (10 ms per request, 10 ms per record) reproduce Microsoft's own
sample timings: about 20 single-record requests per second or about 400 records per second
through 1,000-record bulk requests before the limits bite.

``x-ms-dop-hint`` (the recommended degree of parallelism) is set on every response that
passes through; Microsoft's Web API parallel-requests sample shows 4 on its environment.
https://learn.microsoft.com/power-apps/developer/data-platform/send-parallel-requests
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field

import httpx

from crm_ferry.emulator.layers import CALLER, Clock, Handler, monotonic, odata_error, records_of

REQUESTS_CODE = "0x80072322"
EXECUTION_TIME_CODE = "0x80072321"
CONCURRENCY_CODE = "0x80072326"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtectionLimits:
    """The service-protection limits and the cost model; Microsoft's defaults unless changed."""

    max_requests: int = 6000
    max_execution_ms: int = 1_200_000
    max_concurrent: int = 52
    window_s: float = 300.0
    request_cost_ms: float = 10.0
    record_cost_ms: float = 10.0
    read_record_cost_ms: float = 1.0
    """Per row a read (a GET) returns. UNCERTAIN: the documentation gives no figure; reading
    a row costs the server a fraction of writing one (no plug-ins, no audit, no index
    updates), so a query of 5,000 rows is charged 5 s, not 50 s."""
    concurrency_retry_after_s: int = 1
    """Retry-After for the concurrency limit, which clears as soon as a request finishes."""
    hammer_penalty_s: float = 1.0
    """Seconds added to the wait for each request sent before Retry-After has passed. The
    documentation says continued requests get longer Retry-After values, not by how much."""
    dop_hint: int = 4
    enabled: bool = True

    def cost_ms(self, records: int, *, read: bool = False) -> float:
        per_record = self.read_record_cost_ms if read else self.record_cost_ms
        return self.request_cost_ms + per_record * records


@dataclass(slots=True)
class _Usage:
    in_flight: int = 0
    blocked_until: float = -math.inf
    blocked_by: tuple[str, str] = ("", "")
    arrivals: deque[float] = field(default_factory=deque)
    charges: deque[tuple[float, float]] = field(default_factory=deque)
    charged_ms: float = 0.0


class ServiceProtection:
    """A layer that enforces :class:`ProtectionLimits` per caller. Thread-safe."""

    def __init__(
        self, inner: Handler, limits: ProtectionLimits | None = None, *, clock: Clock = monotonic
    ) -> None:
        self._inner = inner
        self.limits = limits or ProtectionLimits()
        self._clock = clock
        self._lock = threading.Lock()
        self._usage: dict[str, _Usage] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        limits = self.limits
        if not limits.enabled:
            return self._stamp(self._inner(request), None)
        user = str(request.extensions.get(CALLER, ""))
        with self._lock:
            usage = self._usage.setdefault(user, _Usage())
            rejected = self._admit(usage)
            if rejected is None:
                usage.in_flight += 1
        if rejected is not None:
            return self._stamp(rejected, None)
        response: httpx.Response | None = None
        try:
            response = self._inner(request)
        finally:
            with self._lock:
                usage.in_flight -= 1
                cost = limits.cost_ms(
                    records_of(response) if response is not None else 0,
                    read=request.method == "GET",
                )
                usage.charges.append((self._clock(), cost))
                usage.charged_ms += cost
                remaining = self._remaining(usage)
        return self._stamp(response, remaining)

    def in_flight(self, user: str) -> int:
        with self._lock:
            usage = self._usage.get(user)
            return usage.in_flight if usage else 0

    def _admit(self, usage: _Usage) -> httpx.Response | None:
        limits = self.limits
        now = self._clock()
        self._expire(usage, now)
        if usage.in_flight >= limits.max_concurrent:
            return _throttled(
                limits.concurrency_retry_after_s,
                CONCURRENCY_CODE,
                f"Number of concurrent requests exceeded the limit of {limits.max_concurrent}.",
            )
        if now < usage.blocked_until:
            # Sent before the Retry-After it was given: the wait grows.
            usage.blocked_until += limits.hammer_penalty_s
            return _throttled(usage.blocked_until - now, *usage.blocked_by)
        if len(usage.arrivals) >= limits.max_requests:
            # One slot frees when the oldest counted request leaves the window.
            wait = usage.arrivals[0] + limits.window_s - now
            return self._block(
                usage,
                now,
                wait,
                REQUESTS_CODE,
                f"Number of requests exceeded the limit of {limits.max_requests} over time "
                f"window of {_seconds(limits.window_s)} seconds.",
            )
        if usage.charged_ms >= limits.max_execution_ms:
            # Wait until enough charged time has left the window to be under the limit again.
            excess = usage.charged_ms - limits.max_execution_ms
            freed, wait = 0.0, limits.window_s
            for at, cost in usage.charges:
                freed += cost
                if freed > excess:
                    wait = at + limits.window_s - now
                    break
            return self._block(
                usage,
                now,
                wait,
                EXECUTION_TIME_CODE,
                "Combined execution time of incoming requests exceeded limit of "
                f"{limits.max_execution_ms:,} milliseconds over time window of "
                f"{_seconds(limits.window_s)} seconds. Decrease number of concurrent requests or "
                "reduce the duration of requests and try again later.",
            )
        usage.arrivals.append(now)
        return None

    def _block(
        self, usage: _Usage, now: float, wait_s: float, code: str, message: str
    ) -> httpx.Response:
        usage.blocked_until = now + max(1, math.ceil(wait_s))
        usage.blocked_by = (code, message)
        return _throttled(wait_s, code, message)

    def _expire(self, usage: _Usage, now: float) -> None:
        horizon = now - self.limits.window_s
        while usage.arrivals and usage.arrivals[0] <= horizon:
            usage.arrivals.popleft()
        while usage.charges and usage.charges[0][0] <= horizon:
            usage.charged_ms -= usage.charges.popleft()[1]
        if not usage.charges:
            usage.charged_ms = 0.0

    def _remaining(self, usage: _Usage) -> tuple[int, int]:
        self._expire(usage, self._clock())
        return (
            max(0, self.limits.max_requests - len(usage.arrivals)),
            max(0, math.floor(self.limits.max_execution_ms - usage.charged_ms)),
        )

    def _stamp(self, response: httpx.Response, remaining: tuple[int, int] | None) -> httpx.Response:
        response.headers["x-ms-dop-hint"] = str(self.limits.dop_hint)
        if remaining is not None:
            # Debug-only headers in the real service: documented, but not to be driven by.
            response.headers["x-ms-ratelimit-burst-remaining-xrm-requests"] = str(remaining[0])
            response.headers["x-ms-ratelimit-time-remaining-xrm-requests"] = str(remaining[1])
        return response


def _throttled(wait_s: float, code: str, message: str) -> httpx.Response:
    return odata_error(429, code, message, headers={"Retry-After": str(max(1, math.ceil(wait_s)))})


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
