"""Drive items: folders, path-based addressing, children, delete, names SharePoint refuses."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from helpers.graph import folder


@pytest.fixture
def d(drive: dict[str, Any]) -> str:
    return str(drive["id"])


def test_a_folder_and_its_shape(graph: httpx.Client, d: str) -> None:
    made = folder(graph, d, "contact")
    assert made["folder"] == {"childCount": 0}
    assert "cTag" not in made  # not on SharePoint folders
    assert made["eTag"].startswith('"{')
    assert made["eTag"].endswith('},1"')
    ref = made["parentReference"]
    assert ref["driveId"] == d
    assert ref["driveType"] == "documentLibrary"
    assert ref["path"] == f"/drives/{d}/root:"
    inner = folder(graph, d, "Ada Lovelace_0A1B", parent=made["id"])
    assert inner["parentReference"]["path"] == f"/drives/{d}/root:/contact"
    assert inner["webUrl"].endswith("/Shared%20Documents/contact/Ada%20Lovelace_0A1B")


def test_items_by_id_and_by_path(graph: httpx.Client, d: str) -> None:
    top = folder(graph, d, "Folder A")
    inner = folder(graph, d, "B#1", parent=top["id"])
    for path in (
        f"drives/{d}/root:/Folder%20A/B%231",
        f"drives/{d}/root:/Folder%20A/B%231:",
        f"drives/{d}/items/{top['id']}:/B%231:",
        f"drives/{d}/items/{inner['id']}",
    ):
        got = graph.get(path)
        assert got.status_code == 200, path
        assert got.json()["id"] == inner["id"]
    children = graph.get(f"drives/{d}/root:/Folder%20A:/children").json()["value"]
    assert [c["name"] for c in children] == ["B#1"]
    root = graph.get(f"drives/{d}/root").json()
    assert root["root"] == {}
    assert root["folder"]["childCount"] == 1
    assert graph.get(f"drives/{d}/root:").json()["id"] == root["id"]
    assert graph.get(f"drives/{d}/root:/Folder%20A/missing").status_code == 404


def test_names_are_compared_without_case(graph: httpx.Client, d: str) -> None:
    made = folder(graph, d, "Contact")
    assert graph.get(f"drives/{d}/root:/CONTACT").json()["id"] == made["id"]
    again = graph.post(f"drives/{d}/root/children", json={"name": "contact", "folder": {}})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "nameAlreadyExists"


def test_conflict_behaviours_of_a_new_folder(graph: httpx.Client, d: str) -> None:
    first = folder(graph, d, "New Folder")
    renamed = graph.post(
        f"drives/{d}/root/children",
        json={"name": "New Folder", "folder": {}, "@microsoft.graph.conflictBehavior": "rename"},
    )
    assert renamed.status_code == 201
    assert renamed.json()["name"] == "New Folder 1"
    folder(graph, d, "kept", parent=first["id"])
    replaced = graph.post(
        f"drives/{d}/root/children",
        json={"name": "New Folder", "folder": {}, "@microsoft.graph.conflictBehavior": "replace"},
    )
    assert replaced.status_code == 201
    assert replaced.json()["id"] != first["id"]
    assert replaced.json()["folder"]["childCount"] == 0
    bad = graph.post(
        f"drives/{d}/root/children",
        json={"name": "x", "folder": {}, "@microsoft.graph.conflictBehavior": "overwrite"},
    )
    assert bad.status_code == 400


def test_children_page_and_select(graph: httpx.Client, d: str) -> None:
    for n in range(5):
        folder(graph, d, f"f{n}")
    first = graph.get(f"drives/{d}/root/children?$top=2&$select=id,name")
    assert first.status_code == 200
    body = first.json()
    assert [c["name"] for c in body["value"]] == ["f0", "f1"]
    assert all(set(c) == {"id", "name"} for c in body["value"])
    names = [c["name"] for c in body["value"]]
    link = body.get("@odata.nextLink")
    while link:
        page = graph.get(link).json()
        names += [c["name"] for c in page["value"]]
        assert all(set(c) == {"id", "name"} for c in page["value"])
        link = page.get("@odata.nextLink")
    assert names == [f"f{n}" for n in range(5)]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("$expand=children", 501),
        ("$filter=name eq 'a'", 501),
        ("$orderby=name", 501),
        ("$search=a", 501),
        ("includeDeletedItems=true", 501),
        ("$top=0", 400),
        ("$skiptoken=%%%", 400),
    ],
)
def test_children_query_options_are_honoured_or_refused(
    graph: httpx.Client, d: str, query: str, status: int
) -> None:
    got = graph.get(f"drives/{d}/root/children?{query}")
    assert got.status_code == status, got.text


def test_delete_a_folder_with_what_is_in_it(graph: httpx.Client, d: str) -> None:
    top = folder(graph, d, "contact")
    inner = folder(graph, d, "record", parent=top["id"])
    put = graph.put(f"drives/{d}/items/{inner['id']}:/a.txt:/content", content=b"abc")
    assert put.status_code == 201
    assert graph.delete(f"drives/{d}/items/{top['id']}").status_code == 204
    assert graph.get(f"drives/{d}/items/{inner['id']}").status_code == 404
    again = graph.delete(f"drives/{d}/items/{top['id']}")
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "itemNotFound"
    root = graph.get(f"drives/{d}/root").json()["id"]
    assert graph.delete(f"drives/{d}/items/{root}").status_code == 403


def test_if_match_and_if_none_match(graph: httpx.Client, d: str) -> None:
    made = folder(graph, d, "tagged")
    same = graph.get(f"drives/{d}/items/{made['id']}", headers={"If-None-Match": made["eTag"]})
    assert same.status_code == 304
    stale = graph.delete(f"drives/{d}/items/{made['id']}", headers={"If-Match": '"{X},9"'})
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "resourceModified"
    ok = graph.delete(f"drives/{d}/items/{made['id']}", headers={"If-Match": made["eTag"]})
    assert ok.status_code == 204


@pytest.mark.parametrize(
    "name",
    [
        'a"b',
        "a*b",
        "a:b",
        "a<b",
        "a>b",
        "a?b",
        "a\\b",
        "a|b",
        " lead",
        "trail ",
        ".lock",
        "CON",
        "prn",
        "aux",
        "NUL",
        "COM0",
        "com9",
        "LPT0",
        "lpt9",
        "desktop.ini",
        "my_vti_folder",
        "~$temp",
        "~tilde",
    ],
)
def test_names_sharepoint_refuses(graph: httpx.Client, d: str, name: str) -> None:
    got = graph.post(f"drives/{d}/root/children", json={"name": name, "folder": {}})
    assert got.status_code == 400, name
    error = got.json()["error"]
    assert error["code"] == "invalidRequest"
    assert error["innerError"]["code"] == "invalidPath"


def test_forms_only_at_the_root_and_a_slash_in_a_path_name(graph: httpx.Client, d: str) -> None:
    refused = graph.post(f"drives/{d}/root/children", json={"name": "Forms", "folder": {}})
    assert refused.status_code == 400
    top = folder(graph, d, "contact")
    assert (
        graph.post(
            f"drives/{d}/items/{top['id']}/children", json={"name": "forms", "folder": {}}
        ).status_code
        == 201
    )
    encoded = graph.put(f"drives/{d}/root:/contact/a%2Fb.txt:/content", content=b"x")
    assert encoded.status_code == 400
    assert encoded.json()["error"]["innerError"]["code"] == "invalidPath"


def test_the_path_length_limit(graph: httpx.Client, d: str) -> None:
    # "sites/crm/Shared Documents/" is 27 characters; a name of 373 makes 400
    fits = graph.put(f"drives/{d}/root:/{'a' * 369}.txt:/content", content=b"x")
    assert fits.status_code == 201, fits.text
    over = graph.put(f"drives/{d}/root:/{'b' * 370}.txt:/content", content=b"x")
    assert over.status_code == 400
    assert over.json()["error"]["innerError"]["code"] == "pathIsTooLong"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", "items/{id}"),
        ("GET", "items/{id}/versions"),
        ("GET", "items/{id}/thumbnails"),
        ("POST", "items/{id}/copy"),
        ("GET", "root/delta"),
        ("GET", "special/documents"),
        ("GET", "recent"),
    ],
)
def test_item_operations_the_emulator_does_not_do(
    graph: httpx.Client, d: str, method: str, path: str
) -> None:
    made = folder(graph, d, "x")
    got = graph.request(method, f"drives/{d}/{path.format(id=made['id'])}", json={})
    assert got.status_code == 501, got.text
    assert got.json()["error"]["message"].endswith("is not implemented by the emulator")


def test_creating_a_file_through_children_is_refused(graph: httpx.Client, d: str) -> None:
    got = graph.post(f"drives/{d}/root/children", json={"name": "a.txt", "file": {}})
    assert got.status_code == 501
    unknown = graph.post(
        f"drives/{d}/root/children", json={"name": "a", "folder": {}, "description": "d"}
    )
    assert unknown.status_code == 501
