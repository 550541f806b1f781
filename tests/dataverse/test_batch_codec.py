"""The $batch encoder and decoder, against the documented wire examples."""

from __future__ import annotations

import email
import email.policy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_ferry.dataverse.batch import (
    BatchOperation,
    ChangeSet,
    PartResponse,
    decode_batch,
    encode_batch,
    match_responses,
)
from crm_ferry.dataverse.errors import DuplicateRecord, ValidationRejected

API = "/api/data/v9.2"

# The response example of "Execute batch operations using the Web API", LF line ends.
DOC_RESPONSE = """--batchresponse_5c0e
Content-Type: multipart/mixed; boundary=changesetresponse_91ab

--changesetresponse_91ab
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 1

HTTP/1.1 204 No Content
OData-Version: 4.0
Location: https://contoso.crm.dynamics.com/api/data/v9.2/accounts(6cd8c4a6-0000-0000-0000-000000000001)
OData-EntityId: https://contoso.crm.dynamics.com/api/data/v9.2/accounts(6cd8c4a6-0000-0000-0000-000000000001)


--changesetresponse_91ab
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 2

HTTP/1.1 204 No Content
OData-Version: 4.0
OData-EntityId: https://contoso.crm.dynamics.com/api/data/v9.2/contacts(6ed8c4a6-0000-0000-0000-000000000002)


--changesetresponse_91ab--
--batchresponse_5c0e
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 200 OK
Content-Type: application/json; odata.metadata=minimal; odata.streaming=true
OData-Version: 4.0

{"@odata.context":"x","value":[{"fullname":"Ada Lovelace"}]}
--batchresponse_5c0e
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 400 Bad Request
REQ_ID: 5ae7d5b5-4e5c-4b5f-8d2c-2e1c3f4a5b6c
Content-Type: application/json; odata.metadata=minimal

{"error":{"code":"0x80044331","message":"MESSAGE"}}
--batchresponse_5c0e--
""".replace(
    "MESSAGE",
    "A validation error occurred.  The length of the 'subject' attribute of the 'task' "
    "entity exceeded the maximum allowed length of '200'.",
)

ITEMS = [
    ChangeSet(
        (
            BatchOperation("POST", "accounts", {"name": "Acme Coaching Ltd"}, content_id="1"),
            BatchOperation(
                "POST",
                "contacts",
                {"lastname": "Lovelace", "parentcustomerid_account@odata.bind": "$1"},
                content_id="2",
            ),
        )
    ),
    BatchOperation("GET", "contacts?$select=fullname&$top=2"),
    BatchOperation("POST", "tasks", {"subject": "x" * 300}),
]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_decodes_the_documented_response_with_lf_or_crlf(newline: str) -> None:
    text = DOC_RESPONSE.replace("\n", newline)
    decoded = decode_batch("multipart/mixed; boundary=batchresponse_5c0e", text.encode())
    assert len(decoded) == 3
    changeset = decoded[0]
    assert isinstance(changeset, list)
    assert [p.content_id for p in changeset] == ["1", "2"]
    assert changeset[1].entity_id is not None
    assert changeset[1].entity_id.endswith("000000000002)")
    responses = match_responses(ITEMS, decoded)
    assert [r.status if r else None for r in responses] == [204, 204, 200, 400]
    assert responses[2] is not None
    assert responses[2].json()["value"][0]["fullname"] == "Ada Lovelace"
    err = responses[3].error("POST", "tasks") if responses[3] else None
    assert isinstance(err, ValidationRejected)
    assert err.code == "0x80044331"
    assert "maximum allowed length of '200'" in err.detail


def test_encoder_writes_crlf_and_a_parseable_multipart() -> None:
    ctype, body = encode_batch(ITEMS, api_path=API, boundary="batch_7f1c")
    assert ctype == 'multipart/mixed; boundary="batch_7f1c"'
    assert b"\n" not in body.replace(b"\r\n", b"")  # every line ends in CRLF
    assert body.endswith(b"--batch_7f1c--\r\n")
    msg = email.message_from_bytes(
        b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body, policy=email.policy.HTTP
    )
    parts = list(msg.iter_parts())
    assert len(parts) == 3
    inner = list(parts[0].iter_parts())
    assert [p["Content-ID"] for p in inner] == ["1", "2"]
    first = inner[0].get_payload(decode=True).decode()
    assert first.startswith("POST /api/data/v9.2/accounts HTTP/1.1\r\n")
    assert "Content-Type: application/json; type=entry" in first
    second = inner[1].get_payload(decode=True).decode()
    assert '"parentcustomerid_account@odata.bind":"$1"' in second
    assert (
        parts[1]
        .get_payload(decode=True)
        .decode()
        .startswith("GET /api/data/v9.2/contacts?$select=fullname&$top=2 HTTP/1.1")
    )


def test_failed_change_set_answered_by_one_part_fails_all_its_operations() -> None:
    text = (
        "--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        "HTTP/1.1 412 Precondition Failed\r\nContent-Type: application/json\r\n\r\n"
        '{"error":{"code":"0x80040237","message":"Cannot insert duplicate key."}}\r\n'
        "--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 200 OK\r\n\r\n{}\r\n--b--\r\n"
    )
    decoded = decode_batch('multipart/mixed; boundary="b"', text.encode())
    responses = match_responses(ITEMS, decoded)
    assert [r.status if r else None for r in responses] == [412, 412, 200, None]
    assert isinstance(responses[0].error() if responses[0] else None, DuplicateRecord)


def test_stopped_batch_leaves_later_operations_unanswered() -> None:
    text = (
        "--b\nContent-Type: application/http\n\nHTTP/1.1 400 Bad Request\n\n"
        '{"error":{"code":"0x80044331","message":"bad"}}\n--b--\n'
    )
    ops = [BatchOperation("PATCH", f"contacts({i})", {"x": i}) for i in range(3)]
    responses = match_responses(ops, decode_batch("multipart/mixed; boundary=b", text.encode()))
    assert [r.status if r else None for r in responses] == [400, None, None]


def test_content_id_reference_must_be_declared_earlier_in_the_same_change_set() -> None:
    with pytest.raises(ValidationRejected, match="Content-ID reference"):
        encode_batch(
            [
                ChangeSet((BatchOperation("POST", "accounts", {}, content_id="1"),)),
                ChangeSet((BatchOperation("PATCH", "$1", {"name": "x"}, content_id="2"),)),
            ],
            api_path=API,
        )


def test_limits_and_rules() -> None:
    with pytest.raises(ValidationRejected, match="GET"):
        ChangeSet((BatchOperation("GET", "contacts"),))
    with pytest.raises(ValidationRejected, match="1000"):
        encode_batch(
            [BatchOperation("DELETE", f"contacts({i})") for i in range(1001)], api_path=API
        )
    with pytest.raises(ValidationRejected, match="twice"):
        encode_batch(
            [ChangeSet((BatchOperation("POST", "a", {}, content_id="1"),) * 2)], api_path=API
        )
    with pytest.raises(ValidationRejected, match="multipart"):
        decode_batch("application/json", b"{}")


def test_part_response_basics() -> None:
    p = PartResponse(204, {"odata-entityid": "https://o/api/data/v9.2/contacts(1)"})
    assert p.ok
    assert p.error() is None
    assert p.json() is None
    assert p.entity_id == "https://o/api/data/v9.2/contacts(1)"


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(
    parts=st.lists(
        st.tuples(st.sampled_from([200, 204, 400, 412, 429, 500]), _json_values),
        min_size=1,
        max_size=6,
    ),
    newline=st.sampled_from(["\n", "\r\n"]),
)
def test_decoder_reads_back_any_statuses_and_json_bodies(
    parts: list[tuple[int, object]], newline: str
) -> None:
    import json

    lines: list[str] = []
    for status, body in parts:
        lines += [
            "--batchresponse_x",
            "Content-Type: application/http",
            "Content-Transfer-Encoding: binary",
            "",
            f"HTTP/1.1 {status} Whatever",
            "Content-Type: application/json; odata.metadata=minimal",
            "",
            json.dumps({"v": body}),
        ]
    lines.append("--batchresponse_x--")
    text = newline.join(lines) + newline
    decoded = decode_batch("multipart/mixed; boundary=batchresponse_x", text.encode())
    assert [p.status for p in decoded if isinstance(p, PartResponse)] == [s for s, _ in parts]
    assert [p.json()["v"] for p in decoded if isinstance(p, PartResponse)] == [b for _, b in parts]
