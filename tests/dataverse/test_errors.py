from __future__ import annotations

import json

import pytest

from crm_ferry.dataverse.errors import (
    AuthError,
    DataverseError,
    DuplicateRecord,
    NotFound,
    PreconditionFailed,
    PrivilegeError,
    RequestTimeout,
    ServerError,
    ThrottledError,
    ValidationRejected,
    error_for,
    parse_retry_after,
)
from crm_ferry.errors import FerryError, Terminal, Transient


def body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


@pytest.mark.parametrize(
    ("status", "code", "cls", "transient"),
    [
        (429, "0x80072322", ThrottledError, True),
        (500, "0x80044150", ServerError, True),
        (503, "", ServerError, True),
        (504, "", RequestTimeout, True),
        (400, "0x80044331", ValidationRejected, False),
        (401, "", AuthError, False),
        (403, "0x80040220", PrivilegeError, False),
        (404, "0x80040217", NotFound, False),
        (412, "0x80040237", DuplicateRecord, False),
        (412, "", PreconditionFailed, False),
        # A privilege code wins over a generic status.
        (400, "0x80040220", PrivilegeError, False),
    ],
)
def test_class_from_status_and_code(status: int, code: str, cls: type, transient: bool) -> None:
    err = error_for(
        status, method="POST", url="https://o/api/data/v9.2/contacts", body=body(code, "m")
    )
    assert type(err) is cls
    assert isinstance(err, DataverseError)
    assert isinstance(err, FerryError)
    assert err.exit_code == 5
    assert isinstance(err, Transient) is transient
    assert isinstance(err, Terminal) is (not transient)
    assert err.status == status
    assert err.code == (code or None)


def test_stale_etag_is_not_a_duplicate() -> None:
    err = error_for(
        412,
        body=body("0x80060882", "The version of the existing record doesn't match the RowVersion"),
    )
    assert type(err) is PreconditionFailed


def test_if_none_match_conflict_counts_as_duplicate() -> None:
    err = error_for(412, body=body("", "A record with matching key values already exists."))
    assert isinstance(err, DuplicateRecord)


def test_error_carries_context_and_drops_query() -> None:
    err = error_for(
        400,
        method="GET",
        url="https://o/api/data/v9.2/contacts?$filter=emailaddress1 eq 'ada@example.com'",
        body=body("0x80044331", "A validation error occurred."),
    )
    assert err.method == "GET"
    assert err.url == "https://o/api/data/v9.2/contacts"
    assert "ada@example.com" not in str(err)
    assert "0x80044331" in str(err)
    assert "HTTP 400" in str(err)
    attrs = err.attrs()
    assert attrs["status"] == 400
    assert attrs["code"] == "0x80044331"
    assert attrs["detail"] == "A validation error occurred."


def test_throttled_carries_retry_after() -> None:
    err = error_for(429, body=body("0x80072322", "Number of requests exceeded"), retry_after="37")
    assert isinstance(err, ThrottledError)
    assert err.retry_after == 37.0


def test_non_json_error_body_is_kept_short() -> None:
    err = error_for(502, body=b"<html>Bad gateway</html>" + b"x" * 2000)
    assert isinstance(err, ServerError)
    assert len(err.detail) <= 500


def test_retry_after_parsing() -> None:
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("nonsense") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
