"""Pacing of one application user's requests: Retry-After pauses, backoff, adaptive concurrency.

Dataverse counts its service-protection limits *per user* (6,000 requests and 1,200 s of
execution per 5 minutes, 52 concurrent requests; see
https://learn.microsoft.com/power-apps/developer/data-platform/api-limits). Microsoft's
advice is to start low, ramp up, and on a 429 stop *all* sending for ``Retry-After``
seconds. :class:`ConcurrencyController` does that for one user:

* **Pause.** A 429 sets ``paused_until = now + Retry-After`` for the whole user: every
  thread of that user waits, not just the one that was throttled.
* **AIMD window.** The number of requests in flight is capped by ``limit``. It starts at
  the ``x-ms-dop-hint`` the service sends (or ``initial``), grows by one after ``limit``
  healthy responses in a row (additive increase, about +1 per round trip), halves on a
  429 and shrinks by a quarter when latency rises well above the best seen (multiplicative
  decrease), and never exceeds ``ceiling`` (at most 52, the documented per-user limit).
* **Backoff.** 5xx, timeouts and dropped connections wait ``base * 2**attempt`` seconds,
  capped, with full jitter, so many threads do not retry in lockstep.

Clock and sleep are injectable, so tests run the real logic without waiting.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_CONCURRENCY = 52
"""Dataverse's documented per-user limit on concurrent requests."""

_RNG = random.Random()

Clock = Callable[[], float]
Sleep = Callable[[float], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How often and how long to retry. Retry-After always wins over the computed delay."""

    max_attempts: int = 8
    """Attempts for 5xx / timeout / dropped connection (429s are not counted here)."""
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    default_retry_after: float = 5.0
    """Pause for a 429 that carries no Retry-After header."""
    max_throttle_wait: float = 3600.0
    """Total seconds one request may spend waiting out 429s before it gives up."""

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Full-jitter exponential delay before retry ``attempt`` (1-based)."""
        ceiling: float = min(self.backoff_cap, self.backoff_base * 2.0 ** max(0, attempt - 1))
        r = float((rng or _RNG).random())
        return ceiling * (0.5 + r / 2)


class ConcurrencyController:
    """Admission control for one user's requests: pause window plus an AIMD in-flight limit."""

    def __init__(
        self,
        *,
        initial: int = 4,
        ceiling: int = MAX_CONCURRENCY,
        floor: int = 1,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        latency_factor: float = 3.0,
    ) -> None:
        if ceiling > MAX_CONCURRENCY:
            ceiling = MAX_CONCURRENCY
        self.ceiling = max(1, ceiling)
        self.floor = max(1, min(floor, self.ceiling))
        self._limit = float(min(max(initial, self.floor), self.ceiling))
        self._in_flight = 0
        self._paused_until = 0.0
        self._healthy_streak = 0
        self._best_latency: dict[int, float] = {}
        self._slow_streak = 0
        self._latency_factor = latency_factor
        self._hint_applied = False
        self._cond = threading.Condition()
        self.clock = clock
        self.sleep = sleep
        self.throttled = 0
        """How many 429s this user received."""
        self.peak_in_flight = 0

    # -- state -------------------------------------------------------------------------

    @property
    def limit(self) -> int:
        return int(self._limit)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def paused_for(self) -> float:
        """Seconds left in the current Retry-After pause (0 when sending is allowed)."""
        return max(0.0, self._paused_until - self.clock())

    def free(self) -> int:
        """Free slots now (0 while paused)."""
        if self.paused_for() > 0:
            return 0
        return max(0, self.limit - self._in_flight)

    # -- admission ---------------------------------------------------------------------

    def acquire(self) -> None:
        """Block until this user may send one more request, then take a slot."""
        while True:
            wait = self.paused_for()
            if wait > 0:
                self.sleep(wait)
                continue
            with self._cond:
                if self._in_flight < self.limit and self.paused_for() <= 0:
                    self._in_flight += 1
                    self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
                    return
                self._cond.wait(timeout=0.05)

    def release(self) -> None:
        with self._cond:
            self._in_flight = max(0, self._in_flight - 1)
            self._cond.notify()

    # -- feedback ----------------------------------------------------------------------

    def apply_hint(self, dop_hint: int | None) -> None:
        """Start from the service's ``x-ms-dop-hint`` (applied once)."""
        if dop_hint is None or dop_hint < 1 or self._hint_applied:
            return
        with self._cond:
            self._hint_applied = True
            self._limit = float(min(max(dop_hint, self.floor), self.ceiling))
            self._cond.notify_all()

    def on_success(self, latency: float, weight: int = 1) -> None:
        """A healthy response that took ``latency`` seconds and carried ``weight`` records.

        Latency is compared with the best seen for requests of a similar size (a bulk
        message of 1,000 rows is not "slow" next to a metadata read)."""
        bucket = max(1, weight).bit_length()
        with self._cond:
            best = self._best_latency.get(bucket)
            if best is None or latency < best:
                self._best_latency[bucket] = best = latency
            if best > 0 and latency > self._latency_factor * best and latency > 0.05:
                self._slow_streak += 1
                if self._slow_streak >= max(2, self.limit):
                    self._limit = max(float(self.floor), self._limit * 0.75)
                    self._slow_streak = 0
                    self._healthy_streak = 0
                return
            self._slow_streak = 0
            self._healthy_streak += 1
            if self._healthy_streak >= self.limit:
                self._healthy_streak = 0
                if self._limit < self.ceiling:
                    self._limit = min(float(self.ceiling), self._limit + 1)
                    self._cond.notify_all()

    def on_throttle(self, retry_after: float) -> None:
        """A 429: pause the whole user for ``retry_after`` seconds and halve the window."""
        with self._cond:
            self.throttled += 1
            until = self.clock() + max(0.0, retry_after)
            if until > self._paused_until:
                self._paused_until = until
            self._limit = max(float(self.floor), self._limit / 2)
            self._healthy_streak = 0

    def on_failure(self) -> None:
        """A transient failure (5xx, timeout, dropped connection): shrink a little."""
        with self._cond:
            self._limit = max(float(self.floor), self._limit * 0.75)
            self._healthy_streak = 0
