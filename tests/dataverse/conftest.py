"""Fixtures of the Dataverse client tests: a fake Web API, a fake clock, a client over them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crm_ferry.dataverse import DataverseClient
from helpers.dataverse_fakes import FakeClock, FakeDataverse, make_client


@pytest.fixture
def fake() -> FakeDataverse:
    return FakeDataverse()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(fake: FakeDataverse, clock: FakeClock) -> Iterator[DataverseClient]:
    c = make_client(fake, clock)
    yield c
    c.close()
