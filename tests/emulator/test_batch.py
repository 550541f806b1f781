"""$batch conformance: the multipart examples of Microsoft's documentation, and the rules of
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api
(every test below encodes that page unless it names another).
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from crm_ferry.emulator.batch import (
    BatchFormatError,
    ChangeSet,
    InnerResponse,
    Operation,
    handle_batch,
    parse_batch,
    parse_response,
)
from crm_ferry.emulator.core import CoreConfig, Emulator
from crm_ferry.emulator.layers import odata_error
from helpers.webapi import batch_body, batch_request, change_set

DOC = "https://learn.microsoft.com/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api"
CASES = Path(__file__).parent.parent / "cases" / "batch"


def case(name: str, *, crlf: bool = False, base: str = "https://org.example") -> tuple[str, bytes]:
    """(Content-Type, body) of a documented example, LF as rendered or converted to CRLF."""
    text = (CASES / name).read_text(encoding="utf-8").replace("[Organization URI]", base)
    boundary = text.split("\n", 1)[0][2:]
    if crlf:
        text = text.replace("\n", "\r\n")
    return f'multipart/mixed; boundary="{boundary}"', text.encode("utf-8")


# -- parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize("crlf", [False, True], ids=["LF", "CRLF"])
def test_parses_the_documented_change_set_example(crlf: bool) -> None:
    # DOC, "Change sets": a change set with Content-IDs 1..3, then a GET outside it.
    parts = parse_batch(*case("changeset-and-get.txt", crlf=crlf))
    assert len(parts) == 2
    change_set, get = parts
    assert isinstance(change_set, ChangeSet)
    assert [op.content_id for op in change_set.operations] == ["1", "2", "3"]
    assert [op.method for op in change_set.operations] == ["POST"] * 3
    assert change_set.operations[0].url == "/api/data/v9.2/tasks"
    body = json.loads(change_set.operations[1].body)
    assert body["subject"] == "Task 2 in batch"
    assert isinstance(get, Operation)
    assert get.method == "GET"
    assert get.url.endswith("/Account_Tasks?$select=subject")
    assert get.body == b""
    assert [op.index for op in (*change_set.operations, get)] == [0, 1, 2, 3]


@pytest.mark.parametrize(
    "name",
    [
        "no-changeset.txt",
        "reference-body.txt",
        "reference-url.txt",
        "reference-ref.txt",
        "reference-navigation.txt",
        "forward-reference.txt",
        "errors.txt",
    ],
)
@pytest.mark.parametrize("crlf", [False, True], ids=["LF", "CRLF"])
def test_every_documented_example_parses(name: str, crlf: bool) -> None:
    # DOC: each request example of the article is a well-formed batch.
    parts = parse_batch(*case(name, crlf=crlf))
    assert parts


def test_request_line_headers_without_space_and_content_length_are_read() -> None:
    # DOC, "Reference URIs in URL and request body using @odata.id": headers written as
    # "Content-Type:application/http" (no space) and a $1 URL with a $ref segment.
    parts = parse_batch(*case("reference-ref.txt"))
    change_set = parts[0]
    assert isinstance(change_set, ChangeSet)
    last = change_set.operations[2]
    assert (last.method, last.url, last.content_id) == ("PUT", "$1/primarycontactid/$ref", "3")
    assert json.loads(last.body) == {"@odata.id": "$2"}


def _one(body: str, boundary: str = "b") -> bytes:
    return body.replace("\n", "\r\n").encode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "--b\nContent-Type: application/http\n\n"
            "GET /api/data/v9.2/accounts HTTP/1.1\n\n--b--\n",
            "Content-Transfer-Encoding",
        ),
        (
            "--b\nContent-Transfer-Encoding: binary\n\n"
            "GET /api/data/v9.2/accounts HTTP/1.1\n\n--b--\n",
            "'Content-Type' header is missing",
        ),
        (
            "--b\nContent-Type: application/http\nContent-Transfer-Encoding: binary\n\n"
            "GET /api/data/v9.2/accounts\n\n--b--\n",
            "HttpMethod RequestUrl HttpVersion",
        ),
        (
            "--b\nContent-Type: application/http\nContent-Transfer-Encoding: binary\n\n"
            "GET /api/data/v9.2/accounts HTTP/2\n\n--b--\n",
            "HTTP version 'HTTP/2'",
        ),
        (
            "--b\nContent-Type: application/http\nContent-Transfer-Encoding: binary\n\n"
            "GET /api/data/v9.2/accounts HTTP/1.1\n\n",
            "unexpected end of input",
        ),
        (
            "--b\nContent-Type: application/http\nContent-Transfer-Encoding: binary\n\n"
            "POST /api/data/v9.2/$batch HTTP/1.1\n\n--b--\n",
            "can't contain other batch requests",
        ),
        (
            "--b\nContent-Type: multipart/mixed; boundary=c\n\n--c\n"
            "Content-Type: application/http\nContent-Transfer-Encoding: binary\n\n"
            "GET /api/data/v9.2/accounts HTTP/1.1\n\n--c--\n--b--\n",
            "invalid HTTP method 'GET' was detected for a request in a change set",
        ),
        (
            "--b\nContent-Type: multipart/mixed; boundary=c\n\n--c\n"
            "Content-Type: multipart/mixed; boundary=d\n\n--d--\n--c--\n--b--\n",
            "Nested change sets",
        ),
        (
            "--b\nContent-Type: multipart/mixed; boundary=c\n\n"
            "--c\nContent-Type: application/http\nContent-Transfer-Encoding: binary\n"
            "Content-ID: 1\n\n"
            "POST /api/data/v9.2/accounts HTTP/1.1\n\n{}\n"
            "--c\nContent-Type: application/http\nContent-Transfer-Encoding: binary\n"
            "Content-ID: 1\n\n"
            "POST /api/data/v9.2/accounts HTTP/1.1\n\n{}\n--c--\n--b--\n",
            "content ID '1' was found more than once",
        ),
        ("no delimiter at all", "no part delimited"),
    ],
)
def test_malformed_multipart_is_rejected_with_a_clear_message(body: str, message: str) -> None:
    # DOC, "Batch requests": every part carries Content-Type application/http and
    # Content-Transfer-Encoding binary, a request line with the HTTP version; batches don't
    # nest; GET isn't allowed in a change set; Content-IDs are unique (OData 4.0 11.7).
    with pytest.raises(BatchFormatError, match=message):
        parse_batch("multipart/mixed; boundary=b", _one(body))


def test_content_type_without_boundary_is_rejected() -> None:
    # DOC, "Batch requests": Content-Type multipart/mixed with a boundary is required.
    with pytest.raises(BatchFormatError, match="boundary"):
        parse_batch("multipart/mixed", b"--b\r\n--b--\r\n")
    with pytest.raises(BatchFormatError, match="multipart/mixed"):
        parse_batch("application/json", b"{}")


# -- running, over a stand-in data plane -------------------------------------------------


class StubCore:
    """A stand-in for the emulator core, honouring the seam $batch relies on: ``dispatch``
    answers one request (POST creates → 204 + OData-EntityId, PATCH/PUT update, GET lists,
    a task subject over 200 characters is the documented 400), ``transaction`` rolls back."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, dict[str, Any]]] = {
            s: {} for s in ("accounts", "contacts", "tasks", "leads", "phonecalls")
        }
        self.seen: list[httpx.Request] = []

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        snapshot = copy.deepcopy(self.rows)
        try:
            yield
        except BaseException:
            self.rows = snapshot
            raise

    def dispatch(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        path = request.url.path.removeprefix("/api/data/v9.2/")
        m = re.match(r"^(\w+)(?:\(([^)]*)\))?(?:/(.*))?$", path)
        assert m is not None, path
        name, key, rest = m.groups()
        rows = self.rows.get(name)
        base = f"{request.url.scheme}://{request.url.host}/api/data/v9.2/"
        if rows is None:
            return odata_error(404, "0x0", f"Resource not found for the segment '{name}'.")
        if request.method == "GET":
            return httpx.Response(200, json={"value": list(rows.values())})
        body = json.loads(request.content) if request.content else {}
        if request.method == "POST":
            if len(body.get("subject", "")) > 200:
                return odata_error(
                    400,
                    "0x80044331",
                    "A validation error occurred.  The length of the 'subject' attribute of the "
                    "'task' entity exceeded the maximum allowed length of '200'.",
                )
            new_id = str(uuid.uuid4())
            rows[new_id] = body
            return httpx.Response(204, headers={"OData-EntityId": f"{base}{name}({new_id})"})
        if key not in rows:
            return odata_error(404, "0x80040217", f"{name} With Id = {key} Does Not Exist")
        if request.method == "PUT":
            rows[key][str(rest)] = body.get("value", body.get("@odata.id"))
            return httpx.Response(204)
        rows[key].update(body)
        return httpx.Response(204, headers={"OData-EntityId": f"{base}{name}({key})"})


BASE = "https://org.example"


def send(
    core: StubCore,
    name_or_body: str | tuple[str, bytes],
    *,
    prefer: str | None = None,
    crlf: bool = False,
    fail_item: int | None = None,
) -> httpx.Response:
    if isinstance(name_or_body, str):
        content_type, body = case(name_or_body, crlf=crlf, base=BASE)
    else:
        content_type, body = name_or_body
    headers = {"Content-Type": content_type, "Authorization": "Bearer t", "OData-Version": "4.0"}
    if prefer:
        headers["Prefer"] = prefer
    extensions: dict[str, Any] = {"crm_ferry.caller": "u-1"}
    if fail_item is not None:
        extensions["crm_ferry.fail_item"] = fail_item
    request = httpx.Request(
        "POST", f"{BASE}/api/data/v9.2/$batch", headers=headers, content=body, extensions=extensions
    )
    response = handle_batch(core, request)
    response.read()
    return response


def parts_of(response: httpx.Response) -> list[InnerResponse]:
    return parse_response(response.headers["content-type"], response.content)


@pytest.mark.parametrize("crlf", [False, True], ids=["LF", "CRLF"])
def test_change_set_and_get_answer_in_the_documented_shape(crlf: bool) -> None:
    # DOC, "Change sets" response: 200; a changesetresponse_ part with one 204 per request,
    # Content-ID echoed, Location and OData-EntityId; then the GET's 200; server boundaries.
    core = StubCore()
    response = send(core, "changeset-and-get.txt", crlf=crlf)
    assert response.status_code == 200
    assert response.headers["OData-Version"] == "4.0"
    text = response.content.decode()
    boundary = response.headers["content-type"].split("boundary=")[1]
    assert re.fullmatch(r"batchresponse_[0-9a-f-]{36}", boundary)
    assert re.search(r"boundary=changesetresponse_[0-9a-f-]{36}\r\n", text)
    assert "\n" not in text.replace("\r\n", "")
    parts = parts_of(response)
    assert [(p.status, p.content_id, p.change_set) for p in parts] == [
        (204, "1", 0),
        (204, "2", 0),
        (204, "3", 0),
        (200, None, None),
    ]
    for part in parts[:3]:
        assert part.headers["location"] == part.headers["odata-entityid"]
        assert "/api/data/v9.2/tasks(" in part.headers["location"]
    assert "value" in parts[3].json()
    assert "HTTP/1.1 204 No Content\r\nOData-Version: 4.0\r\nLocation: " in text


def test_inner_requests_carry_the_outer_authorization_and_caller() -> None:
    # DOC: each part is one request of the same caller.
    core = StubCore()
    send(core, "no-changeset.txt")
    assert len(core.seen) == 4
    for inner in core.seen:
        assert inner.headers["authorization"] == "Bearer t"
        assert inner.extensions["crm_ferry.caller"] == "u-1"
        assert "crm_ferry.fail_item" not in inner.extensions


@pytest.mark.parametrize(
    "name",
    ["reference-body.txt", "reference-url.txt", "reference-ref.txt", "reference-navigation.txt"],
)
def test_content_id_references_resolve_in_urls_and_bodies(name: str) -> None:
    # DOC, "Reference URIs in an operation": $n in @odata.bind / @odata.id values and as the
    # start of a URL ($1, $1/lastname, $1/primarycontactid/$ref) names what part n created.
    core = StubCore()
    response = send(core, name)
    assert response.status_code == 200, response.text
    assert all(p.status == 204 for p in parts_of(response))
    created = {str(r.url): r for r in core.seen if r.method == "POST"}
    first_url = next(iter(created))
    assert first_url.startswith(f"{BASE}/api/data/v9.2/")
    later = core.seen[-1]
    text = later.content.decode()
    assert "$1" not in str(later.url)
    assert '"$' not in text
    if name == "reference-body.txt":
        body = json.loads(text)
        assert body["originatingleadid@odata.bind"].startswith("/leads(")
        assert body["primarycontactid@odata.bind"].startswith("/contacts(")
    if name == "reference-url.txt":
        assert re.search(r"/contacts\([0-9a-f-]{36}\)/lastname$", later.url.path)
        contact = next(iter(core.rows["contacts"].values()))
        assert contact["lastname"] == "BBBBB"
    if name == "reference-ref.txt":
        assert re.search(r"/accounts\([0-9a-f-]{36}\)/primarycontactid/\$ref$", later.url.path)
        assert json.loads(text)["@odata.id"].startswith("/contacts(")


def test_a_forward_reference_fails_with_the_documented_error() -> None:
    # DOC, note under "Reference URIs": "HTTP 400 ... Content-ID Reference: '$1' does not
    # exist in the batch context." Nothing of the change set is kept.
    core = StubCore()
    response = send(core, "forward-reference.txt")
    assert response.status_code == 400
    [part] = parts_of(response)
    assert part.status == 400
    assert part.json()["error"]["message"] == (
        "Content-ID Reference: '$1' does not exist in the batch context."
    )
    assert all(not rows for rows in core.rows.values())


def test_references_work_only_inside_the_same_change_set() -> None:
    # DOC: "Within changesets you can use $parameter ... to reference URIs returned for new
    # entities created earlier in the same changeset."
    core = StubCore()
    body = batch_body(
        change_set(batch_request("POST", "/api/data/v9.2/accounts", '{"name":"A"}', "1")),
        change_set(
            batch_request(
                "POST",
                "/api/data/v9.2/contacts",
                '{"parentcustomerid_account@odata.bind":"$1"}',
                "2",
            ),
            boundary="changeset_z",
        ),
    )
    response = send(core, body, prefer="odata.continue-on-error")
    assert response.status_code == 200
    first, second = parts_of(response)
    assert (first.status, first.change_set) == (204, 0)
    assert second.status == 400
    assert "'$1' does not exist in the batch context" in second.json()["error"]["message"]
    assert len(core.rows["accounts"]) == 1
    assert not core.rows["contacts"]


def test_without_continue_on_error_the_batch_stops_at_the_first_failure() -> None:
    # DOC, "Handling errors": without the preference the batch fails on the first request;
    # outer "HTTP/1.1 400 BadRequest" and the body holds only that request's error.
    core = StubCore()
    response = send(core, "errors.txt")
    assert response.status_code == 400
    [part] = parts_of(response)
    assert part.status == 400
    assert part.headers["content-type"].startswith("application/json")
    assert "req_id" in part.headers
    assert part.json()["error"]["code"] == "0x80044331"
    assert not core.rows["tasks"]


def test_with_continue_on_error_every_response_is_returned() -> None:
    # DOC, "Handling errors": Prefer: odata.continue-on-error → 200 OK and every response,
    # the error included.
    core = StubCore()
    response = send(core, "errors.txt", prefer="odata.continue-on-error")
    assert response.status_code == 200
    assert [p.status for p in parts_of(response)] == [400, 204, 204]
    assert len(core.rows["tasks"]) == 2
    assert response.extensions["crm_ferry.records"] == 3


def test_a_failed_change_set_rolls_back_and_is_answered_by_one_error() -> None:
    # DOC, "Change sets": "if any one of the operations fails, any completed operations will
    # be rolled back"; answered (OData 4.0 11.7.4) by one error response for the change set.
    core = StubCore()
    too_long = "x" * 201
    body = batch_body(
        change_set(
            batch_request("POST", "/api/data/v9.2/tasks", '{"subject":"ok"}', "1"),
            batch_request("POST", "/api/data/v9.2/tasks", f'{{"subject":"{too_long}"}}', "2"),
        ),
        batch_request("POST", "/api/data/v9.2/tasks", '{"subject":"after"}'),
    )
    before = copy.deepcopy(core.rows)
    response = send(core, body, prefer="odata.continue-on-error")
    assert response.status_code == 200
    failed, after = parts_of(response)
    assert (failed.status, failed.content_id, failed.change_set) == (400, "2", None)
    assert after.status == 204
    assert [r["subject"] for r in core.rows["tasks"].values()] == ["after"]
    core.rows["tasks"].clear()
    assert core.rows == before


def test_fail_item_fails_that_request_with_a_deadlock() -> None:
    # Fault hook: item k fails as SQL deadlock 1205 (bulk-operations "System errors"),
    # https://learn.microsoft.com/power-apps/developer/data-platform/bulk-operations
    core = StubCore()
    response = send(core, "changeset-and-get.txt", fail_item=1)
    assert response.status_code == 400
    [part] = parts_of(response)
    assert part.status == 500
    assert part.json()["error"]["code"] == "0x80044150"
    assert "Sql Number: 1205" in part.json()["error"]["message"]
    assert not core.rows["tasks"]


def test_more_than_1000_requests_are_rejected_before_any_runs() -> None:
    # DOC: "Batch requests can contain up to 1,000 individual requests".
    core = StubCore()
    ok = batch_body(*[batch_request("GET", "/api/data/v9.2/accounts") for _ in range(1000)])
    assert send(core, ok).status_code == 200
    core.seen.clear()
    too_many = batch_body(*[batch_request("GET", "/api/data/v9.2/accounts") for _ in range(1001)])
    response = send(core, too_many)
    assert response.status_code == 400
    assert "1000" in response.json()["error"]["message"]
    assert core.seen == []


def test_malformed_batch_is_a_400_with_the_reason() -> None:
    # DOC, "Batch requests": parts need Content-Type application/http.
    core = StubCore()
    body = batch_body("Content-Type: text/plain\r\n\r\nhello\r\n")
    response = send(core, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "0x80048d19"
    assert "'application/http'" in response.json()["error"]["message"]


def test_urls_may_be_absolute_host_relative_or_service_relative() -> None:
    # DOC: parts use "[Organization URI]/api/data/v9.2/leads", "/api/data/v9.2/tasks" and $n.
    core = StubCore()
    body = batch_body(
        batch_request("POST", f"{BASE}/api/data/v9.2/accounts", '{"name":"a"}'),
        batch_request("POST", "/api/data/v9.2/accounts", '{"name":"b"}'),
        batch_request("POST", "accounts", '{"name":"c"}'),
    )
    response = send(core, body)
    assert response.status_code == 200
    assert [str(r.url) for r in core.seen] == [f"{BASE}/api/data/v9.2/accounts"] * 3


# -- against the emulator ------------------------------------------------------------------

ACCOUNT = "00000000-0000-0000-0000-000000000001"


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    em = Emulator(CoreConfig(), tmp_path)
    yield em
    em.close()


@pytest.fixture
def client(emulator: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=httpx.MockTransport(emulator.handle), base_url=f"{BASE}/api/data/v9.2/"
    ) as c:
        assert c.patch(f"accounts({ACCOUNT})", json={"name": "Contoso"}).status_code == 204
        yield c


def post_batch(
    client: httpx.Client, name: str, *, crlf: bool = True, prefer: str | None = None
) -> httpx.Response:
    content_type, body = case(name, crlf=crlf, base=BASE)
    headers = {"Content-Type": content_type, "OData-Version": "4.0", "Accept": "application/json"}
    if prefer:
        headers["Prefer"] = prefer
    return client.post("$batch", content=body, headers=headers)


@pytest.mark.parametrize("crlf", [False, True], ids=["LF", "CRLF"])
def test_emulator_runs_the_change_set_example(client: httpx.Client, crlf: bool) -> None:
    # DOC, "Change sets" (on phone calls): three creates in a change set, then the GET sees them.
    response = post_batch(client, "changeset-and-get.phonecalls.txt", crlf=crlf)
    assert response.status_code == 200, response.text
    parts = parts_of(response)
    assert [(p.status, p.content_id) for p in parts] == [
        (204, "1"),
        (204, "2"),
        (204, "3"),
        (200, None),
    ]
    subjects = sorted(r["subject"] for r in parts[3].json()["value"])
    assert subjects == [f"Phone call {i} in batch" for i in (1, 2, 3)]
    assert response.extensions["crm_ferry.records"] >= 3


def test_emulator_resolves_content_id_in_a_url_and_a_bind(client: httpx.Client) -> None:
    # DOC, "Reference URI in request URL" and "... navigation properties": PUT $1/lastname,
    # PATCH $1 with primarycontactid@odata.bind = $2.
    assert post_batch(client, "reference-url.txt").status_code == 200
    [contact] = client.get("contacts?$select=lastname").json()["value"]
    assert contact["lastname"] == "BBBBB"
    response = post_batch(client, "reference-navigation.txt")
    assert response.status_code == 200
    parts = parts_of(response)
    account_url = parts[0].headers["odata-entityid"]
    contact_id = parts[1].headers["odata-entityid"].rsplit("(", 1)[1].rstrip(")")
    account = client.get(account_url + "?$select=_primarycontactid_value").json()
    assert account["_primarycontactid_value"] == contact_id


def test_emulator_change_set_failure_leaves_the_data_as_it_was(
    client: httpx.Client, emulator: Emulator
) -> None:
    # DOC, "Change sets": atomic — the dump before equals the dump after a failed change set.
    before = emulator.dump()
    response = post_batch(client, "forward-reference.txt")
    assert response.status_code == 400
    [part] = parts_of(response)
    assert part.json()["error"]["message"] == (
        "Content-ID Reference: '$1' does not exist in the batch context."
    )
    assert emulator.dump() == before
    body = batch_body(
        change_set(
            batch_request("POST", "/api/data/v9.2/contacts", '{"lastname":"kept?"}', "1"),
            batch_request(
                "POST", "/api/data/v9.2/contacts", '{"lastname":"' + "x" * 5000 + '"}', "2"
            ),
        )
    )
    failed = client.post("$batch", content=body[1], headers={"Content-Type": body[0]})
    assert failed.status_code == 400
    assert [p.status for p in parts_of(failed)] == [400]
    assert emulator.dump() == before


def test_emulator_continue_on_error_both_ways(client: httpx.Client) -> None:
    # DOC, "Handling errors": 400 with only the failing part, or 200 with every part.
    stopped = post_batch(client, "errors.phonecalls.txt")
    assert stopped.status_code == 400
    [error] = parts_of(stopped)
    assert error.json()["error"]["code"] == "0x80044331"
    assert client.get("phonecalls").json()["value"] == []
    continued = post_batch(client, "errors.phonecalls.txt", prefer="odata.continue-on-error")
    assert continued.status_code == 200
    assert [p.status for p in parts_of(continued)] == [400, 204, 204]
    assert len(client.get("phonecalls").json()["value"]) == 2


def test_emulator_fail_item_hook(emulator: Emulator) -> None:
    # Fault hook (deadlock, Sql Number 1205) on item 2 rolls back its change set.
    content_type, body = case("changeset-and-get.phonecalls.txt", crlf=True, base=BASE)
    request = httpx.Request(
        "POST",
        f"{BASE}/api/data/v9.2/$batch",
        headers={"Content-Type": content_type},
        content=body,
        extensions={"crm_ferry.fail_item": 2},
    )
    emulator.handle(httpx.Request("PATCH", f"{BASE}/api/data/v9.2/accounts({ACCOUNT})", json={}))
    response = emulator.handle(request)
    response.read()
    assert response.status_code == 400
    [part] = parts_of(response)
    assert (part.status, part.content_id) == (500, "3")
    assert emulator.dump("phonecall")["records"]["phonecall"] == []


def test_a_request_url_may_hold_spaces() -> None:
    # The request line is the method, everything up to the last space and the version, so a
    # URL written without percent-encoding (as Microsoft's Python SDK writes the GETs it
    # batches) is read whole and encoded for the inner request.
    core = StubCore()
    url = f"{BASE}/api/data/v9.2/accounts?$select=name&$filter=name eq 'a b'"
    response = send(core, batch_body(batch_request("GET", url)))
    assert response.status_code == 200
    [part] = parts_of(response)
    assert part.status == 200
    [seen] = core.seen
    assert seen.url.params["$filter"] == "name eq 'a b'"
    assert seen.url.params["$select"] == "name"


@pytest.mark.parametrize("line", ["GET HTTP/1.1", "GET", " accounts HTTP/1.1"])
def test_a_request_line_without_a_url_is_malformed(line: str) -> None:
    core = StubCore()
    part = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    response = send(core, batch_body(f"{part}{line}\r\n\r\n"))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "0x80048d19"
    assert "HttpMethod RequestUrl HttpVersion" in response.json()["error"]["message"]
    assert core.seen == []
