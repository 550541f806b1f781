"""The ``$batch`` wire format: an OData v4.0 ``multipart/mixed`` encoder and decoder.

What the encoder writes follows "Execute batch operations using the Web API"
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api):
each part is ``application/http`` with ``Content-Transfer-Encoding: binary`` and a request
line *with* the HTTP version; change sets are nested ``multipart/mixed`` parts whose
operations carry ``Content-ID`` so later operations in the same change set may refer to
``$n``; at most 1,000 operations per batch. Lines end in CRLF as MIME requires.

The decoder accepts CRLF or LF (the documentation's own examples use LF), server-chosen
boundaries (``batchresponse_<guid>``), and the shapes a failed change set may take: its
own nested parts, or a single error part standing for the whole change set. Responses
come back in request order; :func:`match_responses` pairs each operation with its
response (or ``None`` when the service stopped before reaching it).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from crm_ferry.dataverse.errors import DataverseError, ValidationRejected, error_for

MAX_BATCH_OPERATIONS = 1000
CRLF = "\r\n"


@dataclass(frozen=True, slots=True)
class BatchOperation:
    """One request inside a batch. ``url`` is relative to the API root, or ``$n``."""

    method: str
    url: str
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    content_id: str | None = None
    idempotent: bool | None = None
    """Safe to resend? Default: everything but POST."""

    @property
    def is_idempotent(self) -> bool:
        if self.idempotent is not None:
            return self.idempotent
        return self.method.upper() != "POST"


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """Operations that succeed or fail together (no GET allowed inside)."""

    operations: tuple[BatchOperation, ...]

    def __post_init__(self) -> None:
        for op in self.operations:
            if op.method.upper() == "GET":
                raise ValidationRejected("GET is not allowed inside a change set")


BatchItem = BatchOperation | ChangeSet


@dataclass(frozen=True, slots=True)
class PartResponse:
    """One inner response of a ``$batch``."""

    status: int
    headers: Mapping[str, str]
    """Header names in lower case."""
    body: bytes = b""
    content_id: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body) if self.body.strip() else None

    @property
    def entity_id(self) -> str | None:
        """The URI of the record a create/upsert touched (``OData-EntityId``)."""
        return self.headers.get("odata-entityid") or self.headers.get("location")

    def error(self, method: str | None = None, url: str | None = None) -> DataverseError | None:
        if self.ok:
            return None
        return error_for(
            self.status,
            method=method,
            url=url,
            body=self.body,
            retry_after=self.headers.get("retry-after"),
        )


def operations_of(items: Sequence[BatchItem]) -> list[BatchOperation]:
    """Every operation in request order, change sets flattened."""
    out: list[BatchOperation] = []
    for item in items:
        if isinstance(item, ChangeSet):
            out.extend(item.operations)
        else:
            out.append(item)
    return out


# ---------------------------------------------------------------------------
# Encoding


def encode_batch(
    items: Sequence[BatchItem], *, api_path: str, boundary: str | None = None
) -> tuple[str, bytes]:
    """``(content_type, body)`` of a ``$batch`` request.

    ``api_path`` is the host-relative API root (``/api/data/v9.2``); operation URLs that
    are relative get it prepended, ``$n`` references and absolute URLs are kept.
    """
    ops = operations_of(items)
    if not ops:
        raise ValidationRejected("a batch needs at least one operation")
    if len(ops) > MAX_BATCH_OPERATIONS:
        raise ValidationRejected(
            f"a batch holds at most {MAX_BATCH_OPERATIONS} operations, not {len(ops)}"
        )
    _check_content_ids(items)
    boundary = boundary or f"batch_{uuid.uuid4().hex}"
    out: list[str] = []
    for item in items:
        out.append(f"--{boundary}{CRLF}")
        if isinstance(item, ChangeSet):
            cs = f"changeset_{uuid.uuid4().hex}"
            out.append(f'Content-Type: multipart/mixed; boundary="{cs}"{CRLF}{CRLF}')
            for op in item.operations:
                out.append(f"--{cs}{CRLF}")
                out.append(_encode_operation(op, api_path))
            out.append(f"--{cs}--{CRLF}")
        else:
            out.append(_encode_operation(item, api_path))
    out.append(f"--{boundary}--{CRLF}")
    return f'multipart/mixed; boundary="{boundary}"', "".join(out).encode("utf-8")


def _encode_operation(op: BatchOperation, api_path: str) -> str:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if op.content_id is not None:
        lines.append(f"Content-ID: {op.content_id}")
    lines.append("")
    lines.append(f"{op.method.upper()} {_inner_url(op.url, api_path)} HTTP/1.1")
    headers = dict(op.headers)
    body = ""
    if op.body is not None:
        headers.setdefault("Content-Type", "application/json; type=entry")
        body = json.dumps(op.body, separators=(",", ":"), ensure_ascii=False, default=str)
    else:
        headers.setdefault("Accept", "application/json")
    for name, value in headers.items():
        lines.append(f"{name}: {value}")
    lines.append("")
    lines.append(body)
    return CRLF.join(lines) + CRLF


def _inner_url(url: str, api_path: str) -> str:
    if url.startswith(("$", "/")) or "://" in url:
        return url
    return f"{api_path.rstrip('/')}/{url}"


def _check_content_ids(items: Sequence[BatchItem]) -> None:
    seen: set[str] = set()
    for item in items:
        declared: set[str] = set()
        ops = item.operations if isinstance(item, ChangeSet) else (item,)
        for op in ops:
            ref = re.match(r"^\$(\w+)", op.url)
            if ref and ref.group(1) not in declared:
                raise ValidationRejected(
                    f"Content-ID reference '${ref.group(1)}' must point to an earlier "
                    "operation of the same change set"
                )
            if op.content_id is not None:
                if op.content_id in seen:
                    raise ValidationRejected(f"Content-ID {op.content_id} is used twice")
                seen.add(op.content_id)
                declared.add(op.content_id)


# ---------------------------------------------------------------------------
# Decoding


def boundary_of(content_type: str) -> str | None:
    m = re.search(r'boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))', content_type, re.IGNORECASE)
    if not m:
        return None
    return m.group(1) or m.group(2)


Decoded = list["PartResponse | list[PartResponse]"]


def decode_batch(content_type: str, body: bytes) -> Decoded:
    """The top-level parts of a ``$batch`` response; a change set becomes a nested list."""
    boundary = boundary_of(content_type)
    if not boundary or "multipart/" not in content_type.lower():
        raise ValidationRejected(f"not a multipart batch response: {content_type!r}")
    text = body.decode("utf-8", "replace")
    out: Decoded = []
    for headers, content in _split_multipart(text, boundary):
        ctype = headers.get("content-type", "")
        if ctype.lower().startswith("multipart/mixed"):
            inner = boundary_of(ctype)
            if inner is None:
                raise ValidationRejected("change set response without a boundary")
            out.append(
                [_decode_http(h.get("content-id"), c) for h, c in _split_multipart(content, inner)]
            )
        else:
            out.append(_decode_http(headers.get("content-id"), content))
    return out


def _split_multipart(text: str, boundary: str) -> list[tuple[dict[str, str], str]]:
    delim = re.compile(r"(?:\r?\n)?--" + re.escape(boundary) + r"(--)?[ \t]*(?:\r?\n|$)")
    parts: list[tuple[dict[str, str], str]] = []
    pos = 0
    first = True
    for m in delim.finditer(text):
        if not first:
            parts.append(_split_headers(text[pos : m.start()]))
        first = False
        pos = m.end()
        if m.group(1):  # closing delimiter
            break
    return parts


def _split_headers(block: str) -> tuple[dict[str, str], str]:
    m = re.search(r"\r?\n\r?\n", block)
    if m is None:
        head, rest = block, ""
    else:
        head, rest = block[: m.start()], block[m.end() :]
    headers: dict[str, str] = {}
    for line in re.split(r"\r?\n", head):
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return headers, rest


def _decode_http(content_id: str | None, content: str) -> PartResponse:
    content = content.lstrip("\r\n")
    first, _, rest = content.partition("\n")
    m = re.match(r"HTTP/\d(?:\.\d)?\s+(\d{3})", first.strip())
    if m is None:
        raise ValidationRejected(f"batch part without a status line: {first.strip()[:80]!r}")
    headers, body = _split_headers(rest) if rest.strip() else ({}, "")
    return PartResponse(
        status=int(m.group(1)),
        headers=headers,
        body=body.strip("\r\n").encode("utf-8"),
        content_id=content_id or headers.get("content-id"),
    )


def match_responses(items: Sequence[BatchItem], decoded: Decoded) -> list[PartResponse | None]:
    """One response per operation (change sets flattened), ``None`` where none came back."""
    out: list[PartResponse | None] = []
    parts = list(decoded)
    for item in items:
        part = parts.pop(0) if parts else None
        if isinstance(item, ChangeSet):
            if part is None:
                out.extend([None] * len(item.operations))
            elif isinstance(part, PartResponse):
                # A failed change set answers with one part standing for all of it.
                out.extend([part] * len(item.operations))
            else:
                by_id = {p.content_id: p for p in part if p.content_id is not None}
                for i, op in enumerate(item.operations):
                    resp = by_id.get(op.content_id) if op.content_id is not None else None
                    if resp is None and i < len(part):
                        resp = part[i]
                    if resp is None and len(part) == 1 and not part[0].ok:
                        resp = part[0]
                    out.append(resp)
        else:
            if isinstance(part, list):
                out.append(part[0] if part else None)
            else:
                out.append(part)
    return out
