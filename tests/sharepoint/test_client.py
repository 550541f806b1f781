"""The SharePoint client's sites, libraries, folders, children, deletes, errors and tokens,
against the emulator's Graph endpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_ferry.dataverse.auth import MsalCredential
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.dataverse.errors import AuthError
from crm_ferry.emulator.app import EmulatorApp
from crm_ferry.emulator.graph.names import name_problem
from crm_ferry.sharepoint import (
    GRAPH_SCOPE,
    GraphAuthError,
    GraphConflict,
    GraphNotFound,
    GraphRejected,
    SharePointClient,
    encode_path,
    safe_name,
)
from helpers.sharepoint import GraphToken, Recorder, make_file

SITE = "https://crmferry.sharepoint.com/sites/crm"


def test_site_and_libraries(client: SharePointClient) -> None:
    site = client.site(SITE)
    assert site.web_url == SITE
    assert [d.name for d in client.drives(site)] == ["Documents"]
    made, created = client.ensure_library(site, "contact")
    assert created
    again, created_again = client.ensure_library(site, "Contact")
    assert (again.id, created_again) == (made.id, False)
    assert client.drive(site, "nope") is None


def test_a_library_made_meanwhile_is_taken(
    client: SharePointClient, app: EmulatorApp, recorder: Recorder
) -> None:
    site = client.site(SITE)

    def race(request: httpx.Request) -> None:
        if request.method == "POST" and request.url.path.endswith("/lists"):
            recorder.before = None
            app.graph.state.create_library(app.graph.state.site_by_id(site.id), "account")

    recorder.before = race
    drive, created = client.ensure_library(site, "account")
    assert not created
    assert drive.name == "account"


def test_ensure_folder_makes_what_is_missing(client: SharePointClient, recorder: Recorder) -> None:
    site = client.site(SITE)
    drive, _ = client.ensure_library(site, "contact")
    folder = client.ensure_folder(drive, "a/b c/d#1")
    assert folder.folder
    assert folder.name == "d#1"
    found = client.item_by_path(drive, "a/b c/d#1")
    assert found is not None
    assert found.id == folder.id
    posts = sum(1 for m, p in recorder.requests if m == "POST" and p.endswith("/children"))
    assert posts == 3
    assert client.ensure_folder(drive, ["a", "b c", "d#1"]).id == folder.id
    assert sum(1 for m, p in recorder.requests if m == "POST" and p.endswith("/children")) == 3


def test_a_folder_made_meanwhile_is_taken(
    client: SharePointClient, app: EmulatorApp, recorder: Recorder
) -> None:
    site = client.site(SITE)
    drive, _ = client.ensure_library(site, "contact")
    other = SharePointClient(GraphToken(app), transport=app.transport())

    def race(request: httpx.Request) -> None:
        if request.method == "POST" and request.url.path.endswith("/children"):
            recorder.before = None
            other.ensure_folder(drive, "shared")  # another worker, first

    recorder.before = race
    made = client.ensure_folder(drive, "shared")
    assert made.name == "shared"
    assert [i.name for i in client.children(client.root(drive))] == ["shared"]
    other.close()


def test_a_file_where_a_folder_should_be(client: SharePointClient, tmp_path: Path) -> None:
    site = client.site(SITE)
    drive, _ = client.ensure_library(site, "contact")
    root = client.root(drive)
    client.upload(drive, root, "x", make_file(tmp_path, 3), 3)
    with pytest.raises(GraphConflict, match="is a file, not a folder"):
        client.ensure_folder(drive, "x/y")


def test_children_page_after_page_and_delete(client: SharePointClient, tmp_path: Path) -> None:
    site = client.site(SITE)
    drive, _ = client.ensure_library(site, "contact")
    folder = client.ensure_folder(drive, "record")
    for n in range(5):
        client.upload(drive, folder, f"f{n}.txt", make_file(tmp_path, n, seed=n), n)
    names = [i.name for i in client.children(folder, page_size=2)]
    assert names == [f"f{n}.txt" for n in range(5)]
    item = client.item_by_path(drive, "record/f3.txt")
    assert item is not None
    assert item.size == 3
    assert item.quick_xor_hash
    assert client.delete(item)
    assert not client.delete(item)  # already gone
    assert client.item_by_path(drive, "record/f3.txt") is None
    assert client.delete(folder)
    assert client.item_by_path(drive, "record") is None


def test_errors_say_what_failed_and_what_to_do(client: SharePointClient) -> None:
    with pytest.raises(GraphNotFound) as caught:
        client.site("https://crmferry.sharepoint.com/sites/elsewhere")
    error = caught.value
    assert error.status == 404
    assert error.code == "itemNotFound"
    assert "find the SharePoint site https://crmferry.sharepoint.com/sites/elsewhere" in str(error)
    assert error.hint is not None
    assert "[sharepoint] site" in error.hint
    assert not error.transient
    with pytest.raises(GraphRejected, match="not a SharePoint site URL"):
        client.site("crmferry.sharepoint.com/sites/crm")


def test_names_the_service_refuses_are_refused(client: SharePointClient, tmp_path: Path) -> None:
    site = client.site(SITE)
    drive, _ = client.ensure_library(site, "contact")
    root = client.root(drive)
    with pytest.raises(GraphRejected) as caught:
        client.upload(drive, root, "a:b?.pdf", make_file(tmp_path, 3), 3)
    assert caught.value.status == 400
    assert caught.value.inner_code == "invalidPath"
    safe = safe_name("a:b?.pdf")
    assert client.upload(drive, root, safe, make_file(tmp_path, 3), 3).name == "a_b_.pdf"


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ('a"b*c:d<e>f?g/h\\i|j', "a_b_c_d_e_f_g_h_i_j"),
        ("  spaced  ", "spaced"),
        ("CON", "CON_"),
        ("con.txt", "con_.txt"),
        ("LPT9.doc", "LPT9_.doc"),
        (".lock", "_.lock"),
        ("desktop.ini", "_desktop.ini"),
        ("a_vti_b", "a-vti-b"),
        ("~$report.docx", "_$report.docx"),
        ("tab\there", "tab_here"),
        ("", "_"),
        ("fine name (1).pdf", "fine name (1).pdf"),
    ],
)
def test_safe_names(text: str, safe: str) -> None:
    assert safe_name(text) == safe


def test_safe_folder_names() -> None:
    assert safe_name("Ends with dots...", folder=True) == "Ends with dots"
    assert safe_name("forms", folder=True, at_root=True) == "forms_"
    assert safe_name("forms", folder=True) == "forms"
    assert safe_name("~folder", folder=True) == "_folder"
    assert safe_name("a" * 300 + ".pdf", max_length=100) == "a" * 95 + ".pdf"


@given(st.text(max_size=60), st.booleans(), st.booleans())
def test_every_safe_name_is_one_the_emulator_takes(text: str, folder: bool, root: bool) -> None:
    name = safe_name(text, folder=folder, at_root=root)
    assert name_problem(name, folder=folder, at_root=root) is None
    assert safe_name(name, folder=folder, at_root=root) == name


def test_encode_path() -> None:
    assert encode_path("Folder A/File #1.pdf") == "Folder%20A/File%20%231.pdf"
    assert encode_path(["50% off", "a&b"]) == "50%25%20off/a%26b"


def test_a_dataverse_token_is_refused_by_graph(app: EmulatorApp, make_client: Any) -> None:
    dataverse = GraphToken(app, scope=app.scope)
    client = make_client(credential=dataverse)
    with pytest.raises(GraphAuthError) as caught:
        client.site(SITE)
    assert caught.value.code == "InvalidAuthenticationToken"
    assert caught.value.hint is not None
    assert "https://graph.microsoft.com/.default" in caught.value.hint
    assert dataverse.issued == 2  # one fresh token was tried before giving up


def test_a_graph_token_is_refused_by_dataverse(app: EmulatorApp) -> None:
    with (
        DataverseClient(app.base_url, GraphToken(app), transport=app.transport()) as client,
        pytest.raises(AuthError) as caught,
    ):
        client.who_am_i()
    assert caught.value.status == 401


def test_the_msal_credential_signs_in_to_graph(app: EmulatorApp) -> None:
    client_id, secret = app.default_client
    credential = MsalCredential.client_secret(
        environment_url=app.base_url,
        client_id=client_id,
        secret=secret,
        tenant=app.tenant,
        authority=app.base_url,
        http=httpx.Client(transport=app.transport()),
        scope=GRAPH_SCOPE,
    )
    dataverse = MsalCredential.client_secret(
        environment_url=app.base_url,
        client_id=client_id,
        secret=secret,
        tenant=app.tenant,
        authority=app.base_url,
        http=httpx.Client(transport=app.transport()),
    )
    try:
        with SharePointClient(credential, transport=app.transport()) as client:
            assert client.site(SITE).web_url == SITE
        with SharePointClient(
            dataverse.with_scope(GRAPH_SCOPE), transport=app.transport()
        ) as client:
            assert client.site(SITE).web_url == SITE
        assert repr(dataverse.with_scope(GRAPH_SCOPE)).endswith(f"scope='{GRAPH_SCOPE}')")
    finally:
        credential.close()
        dataverse.close()
