"""OData ``$batch`` for the emulator: multipart/mixed in, multipart/mixed out.

Written from
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api
and the OData 4.0 protocol, part 1, section 11.7 (Batch Requests):

* ``POST /api/data/v9.2/$batch`` with ``Content-Type: multipart/mixed; boundary=...``. Each part
  is either one request (``Content-Type: application/http`` and
  ``Content-Transfer-Encoding: binary``, then a request line *with* the HTTP version, headers,
  a blank line and the body) or a change set (``multipart/mixed`` with its own boundary, holding
  requests only; change sets don't nest).
* At most 1,000 individual requests; batches can't contain other batches; GET is not allowed
  in a change set.
* A change set is atomic: if one of its requests fails, all of its changes are rolled back.
* ``Content-ID: n`` on a change-set part makes ``$n`` stand for the URI of what that part
  created, in the URLs and in ``@odata.bind`` / ``@odata.id`` values of *later* parts of the
  *same* change set. Anything else is ``400 Content-ID Reference: '$n' does not exist in the
  batch context.``
* Without ``Prefer: odata.continue-on-error`` processing stops at the first failure and the
  outer status is ``400`` with only the failing response in the body. With it the outer status
  is ``200`` and every response is returned.
* Responses use server-made boundaries ``batchresponse_<guid>`` / ``changesetresponse_<guid>``,
  CRLF line ends, and echo ``Content-ID`` in change-set responses.

Choices where the documentation is silent (each marked *approximation* below):

* A failed change set is answered, in both modes, by ONE ``application/http`` part holding
  the failing request's error (the OData 4.0 convention: "the response to a change set that
  fails is a single response"), with the failing part's ``Content-ID`` echoed when it had one.
* Malformed multipart gets ``400`` with the OData library's own wording and the code Dataverse
  gives what its payload reader refuses, ``0x80048d19`` ("Error identified in Payload provided
  by the user", :data:`~crm_ferry.emulator.validation.PAYLOAD_ERROR`).
* The request line is the method, everything up to the last space, and the HTTP version: a URL
  a client wrote without percent-encoding (``$filter=name eq 'a b'``, as Microsoft's Python
  SDK writes the GETs it batches) is read whole, and encoded when the inner request is made.
* The error for more than 1,000 requests is not documented; see :data:`TOO_MANY_REQUESTS`.

Inbound, LF and CRLF line ends are both accepted; ``Content-Length`` headers on parts are
ignored (the documentation's own examples carry wrong ones).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from crm_ferry.emulator.layers import FAIL_ITEM, RECORDS, api_path, api_prefix, odata_error, origin
from crm_ferry.emulator.validation import PAYLOAD_ERROR

MAX_REQUESTS = 1000
"""Documented: "Batch requests can contain up to 1,000 individual requests"."""

TOO_MANY_REQUESTS = (
    "The batch request contains {count} requests. A maximum of {limit} individual requests "
    "are allowed in a batch request."
)
"""Approximation: the limit is documented, the wording of the error is not."""

CONTENT_ID_MISSING = "Content-ID Reference: '${ref}' does not exist in the batch context."
"""Documented text (HTTP 400)."""

DEADLOCK_CODE = "0x80044150"
DEADLOCK_MESSAGE = (
    "Generic SQL error. CRM ErrorCode: -2147204784 Sql ErrorCode: -2146232060 Sql Number: 1205"
)
"""A SQL deadlock, as listed under "System errors" of the bulk operations article; used by the
``crm_ferry.fail_item`` fault hook for $batch and bulk requests alike."""

_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_INHERITED_HEADERS = ("authorization", "callerobjectid", "mscrm.callerid")
"""Outer headers an inner request inherits when it doesn't set them itself."""


class Dispatcher(Protocol):
    """What $batch needs from the emulator core."""

    def dispatch(self, request: httpx.Request) -> httpx.Response: ...

    def transaction(self) -> AbstractContextManager[Any]: ...


class BatchFormatError(Exception):
    """The body is not a well-formed OData multipart batch."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(slots=True)
class Operation:
    """One request of a batch, as written."""

    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes
    content_id: str | None = None
    index: int = 0
    """0-based position among all individual requests of the batch."""


@dataclass(slots=True)
class ChangeSet:
    operations: list[Operation] = field(default_factory=list)


Part = Operation | ChangeSet


# -- parsing ---------------------------------------------------------------------------


def media_type(value: str | None) -> tuple[str, dict[str, str]]:
    """``'multipart/mixed; boundary="b"'`` → ``('multipart/mixed', {'boundary': 'b'})``."""
    if not value:
        return "", {}
    kind, *rest = value.split(";")
    params: dict[str, str] = {}
    for item in rest:
        name, sep, val = item.strip().partition("=")
        if sep:
            params[name.strip().lower()] = val.strip().strip('"')
    return kind.strip().lower(), params


def parse_batch(content_type: str | None, body: bytes) -> list[Part]:
    """The parts of a batch body; :class:`BatchFormatError` when it is malformed."""
    kind, params = media_type(content_type)
    boundary = params.get("boundary")
    if kind != "multipart/mixed" or not boundary:
        raise BatchFormatError(
            f"The content type '{content_type or ''}' of the batch request is not valid. A batch "
            "request must have a 'Content-Type' header of 'multipart/mixed' with a 'boundary' "
            "parameter."
        )
    parts: list[Part] = []
    counter = _Counter()
    for raw in _split(body, boundary):
        headers, content, part_type = _typed_part(raw)
        ptype, pparams = media_type(part_type)
        if ptype == "multipart/mixed":
            parts.append(_change_set(content, pparams.get("boundary"), part_type, counter))
        elif ptype == "application/http":
            parts.append(_operation(headers, content, counter, in_change_set=False))
        else:
            raise BatchFormatError(_bad_part_type(part_type))
    if not parts:
        raise BatchFormatError("The batch request contains no requests.")
    _check_content_ids(parts)
    return parts


@dataclass(slots=True)
class _Counter:
    next: int = 0

    def take(self) -> int:
        self.next += 1
        return self.next - 1


def _bad_part_type(value: str) -> str:
    return (
        f"The 'Content-Type' header value '{value}' is invalid. When this is the start of the "
        "change set, the value must be 'multipart/mixed'; otherwise it must be "
        "'application/http'."
    )


def _split(body: bytes, boundary: str) -> Iterator[bytes]:
    """The encapsulated parts between ``--boundary`` lines (RFC 2046; LF or CRLF)."""
    delimiter = b"--" + boundary.encode("latin-1")
    current: list[bytes] | None = None
    for line in body.splitlines(keepends=True):
        bare = line.rstrip(b"\r\n").rstrip(b" \t")
        if bare == delimiter:
            if current is not None:
                yield _drop_final_newline(b"".join(current))
            current = []
        elif bare == delimiter + b"--":
            if current is not None:
                yield _drop_final_newline(b"".join(current))
            return
        elif current is not None:
            current.append(line)
    raise BatchFormatError(
        "Encountered an unexpected end of input while reading the batch payload."
        if current is not None
        else f"The batch payload has no part delimited by the boundary '{boundary}'."
    )


def _drop_final_newline(data: bytes) -> bytes:
    """The line break before a delimiter belongs to the delimiter."""
    if data.endswith(b"\r\n"):
        return data[:-2]
    if data.endswith(b"\n"):
        return data[:-1]
    return data


def _lines(data: bytes) -> Iterator[tuple[bytes, int]]:
    """Each line without its line break, with the offset just after it."""
    pos = 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        if end < 0:
            yield data[pos:].rstrip(b"\r"), len(data)
            return
        yield data[pos:end].rstrip(b"\r"), end + 1
        pos = end + 1


def _part_headers(raw: bytes) -> tuple[list[tuple[str, str]], bytes]:
    """MIME part headers up to the first blank line, and what follows."""
    headers: list[tuple[str, str]] = []
    for line, after in _lines(raw):
        if not line.strip():
            _no_duplicates(headers)
            return headers, raw[after:]
        headers.append(_header(line))
    _no_duplicates(headers)
    return headers, b""


def _typed_part(raw: bytes) -> tuple[list[tuple[str, str]], bytes, str]:
    """A MIME part's headers, content and ``Content-Type``, which every part must have."""
    headers, content = _part_headers(raw)
    part_type = _single(headers, "content-type")
    if part_type is None:
        raise BatchFormatError(
            "The 'Content-Type' header is missing. The 'Content-Type' header must be "
            "specified for each MIME part of a batch message."
        )
    return headers, content, part_type


def _header(line: bytes) -> tuple[str, str]:
    text = line.decode("utf-8", errors="replace")
    name, sep, value = text.partition(":")
    if not sep or not name.strip() or name != name.strip():
        raise BatchFormatError(
            f"The message header '{text}' is invalid. The header value must be of the format "
            "'<header name>: <header value>'."
        )
    return name, value.strip()


def _no_duplicates(headers: list[tuple[str, str]]) -> None:
    seen: set[str] = set()
    for name, _ in headers:
        if name.lower() in seen:
            raise BatchFormatError(
                f"The header '{name}' was specified multiple times. Each header must appear "
                "only once in a batch part."
            )
        seen.add(name.lower())


def _single(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)


def _change_set(content: bytes, boundary: str | None, ctype: str, counter: _Counter) -> ChangeSet:
    if not boundary:
        raise BatchFormatError(
            f"The change set content type '{ctype}' has no 'boundary' parameter."
        )
    change_set = ChangeSet()
    for raw in _split(content, boundary):
        headers, body, part_type = _typed_part(raw)
        ptype, _ = media_type(part_type)
        if ptype == "multipart/mixed":
            raise BatchFormatError("Nested change sets in a batch payload are not supported.")
        if ptype != "application/http":
            raise BatchFormatError(_bad_part_type(part_type))
        change_set.operations.append(_operation(headers, body, counter, in_change_set=True))
    if not change_set.operations:
        raise BatchFormatError("A change set in the batch request contains no requests.")
    return change_set


def _operation(
    part_headers: list[tuple[str, str]], content: bytes, counter: _Counter, *, in_change_set: bool
) -> Operation:
    encoding = _single(part_headers, "content-transfer-encoding")
    if encoding is None or encoding.lower() != "binary":
        raise BatchFormatError(
            "A missing or invalid 'Content-Transfer-Encoding' header was found. The "
            "'Content-Transfer-Encoding' header must be specified for each batch operation, "
            "and its value must be 'binary'."
        )
    lines = _lines(content)
    first = next(lines, None)
    if first is None:
        raise BatchFormatError(
            "Encountered an unexpected end of input while reading the batch payload."
        )
    request_line = first[0].decode("utf-8", errors="replace")
    method, url, version = _request_line(request_line)
    if version != "HTTP/1.1":
        raise BatchFormatError(
            f"The HTTP version '{version}' used in a batch operation request or response is not "
            "valid. The value must be 'HTTP/1.1'."
        )
    if method not in _METHODS:
        raise BatchFormatError(
            f"Invalid HTTP method '{method}' specified in a batch operation. The method must be "
            "'GET', 'POST', 'PUT', 'PATCH' or 'DELETE'."
        )
    if in_change_set and method == "GET":
        raise BatchFormatError(
            f"An invalid HTTP method '{method}' was detected for a request in a change set. "
            "Requests in change sets only support the HTTP methods 'POST', 'PUT', 'DELETE', "
            "and 'PATCH'."
        )
    if urlsplit(url).path.rstrip("/").endswith("$batch"):
        raise BatchFormatError("Batch requests can't contain other batch requests.")
    headers: list[tuple[str, str]] = []
    body_start = len(content)
    for line, after in lines:
        if not line.strip():
            body_start = after
            break
        headers.append(_header(line))
    body = content[body_start:].rstrip(b"\r\n")
    return Operation(
        method=method,
        url=url,
        headers=headers,
        body=body,
        content_id=_single(part_headers, "content-id"),
        index=counter.take(),
    )


def _request_line(line: str) -> tuple[str, str, str]:
    """``(method, url, version)``: the method up to the first space, the version after the
    last one, the URL (which may hold spaces) in between."""
    method, _, rest = line.partition(" ")
    url, _, version = rest.rpartition(" ")
    url = url.strip(" ")
    if not method or not url or not version:
        raise BatchFormatError(
            f"The request line '{line}' is invalid. The request line at the start of "
            "each operation must be of the format 'HttpMethod RequestUrl HttpVersion'."
        )
    return method, url, version


def _check_content_ids(parts: list[Part]) -> None:
    seen: set[str] = set()
    for op in _operations(parts):
        if op.content_id is None:
            continue
        if op.content_id in seen:
            raise BatchFormatError(
                f"The content ID '{op.content_id}' was found more than once in the same change "
                "set or same batch request. Content IDs have to be unique across all operations "
                "of a change set for OData V4.0 and have to be unique across all operations in "
                "the whole batch request for OData V4.01."
            )
        seen.add(op.content_id)


def _operations(parts: list[Part]) -> Iterator[Operation]:
    for part in parts:
        if isinstance(part, ChangeSet):
            yield from part.operations
        else:
            yield part


def count_requests(parts: list[Part]) -> int:
    return sum(1 for _ in _operations(parts))


# -- running ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Answer:
    """One inner response, ready to be written into the multipart body."""

    response: httpx.Response
    content_id: str | None = None

    @property
    def failed(self) -> bool:
        return self.response.status_code >= 400


@dataclass(slots=True)
class _ChangeSetAnswer:
    answers: list[_Answer]


class _ChangeSetFailed(Exception):
    def __init__(self, answer: _Answer) -> None:
        super().__init__(answer.response.status_code)
        self.answer = answer


def handle_batch(emulator: Dispatcher, request: httpx.Request) -> httpx.Response:
    """Run a ``$batch`` request through ``emulator.dispatch``, one inner request at a time."""
    try:
        parts = parse_batch(request.headers.get("content-type"), request.content)
    except BatchFormatError as exc:
        return odata_error(400, PAYLOAD_ERROR, exc.message)
    total = count_requests(parts)
    if total > MAX_REQUESTS:
        return odata_error(
            400, PAYLOAD_ERROR, TOO_MANY_REQUESTS.format(count=total, limit=MAX_REQUESTS)
        )
    run = _Run(emulator, request)
    continue_on_error = _prefers_continue(request)
    results: list[_Answer | _ChangeSetAnswer] = []
    failed = False
    for part in parts:
        if isinstance(part, Operation):
            answer = run.single(part, {})
            outcome: _Answer | _ChangeSetAnswer = answer
            failed_here = answer.failed
        else:
            try:
                with emulator.transaction():
                    outcome = _ChangeSetAnswer(run.change_set(part))
                failed_here = False
            except _ChangeSetFailed as exc:
                outcome = exc.answer
                failed_here = True
        if failed_here and not continue_on_error:
            results = [outcome]
            failed = True
            break
        results.append(outcome)
    response = _write(results, 400 if failed else 200)
    response.extensions[RECORDS] = run.records
    return response


def _prefers_continue(request: httpx.Request) -> bool:
    prefs = ",".join(request.headers.get_list("prefer"))
    return any(p.strip().lower() == "odata.continue-on-error" for p in prefs.split(","))


class _Run:
    """State of one batch: the outer request, the fault hook, the record count."""

    def __init__(self, emulator: Dispatcher, outer: httpx.Request) -> None:
        self.emulator = emulator
        self.outer = outer
        self.base = origin(outer)
        self.prefix = api_prefix(outer.url.path)
        """``/api/data/<version>/`` of the batch: its parts' relative URLs are in that version."""
        fail = outer.extensions.get(FAIL_ITEM)
        self.fail_item = fail if isinstance(fail, int) and not isinstance(fail, bool) else None
        self.records = 0

    def change_set(self, change_set: ChangeSet) -> list[_Answer]:
        refs: dict[str, str] = {}
        answers: list[_Answer] = []
        for op in change_set.operations:
            answer = self.single(op, refs)
            if answer.failed:
                raise _ChangeSetFailed(answer)
            answers.append(answer)
            if op.content_id is not None:
                refs[op.content_id] = _entity_path(answer.response) or _request_path(
                    self._url(op, refs)
                )
        return answers

    def single(self, op: Operation, refs: dict[str, str]) -> _Answer:
        if op.index == self.fail_item:
            return _Answer(odata_error(500, DEADLOCK_CODE, DEADLOCK_MESSAGE), op.content_id)
        try:
            inner = self._request(op, refs)
        except _MissingReference as exc:
            message = CONTENT_ID_MISSING.format(ref=exc.ref)
            return _Answer(odata_error(400, PAYLOAD_ERROR, message), op.content_id)
        response = self.emulator.dispatch(inner)
        response.read()
        records = response.extensions.get(RECORDS)
        self.records += records if isinstance(records, int) and records > 0 else 1
        return _Answer(response, op.content_id)

    def _url(self, op: Operation, refs: dict[str, str]) -> str:
        """Absolute URL of an inner request: absolute, host-relative, service-relative or $n."""
        url = op.url
        if url.startswith("$"):
            ref, sep, rest = url[1:].partition("/")
            ref, qsep, query = ref.partition("?")
            if ref not in refs:
                raise _MissingReference(ref)
            path = refs[ref] + (sep + rest if sep else "")
            return f"{self.base}{self.prefix}{path.lstrip('/')}{qsep}{query}"
        if "://" in url:
            return url
        if url.startswith("/"):
            return self.base + url
        return f"{self.base}{self.prefix}{url}"

    def _request(self, op: Operation, refs: dict[str, str]) -> httpx.Request:
        url = self._url(op, refs)
        headers = list(op.headers)
        present = {k.lower() for k, _ in headers}
        for name in _INHERITED_HEADERS:
            value = self.outer.headers.get(name)
            if value is not None and name not in present:
                headers.append((name, value))
        body = _resolve_body(op, refs)
        extensions = {k: v for k, v in self.outer.extensions.items() if k != FAIL_ITEM}
        return httpx.Request(
            op.method, url, headers=headers, content=body or None, extensions=extensions
        )


class _MissingReference(Exception):
    def __init__(self, ref: str) -> None:
        super().__init__(ref)
        self.ref = ref


_REF = re.compile(r"^\$([^/?]+)(.*)$", re.DOTALL)


def _resolve_body(op: Operation, refs: dict[str, str]) -> bytes:
    """``$n`` in ``@odata.bind`` and ``@odata.id`` values → ``/<set>(<id>)``."""
    if not op.body.strip():
        return op.body
    try:
        data = json.loads(op.body)
    except (ValueError, UnicodeDecodeError):
        return op.body
    changed = [False]

    def resolve(value: Any) -> Any:
        if isinstance(value, str):
            m = _REF.match(value)
            if m is None:
                return value
            if m.group(1) not in refs:
                raise _MissingReference(m.group(1))
            changed[0] = True
            return "/" + refs[m.group(1)].lstrip("/") + m.group(2)
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return value

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out: dict[str, Any] = {}
            for key, value in node.items():
                if key.endswith("@odata.bind") or key == "@odata.id":
                    out[key] = resolve(value)
                else:
                    out[key] = walk(value)
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    resolved = walk(data)
    return json.dumps(resolved).encode("utf-8") if changed[0] else op.body


def _entity_path(response: httpx.Response) -> str | None:
    """``contacts(<id>)`` from a response's ``OData-EntityId`` (or ``Location``)."""
    value = response.headers.get("odata-entityid") or response.headers.get("location")
    return _request_path(value) if value else None


def _request_path(url: str) -> str:
    path = urlsplit(url).path
    split = api_path(path)
    return split[1] if split is not None else path.lstrip("/")


# -- writing ---------------------------------------------------------------------------

CRLF = "\r\n"
_SKIPPED_HEADERS = {"content-length", "transfer-encoding", "connection"}


def _write(results: list[_Answer | _ChangeSetAnswer], status: int) -> httpx.Response:
    boundary = f"batchresponse_{uuid.uuid4()}"
    out: list[str] = []
    for result in results:
        out.append(f"--{boundary}{CRLF}")
        if isinstance(result, _ChangeSetAnswer):
            inner = f"changesetresponse_{uuid.uuid4()}"
            out.append(f"Content-Type: multipart/mixed; boundary={inner}{CRLF}{CRLF}")
            for answer in result.answers:
                out.append(f"--{inner}{CRLF}")
                out.append(_http_part(answer, with_content_id=True))
            out.append(f"--{inner}--{CRLF}")
        else:
            out.append(_http_part(result, with_content_id=result.content_id is not None))
    out.append(f"--{boundary}--{CRLF}")
    return httpx.Response(
        status,
        headers={
            "OData-Version": "4.0",
            "Content-Type": f"multipart/mixed; boundary={boundary}",
        },
        content="".join(out).encode("utf-8"),
    )


def _http_part(answer: _Answer, *, with_content_id: bool) -> str:
    response = answer.response
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if with_content_id and answer.content_id is not None:
        lines.append(f"Content-ID: {answer.content_id}")
    status = response.status_code
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = response.reason_phrase
    lines.append("")
    lines.append(f"HTTP/1.1 {status} {phrase}")
    headers = [(k, v) for k, v in response.headers.items() if k.lower() not in _SKIPPED_HEADERS]
    names = {k.lower() for k, _ in headers}
    if status >= 400 and "req_id" not in names:
        headers.insert(0, ("REQ_ID", str(uuid.uuid4())))
    if "odata-entityid" in names and "location" not in names:
        entity_id = response.headers["odata-entityid"]
        headers.append(("Location", entity_id))
    if "odata-version" not in names:
        headers.append(("OData-Version", "4.0"))
    headers.sort(key=lambda h: _ORDER.get(h[0].lower(), len(_ORDER)))
    lines.extend(f"{_canonical(k)}: {v}" for k, v in headers)
    lines.append("")
    body = response.content.decode("utf-8", errors="replace")
    return CRLF.join(lines) + CRLF + body + CRLF


_ORDER = {"req_id": 0, "content-type": 1, "odata-version": 2, "location": 3, "odata-entityid": 4}
"""Header order of the documentation's examples."""

_CANONICAL = {
    "odata-version": "OData-Version",
    "odata-entityid": "OData-EntityId",
    "req_id": "REQ_ID",
    "etag": "ETag",
    "preference-applied": "Preference-Applied",
}


def _canonical(name: str) -> str:
    low = name.lower()
    if low in _CANONICAL:
        return _CANONICAL[low]
    return "-".join(p[:1].upper() + p[1:] for p in low.split("-"))


# -- reading a batch response (for tests and tools) ------------------------------------------


@dataclass(slots=True)
class InnerResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    content_id: str | None = None
    change_set: int | None = None
    """Index of the change-set response it belongs to (None for a top-level response)."""

    def json(self) -> Any:
        return json.loads(self.body)


def parse_response(content_type: str | None, body: bytes) -> list[InnerResponse]:
    """The inner responses of a multipart batch response, flattened in order."""
    _, params = media_type(content_type)
    boundary = params.get("boundary", "")
    out: list[InnerResponse] = []
    sets = 0
    for raw in _split(body, boundary):
        headers, content = _part_headers(raw)
        ptype, pparams = media_type(_single(headers, "content-type"))
        if ptype == "multipart/mixed":
            for sub in _split(content, pparams.get("boundary", "")):
                sub_headers, sub_content = _part_headers(sub)
                out.append(_inner(sub_headers, sub_content, sets))
            sets += 1
        else:
            out.append(_inner(headers, content, None))
    return out


def _inner(
    part_headers: list[tuple[str, str]], content: bytes, change_set: int | None
) -> InnerResponse:
    status_line, headers_end = b"", len(content)
    headers: dict[str, str] = {}
    first = True
    for line, after in _lines(content):
        if first:
            status_line, first = line, False
            continue
        if not line.strip():
            headers_end = after
            break
        name, value = _header(line)
        headers[name.lower()] = value
    status = int(status_line.split(b" ")[1])
    return InnerResponse(
        status=status,
        headers=headers,
        body=content[headers_end:].rstrip(b"\r\n"),
        content_id=_single(part_headers, "content-id"),
        change_set=change_set,
    )


__all__ = [
    "MAX_REQUESTS",
    "BatchFormatError",
    "ChangeSet",
    "Dispatcher",
    "InnerResponse",
    "Operation",
    "handle_batch",
    "parse_batch",
    "parse_response",
]
