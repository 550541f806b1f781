"""Small helpers for raw Web API tests (the documented examples under tests/emulator/docs)."""

from __future__ import annotations

import httpx


def created_id(response: httpx.Response) -> str:
    """The id in a create's ``OData-EntityId`` header (``…/accounts(<id>)``)."""
    assert response.status_code == 204, response.text
    url = response.headers["OData-EntityId"]
    return url[url.rindex("(") + 1 : -1]
