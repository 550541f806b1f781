"""Fixtures of the Dataverse client tests: a fake Web API, a fake clock, a client over them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fakes import FakeClock, FakeDataverse, make_client

from crm_ferry.dataverse import DataverseClient


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
