"""Web API versions v9.0, v9.1 and v9.2 on one service: every path answers under each, and
the URLs the service hands out use the version the request used.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/compose-http-requests-handle-errors
("Web API URL and versions": the version is part of the URL; v9.0, v9.1 and v9.2 are the
same service).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from crm_ferry.emulator.app import EmulatorApp
from crm_ferry.emulator.core import CoreConfig, Emulator
from crm_ferry.emulator.layers import API_VERSIONS, api_base, api_path, api_prefix
from helpers.definitions import table_body
from helpers.webapi import batch_body, batch_request, change_set, created_id

HOST = "https://contoso.crm.dynamics.com"
NS = "Microsoft.Dynamics.CRM."


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    em = Emulator(CoreConfig(custom_table_limit=None))
    yield em
    em.close()


@pytest.fixture(params=API_VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def client(emulator: Emulator, version: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=httpx.MockTransport(emulator.handle), base_url=f"{HOST}/api/data/{version}/"
    ) as c:
        yield c


def _root(version: str) -> str:
    return f"{HOST}/api/data/{version}/"


# ---------------------------------------------------------------------------------------
# The path helpers


@pytest.mark.parametrize(
    ("path", "split"),
    [
        ("/api/data/v9.2/accounts", ("v9.2", "accounts")),
        ("/api/data/v9.0/accounts(1)/name", ("v9.0", "accounts(1)/name")),
        ("/api/data/v9.1/", ("v9.1", "")),
        ("/api/data/v9.1", ("v9.1", "")),
        ("/api/data/v9.0/$batch", ("v9.0", "$batch")),
        ("/api/data/v9.3/accounts", None),
        ("/api/data/v8.2/accounts", None),
        ("/api/data/accounts", None),
        ("/api/data/V9.2/accounts", None),
        ("/tenant/oauth2/v2.0/token", None),
    ],
)
def test_api_path_splits_version_and_rest(path: str, split: tuple[str, str] | None) -> None:
    assert api_path(path) == split


def test_api_prefix_and_base_follow_the_request() -> None:
    assert api_prefix("/api/data/v9.0/accounts") == "/api/data/v9.0/"
    assert api_prefix("/somewhere/else") == "/api/data/v9.2/"
    request = httpx.Request("GET", "http://localhost:8080/api/data/v9.1/contacts")
    assert api_base(request) == "http://localhost:8080/api/data/v9.1/"


# ---------------------------------------------------------------------------------------
# Every version answers, in its own URLs


def test_the_service_document_and_metadata(client: httpx.Client, version: str) -> None:
    doc = client.get("")
    assert doc.status_code == 200
    assert doc.json()["@odata.context"] == f"{_root(version)}$metadata"
    assert client.get("$metadata").status_code == 200


def test_who_am_i(client: httpx.Client, version: str) -> None:
    response = client.get("WhoAmI")
    assert response.status_code == 200
    context = response.json()["@odata.context"]
    assert context == f"{_root(version)}$metadata#{NS}WhoAmIResponse"


def test_create_read_update_delete(client: httpx.Client, version: str) -> None:
    created = client.post("accounts", json={"name": f"Versioned {version}"})
    account_id = created_id(created)
    assert created.headers["OData-EntityId"] == f"{_root(version)}accounts({account_id})"
    read = client.get(f"accounts({account_id})", params={"$select": "name"})
    assert read.status_code == 200
    assert read.json()["@odata.context"] == f"{_root(version)}$metadata#accounts(name)/$entity"
    updated = client.patch(f"accounts({account_id})", json={"name": "Renamed"})
    assert updated.status_code == 204
    assert updated.headers["OData-EntityId"] == f"{_root(version)}accounts({account_id})"
    assert client.delete(f"accounts({account_id})").status_code == 204


def test_return_representation_and_next_link(client: httpx.Client, version: str) -> None:
    for n in range(3):
        made = client.post(
            "contacts",
            json={"lastname": f"Page{version}-{n}"},
            headers={"Prefer": "return=representation"},
        )
        assert made.status_code == 201
        assert made.json()["@odata.context"].startswith(f"{_root(version)}$metadata#contacts")
    page = client.get(
        "contacts",
        params={"$select": "lastname", "$filter": f"startswith(lastname,'Page{version}-')"},
        headers={"Prefer": "odata.maxpagesize=2"},
    )
    assert page.status_code == 200
    body = page.json()
    assert body["@odata.context"] == f"{_root(version)}$metadata#contacts(lastname)"
    next_link = body["@odata.nextLink"]
    assert next_link.startswith(f"{_root(version)}contacts?")
    rest = client.get(next_link, headers={"Prefer": "odata.maxpagesize=2"})
    assert rest.status_code == 200
    assert len(rest.json()["value"]) == 1


def test_create_multiple(client: httpx.Client, version: str) -> None:
    targets = [{"@odata.type": f"{NS}account", "name": f"Bulk {version} {n}"} for n in range(2)]
    response = client.post(f"accounts/{NS}CreateMultiple", json={"Targets": targets})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["@odata.context"] == f"{_root(version)}$metadata#{NS}CreateMultipleResponse"
    assert len(body["Ids"]) == 2


def test_metadata_definitions(client: httpx.Client, version: str) -> None:
    read = client.get("EntityDefinitions(LogicalName='account')", params={"$select": "LogicalName"})
    assert read.status_code == 200
    assert read.json()["@odata.context"].startswith(f"{_root(version)}$metadata#EntityDefinitions")
    schema_name = f"new_Thing{version.replace('.', '')}"
    table = table_body(schema_name, display="Thing", primary=f"{schema_name}Name")
    created = client.post("EntityDefinitions", json=table)
    assert created.status_code == 204, created.text
    assert created.headers["OData-EntityId"].startswith(f"{_root(version)}EntityDefinitions(")


def test_batch_answers_in_the_batch_version(client: httpx.Client, version: str) -> None:
    part = change_set(
        batch_request("POST", "accounts", '{"name":"In a batch"}', "1"),
        batch_request("PATCH", "$1", '{"name":"Renamed in a batch"}', "2"),
        boundary="changeset_v",
    )
    content_type, body = batch_body(part, boundary="batch_v")
    response = client.post("$batch", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 200, response.text
    locations = re.findall(r"Location: (\S+)", response.text)
    entity_ids = re.findall(r"OData-EntityId: (\S+)", response.text)
    assert locations
    assert entity_ids
    for url in locations + entity_ids:
        assert url.startswith(f"{_root(version)}accounts("), url


def test_a_bind_names_a_record_in_any_version(client: httpx.Client, version: str) -> None:
    contact = created_id(client.post("contacts", json={"lastname": "Bound"}))
    for other in API_VERSIONS:
        for ref in (f"/api/data/{other}/contacts({contact})", f"{_root(other)}contacts({contact})"):
            made = client.post(
                "accounts", json={"name": "Bind", "primarycontactid@odata.bind": ref}
            )
            account = created_id(made)
            read = client.get(
                f"accounts({account})", params={"$select": "_primarycontactid_value"}
            ).json()
            assert read["_primarycontactid_value"] == contact


# ---------------------------------------------------------------------------------------
# Other versions


@pytest.mark.parametrize(
    "path", ["/api/data/v9.3/accounts", "/api/data/v8.2/WhoAmI", "/api/data/v9/", "/api/data/"]
)
def test_an_unknown_version_is_not_found(emulator: Emulator, path: str) -> None:
    with httpx.Client(transport=httpx.MockTransport(emulator.handle), base_url=HOST) as c:
        response = c.get(path)
    assert response.status_code == 404
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == "0x80060888"
    assert "Resource not found" in error["message"]


def test_the_served_app_signs_in_every_version(sign_in_token: Callable[..., str]) -> None:
    with EmulatorApp() as app, httpx.Client(transport=app.transport()) as raw:
        token = sign_in_token(raw, app)
        for version in API_VERSIONS:
            url = f"{app.base_url}/api/data/{version}/WhoAmI"
            assert raw.get(url).status_code == 401  # no token, whatever the version
            signed = raw.get(url, headers={"Authorization": f"Bearer {token}"})
            assert signed.status_code == 200
            assert f"/api/data/{version}/$metadata#" in signed.json()["@odata.context"]
