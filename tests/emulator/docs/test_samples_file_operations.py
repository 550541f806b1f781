"""Sample: File Operations using Dataverse Web API, replayed against a fresh tenant.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/samples/file-operations
(page read at MicrosoftDocs/powerapps-docs commit 08baa6373fbe5916565ad4c4b05922c43c9a6e1d),
with the requests of its three projects (microsoft/PowerApps-Samples,
``dataverse/webapi/C#-NETx/FileOperations``: FileOperationsWithActions, FileOperationsWithChunks
and FileOperationsWithStream, and their ``Utility.cs``) as the Web API article they follow shows
them (https://learn.microsoft.com/power-apps/developer/data-platform/file-column-data).

Adapted: the column is ``new_FileColumn`` (the fresh tenant's publisher prefix is ``new``); the
sample's 25 MB PDF is a generated file of a few kilobytes, sent in 1 KB blocks and chunks; the
16 MB limit of a one-request download is reached with a tenant whose limit is 2 KB.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from crm_ferry.emulator.core import CoreConfig, Emulator
from helpers.definitions import add_column, label
from helpers.files import b64, block_id, sample_bytes
from helpers.webapi import created_id

BASE = "https://contoso.crm.dynamics.com/api/data/v9.2/"
COLUMN = "new_filecolumn"
ATTRIBUTE = f"EntityDefinitions(LogicalName='account')/Attributes(LogicalName='{COLUMN}')"
PDF = sample_bytes(3000, seed=25)
"""Stands in for the sample's ``Files/25mb.pdf``."""


def create_file_column(api: httpx.Client) -> httpx.Response:
    """``Utility.CreateFileColumn``: a file column of 30 MB on the account table."""
    return add_column(
        api,
        "account",
        {
            "@odata.type": "Microsoft.Dynamics.CRM.FileAttributeMetadata",
            "SchemaName": "new_FileColumn",
            "DisplayName": label("Sample File Column"),
            "RequiredLevel": {"Value": "None"},
            "Description": label("Sample File Column for FileOperation samples"),
            "MaxSizeInKB": 30 * 1024,
        },
    )


@pytest.fixture
def account(api: httpx.Client) -> str:
    assert create_file_column(api).status_code == 204
    return created_id(api.post("accounts", json={"name": "Test account for file data sample"}))


def test_create_the_file_column(api: httpx.Client) -> None:
    response = create_file_column(api)
    assert response.status_code == 204
    assert response.headers["OData-Version"] == "4.0"
    assert "/Attributes(" in response.headers["OData-EntityId"]


def test_updating_max_size_in_kb(api: httpx.Client) -> None:
    create_file_column(api)
    cast = f"{ATTRIBUTE}/Microsoft.Dynamics.CRM.FileAttributeMetadata"
    current = api.get(cast).json()
    response = api.put(ATTRIBUTE, json={**current, "MaxSizeInKB": 100 * 1024})
    assert response.status_code == 204
    assert api.get(cast + "?$select=MaxSizeInKB").json()["MaxSizeInKB"] == 100 * 1024


def test_retrieve_the_max_size_in_kb(api: httpx.Client) -> None:
    create_file_column(api)
    response = api.get(
        f"{ATTRIBUTE}/Microsoft.Dynamics.CRM.FileAttributeMetadata?$select=MaxSizeInKB"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"].endswith(
        "/Attributes/Microsoft.Dynamics.CRM.FileAttributeMetadata(MaxSizeInKB)/$entity"
    )
    assert body["MaxSizeInKB"] == 30720
    assert isinstance(body["MetadataId"], str)


def upload_with_actions(api: httpx.Client, account: str) -> httpx.Response:
    started = api.post(
        "InitializeFileBlocksUpload",
        json={
            "Target": {"accountid": account, "@odata.type": "Microsoft.Dynamics.CRM.account"},
            "FileName": "25mb.pdf",
            "FileAttributeName": COLUMN,
        },
    )
    assert started.status_code == 200
    assert started.json()["@odata.context"].endswith(
        "$metadata#Microsoft.Dynamics.CRM.InitializeFileBlocksUploadResponse"
    )
    token = started.json()["FileContinuationToken"]
    blocks = []
    for n, at in enumerate(range(0, len(PDF), 1024), start=1):
        blocks.append(block_id(n))
        sent = api.post(
            "UploadBlock",
            json={
                "BlockId": block_id(n),
                "BlockData": b64(PDF[at : at + 1024]),
                "FileContinuationToken": token,
            },
        )
        assert sent.status_code == 204
        assert sent.headers["OData-Version"] == "4.0"
    return api.post(
        "CommitFileBlocksUpload",
        json={
            "FileName": "25mb.pdf",
            "MimeType": "application/pdf",
            "BlockList": blocks,
            "FileContinuationToken": token,
        },
    )


def test_upload_with_actions(api: httpx.Client, account: str) -> None:
    response = upload_with_actions(api, account)
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["@odata.context", "FileId", "FileSizeInBytes"]
    assert body["@odata.context"].endswith(
        "$metadata#Microsoft.Dynamics.CRM.CommitFileBlocksUploadResponse"
    )
    assert body["FileSizeInBytes"] == len(PDF)
    row = api.get(f"accounts({account})?$select=name,{COLUMN},{COLUMN}_name").json()
    assert (row[COLUMN], row[f"{COLUMN}_name"]) == (body["FileId"], "25mb.pdf")


def test_download_with_actions(api: httpx.Client, account: str) -> None:
    upload_with_actions(api, account)
    started = api.post(
        "InitializeFileBlocksDownload",
        json={
            "Target": {"accountid": account, "@odata.type": "Microsoft.Dynamics.CRM.account"},
            "FileAttributeName": COLUMN,
        },
    )
    assert started.status_code == 200
    body = started.json()
    assert body["FileSizeInBytes"] == len(PDF)
    assert body["FileName"] == "25mb.pdf"
    assert body["IsChunkingSupported"] is True
    token, size = body["FileContinuationToken"], body["FileSizeInBytes"]
    data = b""
    offset, block = 0, 1024
    while size > 0:  # the sample's loop: the last block asked for is longer than what's left
        got = api.post(
            "DownloadBlock",
            json={"Offset": offset, "BlockLength": block, "FileContinuationToken": token},
        )
        assert got.status_code == 200
        assert got.json()["@odata.context"].endswith(
            "$metadata#Microsoft.Dynamics.CRM.DownloadBlockResponse"
        )
        data += base64.b64decode(got.json()["Data"])
        size -= block
        offset += block
    assert data == PDF


def test_delete_the_file_by_its_id(api: httpx.Client, account: str) -> None:
    file_id = upload_with_actions(api, account).json()["FileId"]
    response = api.post("DeleteFile", json={"FileId": file_id})
    assert response.status_code == 204
    assert response.headers["OData-Version"] == "4.0"
    assert api.get(f"accounts({account})?$select={COLUMN}").json()[COLUMN] is None


def upload_in_chunks(api: httpx.Client, account: str) -> None:
    started = api.patch(
        f"accounts({account})/{COLUMN}?x-ms-file-name=25mb.pdf",
        headers={"x-ms-transfer-mode": "chunked"},
    )
    assert started.status_code == 200
    assert started.headers["Accept-Ranges"] == "bytes"
    assert started.headers["Access-Control-Expose-Headers"] == "x-ms-chunk-size"
    url = started.headers["Location"]
    assert "?sessiontoken=" in url
    size = 1024  # instead of x-ms-chunk-size (4 MB), to send the small file in chunks
    for offset in range(0, len(PDF), size):
        part = PDF[offset : offset + size]
        sent = api.patch(
            url,
            content=part,
            headers={
                "x-ms-file-name": "25mb.pdf",
                "Content-Type": "application/octet-stream",
                "Content-Range": f"bytes {offset}-{offset + len(part) - 1}/{len(PDF)}",
            },
        )
        last = offset + size >= len(PDF)
        assert sent.status_code == (204 if last else 206)
        assert sent.headers["OData-Version"] == "4.0"


def test_upload_with_chunks(api: httpx.Client, account: str) -> None:
    upload_in_chunks(api, account)
    row = api.get(f"accounts({account})?$select={COLUMN}_name").json()
    assert row[f"{COLUMN}_name"] == "25mb.pdf"


def test_download_with_chunks(api: httpx.Client, account: str) -> None:
    upload_in_chunks(api, account)
    chunk, offset, size, data = 1024, 0, 0, b""
    while True:  # DownloadFileChunkRequest: ?size=full and a Range per chunk
        got = api.get(
            f"accounts({account})/{COLUMN}/$value?size=full",
            headers={"Range": f"bytes={offset}-{offset + chunk - 1}"},
        )
        assert got.status_code == 206
        assert got.headers["x-ms-file-name"] == "25mb.pdf"
        assert got.headers["mimetype"] == "application/pdf"
        size = int(got.headers["x-ms-file-size"])
        data += got.content
        offset += chunk
        if offset >= size:
            break
    assert data == PDF


def test_delete_the_column_value(api: httpx.Client, account: str) -> None:
    upload_in_chunks(api, account)
    response = api.delete(f"accounts({account})/{COLUMN}")
    assert response.status_code == 204
    assert response.headers["OData-Version"] == "4.0"


def test_upload_and_download_with_stream(api: httpx.Client, account: str) -> None:
    text = sample_bytes(2000, seed=4)
    sent = api.patch(
        f"accounts({account})/{COLUMN}",
        content=text,
        headers={"Content-Type": "application/octet-stream", "x-ms-file-name": "4094kb.txt"},
    )
    assert sent.status_code == 204
    got = api.get(f"accounts({account})/{COLUMN}/$value")
    assert got.status_code == 200
    assert got.content == text
    assert got.headers["x-ms-file-size"] == "2000"
    assert got.headers["x-ms-file-name"] == "4094kb.txt"
    assert got.headers["mimetype"] == "text/plain"
    assert (
        got.headers["Access-Control-Expose-Headers"] == "x-ms-file-size; x-ms-file-name; mimetype"
    )


@pytest.fixture
def small() -> Iterator[httpx.Client]:
    """A tenant whose one-request download limit is 2 KB instead of 16 MB."""
    em = Emulator(
        CoreConfig(
            wall_clock=lambda: datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
            file_download_limit=2048,
        )
    )
    with httpx.Client(transport=httpx.MockTransport(em.handle), base_url=BASE) as client:
        yield client
    em.close()


def test_a_file_too_big_for_one_download(small: httpx.Client) -> None:
    create_file_column(small)
    account = created_id(small.post("accounts", json={"name": "Test account upload file"}))
    upload_with_actions(small, account)
    got = small.get(f"accounts({account})/{COLUMN}/$value")
    assert got.status_code == 400
    error = got.json()["error"]
    assert error["code"] == "0x80090001"
    assert error["message"] == (
        "Maximum file size supported for download is [0] MB. File of [0 MB] size may only be "
        "downloaded using staged chunk download."
    )


def test_clean_up(api: httpx.Client, account: str) -> None:
    upload_with_actions(api, account)
    assert api.delete(f"accounts({account})").status_code == 204
    deleted = api.delete(ATTRIBUTE, headers={"Consistency": "Strong"})
    assert deleted.status_code == 204
    assert api.get(ATTRIBUTE).status_code == 404
