"""Acceptance: a 20,000-record load under the emulator's fault schedule loses nothing.

20% of requests are throttled (429 bursts with Retry-After), 2% fail transiently (503, SQL
deadlock, dropped connections, a failing item of a bulk request). Every record must be
stored exactly once and none reported failed. The emulator's serving layers (sign-in,
faults, service protection) are real; the data plane is the emulator's own when it is
available, else the small fake. Clocks and sleeps are shared and fake: nothing waits.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from crm_ferry.dataverse import ClientOptions, DataverseClient, MsalCredential, RetryPolicy
from crm_ferry.emulator import EmulatorApp, EmulatorConfig
from crm_ferry.emulator.auth import AuthConfig, ClientApp
from crm_ferry.emulator.faults import FaultSchedule
from helpers.dataverse_fakes import CLIENT_ID, SECRET, FakeClock, FakeDataverse, Plane

N = 20_000
FAULTS = FaultSchedule(
    seed=20,
    probabilities={
        "throttle": 0.20,
        "unavailable": 0.005,
        "deadlock": 0.005,
        "timeout": 0.005,
        "fail_item": 0.005,
    },
    retry_after_s=3,
    timeout_hold_s=30.0,
)


class FaultyPlane(Plane):
    """The fake data plane, honouring the fault injector's failing item."""

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.extensions.get("crm_ferry.fail_item") is not None:
            return httpx.Response(
                500,
                json={"error": {"code": "0x80044150", "message": "Generic SQL error. 1205"}},
            )
        return super().handle(request)


@pytest.fixture(params=["fake data plane", "emulator data plane"])
def app(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[EmulatorApp]:
    config = EmulatorConfig(
        auth=AuthConfig(clients=(ClientApp(CLIENT_ID, SECRET, "loader"),)), faults=FAULTS
    )
    if request.param == "fake data plane":
        backend: Any = FaultyPlane(FakeDataverse())
    else:
        backend = None
    with EmulatorApp(config, backend=backend, clock=clock, sleep=clock.sleep) as a:
        yield a


def stored_ids(app: EmulatorApp, table: str) -> list[str]:
    """Primary ids of every stored row of ``table``, from the emulator's dump."""
    rows = app.dump(table)["records"][table]
    return [str(r[f"{table}id"]) for r in rows]


def test_20000_records_under_throttling_and_transient_faults(
    app: EmulatorApp, clock: FakeClock
) -> None:
    rows = [
        {
            "contactid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"client/{i}")),
            "firstname": f"F{i}",
            "lastname": f"L{i}",
        }
        for i in range(N)
    ]
    credential = MsalCredential.client_secret(
        environment_url=app.base_url,
        client_id=CLIENT_ID,
        secret=SECRET,
        tenant=app.tenant,
        authority=app.base_url,
        http=httpx.Client(transport=app.transport()),
    )
    options = ClientOptions(batch_size=200, retry=RetryPolicy(max_attempts=8))
    with DataverseClient(
        app.base_url,
        credential,
        transport=app.transport(),
        options=options,
        clock=clock,
        sleep=clock.sleep,
    ) as client:
        report = client.write_many("contact", rows)
        assert report.rejected == []
        assert report.written == N
        assert client.stats.throttled > 0
        assert client.stats.retries > client.stats.throttled  # transient faults were met
    injected = app.faults.injected
    assert injected["throttle"] > 0
    assert injected["unavailable"] + injected["deadlock"] + injected["timeout"] > 0
    ids = stored_ids(app, "contact")
    assert len(ids) == N
    assert sorted(ids) == sorted(r["contactid"] for r in rows)
