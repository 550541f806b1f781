"""The per-user concurrency controller: Retry-After pause, AIMD window, backoff."""

from __future__ import annotations

import contextlib
import random
import threading

from crm_ferry.dataverse.throttle import MAX_CONCURRENCY, ConcurrencyController, RetryPolicy
from helpers.dataverse_fakes import FakeClock


def controller(clock: FakeClock, **kw: int) -> ConcurrencyController:
    return ConcurrencyController(clock=clock, sleep=clock.sleep, **kw)


def test_starts_from_the_dop_hint_once_and_never_exceeds_52() -> None:
    clock = FakeClock()
    c = controller(clock, initial=2, ceiling=100)
    assert c.ceiling == MAX_CONCURRENCY
    assert c.limit == 2
    c.apply_hint(8)
    assert c.limit == 8
    c.apply_hint(30)  # applied once: later growth is the controller's own
    assert c.limit == 8
    for _ in range(10_000):
        c.on_success(0.01)
    assert c.limit == MAX_CONCURRENCY


def test_additive_increase_about_one_per_window_of_healthy_responses() -> None:
    c = controller(FakeClock(), initial=4, ceiling=16)
    for _ in range(4):
        c.on_success(0.01)
    assert c.limit == 5
    for _ in range(5):
        c.on_success(0.01)
    assert c.limit == 6


def test_throttle_halves_the_window_and_pauses_the_whole_user() -> None:
    clock = FakeClock()
    c = controller(clock, initial=16, ceiling=16)
    c.on_throttle(20)
    assert c.limit == 8
    assert c.paused_for() == 20
    assert c.free() == 0
    c.acquire()  # waits out the pause through the injected sleep
    assert clock.sleeps == [20]
    assert c.in_flight == 1
    c.release()
    assert c.throttled == 1


def test_rising_latency_shrinks_the_window() -> None:
    c = controller(FakeClock(), initial=8, ceiling=8)
    c.on_success(0.010)
    for _ in range(8):
        c.on_success(0.200)  # 20x slower than the best seen
    assert c.limit < 8


def test_window_caps_requests_in_flight() -> None:
    clock = FakeClock()
    c = controller(clock, initial=3, ceiling=3)
    peak = 0
    lock = threading.Lock()
    inside = 0
    gate = threading.Barrier(3, timeout=5)

    def work() -> None:
        nonlocal inside, peak
        c.acquire()
        with lock:
            inside += 1
            peak = max(peak, inside)
        with contextlib.suppress(threading.BrokenBarrierError):
            gate.wait()
        with lock:
            inside -= 1
        c.release()

    threads = [threading.Thread(target=work) for _ in range(9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 3
    assert c.peak_in_flight == 3


def test_backoff_grows_is_capped_and_jittered() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_cap=4.0)
    rng = random.Random(7)
    delays = [policy.backoff(n, rng) for n in range(1, 9)]
    assert 0.25 <= delays[0] <= 0.5
    assert all(d <= 4.0 for d in delays)
    assert delays[-1] >= 2.0
    assert len({round(policy.backoff(3, rng), 6) for _ in range(5)}) > 1
