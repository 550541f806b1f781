"""A monotonic clock for tests of the serving layers: it moves only when told, ``sleep``
advances it (and is recorded), so expiries, ``Retry-After`` and latency pass at once."""

from __future__ import annotations

import threading


class FakeClock:
    """A monotonic clock that moves only when told; ``sleep`` advances it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)
