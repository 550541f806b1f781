"""Small helpers for raw Web API tests (the documented examples under tests/emulator/docs)."""

from __future__ import annotations

from urllib.parse import quote

import httpx


def created_id(response: httpx.Response) -> str:
    """The id in a create's ``OData-EntityId`` header (``…/accounts(<id>)``)."""
    assert response.status_code == 204, response.text
    url = response.headers["OData-EntityId"]
    return url[url.rindex("(") + 1 : -1]


def fetch_xml(
    api: httpx.Client, entity_set: str, fetch: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    """``GET <entity_set>?fetchXml=<fetch, URL-encoded>`` (Use FetchXml with Web API)."""
    return api.get(f"{entity_set}?fetchXml={quote(fetch)}", headers=headers or {})
