"""Sites, drives and document libraries on the emulator's Graph endpoint."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from helpers.graph import SITE_PATH


def test_the_default_site_by_path_and_by_id(graph: httpx.Client, site: dict[str, Any]) -> None:
    assert site["webUrl"] == "https://crmferry.sharepoint.com/sites/crm"
    host, collection, web = site["id"].split(",")
    assert host == "crmferry.sharepoint.com"
    assert len(collection) == len(web) == 36
    again = graph.get(f"sites/{site['id']}")
    assert again.status_code == 200
    assert again.json() == site | {"@odata.context": again.json()["@odata.context"]}
    # with the closing colon, and then a relationship
    drives = graph.get(f"{SITE_PATH}:/drives")
    assert drives.status_code == 200
    assert [d["name"] for d in drives.json()["value"]] == ["Documents"]


def test_path_and_host_are_compared_without_case(graph: httpx.Client, site: dict[str, Any]) -> None:
    got = graph.get("sites/CRMFERRY.sharepoint.com:/Sites/CRM")
    assert got.status_code == 200
    assert got.json()["id"] == site["id"]


def test_an_unknown_site_is_404(graph: httpx.Client) -> None:
    got = graph.get("sites/crmferry.sharepoint.com:/sites/nope")
    assert got.status_code == 404
    assert got.json()["error"]["code"] == "itemNotFound"


@pytest.mark.parametrize("path", ["sites/root", "sites/crmferry.sharepoint.com"])
def test_the_tenant_root_site_is_refused(graph: httpx.Client, path: str) -> None:
    got = graph.get(path)
    assert got.status_code == 501
    error = got.json()["error"]
    assert error["code"] == "notSupported"
    assert "root site" in error["message"]
    assert "not implemented by the emulator" in error["message"]


def test_the_default_drive(
    graph: httpx.Client, site: dict[str, Any], drive: dict[str, Any]
) -> None:
    assert drive["driveType"] == "documentLibrary"
    assert drive["name"] == "Documents"
    assert drive["webUrl"] == "https://crmferry.sharepoint.com/sites/crm/Shared%20Documents"
    assert drive["id"].startswith("b!")
    assert set(drive["quota"]) == {"deleted", "remaining", "state", "total", "used"}
    by_id = graph.get(f"drives/{drive['id']}?$select=id,name")
    assert by_id.status_code == 200
    assert {k for k in by_id.json() if not k.startswith("@")} == {"id", "name"}


def test_a_new_document_library_and_its_drive(graph: httpx.Client, site: dict[str, Any]) -> None:
    made = graph.post(
        f"sites/{site['id']}/lists",
        json={"displayName": "contact", "list": {"template": "documentLibrary"}},
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["displayName"] == "contact"
    assert body["list"]["template"] == "documentLibrary"
    drive = graph.get(f"sites/{site['id']}/lists/{body['id']}/drive")
    assert drive.status_code == 200
    assert drive.json()["name"] == "contact"
    names = [d["name"] for d in graph.get(f"sites/{site['id']}/drives").json()["value"]]
    assert names == ["contact", "Documents"]
    listed = graph.get(f"sites/{site['id']}/lists").json()["value"]
    assert {entry["displayName"] for entry in listed} == {"contact", "Documents"}
    twice = graph.post(
        f"sites/{site['id']}/lists",
        json={"displayName": "Contact", "list": {"template": "documentLibrary"}},
    )
    assert twice.status_code == 409
    assert twice.json()["error"]["code"] == "nameAlreadyExists"


@pytest.mark.parametrize(
    ("body", "feature"),
    [
        ({"displayName": "Books", "list": {"template": "genericList"}}, "genericList"),
        ({"displayName": "Books"}, "genericList"),
        (
            {
                "displayName": "Books",
                "list": {"template": "documentLibrary"},
                "columns": [{"name": "Author", "text": {}}],
            },
            "Columns",
        ),
        ({"displayName": "Books", "list": {"template": "documentLibrary"}, "x": 1}, "'x'"),
    ],
)
def test_lists_the_emulator_does_not_make_are_refused(
    graph: httpx.Client, site: dict[str, Any], body: dict[str, Any], feature: str
) -> None:
    got = graph.post(f"sites/{site['id']}/lists", json=body)
    assert got.status_code == 501
    assert feature in got.json()["error"]["message"]


def test_drives_page_with_top(graph: httpx.Client, site: dict[str, Any]) -> None:
    for name in ("a", "b", "c"):
        graph.post(
            f"sites/{site['id']}/lists",
            json={"displayName": name, "list": {"template": "documentLibrary"}},
        )
    first = graph.get(f"sites/{site['id']}/drives?$top=2").json()
    assert [d["name"] for d in first["value"]] == ["a", "b"]
    second = graph.get(first["@odata.nextLink"]).json()
    assert [d["name"] for d in second["value"]] == ["c", "Documents"]
    assert "@odata.nextLink" not in second


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("me/drive", "/v1.0/me"),
        ("users/x/drive", "/v1.0/users"),
        ("groups/x/drive", "/v1.0/groups"),
        ("shares/x/driveItem", "/v1.0/shares"),
    ],
)
def test_other_graph_resources_are_refused(graph: httpx.Client, path: str, named: str) -> None:
    got = graph.get(path)
    assert got.status_code == 501
    assert got.json()["error"]["message"] == f"{named} is not implemented by the emulator"


def test_query_options_are_honoured_or_refused(graph: httpx.Client, site: dict[str, Any]) -> None:
    assert graph.get(f"sites/{site['id']}/drives?$expand=root").status_code == 501
    assert graph.get(f"sites/{site['id']}/drives?$orderby=name").status_code == 501
    assert graph.get(f"sites/{site['id']}?includeThis=1").status_code == 501
    bad = graph.get(f"sites/{site['id']}?$nope=1")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalidRequest"
    unknown = graph.get(f"sites/{site['id']}?$select=nosuch")
    assert unknown.status_code == 400
