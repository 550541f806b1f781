"""Service-protection limits, per user, in a sliding window; x-ms-dop-hint on every answer.

Encodes https://learn.microsoft.com/power-apps/developer/data-platform/api-limits
(limits, codes, messages, Retry-After, concurrency errors at once, a batch or bulk request
counts as one request with all its execution time) and
https://learn.microsoft.com/power-apps/developer/data-platform/send-parallel-requests
(x-ms-dop-hint).
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from crm_ferry.emulator.app import EmulatorConfig, LatencyConfig
from crm_ferry.emulator.auth import DEFAULT_CLIENT, AuthConfig, ClientApp
from crm_ferry.emulator.faults import FaultSchedule
from crm_ferry.emulator.protection import ProtectionLimits


def _bulk(n: int) -> bytes:
    targets = [
        {"@odata.type": "Microsoft.Dynamics.CRM.contact", "lastname": f"L{i}"} for i in range(n)
    ]
    return json.dumps({"Targets": targets}).encode()


def _client(app: Any, token: str) -> httpx.Client:
    return httpx.Client(
        transport=app.transport(),
        base_url=app.api_url + "/",
        headers={"Authorization": f"Bearer {token}"},
    )


def _limits(**kw: Any) -> EmulatorConfig:
    return EmulatorConfig(protection=ProtectionLimits(**kw))


def _assert_throttled(response: httpx.Response, code: str, message: str, retry_after: int) -> None:
    assert response.status_code == 429, response.text
    assert response.json() == {"error": {"code": code, "message": message}}
    assert response.headers["Retry-After"] == str(retry_after)


def test_defaults_are_microsofts() -> None:
    limits = ProtectionLimits()
    assert (limits.max_requests, limits.max_execution_ms, limits.max_concurrent) == (
        6000,
        1_200_000,
        52,
    )
    assert limits.window_s == 300


def test_request_count_limit_in_a_sliding_window(
    make_serving_app: Any, fake_clock: Any, sign_in_token: Any
) -> None:
    app = make_serving_app(_limits(max_requests=5, window_s=10))
    with httpx.Client(transport=app.transport()) as raw:
        token = sign_in_token(raw, app)
    with _client(app, token) as client:
        for _ in range(3):
            assert client.get("WhoAmI").status_code == 200
        fake_clock.advance(4)
        for _ in range(2):
            assert client.get("WhoAmI").status_code == 200
        fake_clock.advance(3)
        _assert_throttled(
            client.get("WhoAmI"),
            "0x80072322",
            "Number of requests exceeded the limit of 5 over time window of 10 seconds.",
            3,  # the first three leave the window 10 s after they came, 3 s from now
        )
        fake_clock.advance(3)
        assert client.get("WhoAmI").status_code == 200


def test_execution_time_limit_counts_every_record(
    make_serving_app: Any, fake_clock: Any, sign_in_token: Any, tiny_plane: Any
) -> None:
    app = make_serving_app(
        _limits(max_execution_ms=1000, window_s=60, request_cost_ms=10, record_cost_ms=10)
    )
    with httpx.Client(transport=app.transport()) as raw:
        token = sign_in_token(raw, app)
    with _client(app, token) as client:
        bulk = client.post("contacts/Microsoft.Dynamics.CRM.UpsertMultiple", content=_bulk(99))
        assert bulk.status_code == 204
        assert bulk.headers["x-ms-ratelimit-time-remaining-xrm-requests"] == "0"
        fake_clock.advance(20)
        _assert_throttled(
            client.get("WhoAmI"),
            "0x80072321",
            "Combined execution time of incoming requests exceeded limit of 1,000 milliseconds "
            "over time window of 60 seconds. Decrease number of concurrent requests or reduce the "
            "duration of requests and try again later.",
            40,
        )
        fake_clock.advance(40)
        assert client.get("WhoAmI").status_code == 200
    assert len(tiny_plane.requests) == 2  # the throttled request never reached the data plane


def test_a_bulk_request_counts_as_one_request(make_serving_app: Any, sign_in_token: Any) -> None:
    app = make_serving_app(_limits(max_requests=3, record_cost_ms=1, request_cost_ms=0))
    with httpx.Client(transport=app.transport()) as raw:
        token = sign_in_token(raw, app)
    with _client(app, token) as client:
        bulk = client.post("contacts/Microsoft.Dynamics.CRM.UpsertMultiple", content=_bulk(500))
        assert bulk.headers["x-ms-ratelimit-burst-remaining-xrm-requests"] == "2"
        assert bulk.headers["x-ms-ratelimit-time-remaining-xrm-requests"] == str(1_200_000 - 500)
        assert client.get("WhoAmI").status_code == 200
        assert client.post("contacts", json={"lastname": "x"}).status_code == 204
        assert client.get("WhoAmI").status_code == 429


def test_limits_are_per_application_user(make_serving_app: Any, sign_in_token: Any) -> None:
    other = ClientApp("6c1d9a2e-55b4-4e0f-9a3b-7f2e8d4c1b09", "other-secret", "Second loader")
    app = make_serving_app(
        EmulatorConfig(
            auth=AuthConfig(clients=(DEFAULT_CLIENT, other)),
            protection=ProtectionLimits(max_requests=2),
        )
    )
    with httpx.Client(transport=app.transport()) as raw:
        first = sign_in_token(raw, app)
        second = sign_in_token(raw, app, other.client_id, other.secret)
    with _client(app, first) as a, _client(app, second) as b:
        assert [a.get("WhoAmI").status_code for _ in range(3)] == [200, 200, 429]
        assert [b.get("WhoAmI").status_code for _ in range(3)] == [200, 200, 429]


def test_concurrency_limit_rejects_at_once(
    make_serving_app: Any, sign_in_token: Any, tiny_plane: Any
) -> None:
    # The "server work" (latency) waits on a gate, so three requests are provably in flight
    # while the others arrive; those must be refused without waiting for the gate.
    gate = threading.Event()
    started = threading.Semaphore(0)

    def working(_: float) -> None:
        started.release()
        assert gate.wait(10)

    app = make_serving_app(
        EmulatorConfig(
            protection=ProtectionLimits(max_concurrent=3),
            latency=LatencyConfig(per_request_ms=50),
        ),
        sleep=working,
    )
    with httpx.Client(transport=app.transport()) as raw:
        token = sign_in_token(raw, app)
    with _client(app, token) as client, ThreadPoolExecutor(max_workers=8) as pool:
        admitted = [pool.submit(client.get, "WhoAmI") for _ in range(3)]
        for _ in range(3):
            assert started.acquire(timeout=10)
        refused = [pool.submit(client.get, "WhoAmI") for _ in range(5)]
        refusals = [f.result(timeout=10) for f in refused]  # returns while the gate is shut
        gate.set()
        successes = [f.result(timeout=10) for f in admitted]
    for response in refusals:
        _assert_throttled(
            response, "0x80072326", "Number of concurrent requests exceeded the limit of 3.", 1
        )
    assert [r.status_code for r in successes] == [200, 200, 200]
    assert app.protection.in_flight(tiny_plane.users[DEFAULT_CLIENT.client_id][0]) == 0


def test_dop_hint_on_every_answer(make_serving_app: Any, sign_in_token: Any) -> None:
    app = make_serving_app(
        EmulatorConfig(
            protection=ProtectionLimits(max_requests=2, dop_hint=7),
            faults=FaultSchedule(at={"unavailable": frozenset({2})}),
        )
    )
    with httpx.Client(transport=app.transport()) as raw:
        token = sign_in_token(raw, app)
        unauthenticated = raw.get(f"{app.api_url}/WhoAmI")
    with _client(app, token) as client:
        answers = [client.get("WhoAmI") for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 503, 200, 429]
    assert unauthenticated.status_code == 401
    for response in [*answers, unauthenticated]:
        assert response.headers["x-ms-dop-hint"] == "7"


def test_limits_can_be_switched_off(make_serving_app: Any, sign_in_token: Any) -> None:
    app = make_serving_app(_limits(max_requests=1, enabled=False))
    with httpx.Client(transport=app.transport()) as raw:
        token = sign_in_token(raw, app)
    with _client(app, token) as client:
        statuses = [client.get("WhoAmI").status_code for _ in range(5)]
    assert statuses == [200] * 5


def test_hammering_before_retry_after_extends_the_wait(
    make_serving_app: Any, fake_clock: Any, sign_in_token: Any
) -> None:
    app = make_serving_app(_limits(max_requests=2, window_s=10, hammer_penalty_s=2))
    with httpx.Client(transport=app.transport()) as raw:
        token = sign_in_token(raw, app)
    with _client(app, token) as client:
        assert [client.get("WhoAmI").status_code for _ in range(2)] == [200, 200]
        fake_clock.advance(5)
        assert client.get("WhoAmI").headers["Retry-After"] == "5"
        fake_clock.advance(1)
        hammered = client.get("WhoAmI")  # 4 s early: refused, and now 4 + 2 s to wait
        assert hammered.status_code == 429
        assert hammered.json()["error"]["code"] == "0x80072322"
        assert hammered.headers["Retry-After"] == "6"
        fake_clock.advance(4)  # the window has room again, but Retry-After has not passed
        assert client.get("WhoAmI").headers["Retry-After"] == "4"
        fake_clock.advance(4)
        assert client.get("WhoAmI").status_code == 200


def test_rows_read_cost_less_than_rows_written(make_serving_app: Any, sign_in_token: Any) -> None:
    """A row a read returns is charged ``read_record_cost_ms``, a row written
    ``record_cost_ms`` (the tiny data plane answers any other request as one record)."""
    app = make_serving_app(_limits(request_cost_ms=0, record_cost_ms=10, read_record_cost_ms=1))
    with httpx.Client(transport=app.transport()) as raw:
        token = sign_in_token(raw, app)
    with _client(app, token) as client:

        def left(response: httpx.Response) -> int:
            return int(response.headers["x-ms-ratelimit-time-remaining-xrm-requests"])

        written = left(client.post("contacts", json={"lastname": "x"}))
        assert written == 1_200_000 - 10
        assert left(client.get("contacts")) == written - 1
