"""Fixtures of the Dataverse client tests: a fake Web API, a fake clock, a client over them."""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fakes import BASE, FakeClock, FakeDataverse

from crm_ferry.dataverse import ClientOptions, DataverseClient, RetryPolicy, StaticToken


@pytest.fixture
def fake() -> FakeDataverse:
    return FakeDataverse()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_client(fake: FakeDataverse, clock: FakeClock, **options: object) -> DataverseClient:
    opts = ClientOptions(retry=RetryPolicy(max_attempts=4), **options)  # type: ignore[arg-type]
    return DataverseClient(
        BASE,
        StaticToken("t0k3n"),
        transport=fake.transport(),
        options=opts,
        clock=clock,
        sleep=clock.sleep,
        rng=random.Random(1),
    )


@pytest.fixture
def client(fake: FakeDataverse, clock: FakeClock) -> Iterator[DataverseClient]:
    c = make_client(fake, clock)
    yield c
    c.close()


def emulator_ready() -> bool:
    """Whether the emulator's own data plane can be built (it lands after the client)."""
    try:
        from crm_ferry.emulator import EmulatorApp

        EmulatorApp().close()
    except Exception:
        return False
    return True
