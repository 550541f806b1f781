"""The errors Microsoft's Python SDK raises from the emulator's answers, and its retries.

Every failed Web API call becomes an ``HttpError`` carrying the status (``status_code``,
``subcode`` ``http_<status>``), the Dataverse error code (``details["service_error_code"]``),
the message, ``is_transient`` (429, 502, 503, 504) and ``details["retry_after"]`` from
``Retry-After``; a table the metadata does not know is a ``MetadataError``
(``core/errors.py``, ``core/_error_codes.py``, ``data/_odata.py`` ``_request``). Codes:
https://learn.microsoft.com/power-apps/developer/data-platform/reference/web-service-error-codes.

Service protection: an emulator whose limits are scaled down so that they bind answers
``429`` with ``Retry-After`` and the documented codes
(https://learn.microsoft.com/power-apps/developer/data-platform/api-limits): 0x80072322 for
the number of requests, 0x80072321 for the combined execution time, 0x80072326 for
concurrent requests. The SDK 1.1.0 does not retry a 429 (nor any HTTP error): it raises at
once, having sent the request once. It retries only when no answer came (a dropped
connection), up to five times with a growing pause (``core/_http.py``) — so a create whose
answer was lost is sent again, and the row is made twice.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from PowerPlatform.Dataverse.client import DataverseClient
from PowerPlatform.Dataverse.core.errors import HttpError, MetadataError

from crm_ferry.emulator.app import EmulatorApp, EmulatorConfig, LatencyConfig
from crm_ferry.emulator.faults import FaultSchedule
from crm_ferry.emulator.layers import is_api
from crm_ferry.emulator.protection import ProtectionLimits
from crm_ferry.emulator.server import serve
from crm_ferry.emulator.tls import TlsFiles
from helpers.sdk import EmulatorCredential

MISSING = "00000000-0000-0000-0000-00000000f00d"


# -- the errors of a tenant --------------------------------------------------------------


def test_400_an_unknown_column(client: DataverseClient) -> None:
    with pytest.raises(HttpError) as raised:
        client.records.create("account", {"name": "x", "new_nosuchcolumn": 1})
    error = raised.value
    assert (error.status_code, error.subcode, error.is_transient) == (400, "http_400", False)
    assert error.details["service_error_code"] == "0x80060888"
    assert "new_nosuchcolumn" in error.message
    assert error.source == "server"


def test_400_a_value_too_long(client: DataverseClient) -> None:
    with pytest.raises(HttpError) as raised:
        client.records.create("account", {"name": "x" * 161})
    assert raised.value.status_code == 400
    assert raised.value.details["service_error_code"] == "0x80044331"


@pytest.mark.parametrize("operation", ["update", "delete"])
def test_404_a_row_that_does_not_exist(client: DataverseClient, operation: str) -> None:
    calls = {
        "update": lambda: client.records.update("account", MISSING, {"name": "x"}),
        "delete": lambda: client.records.delete("account", MISSING),
    }
    with pytest.raises(HttpError) as raised:
        calls[operation]()
    error = raised.value
    assert (error.status_code, error.subcode) == (404, "http_404")
    assert error.details["service_error_code"] == "0x80040217"
    assert MISSING in error.message


def test_412_a_row_created_twice(client: DataverseClient, unique: str) -> None:
    # The SDK offers no conditional update (it sends If-Match: * on every update), so the 412
    # it can meet is DuplicateRecord: a create with the id of a row that exists.
    row_id = client.records.create("account", {"name": unique})
    with pytest.raises(HttpError) as raised:
        client.records.create("account", {"accountid": row_id, "name": unique})
    error = raised.value
    assert (error.status_code, error.subcode) == (412, "http_412")
    assert error.details["service_error_code"] == "0x80040237"


def test_a_table_the_metadata_does_not_know(client: DataverseClient) -> None:
    with pytest.raises(MetadataError) as raised:
        client.records.create("new_nosuchtable", {"new_name": "x"})
    assert raised.value.subcode == "metadata_entityset_not_found"


# -- serving layers with their own settings --------------------------------------------------


class Counting(EmulatorApp):
    """An emulator that notes the path of every Web API request reaching it."""

    def __init__(self, config: EmulatorConfig) -> None:
        super().__init__(config)
        self.paths: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if is_api(request):
            self.paths.append(request.url.path)
        return super().__call__(request)


@contextmanager
def sdk_on(
    config: EmulatorConfig, tls: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[DataverseClient, Counting]]:
    app = Counting(config)
    server = serve(app, tls=tls)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.certificate))
    try:
        with DataverseClient(server.url, EmulatorCredential(app, tls)) as sdk:
            yield sdk, app
    finally:
        server.shutdown()
        app.close()


def test_429_the_number_of_requests(tls: TlsFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    limits = ProtectionLimits(max_requests=4, window_s=60.0)
    with sdk_on(EmulatorConfig(protection=limits), tls, monkeypatch) as (sdk, counting):
        # the first create also reads the entity set and the table's choices (then cached)
        sdk.records.create("account", {"name": "one"})
        sdk.records.create("account", {"name": "two"})
        sent = len(counting.paths)
        assert sent == 4
        with pytest.raises(HttpError) as raised:
            sdk.records.create("account", {"name": "three"})
        assert len(counting.paths) == sent + 1  # sent once: no retry
        error = raised.value
        assert (error.status_code, error.subcode, error.is_transient) == (429, "http_429", True)
        assert error.details["service_error_code"] == "0x80072322"
        assert "Number of requests exceeded the limit of 4" in error.message
        retry_after = error.details["retry_after"]
        assert isinstance(retry_after, int)
        assert 1 <= retry_after <= 60
        with pytest.raises(HttpError) as again:  # sent before Retry-After: refused again
            sdk.records.create("account", {"name": "three"})
        assert again.value.details["retry_after"] >= retry_after


def test_429_the_combined_execution_time(tls: TlsFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    limits = ProtectionLimits(max_execution_ms=200, window_s=60.0)
    with sdk_on(EmulatorConfig(protection=limits), tls, monkeypatch) as (sdk, _):
        sdk.records.create("account", [{"name": f"bulk {i}"} for i in range(30)])  # 310 ms
        with pytest.raises(HttpError) as raised:
            sdk.records.list("account", select=["name"], top=1)
    error = raised.value
    assert (error.status_code, error.is_transient) == (429, True)
    assert error.details["service_error_code"] == "0x80072321"
    assert error.details["retry_after"] >= 1


def test_429_concurrent_requests(tls: TlsFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    config = EmulatorConfig(
        protection=ProtectionLimits(max_concurrent=1),
        latency=LatencyConfig(per_request_ms=300.0),
    )
    with sdk_on(config, tls, monkeypatch) as (sdk, _):
        sdk.records.create("account", {"name": "warm"})  # entity set resolved and cached
        errors: list[HttpError] = []
        start = threading.Barrier(2)

        def create(name: str) -> None:
            start.wait()
            try:
                sdk.records.create("account", {"name": name})
            except HttpError as exc:
                errors.append(exc)

        threads = [threading.Thread(target=create, args=(f"c{i}",)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    [error] = errors
    assert error.status_code == 429
    assert error.details["service_error_code"] == "0x80072326"
    assert error.details["retry_after"] == 1


def test_503_is_transient_and_not_retried(tls: TlsFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    faults = FaultSchedule(at={"unavailable": frozenset({2})})
    with sdk_on(EmulatorConfig(faults=faults), tls, monkeypatch) as (sdk, counting):
        with pytest.raises(HttpError) as raised:
            sdk.records.create("account", {"name": "x"})  # request 1: the entity set
        assert len(counting.paths) == 2
    assert (raised.value.status_code, raised.value.is_transient) == (503, True)


def test_a_lost_answer_is_sent_again_and_the_row_is_made_twice(
    tls: TlsFiles, monkeypatch: pytest.MonkeyPatch, unique: str
) -> None:
    faults = FaultSchedule(at={"lost": frozenset({3})}, timeout_hold_s=0.0)
    with sdk_on(EmulatorConfig(faults=faults), tls, monkeypatch) as (sdk, counting):
        row_id = sdk.records.create("account", {"name": unique})
        assert counting.paths[2:] == ["/api/data/v9.2/accounts"] * 2  # after two reads
        rows = sdk.records.list("account", filter=f"name eq '{unique}'")
    assert len(rows) == 2
    assert row_id in {r["accountid"] for r in rows}
