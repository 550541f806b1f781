"""Shared fixtures. Each test folder may add its own conftest.py."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(autouse=True)
def _no_ambient_ferry_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's own CRM_FERRY_* settings or secrets."""
    for name in list(os.environ):
        if name.startswith("CRM_FERRY_"):
            monkeypatch.delenv(name, raising=False)
