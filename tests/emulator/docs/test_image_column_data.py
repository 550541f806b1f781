"""Use image column data: the Web API examples not replayed by the image operations sample
(tests/emulator/docs/test_samples_image_operations.py).

https://learn.microsoft.com/power-apps/developer/data-platform/image-column-data
(page read at MicrosoftDocs/powerapps-docs commit 0f73c42f8a8edcb987d26a62fe9bd91f0e92fd6c).
Adapted: the column is ``new_imagecolumn``; images are generated PNGs. The article's queries of
``attributeimageconfigs`` and ``entityimageconfigs`` ask for tables the emulator doesn't have
(it answers from the column definitions, ``CanStoreFullImage`` and ``PrimaryImageAttribute``).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import httpx
import pytest

from crm_ferry.emulator import images
from helpers.files import b64, image_column, png
from helpers.webapi import created_id

COLUMN = "new_imagecolumn"


@pytest.fixture
def account(api: httpx.Client) -> str:
    image_column(api, MaxSizeInKB=30720, CanStoreFullImage=True)
    return created_id(api.post("accounts", json={"name": "A", COLUMN: b64(png(200, 300))}))


def test_check_the_maximum_image_size(api: httpx.Client) -> None:
    image_column(api, MaxSizeInKB=102)
    got = api.get(
        f"EntityDefinitions(LogicalName='account')/Attributes(LogicalName='{COLUMN}')"
        "/Microsoft.Dynamics.CRM.ImageAttributeMetadata?$select=MaxSizeInKB"
    )
    assert got.status_code == 200
    body = got.json()
    assert body["@odata.context"].endswith(
        "/Attributes/Microsoft.Dynamics.CRM.ImageAttributeMetadata(MaxSizeInKB)/$entity"
    )
    assert (body["MaxSizeInKB"], isinstance(body["MetadataId"], str)) == (102, True)


def test_retrieve_an_image_column_with_the_record(api: httpx.Client, account: str) -> None:
    got = api.get(f"accounts({account})?$select={COLUMN}")
    assert got.status_code == 200
    body = got.json()
    assert body["@odata.context"].endswith(f"$metadata#accounts({COLUMN})/$entity")
    assert set(body) == {"@odata.context", "@odata.etag", COLUMN, "accountid"}
    assert images.dimensions(base64.b64decode(body[COLUMN])) == (144, 144)


def test_update_the_image_column(api: httpx.Client, account: str) -> None:
    got = api.patch(
        f"accounts({account})", json={COLUMN: b64(png(50, 40))}, headers={"If-Match": "*"}
    )
    assert got.status_code == 204
    assert got.headers["OData-EntityId"].endswith(f"accounts({account})")
    value = api.get(f"accounts({account})?$select={COLUMN}").json()[COLUMN]
    assert images.dimensions(base64.b64decode(value)) == (40, 40)


def test_the_download_url_columns(api: httpx.Client, account: str) -> None:
    got = api.get(f"accounts({account})?$select={COLUMN}id,{COLUMN}_timestamp,{COLUMN}_url").json()
    assert got[f"{COLUMN}_url"] == (
        f"/Image/download.aspx?Entity=account&Attribute={COLUMN}&Id={got[COLUMN + 'id']}"
        f"&Timestamp={got[COLUMN + '_timestamp']}"
    )
    # .NET ticks (100 ns since 0001-01-01) of the tests' wall clock, 2026-01-02T03:04:05Z
    since = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC) - datetime(1, 1, 1, tzinfo=UTC)
    assert got[f"{COLUMN}_timestamp"] == (since.days * 86_400 + since.seconds) * 10_000_000


def test_a_file_that_is_not_an_image(api: httpx.Client, account: str) -> None:
    got = api.patch(f"accounts({account})", json={COLUMN: b64(b"GIF but not really")})
    assert got.status_code == 400
    assert got.json()["error"]["code"] == "0x80072553"


def test_image_configuration_tables_are_not_emulated(api: httpx.Client) -> None:
    for entity_set in ("attributeimageconfigs", "entityimageconfigs"):
        got = api.get(f"{entity_set}?$select=parententitylogicalname")
        assert got.status_code == 404
        assert got.json()["error"]["code"] == "0x80060888"
