"""write_many: bulk messages with bisection, $batch fallback, per-row results."""

from __future__ import annotations

import math
import uuid

import pytest

from crm_ferry.dataverse import (
    DataverseClient,
    PrivilegeError,
    ValidationRejected,
    write_many,
)
from helpers.dataverse_fakes import FakeClock, FakeDataverse, Fault, make_client


def contacts(n: int, bad: set[int] = frozenset()) -> list[dict[str, object]]:  # type: ignore[assignment]
    return [
        {
            "contactid": str(uuid.UUID(int=i + 1)),
            "firstname": f"F{i}",
            "lastname": "BAD" if i in bad else f"L{i}",
        }
        for i in range(n)
    ]


def test_bulk_upsert_writes_everything_in_few_requests(
    client: DataverseClient, fake: FakeDataverse
) -> None:
    rows = contacts(1200)
    report = client.write_many("contact", rows)
    assert report.used_bulk
    assert report.written == 1200
    assert report.rejected == []
    assert len(fake.rows["contact"]) == 1200
    bulk_calls = [p for m, p in fake.log if p.endswith("UpsertMultiple")]
    assert len(bulk_calls) == math.ceil(1200 / client.options.batch_size)
    assert [r.id for r in report.results] == [r["contactid"] for r in rows]


def test_bisection_isolates_exactly_the_bad_rows(
    client: DataverseClient, fake: FakeDataverse
) -> None:
    bad = {17, 401}
    rows = contacts(500, bad)
    report = client.write_many("contact", rows)
    assert {r.index for r in report.rejected} == bad
    for r in report.rejected:
        assert isinstance(r.error, ValidationRejected)
        assert r.error.code == "0x80044331"
        assert r.id == rows[r.index]["contactid"]
    assert report.written == 498
    stored = fake.rows["contact"]
    assert len(stored) == 498
    assert all(rows[i]["contactid"] not in stored for i in bad)
    # One bad row in a chunk of n costs about 2*log2(n) extra requests.
    bulk_calls = sum(1 for _, p in fake.log if p.endswith("UpsertMultiple"))
    assert bulk_calls <= 1 + 2 * 2 * math.ceil(math.log2(500))


def test_tables_without_bulk_support_go_through_batch(
    fake: FakeDataverse, clock: FakeClock
) -> None:
    fake.bulk_tables = set()
    client = make_client(fake, clock, batch_size=100)
    rows = [{"accountid": str(uuid.UUID(int=i + 1)), "name": f"A{i}"} for i in range(250)]
    rows[7]["lastname"] = "BAD"
    report = client.write_many("account", rows)
    assert not report.used_bulk
    assert [r.index for r in report.rejected] == [7]
    assert len(fake.rows["account"]) == 249
    assert sum(1 for _, p in fake.log if p.endswith("$batch")) == 3
    assert not any("Multiple" in p for _, p in fake.log)


def test_unreadable_probe_falls_back_on_the_not_supported_answer(
    fake: FakeDataverse, clock: FakeClock
) -> None:
    fake.probe_works = False
    fake.bulk_tables = set()
    client = make_client(fake, clock)
    report = client.write_many("contact", contacts(30))
    assert report.written == 30
    assert not report.used_bulk
    assert client.metadata.bulk_support[("contact", "UpsertMultiple")] is False
    # Remembered: the next write goes straight to $batch.
    n = sum(1 for _, p in fake.log if "Multiple" in p)
    client.write_many("contact", contacts(30))
    assert sum(1 for _, p in fake.log if "Multiple" in p) == n


def test_throttled_and_transient_batch_parts_are_resent_not_reported(
    fake: FakeDataverse, clock: FakeClock
) -> None:
    fake.bulk_tables = set()
    fake.fault_paths = "inner"
    fake.faults = [
        Fault(429, "0x80072322", "too many", retry_after=3),
        Fault(503),
        Fault(500, "0x80044150", "Generic SQL error 1205"),
    ]
    client = make_client(fake, clock)
    report = client.write_many(
        "account", [{"accountid": str(uuid.UUID(int=i + 1))} for i in range(20)]
    )
    assert report.rejected == []
    assert len(fake.rows["account"]) == 20
    assert 3.0 in clock.sleeps  # the throttled part's Retry-After paused the user


def test_whole_request_faults_never_lose_or_fail_a_row(
    fake: FakeDataverse, clock: FakeClock
) -> None:
    fake.fault_paths = "UpsertMultiple"
    fake.faults = [Fault(429, "0x80072321", "exec time", retry_after=10), Fault(503), Fault(504)]
    client = make_client(fake, clock, batch_size=50)
    report = client.write_many("contact", contacts(200))
    assert report.rejected == []
    assert len(fake.rows["contact"]) == 200


def test_create_many_returns_the_service_ids(client: DataverseClient, fake: FakeDataverse) -> None:
    report = client.write_many("contact", [{"lastname": f"L{i}"} for i in range(5)], op="create")
    assert report.written == 5
    assert {r.id for r in report.results} == set(fake.rows["contact"])


def test_upsert_by_alternate_key_uses_odata_id(
    client: DataverseClient, fake: FakeDataverse
) -> None:
    rows = [{"new_practiceid": f"C-{i}", "lastname": f"L{i}"} for i in range(4)]
    report = client.write_many("contact", rows, key=["new_practiceid"])
    assert report.written == 4
    assert sorted(r["new_practiceid"] for r in fake.rows["contact"].values()) == [
        "C-0",
        "C-1",
        "C-2",
        "C-3",
    ]


def test_rows_without_identity_are_refused_before_sending(client: DataverseClient) -> None:
    with pytest.raises(ValidationRejected, match="primary id"):
        client.write_many("contact", [{"lastname": "no id"}])


def test_privilege_errors_stop_the_write(fake: FakeDataverse, clock: FakeClock) -> None:
    fake.fault_paths = "UpsertMultiple"
    fake.faults = [Fault(403, "0x80040220", "Principal user is missing prvCreateContact")] * 3
    client = make_client(fake, clock)
    with pytest.raises(PrivilegeError):
        client.write_many("contact", contacts(10))


def test_two_users_share_the_work(fake: FakeDataverse, clock: FakeClock) -> None:
    a = make_client(fake, clock, batch_size=10)
    b = make_client(fake, clock, batch_size=10)
    report = write_many([a, b], "contact", contacts(400))
    assert report.written == 400
    assert a.stats.requests > 2
    assert b.stats.requests > 2
    assert report.requests == a.stats.requests + b.stats.requests


def test_endless_throttling_stops_the_write_instead_of_failing_rows(
    fake: FakeDataverse, clock: FakeClock
) -> None:
    from crm_ferry.dataverse import ClientOptions, DataverseClient, RetryPolicy, StaticToken
    from crm_ferry.dataverse.errors import ThrottledError

    fake.fault_paths = "UpsertMultiple"
    fake.faults = [Fault(429, "0x80072322", "too many", retry_after=5)] * 100
    options = ClientOptions(retry=RetryPolicy(max_throttle_wait=30))
    client = DataverseClient(
        "https://org.example.test",
        StaticToken("t"),
        transport=fake.transport(),
        options=options,
        clock=clock,
        sleep=clock.sleep,
    )
    with pytest.raises(ThrottledError):
        client.write_many("contact", contacts(10))
    assert "contact" not in fake.rows
