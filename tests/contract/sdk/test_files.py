"""Microsoft's Python SDK uploads files to the served emulator through its public API.

``client.files.upload`` (``operations/files.py``, ``data/_upload.py`` of
``powerplatform-dataverse-client`` 1.1.0) creates the file column when the table lacks it
(``FileAttributeMetadata`` through the metadata API, then polls the data API until the column
is visible), then sends the file in one ``PATCH`` ("small") or with the chunked protocol
("chunk": ``x-ms-transfer-mode: chunked``, then ``Content-Range`` chunks of the
``x-ms-chunk-size`` the emulator recommends). What the SDK stored is read back through the
data plane with raw HTTP (``$value``, the file column and its ``_name``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PowerPlatform.Dataverse.client import DataverseClient
from PowerPlatform.Dataverse.core.errors import HttpError

from crm_ferry.emulator.app import EmulatorApp

CHUNK = 4 * 1024 * 1024
"""The chunk size the emulator recommends (``x-ms-chunk-size``)."""


@pytest.fixture
def raw(emulator: EmulatorApp) -> Iterator[httpx.Client]:
    """Raw HTTP on the served tenant's data plane (no sign-in), to read back what was stored."""
    backend = emulator.backend
    with httpx.Client(
        transport=httpx.MockTransport(backend.handle), base_url=emulator.api_url + "/"
    ) as client:
        yield client


def _account(client: DataverseClient, unique: str) -> str:
    return client.records.create("account", {"name": f"files {unique}"})


def _file(tmp_path: Path, name: str, size: int) -> tuple[Path, bytes]:
    data = bytes((i * 7 + size) % 251 for i in range(size))
    path = tmp_path / name
    path.write_bytes(data)
    return path, data


def test_small_upload_creates_the_column_and_stores_the_file(
    client: DataverseClient, raw: httpx.Client, unique: str, tmp_path: Path
) -> None:
    account = _account(client, unique)
    column = f"new_Doc{unique}"
    path, data = _file(tmp_path, "contract.pdf", 20_000)
    client.files.upload("account", account, column, str(path), mime_type="application/pdf")

    logical = column.lower()
    meta = raw.get(
        f"EntityDefinitions(LogicalName='account')/Attributes(LogicalName='{logical}')"
        "/Microsoft.Dynamics.CRM.FileAttributeMetadata?$select=MaxSizeInKB"
    )
    assert meta.status_code == 200, meta.text
    assert meta.json()["MaxSizeInKB"] == 32768  # the documented default
    row = raw.get(f"accounts({account})?$select={logical},{logical}_name").json()
    assert row[f"{logical}_name"] == "contract.pdf"
    got = raw.get(f"accounts({account})/{logical}/$value")
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["x-ms-file-size"] == str(len(data))
    assert got.headers["mimetype"] == "application/pdf"  # the SDK's mime_type, as Content-Type


def test_chunked_upload_sends_the_recommended_chunks(
    client: DataverseClient, raw: httpx.Client, unique: str, tmp_path: Path
) -> None:
    account = _account(client, unique)
    column = f"new_Big{unique}"
    path, data = _file(tmp_path, "big.bin", CHUNK + 12_345)  # two chunks
    client.files.upload("account", account, column, str(path), mode="chunk")

    logical = column.lower()
    row = raw.get(f"accounts({account})?$select={logical},{logical}_name").json()
    assert row[f"{logical}_name"] == "big.bin"
    whole = raw.get(f"accounts({account})/{logical}/$value")
    assert whole.content == data
    part = raw.get(f"accounts({account})/{logical}/$value", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206
    assert part.content == data[:100]


def test_uploading_again_replaces_the_file_when_asked_to(
    client: DataverseClient, raw: httpx.Client, unique: str, tmp_path: Path
) -> None:
    account = _account(client, unique)
    column = f"new_Again{unique}"
    first, _ = _file(tmp_path, "one.txt", 100)
    client.files.upload("account", account, column, str(first))
    second, data = _file(tmp_path, "two.txt", 300)
    client.files.upload("account", account, column, str(second), if_none_match=False)

    logical = column.lower()
    got = raw.get(f"accounts({account})/{logical}/$value")
    assert got.content == data
    assert got.headers["x-ms-file-name"] == "two.txt"
    assert got.headers["mimetype"] == "text/plain"  # octet-stream sent: the name's type


def test_a_blocked_file_type_is_refused_with_the_documented_error(
    client: DataverseClient, unique: str, tmp_path: Path
) -> None:
    account = _account(client, unique)
    path, _ = _file(tmp_path, "setup.exe", 50)
    with pytest.raises(HttpError) as caught:
        client.files.upload("account", account, f"new_Exe{unique}", str(path))
    assert caught.value.status_code == 400
    assert caught.value.details["service_error_code"] == "0x80043e09"  # AttachmentBlocked
