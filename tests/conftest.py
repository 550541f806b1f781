"""Shared fixtures. Each test folder may add its own conftest.py."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

pytest_plugins = ["helpers.postgres"]  # the postgres_server and postgres_url fixtures

settings.register_profile(
    "ci", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def pytest_report_header() -> str:
    """Which journal the load tests run on (``CRM_FERRY_TEST_JOURNAL``), and why."""
    from helpers.backend import BACKEND  # after the plugin above: its asserts rewritten

    return BACKEND.header()


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """``-q`` (in addopts) hides pytest's header: the journal line is said all the same, once
    (not by each xdist worker)."""
    config = session.config
    if hasattr(config, "workerinput"):
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and reporter.verbosity < 0:
        reporter.write_line(pytest_report_header())


@pytest.fixture(autouse=True)
def _no_ambient_ferry_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's own CRM_FERRY_* settings or secrets."""
    for name in list(os.environ):
        if name.startswith("CRM_FERRY_"):
            monkeypatch.delenv(name, raising=False)


# How many `live` tests `-m 'not live'` left out, said at the end of every run. Under xdist
# the workers collect (and deselect); each reports its count to the controller.
_LIVE_LEFT_OUT = pytest.StashKey[int]()


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        config = items[0].config
        live = sum(1 for item in items if item.get_closest_marker("live"))
        config.stash[_LIVE_LEFT_OUT] = config.stash.get(_LIVE_LEFT_OUT, 0) + live


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["live_left_out"] = session.config.stash.get(_LIVE_LEFT_OUT, 0)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    left_out = int(getattr(node, "workeroutput", {}).get("live_left_out", 0))
    config = node.config
    config.stash[_LIVE_LEFT_OUT] = max(config.stash.get(_LIVE_LEFT_OUT, 0), left_out)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many ``live`` tests were left out, and how to run them."""
    live = terminalreporter.config.stash.get(_LIVE_LEFT_OUT, 0)
    if live:
        terminalreporter.write_line(
            f"{live} live test(s) left out (-m 'not live'): they run against a real Dataverse "
            "tenant. Set CRM_FERRY_LIVE_URL, _TENANT, _CLIENT_ID and _CLIENT_SECRET, then run "
            "`pytest -m live tests/contract`."
        )
