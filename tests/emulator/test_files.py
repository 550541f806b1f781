"""File columns of the emulator: definitions, uploads (whole, chunked, in blocks), downloads
(whole, ranges, blocks), deletes, and where files are kept.

Written from https://learn.microsoft.com/power-apps/developer/data-platform/file-column-data
and https://learn.microsoft.com/power-apps/developer/data-platform/files-images-overview;
limits the tests reach are made small through ``CoreConfig`` (block size, one-request upload
and download limits) so that no test moves more than a few kilobytes.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from crm_ferry.emulator.core import CoreConfig, Emulator
from helpers.definitions import add_column, label
from helpers.files import b64, block_id, file_column, new_row, sample_bytes, upload
from helpers.webapi import created_id

BASE = "https://contoso.crm.dynamics.com/api/data/v9.2/"
TARGET = "Microsoft.Dynamics.CRM.account"


@pytest.fixture
def small() -> Iterator[tuple[Emulator, httpx.Client]]:
    """A tenant whose file limits are small: 1 KB blocks, 4 KB uploads, 2 KB downloads."""
    em = Emulator(
        CoreConfig(
            wall_clock=lambda: datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
            file_block_size=1024,
            file_upload_limit=4096,
            file_download_limit=2048,
        )
    )
    with httpx.Client(transport=httpx.MockTransport(em.handle), base_url=BASE) as client:
        yield em, client
    em.close()


def error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def with_file(api: httpx.Client, data: bytes = b"hello world", name: str = "hi.txt") -> str:
    column = file_column(api)
    row = new_row(api)
    assert upload(api, f"accounts({row})/{column}", data, name).status_code == 204
    return row


# ---------------------------------------------------------------------------------------
# Definitions


def test_a_file_column_has_its_name_column_and_the_documented_defaults(api: httpx.Client) -> None:
    file_column(api)
    attrs = "EntityDefinitions(LogicalName='account')/Attributes"
    col = api.get(f"{attrs}(LogicalName='new_filecolumn')").json()
    assert col["@odata.type"] == "#Microsoft.Dynamics.CRM.FileAttributeMetadata"
    assert col["AttributeTypeName"] == {"Value": "FileType"}
    assert col["MaxSizeInKB"] == 32768
    assert (col["IsValidForCreate"], col["IsValidForUpdate"]) == (False, True)
    name = api.get(f"{attrs}(LogicalName='new_filecolumn_name')").json()
    assert (name["SchemaName"], name["AttributeType"], name["AttributeOf"]) == (
        "new_FileColumn_Name",
        "String",
        "new_filecolumn",
    )
    assert (name["IsValidForCreate"], name["IsValidForUpdate"]) == (False, False)
    cast = api.get(f"{attrs}/Microsoft.Dynamics.CRM.FileAttributeMetadata?$select=MaxSizeInKB")
    assert [a["MaxSizeInKB"] for a in cast.json()["value"]] == [32768]
    rel = api.get("RelationshipDefinitions(SchemaName='account_FileAttachments')").json()
    assert (rel["ReferencingEntity"], rel["ReferencingEntityNavigationPropertyName"]) == (
        "fileattachment",
        "objectid_account",
    )
    assert rel["CascadeConfiguration"]["Delete"] == "Cascade"


@pytest.mark.parametrize("size", [0, 10_485_761, "big", True])
def test_max_size_of_a_file_column_is_checked(api: httpx.Client, size: Any) -> None:
    body = {
        "@odata.type": "Microsoft.Dynamics.CRM.FileAttributeMetadata",
        "SchemaName": "new_Big",
        "DisplayName": label("Big"),
        "MaxSizeInKB": size,
    }
    response = add_column(api, "account", body)
    assert error(response) == (400, "0x80090009")
    assert "between [0-10485760] KB" in response.json()["error"]["message"]


def test_the_file_type_name_must_match(api: httpx.Client) -> None:
    body = {
        "@odata.type": "Microsoft.Dynamics.CRM.FileAttributeMetadata",
        "SchemaName": "new_Doc",
        "DisplayName": label("Doc"),
        "AttributeTypeName": {"Value": "ImageType"},
    }
    assert error(add_column(api, "account", body)) == (400, "0x80040203")


def test_deleting_a_file_column_deletes_its_files(
    core_emulator: Emulator, api: httpx.Client
) -> None:
    row = with_file(api)
    file_id = api.get(f"accounts({row})?$select=new_filecolumn").json()["new_filecolumn"]
    deleted = api.delete(
        "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='new_filecolumn')"
    )
    assert deleted.status_code == 204
    assert core_emulator.store.blob_info(file_id) is None
    assert api.get("fileattachments").json()["value"] == []
    assert "new_filecolumn_name" not in api.get(f"accounts({row})").json()


# ---------------------------------------------------------------------------------------
# One-request uploads and the read shape


def test_upload_in_one_request_and_read_the_column(api: httpx.Client) -> None:
    column = file_column(api)
    row = new_row(api)
    response = upload(api, f"accounts({row})/{column}", b"hello world", "4094kb.txt")
    assert response.status_code == 204
    assert response.headers["OData-Version"] == "4.0"
    got = api.get(f"accounts({row})?$select=name,{column},{column}_name").json()
    assert got[f"{column}_name"] == "4094kb.txt"
    info = api.get(f"fileattachments({got[column]})").json()
    assert (info["filename"], info["mimetype"], info["filesizeinbytes"]) == (
        "4094kb.txt",
        "text/plain",
        11,
    )
    assert (info["_objectid_value"], info["regardingfieldname"]) == (row, column)
    everything = api.get(f"accounts({row})").json()
    assert everything[column] == got[column]
    assert everything[f"{column}_name"] == "4094kb.txt"


def test_the_header_file_name_wins_over_the_query_parameter(api: httpx.Client) -> None:
    column = file_column(api)
    row = new_row(api)
    response = upload(api, f"accounts({row})/{column}?x-ms-file-name=query.txt", b"x", "header.txt")
    assert response.status_code == 204
    assert api.get(f"accounts({row})?$select={column}_name").json()[f"{column}_name"] == (
        "header.txt"
    )
    only_query = api.patch(
        f"accounts({row})/{column}?x-ms-file-name=%E6%B5%8B%E8%AF%95.txt",
        content=b"y",
        headers={"Content-Type": "application/octet-stream"},
    )
    assert only_query.status_code == 204
    assert api.get(f"accounts({row})?$select={column}_name").json()[f"{column}_name"] == (
        "测试.txt"
    )


def test_a_declared_content_type_is_the_stored_mime_type(api: httpx.Client) -> None:
    column = file_column(api)
    row = new_row(api)
    upload(
        api, f"accounts({row})/{column}", b"%PDF", "doc.bin", **{"Content-Type": "application/pdf"}
    )
    assert api.get(f"accounts({row})/{column}/$value").headers["mimetype"] == "application/pdf"


def test_uploading_again_replaces_the_file(api: httpx.Client) -> None:
    row = with_file(api)
    first = api.get(f"accounts({row})?$select=new_filecolumn").json()["new_filecolumn"]
    upload(api, f"accounts({row})/new_filecolumn", b"second", "two.txt")
    second = api.get(f"accounts({row})?$select=new_filecolumn").json()["new_filecolumn"]
    assert second != first
    assert api.get(f"fileattachments({first})").status_code == 404
    assert [f["fileattachmentid"] for f in api.get("fileattachments").json()["value"]] == [second]


def test_one_request_upload_errors(small: tuple[Emulator, httpx.Client]) -> None:
    _, api = small
    column = file_column(api, MaxSizeInKB=3)
    row = new_row(api)
    path = f"accounts({row})/{column}"
    no_name = api.patch(path, content=b"x", headers={"Content-Type": "application/octet-stream"})
    assert error(no_name) == (400, "0x80040203")
    assert error(upload(api, path, b"", "empty.txt")) == (400, "0x80090004")
    assert error(upload(api, path, sample_bytes(3 * 1024 + 1), "big.txt")) == (400, "0x80044a02")
    assert error(upload(api, path, b"MZ", "tool.exe")) == (400, "0x80043e09")
    assert error(
        upload(api, "accounts(00000000-0000-0000-0000-000000000001)/" + column, b"x", "a.txt")
    ) == (
        404,
        "0x80040217",
    )
    assert error(upload(api, f"accounts({row})/name", b"x", "a.txt")) == (400, "0x80090007")
    assert api.patch(f"accounts({row})/name", json={"value": "x"}).status_code == 405


def test_the_single_request_limit(small: tuple[Emulator, httpx.Client]) -> None:
    _, api = small
    column = file_column(api)
    row = new_row(api)
    response = upload(api, f"accounts({row})/{column}", sample_bytes(4097), "big.bin")
    assert error(response) == (400, "0x80090001")
    assert "staged chunk upload" in response.json()["error"]["message"]


def test_blocked_and_allowed_mime_types(api: httpx.Client) -> None:
    column = file_column(api)
    row = new_row(api)
    org = api.get("organizations?$select=organizationid").json()["value"][0]["organizationid"]
    path = f"accounts({row})/{column}"
    api.patch(f"organizations({org})", json={"blockedmimetypes": "image/svg+xml"})
    refused = upload(api, path, b"<svg/>", "x.img", **{"Content-Type": "image/svg+xml"})
    assert error(refused) == (400, "0x80072522")
    assert refused.json()["error"]["message"] == (
        "Operation not allowed as mime type image/svg+xml is blocked."
    )
    api.patch(f"organizations({org})", json={"allowedmimetypes": "application/pdf"})
    assert error(upload(api, path, b"x", "a.txt")) == (400, "0x80072521")
    assert upload(api, path, b"%PDF", "a.pdf").status_code == 204


def test_conditions_on_an_upload(api: httpx.Client) -> None:
    column = file_column(api)
    row = new_row(api)
    path = f"accounts({row})/{column}"
    assert upload(api, path, b"x", "a.txt", **{"If-None-Match": "null"}).status_code == 204
    assert upload(api, path, b"x", "a.txt", **{"If-Match": "*"}).status_code == 204
    assert error(upload(api, path, b"x", "a.txt", **{"If-Match": 'W/"1"'})) == (412, "0x80060882")
    assert error(upload(api, path, b"x", "a.txt", **{"If-None-Match": "*"})) == (501, "0x80040219")


def test_a_file_column_is_not_set_by_create_or_update(api: httpx.Client) -> None:
    column = file_column(api)
    created = api.post("accounts", json={"name": "a", column: "x"})
    assert error(created) == (400, "0x80040203")
    row = new_row(api)
    assert error(api.patch(f"accounts({row})", json={column: "abc"})) == (400, "0x80040203")
    upload(api, f"accounts({row})/{column}", b"x", "a.txt")
    # null empties it (files-images-overview: "Set column value to null")
    assert api.patch(f"accounts({row})", json={column: None}).status_code == 204
    got = api.get(f"accounts({row})?$select={column},{column}_name").json()
    assert (got[column], got[f"{column}_name"]) == (None, None)
    assert api.get("fileattachments").json()["value"] == []


def test_deleting_the_row_deletes_its_files(core_emulator: Emulator, api: httpx.Client) -> None:
    row = with_file(api)
    file_id = api.get(f"accounts({row})?$select=new_filecolumn").json()["new_filecolumn"]
    assert api.delete(f"accounts({row})").status_code == 204
    assert core_emulator.store.blob_info(file_id) is None
    assert api.get(f"fileattachments({file_id})").status_code == 404


def test_files_are_kept_outside_the_row(core_emulator: Emulator, api: httpx.Client) -> None:
    row = with_file(api, sample_bytes(3000))
    stored = core_emulator.store.get("account", row)
    assert stored is not None
    assert len(str(stored)) < 2000
    file_id = stored["new_filecolumn"]
    assert core_emulator.store.blob_info(file_id) == (("account", row, "new_filecolumn"), {}, 3000)


def test_the_file_attachment_table_is_written_by_the_platform_only(api: httpx.Client) -> None:
    row = with_file(api)
    file_id = api.get(f"accounts({row})?$select=new_filecolumn").json()["new_filecolumn"]
    assert api.post("fileattachments", json={}).status_code == 405
    assert api.delete(f"fileattachments({file_id})").status_code == 405


# ---------------------------------------------------------------------------------------
# Chunked uploads


def start_chunks(api: httpx.Client, path: str, name: str = "25mb.pdf") -> httpx.Response:
    return api.patch(f"{path}?x-ms-file-name={name}", headers={"x-ms-transfer-mode": "chunked"})


def chunk(
    api: httpx.Client, url: str, data: bytes, start: int, total: int, name: str = "25mb.pdf"
) -> httpx.Response:
    end = start + len(data) - 1
    return api.patch(
        url,
        content=data,
        headers={
            "x-ms-file-name": name,
            "Content-Type": "application/octet-stream",
            "Content-Range": f"bytes {start}-{end}/{total}",
        },
    )


def test_chunked_upload(small: tuple[Emulator, httpx.Client]) -> None:
    _, api = small
    column = file_column(api)
    row = new_row(api)
    started = start_chunks(api, f"accounts({row})/{column}")
    assert started.status_code == 200
    assert started.headers["x-ms-chunk-size"] == "1024"
    assert started.headers["Accept-Ranges"] == "bytes"
    assert started.headers["Access-Control-Expose-Headers"] == "x-ms-chunk-size"
    location = started.headers["Location"]
    assert location.startswith(f"{BASE}accounts({row})/{column}?sessiontoken=")
    data = sample_bytes(2500)
    statuses = [
        chunk(api, location, data[i : i + 1024], i, 2500).status_code for i in (0, 1024, 2048)
    ]
    assert statuses == [206, 206, 204]
    got = api.get(f"accounts({row})/{column}/$value", headers={"Range": "bytes=0-2047"})
    assert got.content == data[:2048]
    assert got.headers["mimetype"] == "application/pdf"
    assert got.headers["x-ms-file-name"] == "25mb.pdf"
    # the session is over
    assert error(chunk(api, location, data[:10], 0, 10)) == (400, "0x80040203")


def test_chunks_may_come_in_any_order_and_a_chunk_may_be_sent_again(
    small: tuple[Emulator, httpx.Client],
) -> None:
    _, api = small
    column = file_column(api)
    row = new_row(api)
    location = start_chunks(api, f"accounts({row})/{column}").headers["Location"]
    data = sample_bytes(2000, seed=3)
    assert chunk(api, location, data[1000:], 1000, 2000).status_code == 206
    assert chunk(api, location, data[1000:], 1000, 2000).status_code == 206
    assert chunk(api, location, data[:1000], 0, 2000).status_code == 204
    assert (
        api.get(f"accounts({row})/{column}/$value", headers={"Range": "bytes=0-1999"}).content
        == data
    )


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"Content-Range": "bytes 0-9"}, "0x80090005"),
        ({"Content-Range": "bytes 0-8/100"}, "0x80090005"),  # 9 bytes said, 10 sent
        ({"Content-Range": "bytes 5-4/100"}, "0x80090005"),
        ({"Content-Range": "bytes 0-9/5"}, "0x80090005"),
        ({"Content-Range": None}, "0x80090005"),
        ({"Content-Type": "text/plain"}, "0x80040203"),
        ({"x-ms-file-name": "other.pdf"}, "0x80040203"),
        ({"x-ms-file-name": None}, "0x80040203"),
    ],
)
def test_chunk_headers_are_checked(
    api: httpx.Client, headers: dict[str, str | None], code: str
) -> None:
    column = file_column(api)
    row = new_row(api)
    location = start_chunks(api, f"accounts({row})/{column}").headers["Location"]
    sent = {
        "x-ms-file-name": "25mb.pdf",
        "Content-Type": "application/octet-stream",
        "Content-Range": "bytes 0-9/100",
        **headers,
    }
    response = api.patch(
        location, content=bytes(10), headers={k: v for k, v in sent.items() if v is not None}
    )
    assert error(response) == (400, code)


def test_overlapping_chunks_and_a_changing_size_are_refused(api: httpx.Client) -> None:
    column = file_column(api)
    row = new_row(api)
    location = start_chunks(api, f"accounts({row})/{column}").headers["Location"]
    assert chunk(api, location, bytes(10), 0, 30).status_code == 206
    assert error(chunk(api, location, bytes(10), 5, 30)) == (400, "0x80090005")
    assert error(chunk(api, location, bytes(10), 10, 40)) == (400, "0x80090005")


def test_chunked_upload_errors(small: tuple[Emulator, httpx.Client]) -> None:
    _, api = small
    column = file_column(api, MaxSizeInKB=1)
    row = new_row(api)
    path = f"accounts({row})/{column}"
    assert error(start_chunks(api, path, "run.bat")) == (400, "0x80043e09")
    no_name = api.patch(path, headers={"x-ms-transfer-mode": "chunked"})
    assert error(no_name) == (400, "0x80040203")
    odd_mode = api.patch(path + "?x-ms-file-name=a.txt", headers={"x-ms-transfer-mode": "zip"})
    assert error(odd_mode) == (400, "0x80040203")
    location = start_chunks(api, path).headers["Location"]
    assert error(chunk(api, location, bytes(10), 0, 2000)) == (400, "0x80044a02")
    forged = f"{BASE}{path}?sessiontoken=nope"
    assert error(chunk(api, forged, bytes(10), 0, 10)) == (400, "0x80040203")


# ---------------------------------------------------------------------------------------
# Upload in blocks


def init_upload(api: httpx.Client, row: str, column: str, name: str = "25mb.pdf") -> httpx.Response:
    return api.post(
        "InitializeFileBlocksUpload",
        json={
            "Target": {"accountid": row, "@odata.type": TARGET},
            "FileName": name,
            "FileAttributeName": column,
        },
    )


def put_block(api: httpx.Client, token: str, n: int, data: bytes) -> httpx.Response:
    return api.post(
        "UploadBlock",
        json={"BlockId": block_id(n), "BlockData": b64(data), "FileContinuationToken": token},
    )


def commit(api: httpx.Client, token: str, blocks: list[str], **extra: Any) -> httpx.Response:
    body = {
        "FileName": "25mb.pdf",
        "MimeType": "application/pdf",
        "BlockList": blocks,
        "FileContinuationToken": token,
        **extra,
    }
    return api.post("CommitFileBlocksUpload", json=body)


def test_upload_in_blocks_joins_them_in_block_list_order(api: httpx.Client) -> None:
    column = file_column(api)
    row = new_row(api)
    token = init_upload(api, row, column).json()["FileContinuationToken"]
    for n, data in ((1, b"one-"), (2, b"two-"), (3, b"three")):
        assert put_block(api, token, n, data).status_code == 204
    done = commit(api, token, [block_id(3), block_id(1), block_id(2)])
    assert done.status_code == 200
    assert done.json()["FileSizeInBytes"] == 13
    assert api.get(f"accounts({row})/{column}/$value").content == b"threeone-two-"
    got = api.get(f"accounts({row})?$select={column}").json()
    assert got[column] == done.json()["FileId"]


def test_block_upload_errors(small: tuple[Emulator, httpx.Client]) -> None:
    _, api = small
    column = file_column(api, MaxSizeInKB=1)
    row = new_row(api)
    assert error(init_upload(api, row, "name")) == (400, "0x80090007")
    assert error(init_upload(api, row, "nothing")) == (400, "0x80090007")
    assert error(init_upload(api, row, column, "virus.vbs")) == (400, "0x80043e09")
    missing = api.post(
        "InitializeFileBlocksUpload",
        json={"Target": {"accountid": row, "@odata.type": TARGET}, "FileAttributeName": column},
    )
    assert error(missing) == (400, "0x80040203")
    untyped = api.post(
        "InitializeFileBlocksUpload",
        json={"Target": {"accountid": row}, "FileName": "a.pdf", "FileAttributeName": column},
    )
    assert error(untyped) == (400, "0x80048d19")
    token = init_upload(api, row, column).json()["FileContinuationToken"]
    assert error(put_block(api, "nope", 1, b"x")) == (400, "0x80040203")
    assert error(put_block(api, token, 1, bytes(1025))) == (400, "0x80090000")
    not_b64 = {"BlockId": "***", "BlockData": b64(b"x"), "FileContinuationToken": token}
    assert error(api.post("UploadBlock", json=not_b64)) == (400, "0x80040203")
    too_long = {"BlockId": b64(bytes(65)), "BlockData": b64(b"x"), "FileContinuationToken": token}
    assert error(api.post("UploadBlock", json=too_long)) == (400, "0x80040203")
    put_block(api, token, 1, bytes(600))
    other_length = {"BlockId": b64(b"x"), "BlockData": b64(b"x"), "FileContinuationToken": token}
    assert error(api.post("UploadBlock", json=other_length)) == (400, "0x80040203")
    assert error(commit(api, token, [block_id(1), block_id(9)])) == (400, "0x80090006")
    assert error(commit(api, token, [block_id(1), block_id(1)])) == (400, "0x80090006")
    assert error(commit(api, token, [])) == (400, "0x80090006")
    put_block(api, token, 2, bytes(600))
    assert error(commit(api, token, [block_id(1), block_id(2)])) == (400, "0x80044a02")
    assert error(commit(api, "nope", [block_id(1)])) == (400, "0x80040203")


def test_a_token_of_one_kind_does_not_serve_another(api: httpx.Client) -> None:
    row = with_file(api)
    started = api.post(
        "InitializeFileBlocksDownload",
        json={
            "Target": {"accountid": row, "@odata.type": TARGET},
            "FileAttributeName": "new_filecolumn",
        },
    )
    token = started.json()["FileContinuationToken"]
    assert error(put_block(api, token, 1, b"x")) == (400, "0x80040203")


# ---------------------------------------------------------------------------------------
# Downloads


def test_download_in_one_request(api: httpx.Client) -> None:
    row = with_file(api, b"0123456789", "digits.txt")
    got = api.get(f"accounts({row})/new_filecolumn/$value")
    assert got.status_code == 200
    assert got.content == b"0123456789"
    assert got.headers["x-ms-file-size"] == "10"
    assert got.headers["x-ms-file-name"] == "digits.txt"
    assert got.headers["mimetype"] == "text/plain"
    assert got.headers["Content-Type"] == "application/octet-stream"
    assert (
        got.headers["Access-Control-Expose-Headers"] == "x-ms-file-size; x-ms-file-name; mimetype"
    )
    # the file samples ask for ?size=full on file columns too
    assert api.get(f"accounts({row})/new_filecolumn/$value?size=full").content == b"0123456789"


@pytest.mark.parametrize(
    ("asked", "part", "content_range"),
    [
        ("bytes=0-3", b"0123", "bytes 0-3/10"),
        ("bytes=8-100", b"89", "bytes 8-9/10"),  # past the end: to the end
        ("bytes=4-", b"456789", "bytes 4-9/10"),
        ("bytes=2-4/10", b"234", "bytes 2-4/10"),  # the older form with the size
    ],
)
def test_download_a_range(api: httpx.Client, asked: str, part: bytes, content_range: str) -> None:
    row = with_file(api, b"0123456789")
    got = api.get(f"accounts({row})/new_filecolumn/$value", headers={"Range": asked})
    assert got.status_code == 206
    assert got.content == part
    assert got.headers["Content-Range"] == content_range
    assert got.headers["x-ms-file-size"] == "10"
    assert got.headers["x-ms-chunk-size"] == str(4 * 1024 * 1024)
    assert got.headers["Access-Control-Expose-Headers"] == (
        "x-ms-file-size; x-ms-file-name; x-ms-chunk-size; mimetype"
    )


@pytest.mark.parametrize(
    "asked", ["bytes=10-12", "bytes=5-2", "bytes=-3", "items=0-1", "bytes=0-1/11", "bytes=0-1,4-5"]
)
def test_bad_ranges_are_refused(api: httpx.Client, asked: str) -> None:
    row = with_file(api, b"0123456789")
    got = api.get(f"accounts({row})/new_filecolumn/$value", headers={"Range": asked})
    assert error(got) == (400, "0x80090000")


def test_download_limits(small: tuple[Emulator, httpx.Client]) -> None:
    _, api = small
    data = sample_bytes(3000)
    row = with_file(api, data[:2048])
    assert api.get(f"accounts({row})/new_filecolumn/$value").content == data[:2048]
    token = start_chunks(api, f"accounts({row})/new_filecolumn").headers["Location"]
    for i in (0, 1024, 2048):
        chunk(api, token, data[i : i + 1024], i, 3000)
    whole = api.get(f"accounts({row})/new_filecolumn/$value")
    assert error(whole) == (400, "0x80090001")
    assert "staged chunk download" in whole.json()["error"]["message"]
    too_wide = api.get(f"accounts({row})/new_filecolumn/$value", headers={"Range": "bytes=0-2999"})
    assert error(too_wide) == (400, "0x80090000")
    ranged = api.get(f"accounts({row})/new_filecolumn/$value", headers={"Range": "bytes=2000-"})
    assert ranged.content == data[2000:]


def test_download_of_an_empty_column_and_odd_parameters(api: httpx.Client) -> None:
    column = file_column(api)
    row = new_row(api)
    assert error(api.get(f"accounts({row})/{column}/$value")) == (404, "0x80040217")
    upload(api, f"accounts({row})/{column}", b"x", "a.txt")
    assert error(api.get(f"accounts({row})/{column}/$value?size=thumb")) == (400, "0x80040203")
    assert error(api.get(f"accounts({row})/{column}/$value?other=1"))[0] == 501
    assert error(api.get("accounts?x-ms-file-name=a.txt")) == (501, "0x80040219")
    assert error(api.get(f"accounts({row})?sessiontoken=a")) == (501, "0x80040219")
    assert error(api.delete(f"accounts({row})/{column}/$value"))[0] == 405
    named = api.get(f"accounts({row})/{column}/$value", headers={"x-ms-file-name": "a.txt"})
    assert error(named) == (501, "0x80040219")
    chunked = api.patch(f"accounts({row})", json={}, headers={"x-ms-transfer-mode": "chunked"})
    assert error(chunked) == (501, "0x80040219")
    assert error(api.post("WhoAmI?sessiontoken=x")) == (501, "0x80040219")
    ranged = api.get(f"accounts({row})/name/$value", headers={"Range": "bytes=0-1"})
    assert error(ranged) == (501, "0x80040219")


def test_download_in_blocks(small: tuple[Emulator, httpx.Client]) -> None:
    _, api = small
    data = sample_bytes(2500, seed=9)
    column = file_column(api)
    row = new_row(api)
    token = init_upload(api, row, column, "big.bin").json()["FileContinuationToken"]
    for n in range(3):
        put_block(api, token, n, data[n * 1024 : (n + 1) * 1024])
    commit(api, token, [block_id(n) for n in range(3)], FileName="big.bin")
    started = api.post(
        "InitializeFileBlocksDownload",
        json={"Target": {"accountid": row, "@odata.type": TARGET}, "FileAttributeName": column},
    )
    assert started.status_code == 200
    body = started.json()
    assert list(body) == [
        "@odata.context",
        "FileSizeInBytes",
        "FileName",
        "FileContinuationToken",
        "IsChunkingSupported",
    ]
    assert (body["FileSizeInBytes"], body["FileName"], body["IsChunkingSupported"]) == (
        2500,
        "big.bin",
        True,
    )
    got = b""
    for offset in range(0, 2500, 1024):
        block = api.post(
            "DownloadBlock",
            json={
                "Offset": offset,
                "BlockLength": 1024,
                "FileContinuationToken": body["FileContinuationToken"],
            },
        )
        assert block.status_code == 200
        got += base64.b64decode(block.json()["Data"])
    assert got == data
    for bad in (
        {"Offset": 2500, "BlockLength": 10},
        {"Offset": 0, "BlockLength": 1025},
        {"Offset": -1, "BlockLength": 1},
        {"Offset": 0, "BlockLength": 0},
    ):
        wrong = api.post(
            "DownloadBlock", json={**bad, "FileContinuationToken": body["FileContinuationToken"]}
        )
        assert error(wrong) == (400, "0x80090000")
    assert error(
        api.post(
            "DownloadBlock", json={"Offset": 0, "BlockLength": 1, "FileContinuationToken": "x"}
        )
    ) == (400, "0x80040203")


def test_initialize_download_of_an_empty_column(api: httpx.Client) -> None:
    column = file_column(api)
    row = new_row(api)
    started = api.post(
        "InitializeFileBlocksDownload",
        json={"Target": {"accountid": row, "@odata.type": TARGET}, "FileAttributeName": column},
    )
    assert error(started) == (404, "0x80040217")


# ---------------------------------------------------------------------------------------
# Deletes


def test_delete_file_by_its_id(api: httpx.Client) -> None:
    row = with_file(api)
    file_id = api.get(f"accounts({row})?$select=new_filecolumn").json()["new_filecolumn"]
    assert api.post("DeleteFile", json={"FileId": file_id}).status_code == 204
    got = api.get(f"accounts({row})?$select=new_filecolumn,new_filecolumn_name").json()
    assert (got["new_filecolumn"], got["new_filecolumn_name"]) == (None, None)
    assert error(api.post("DeleteFile", json={"FileId": file_id})) == (404, "0x80040217")
    assert error(api.post("DeleteFile", json={"FileId": "x"})) == (400, "0x80048d19")


def test_delete_the_column_value(api: httpx.Client) -> None:
    row = with_file(api)
    response = api.delete(f"accounts({row})/new_filecolumn")
    assert response.status_code == 204
    assert api.get("fileattachments").json()["value"] == []
    assert error(api.get(f"accounts({row})/new_filecolumn/$value")) == (404, "0x80040217")


# ---------------------------------------------------------------------------------------
# The raw value of other properties


def test_the_raw_value_of_a_property(api: httpx.Client) -> None:
    row = created_id(api.post("accounts", json={"name": "Adventure Works", "numberofemployees": 7}))
    name = api.get(f"accounts({row})/name/$value")
    assert (name.status_code, name.headers["Content-Type"], name.text) == (
        200,
        "text/plain",
        "Adventure Works",
    )
    assert api.get(f"accounts({row})/numberofemployees/$value").text == "7"
    assert api.get(f"accounts({row})/telephone1/$value").status_code == 204
    assert error(api.get(f"accounts({row})/nothing/$value"))[0] == 400
