"""Fault injection: each kind with the real service's signature, deterministic under a seed.

Signatures from https://learn.microsoft.com/power-apps/developer/data-platform/api-limits
(429 + Retry-After) and
https://learn.microsoft.com/troubleshoot/power-platform/power-apps/dataverse/bulk-operation-errors
(Generic SQL error, Sql Number 1205); the 2-minute limit from
https://learn.microsoft.com/power-apps/developer/data-platform/analyze-performance
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from crm_ferry.cli import cli
from crm_ferry.emulator.app import EmulatorConfig, emulator_config
from crm_ferry.emulator.faults import FaultSchedule
from crm_ferry.emulator.protection import ProtectionLimits
from crm_ferry.errors import ConfigError


def _client(app: Any, token: str) -> httpx.Client:
    return httpx.Client(
        transport=app.transport(),
        base_url=app.api_url + "/",
        headers={"Authorization": f"Bearer {token}"},
    )


def _app(make_serving_app: Any, **schedule: Any) -> Any:
    return make_serving_app(
        EmulatorConfig(faults=FaultSchedule(**schedule), protection=ProtectionLimits(enabled=False))
    )


def _statuses(make_serving_app: Any, sign_in_token: Any, n: int, **schedule: Any) -> list[int]:
    app = _app(make_serving_app, **schedule)
    with httpx.Client(transport=app.transport()) as raw:
        token = sign_in_token(raw, app)
    out = []
    with _client(app, token) as client:
        for _ in range(n):
            out.append(client.get("WhoAmI").status_code)
    return out


MIX = {"unavailable": 0.1, "deadlock": 0.1}


def test_same_seed_same_faults(make_serving_app: Any, sign_in_token: Any) -> None:
    first = _statuses(make_serving_app, sign_in_token, 200, seed=42, probabilities=MIX)
    again = _statuses(make_serving_app, sign_in_token, 200, seed=42, probabilities=MIX)
    other = _statuses(make_serving_app, sign_in_token, 200, seed=43, probabilities=MIX)
    assert first == again
    assert first != other
    assert 10 <= first.count(503) <= 35
    assert 10 <= first.count(500) <= 35
    assert first.count(503) + first.count(500) + first.count(200) == 200


def test_schedule_is_a_pure_function_of_seed_and_request_number() -> None:
    schedule = FaultSchedule(seed=7, probabilities={"timeout": 0.3, "throttle": 0.2})
    forward = [schedule.fault_for(n) for n in range(1, 101)]
    backward = [schedule.fault_for(n) for n in range(100, 0, -1)][::-1]
    assert forward == backward
    assert {"timeout", "throttle", None} == set(forward)


def test_deadlock_is_a_generic_sql_error(
    make_serving_app: Any, sign_in_token: Any, tiny_plane: Any
) -> None:
    app = _app(make_serving_app, at={"deadlock": frozenset({2})})
    with httpx.Client(transport=app.transport()) as raw:
        token = sign_in_token(raw, app)
    with _client(app, token) as client:
        ok, failed, after = (client.get("WhoAmI") for _ in range(3))
    assert (ok.status_code, after.status_code) == (200, 200)
    assert failed.status_code == 500
    assert failed.json()["error"] == {
        "code": "0x80044150",
        "message": "Generic SQL error. CRM ErrorCode: -2147204784 Sql ErrorCode: -2146232060 "
        "Sql Number: 1205",
    }
    assert len(tiny_plane.requests) == 2
    assert app.faults.injected["deadlock"] == 1


def test_service_unavailable(make_serving_app: Any, sign_in_token: Any) -> None:
    assert _statuses(make_serving_app, sign_in_token, 3, at={"unavailable": frozenset({1, 3})}) == [
        503,
        200,
        503,
    ]


def test_throttle_burst_lasts_until_retry_after(
    make_serving_app: Any, sign_in_token: Any, fake_clock: Any, tiny_plane: Any
) -> None:
    app = _app(make_serving_app, at={"throttle": frozenset({2})}, retry_after_s=5)
    with httpx.Client(transport=app.transport()) as raw:
        token = sign_in_token(raw, app)
    with _client(app, token) as client:
        assert client.get("WhoAmI").status_code == 200
        first = client.get("WhoAmI")
        hammer = client.get("WhoAmI")
        fake_clock.advance(2)
        later = client.get("WhoAmI")
        fake_clock.advance(3)
        recovered = client.get("WhoAmI")
    for response, retry_after in ((first, "5"), (hammer, "5"), (later, "3")):
        assert response.status_code == 429
        assert response.headers["Retry-After"] == retry_after
        assert response.json()["error"]["code"] == "0x80072322"
    assert recovered.status_code == 200
    assert len(tiny_plane.requests) == 2


def test_timeout_holds_then_drops_the_connection(
    make_serving_app: Any, sign_in_token: Any, fake_clock: Any, tiny_plane: Any
) -> None:
    app = _app(make_serving_app, at={"timeout": frozenset({1})}, timeout_hold_s=120)
    with httpx.Client(transport=app.transport()) as raw:
        token = sign_in_token(raw, app)
    before = fake_clock()
    with _client(app, token) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.post("contacts", json={"lastname": "x"})
        assert client.get("WhoAmI").status_code == 200
    assert fake_clock() - before == 120
    assert len(tiny_plane.requests) == 1  # the dropped request did nothing


def test_fail_item_fails_one_item_of_a_bulk_request(
    make_serving_app: Any, sign_in_token: Any, tiny_plane: Any
) -> None:
    app = _app(make_serving_app, at={"fail_item": frozenset({1, 2})}, fail_item_index=3)
    targets = [{"@odata.type": "Microsoft.Dynamics.CRM.contact"} for _ in range(5)]
    with httpx.Client(transport=app.transport()) as raw:
        token = sign_in_token(raw, app)
    with _client(app, token) as client:
        single = client.post("contacts", json={"lastname": "x"})  # not multi-item: no fault
        bulk = client.post(
            "contacts/Microsoft.Dynamics.CRM.CreateMultiple",
            content=json.dumps({"Targets": targets}),
        )
    assert single.status_code == 204
    assert bulk.status_code == 500
    assert tiny_plane.requests[1].extensions["crm_ferry.fail_item"] == 3
    assert "crm_ferry.fail_item" not in tiny_plane.requests[0].extensions


def test_sign_in_is_never_faulted_nor_counted(make_serving_app: Any, sign_in_token: Any) -> None:
    app = _app(
        make_serving_app, at={"unavailable": frozenset({1})}, probabilities={"deadlock": 0.0}
    )
    with httpx.Client(transport=app.transport()) as raw:
        tokens = [sign_in_token(raw, app) for _ in range(3)]
    with _client(app, tokens[-1]) as client:
        assert client.get("WhoAmI").status_code == 503  # the first Web API request is #1


@pytest.mark.parametrize(
    "schedule",
    [
        {"probabilities": {"meteor": 0.1}},
        {"probabilities": {"deadlock": 0.7, "timeout": 0.5}},
        {"probabilities": {"deadlock": -0.1}},
        {"at": {"flood": frozenset({1})}},
    ],
)
def test_bad_schedules_are_refused(schedule: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="fault"):
        FaultSchedule(**schedule)


def test_flat_options_build_the_config() -> None:
    config = emulator_config(
        latency_ms=5,
        requests_per_window=20,
        window_seconds=2,
        max_concurrent=3,
        fault_seed=9,
        fault_probabilities={"deadlock": 0.25},
        fault_at={"timeout": [4, 7]},
        fault_hold_s=0.5,
    )
    assert (config.protection.max_requests, config.protection.window_s) == (20, 2)
    assert config.protection.max_concurrent == 3
    assert config.protection.max_execution_ms == 1_200_000
    assert config.latency.per_request_ms == 5
    assert config.faults.fault_for(4) == config.faults.fault_for(7) == "timeout"
    assert config.faults.timeout_hold_s == 0.5


def test_serve_refuses_an_unknown_fault_kind() -> None:
    result = CliRunner().invoke(cli, ["emulator", "serve", "--fault", "meteor=0.1"])
    assert result.exit_code == 2
    assert "unknown fault kind 'meteor'" in result.output
    with pytest.raises(ConfigError, match="must be positive"):
        emulator_config(max_concurrent=0)
