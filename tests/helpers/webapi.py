"""Small helpers for raw Web API tests: the id a create answers, the query examples' tasks,
``$batch`` requests built and answers read, FetchXML queries."""

from __future__ import annotations

import email
import email.message
import email.policy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx


def created_id(response: httpx.Response) -> str:
    """The id in a create's ``OData-EntityId`` header (``…/accounts(<id>)``)."""
    assert response.status_code == 204, response.text
    url = response.headers["OData-EntityId"]
    return url[url.rindex("(") + 1 : -1]


def tasks(api: httpx.Client, table: str, row_id: str, about: str, count: int) -> list[str]:
    """The query examples' tasks (phone calls here): ``count`` phone calls "Task <n> for
    <about>" regarding the row ``row_id`` of ``table`` (``account`` or ``contact``); their
    ids."""
    bind = f"regardingobjectid_{table}_phonecall@odata.bind"
    return [
        created_id(
            api.post(
                "phonecalls",
                json={"subject": f"Task {n} for {about}", bind: f"/{table}s({row_id})"},
            )
        )
        for n in range(1, count + 1)
    ]


def get_json(api: httpx.Client, path: str) -> dict[str, Any]:
    """The JSON body of ``GET <path>``, answered ``200`` as OData JSON (minimal metadata,
    ``OData-Version: 4.0``)."""
    response = api.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json; odata.metadata=minimal")
    assert response.headers["OData-Version"] == "4.0"
    body: dict[str, Any] = response.json()
    return body


def pages(api: httpx.Client, url: str, size: int) -> Iterator[dict[str, Any]]:
    """The pages of ``GET <url>`` with ``Prefer: odata.maxpagesize=<size>``, following each
    ``@odata.nextLink``; every page answered ``200`` with the preference applied."""
    prefer = f"odata.maxpagesize={size}"
    link: str | None = url
    while link:
        response = api.get(link, headers={"Prefer": prefer})
        assert response.status_code == 200, response.text
        assert response.headers["Preference-Applied"] == prefer
        body: dict[str, Any] = response.json()
        yield body
        link = body.get("@odata.nextLink")


def batch_body(*parts: str, boundary: str = "batch_x") -> tuple[str, bytes]:
    """A ``$batch`` request of ``parts`` (:func:`batch_request`, :func:`change_set`): its
    ``Content-Type`` and its body."""
    text = "".join(f"--{boundary}\r\n{p}" for p in parts) + f"--{boundary}--\r\n"
    return f"multipart/mixed; boundary={boundary}", text.encode()


def batch_request(
    method: str,
    url: str,
    body: str = "",
    content_id: str | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> str:
    """One request of a ``$batch`` body (an ``application/http`` part); its ``headers`` are
    ``Content-Type: application/json`` unless given."""
    cid = f"Content-ID: {content_id}\r\n" if content_id else ""
    sent = {"Content-Type": "application/json"} if headers is None else headers
    lines = "".join(f"{name}: {value}\r\n" for name, value in sent.items())
    return (
        "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
        f"{cid}\r\n{method} {url} HTTP/1.1\r\n{lines}\r\n{body}\r\n"
    )


def change_set(*requests: str, boundary: str = "changeset_y") -> str:
    """A change set of ``requests`` (:func:`batch_request`), as one part of a ``$batch``."""
    inner = "".join(f"--{boundary}\r\n{r}" for r in requests) + f"--{boundary}--\r\n"
    return f"Content-Type: multipart/mixed; boundary={boundary}\r\n\r\n{inner}"


@dataclass(frozen=True)
class Part:
    """One response of a ``$batch`` answer: status line, headers, body, and its Content-ID."""

    status: int
    headers: dict[str, str]
    body: bytes
    content_id: str | None
    in_changeset: bool

    def json(self) -> Any:
        return json.loads(self.body)


def batch_parts(response: httpx.Response) -> list[Part]:
    """The responses of a ``$batch`` answer, in order, read with the standard library's MIME
    parser (not the client's own), change sets flattened."""
    head = f"Content-Type: {response.headers['Content-Type']}\r\n\r\n".encode()
    message = email.message_from_bytes(head + response.content, policy=email.policy.HTTP)
    parts: list[Part] = []
    for outer in message.iter_parts():
        inner = list(outer.iter_parts()) if outer.is_multipart() else [outer]
        for item in inner:
            parts.append(_part(item, in_changeset=outer.is_multipart()))
    return parts


def _part(item: email.message.Message, *, in_changeset: bool) -> Part:
    payload = item.get_payload(decode=True)
    raw = payload if isinstance(payload, bytes) else str(item.get_payload()).encode()
    head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    lines = head.decode().split("\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    content_id = item.get("Content-ID")
    return Part(status, headers, body.strip(), content_id, in_changeset)


def fetch_xml(
    api: httpx.Client, entity_set: str, fetch: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    """``GET <entity_set>?fetchXml=<fetch, URL-encoded>`` (Use FetchXml with Web API)."""
    return api.get(f"{entity_set}?fetchXml={quote(fetch)}", headers=headers or {})
