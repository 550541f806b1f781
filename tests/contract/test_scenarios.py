"""Raw-HTTP scenarios that must hold on the emulator and on a real Dataverse tenant alike.

Each scenario is a plain test over the ``target`` fixture (see conftest.py); add one by
writing another function. Every scenario cleans up what it creates, so it is safe to run
against a real environment.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx

API_PATH = "/api/data/v9.2"


def test_token(target: Any) -> None:
    # https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow
    response = target.token_response()
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert isinstance(body["expires_in"], int)
    assert body["expires_in"] > 0
    assert "ext_expires_in" in body
    assert body["access_token"]


def test_who_am_i(target: Any) -> None:
    # https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/whoami
    with target.api() as api:
        response = api.get("WhoAmI")
    assert response.status_code == 200, response.text
    body = response.json()
    for key in ("BusinessUnitId", "UserId", "OrganizationId"):
        assert uuid.UUID(body[key])
    # https://learn.microsoft.com/power-apps/developer/data-platform/send-parallel-requests
    assert response.headers["x-ms-dop-hint"].isdigit()


def test_create_only_upsert_read_delete_contact(target: Any) -> None:
    # https://learn.microsoft.com/power-apps/developer/data-platform/webapi/perform-conditional-operations-using-web-api
    contact_id = str(uuid.uuid4())
    lastname = f"crm-ferry-contract-{contact_id[:8]}"
    with target.api() as api:
        created = api.patch(
            f"contacts({contact_id})",
            json={"firstname": "Ada", "lastname": lastname},
            headers={"If-None-Match": "*"},
        )
        try:
            assert created.status_code == 204, created.text
            assert created.headers["OData-EntityId"].endswith(f"contacts({contact_id})")
            again = api.patch(
                f"contacts({contact_id})",
                json={"firstname": "Ada", "lastname": lastname},
                headers={"If-None-Match": "*"},
            )
            assert again.status_code == 412, again.text
            assert again.json()["error"]["message"]
            read = api.get(f"contacts({contact_id})", params={"$select": "firstname,lastname"})
            assert read.status_code == 200, read.text
            row = read.json()
            assert (row["firstname"], row["lastname"]) == ("Ada", lastname)
            assert row["contactid"] == contact_id
            assert row["@odata.etag"].startswith('W/"')
        finally:
            deleted = api.delete(f"contacts({contact_id})")
        assert deleted.status_code == 204, deleted.text
        gone = api.get(f"contacts({contact_id})")
    assert gone.status_code == 404


def test_missing_record_is_a_404(target: Any) -> None:
    # https://learn.microsoft.com/power-apps/developer/data-platform/webapi/compose-http-requests-handle-errors
    missing = str(uuid.uuid4())
    with target.api() as api:
        response = api.get(f"contacts({missing})")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "0x80040217"
    assert missing in error["message"]
    assert "Does Not Exist" in error["message"]


def test_batch_continue_on_error_answers_every_part(target: Any) -> None:
    # https://learn.microsoft.com/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api
    lastname = f"crm-ferry-contract-{uuid.uuid4().hex[:8]}"
    body, boundary = _batch(
        [
            ("POST", "contacts", {"lastname": lastname, "crmferry_nosuchcolumn": 1}),
            ("POST", "contacts", {"lastname": lastname}),
        ]
    )
    with target.api() as api:
        response = api.post(
            "$batch",
            content=body,
            headers={
                "Content-Type": f'multipart/mixed; boundary="{boundary}"',
                "Prefer": "odata.continue-on-error",
            },
        )
        parts = _parts(response)
        for _, headers, _ in parts:
            if "odata-entityid" in headers:
                api.delete(headers["odata-entityid"].rsplit("/", 1)[1])
    assert response.status_code == 200, response.text
    assert [status for status, _, _ in parts] == [400, 204]
    assert json.loads(parts[0][2])["error"]["message"]


# -- multipart helpers (raw, so the scenario does not trust any client) ---------------------


def _batch(requests: list[tuple[str, str, object]]) -> tuple[bytes, str]:
    boundary = f"batch_{uuid.uuid4().hex}"
    lines: list[str] = []
    for method, url, payload in requests:
        lines += [
            f"--{boundary}",
            "Content-Type: application/http",
            "Content-Transfer-Encoding: binary",
            "",
            f"{method} {API_PATH}/{url} HTTP/1.1",
            "Content-Type: application/json; type=entry",
            "",
            json.dumps(payload),
        ]
    lines += [f"--{boundary}--", ""]
    return "\r\n".join(lines).encode(), boundary


def _parts(response: httpx.Response) -> list[tuple[int, dict[str, str], str]]:
    """(status, lower-cased headers, body) of each inner response of a batch response."""
    match = re.search(r'boundary="?([^";]+)"?', response.headers.get("Content-Type", ""))
    if match is None:
        return []
    out = []
    for chunk in response.text.split(f"--{match.group(1)}")[1:]:
        if chunk.startswith("--"):
            break
        http = chunk.replace("\r\n", "\n").split("\n\n", 1)[1]
        head, _, body = http.partition("\n\n")
        status_line, *header_lines = head.split("\n")
        headers = {
            k.strip().lower(): v.strip()
            for k, _, v in (h.partition(":") for h in header_lines if ":" in h)
        }
        out.append((int(status_line.split()[1]), headers, body.strip()))
    return out
