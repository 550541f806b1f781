"""write_many against the emulator when an answer is lost, or a create finds its rows there:
the rows come back unsettled (for the caller to read), never failed, and the request is not
split down to single rows."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from crm_ferry.dataverse import ClientOptions, DataverseClient, MsalCredential
from crm_ferry.dataverse.errors import ConnectionLost, DuplicateRecord
from crm_ferry.dataverse.throttle import RetryPolicy
from crm_ferry.emulator import EmulatorApp
from crm_ferry.emulator.app import EmulatorConfig
from crm_ferry.emulator.faults import AnswerLost, FaultSchedule
from crm_ferry.emulator.state import CoreConfig
from helpers.dataverse_fakes import FakeClock


def _client(app: EmulatorApp, clock: FakeClock) -> DataverseClient:
    client_id, secret = app.default_client
    credential = MsalCredential.client_secret(
        environment_url=app.base_url,
        client_id=client_id,
        secret=secret,
        tenant=app.tenant,
        authority=app.base_url,
        http=httpx.Client(transport=app.transport()),
    )
    options = ClientOptions(
        batch_size=10, max_concurrency=1, initial_concurrency=1, retry=RetryPolicy(max_attempts=1)
    )
    return DataverseClient(
        app.base_url,
        credential,
        transport=app.transport(),
        options=options,
        clock=clock,
        sleep=clock.sleep,
    )


@pytest.fixture
def emulated(
    clock: FakeClock, request: pytest.FixtureRequest
) -> Iterator[tuple[EmulatorApp, DataverseClient]]:
    config: EmulatorConfig = getattr(request, "param", EmulatorConfig())
    with EmulatorApp(config, clock=clock, sleep=clock.sleep) as app, _client(app, clock) as c:
        yield app, c


def contacts(start: int, n: int) -> list[dict[str, object]]:
    return [
        {"contactid": str(uuid.UUID(int=i + 1)), "lastname": f"L{i}"}
        for i in range(start, start + n)
    ]


def _stored(app: EmulatorApp) -> set[str]:
    return {str(r["contactid"]) for r in app.dump("contact")["records"].get("contact", [])}


LOSE_EVERY_WRITE = EmulatorConfig(faults=FaultSchedule(probabilities={"lost": 1.0}))
NO_BULK = CoreConfig(bulk_standard_tables=frozenset())


@pytest.mark.parametrize("emulated", [LOSE_EVERY_WRITE], indirect=True)
def test_a_bulk_message_whose_answer_is_lost_is_unsettled_not_split(
    emulated: tuple[EmulatorApp, DataverseClient],
) -> None:
    app, client = emulated
    rows = contacts(0, 20)
    report = client.write_many("contact", rows)
    assert report.used_bulk
    assert [r.index for r in report.unsettled] == list(range(20))
    assert report.written == 0
    assert all(isinstance(r.error, ConnectionLost) and not r.ok for r in report.results)
    assert [r.id for r in report.results] == [row["contactid"] for row in rows]
    assert app.faults.injected["lost"] == 2  # one UpsertMultiple per chunk of 10, no halves
    assert _stored(app) == {str(row["contactid"]) for row in rows}  # the service wrote them
    assert report.as_dict()["rejected"][0]["unsettled"] is True


@pytest.mark.parametrize(
    "emulated",
    [EmulatorConfig(core=NO_BULK, faults=FaultSchedule(probabilities={"lost": 1.0}))],
    indirect=True,
)
def test_a_batch_whose_answer_is_lost_is_unsettled_not_split(
    emulated: tuple[EmulatorApp, DataverseClient],
) -> None:
    app, client = emulated
    report = client.write_many("contact", contacts(0, 10))
    assert not report.used_bulk
    assert len(report.unsettled) == 10
    assert app.faults.injected["lost"] == 1
    assert len(_stored(app)) == 10


@pytest.mark.parametrize(
    "emulated", [EmulatorConfig(), EmulatorConfig(core=NO_BULK)], indirect=True
)
def test_a_create_resent_for_rows_already_there_finds_them_without_splitting(
    emulated: tuple[EmulatorApp, DataverseClient],
) -> None:
    """CreateMultiple (or $batch creates) of 10 rows, 6 of them created before (a resend
    after a lost answer): the 6 come back unsettled with the duplicate-key error, the 4
    others are created; a few requests, not a bisection down to single rows."""
    app, client = emulated
    first = client.write_many("contact", contacts(0, 6), op="create")
    assert first.written == 6
    report = client.write_many("contact", contacts(0, 10), op="create")
    assert [r.index for r in report.unsettled] == list(range(6))
    assert all(isinstance(r.error, DuplicateRecord) for r in report.unsettled)
    assert all(r.error is not None and r.error.code == "0x80040237" for r in report.unsettled)
    assert [r.index for r in report.results if r.ok] == [6, 7, 8, 9]
    assert len(_stored(app)) == 10
    assert report.requests <= 3  # refused, one read of the ids, the rest created


def test_the_emulator_loses_the_answer_only_after_the_write(clock: FakeClock) -> None:
    config = EmulatorConfig(faults=FaultSchedule(at={"lost": frozenset({1, 2})}))
    with EmulatorApp(config, clock=clock, sleep=clock.sleep) as app, _client(app, clock) as c:
        token = c.credential.token()
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(transport=app.transport(), base_url=app.api_url + "/") as raw:
            read = raw.get("WhoAmI", headers=headers)  # 1: a read is never lost
            with pytest.raises(AnswerLost):
                raw.post("contacts", json={"lastname": "Kept"}, headers=headers)  # 2
        assert read.status_code == 200
        assert app.faults.injected["lost"] == 1
        assert [r["lastname"] for r in app.dump("contact")["records"]["contact"]] == ["Kept"]
