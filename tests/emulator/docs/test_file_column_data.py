"""Use file column data: the Web API examples not replayed by the file operations sample
(tests/emulator/docs/test_samples_file_operations.py).

https://learn.microsoft.com/power-apps/developer/data-platform/file-column-data
(page read at MicrosoftDocs/powerapps-docs commit 0494d1bb431955b8452296398559bab8f9526bd4).
Adapted: the column is ``new_filecolumn``; files are a few bytes.
"""

from __future__ import annotations

import httpx
import pytest

from helpers.files import file_column, sample_bytes, upload
from helpers.webapi import created_id

COLUMN = "new_filecolumn"


@pytest.fixture
def account(api: httpx.Client) -> str:
    file_column(api, MaxSizeInKB=1)
    row = created_id(api.post("accounts", json={"name": "Contoso Ltd."}))
    assert (
        upload(api, f"accounts({row})/{COLUMN}", sample_bytes(600), "25mb.pdf").status_code == 204
    )
    return row


def test_retrieve_a_record_with_its_file_column(api: httpx.Client, account: str) -> None:
    got = api.get(
        f"accounts({account})?$select=name,{COLUMN},{COLUMN}_name",
        headers={"If-None-Match": "null"},
    )
    assert got.status_code == 200
    body = got.json()
    assert body["@odata.context"].endswith(
        f"$metadata#accounts(name,{COLUMN},{COLUMN}_name)/$entity"
    )
    assert set(body) == {
        "@odata.context",
        "@odata.etag",
        "name",
        COLUMN,
        f"{COLUMN}_name",
        "accountid",
    }
    assert (body["name"], body[f"{COLUMN}_name"]) == ("Contoso Ltd.", "25mb.pdf")
    assert isinstance(body[COLUMN], str)


def test_retrieve_additional_information_about_files(api: httpx.Client, account: str) -> None:
    got = api.get(
        f"accounts({account})?$filter={COLUMN} ne null"
        "&$expand=account_FileAttachments($select=createdon,mimetype,filesizeinbytes,filename,"
        "regardingfieldname)&$select=accountid"
    )
    assert got.status_code == 200
    (info,) = got.json()["account_FileAttachments"]
    assert set(info) == {
        "@odata.etag",
        "createdon",
        "mimetype",
        "filesizeinbytes",
        "filename",
        "regardingfieldname",
        "fileattachmentid",
    }
    assert (info["mimetype"], info["filesizeinbytes"], info["filename"]) == (
        "application/pdf",
        600,
        "25mb.pdf",
    )
    assert info["regardingfieldname"] == COLUMN
    assert (
        info["fileattachmentid"] == api.get(f"accounts({account})?$select={COLUMN}").json()[COLUMN]
    )


def test_a_file_over_max_size_in_kb(api: httpx.Client, account: str) -> None:
    got = upload(api, f"accounts({account})/{COLUMN}", sample_bytes(1025), "big.pdf")
    assert got.status_code == 400
    assert got.json()["error"] == {
        "code": "0x80044a02",
        "message": "Attachment file size is too big.",
    }


def test_download_the_file_in_chunks(api: httpx.Client, account: str) -> None:
    got = api.get(f"accounts({account})/{COLUMN}/$value", headers={"Range": "bytes=0-255"})
    assert got.status_code == 206
    assert got.headers["x-ms-file-size"] == "600"
    assert got.headers["x-ms-file-name"] == "25mb.pdf"
    assert got.headers["x-ms-chunk-size"] == "4194304"
    assert got.headers["mimetype"] == "application/pdf"
    assert got.headers["Access-Control-Expose-Headers"] == (
        "x-ms-file-size; x-ms-file-name; x-ms-chunk-size; mimetype"
    )
    assert got.headers["OData-Version"] == "4.0"
    assert got.content == sample_bytes(600)[:256]
