"""Sample: Image Operations using Dataverse Web API, replayed against a fresh tenant.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/samples/image-operations
(page read at MicrosoftDocs/powerapps-docs commit 18c03d0e2743689e1eb3a07c8469b40030187da9),
with the requests of its program (microsoft/PowerApps-Samples,
``dataverse/webapi/C#-NETx/ImageOperations``, ``Utility.cs``) as the Web API articles they
follow show them (https://learn.microsoft.com/power-apps/developer/data-platform/image-column-data,
https://learn.microsoft.com/power-apps/developer/data-platform/image-attributes).

Adapted: the sample makes its column the primary image and later sets its
``CanStoreFullImage`` to true by updating the definition (``PUT``), which the emulator refuses;
the fresh account table's own image column (``entityimage``, which the table reference lists)
is not its primary image here (the reference names no PrimaryImageAttribute), so the new one is,
and
the records "created while CanStoreFullImage is true" are contacts, whose image column is made
with ``CanStoreFullImage`` true. The five image files of the sample are generated PNGs of the
same sizes.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from crm_ferry.emulator import images
from helpers.definitions import add_column, label
from helpers.files import b64, png
from helpers.webapi import created_id

SIZES = ((144, 144), (144, 400), (400, 144), (400, 500), (60, 80))
THUMBNAILS = {(144, 144): 144, (144, 400): 144, (400, 144): 144, (400, 500): 144, (60, 80): 60}
ATTRIBUTES = "EntityDefinitions(LogicalName='{table}')/Attributes"


def create_image_column(api: httpx.Client, table: str, full: bool) -> httpx.Response:
    """``Utility.CreateImageColumn`` (30 MB, the largest size)."""
    return add_column(
        api,
        table,
        {
            "@odata.type": "Microsoft.Dynamics.CRM.ImageAttributeMetadata",
            "AttributeTypeName": {"Value": "ImageType"},
            "SchemaName": "new_ImageColumn",
            "MaxSizeInKB": 30720,
            "CanStoreFullImage": full,
            "Description": label("Sample Image Column for ImageOperation samples"),
            "DisplayName": label("Sample Image Column"),
        },
    )


Records = dict[tuple[int, int], tuple[str, str]]
"""(width, height) → (entity set, id) of the records made with that image."""


@pytest.fixture
def records(api: httpx.Client) -> dict[bool, Records]:
    """Five accounts made while their column can't store full images, five contacts made
    with one that can."""
    assert create_image_column(api, "account", False).status_code == 204
    assert create_image_column(api, "contact", True).status_code == 204
    out: dict[bool, Records] = {False: {}, True: {}}
    for full, entity_set in ((False, "accounts"), (True, "contacts")):
        for size in SIZES:
            name = f"CanStoreFullImage {str(full).lower()} {size[0]}x{size[1]}.png"
            body: dict[str, Any] = {"new_imagecolumn": b64(png(*size))}
            body.update({"name": name} if entity_set == "accounts" else {"lastname": name})
            out[full][size] = (entity_set, created_id(api.post(entity_set, json=body)))
    return out


def test_create_the_image_column(api: httpx.Client) -> None:
    response = create_image_column(api, "account", False)
    assert response.status_code == 204
    assert response.headers["OData-Version"] == "4.0"
    assert "/Attributes(" in response.headers["OData-EntityId"]


def test_the_new_column_is_the_tables_primary_image(api: httpx.Client) -> None:
    create_image_column(api, "account", False)
    got = api.get("EntityDefinitions(LogicalName='account')?$select=PrimaryImageAttribute")
    assert got.status_code == 200
    assert got.json()["PrimaryImageAttribute"] == "new_imagecolumn"
    listed = api.get(
        ATTRIBUTES.format(table="account") + "/Microsoft.Dynamics.CRM.ImageAttributeMetadata"
        "?$select=SchemaName,CanStoreFullImage,MaxSizeInKB,IsPrimaryImage"
    )
    assert [
        {k: v for k, v in a.items() if not k.startswith("@")} | {"MetadataId": "…"}
        for a in listed.json()["value"]
    ] == [
        {
            "SchemaName": "EntityImage",
            "CanStoreFullImage": False,
            "MaxSizeInKB": None,
            "IsPrimaryImage": False,
            "MetadataId": "…",
        },
        {
            "SchemaName": "new_ImageColumn",
            "CanStoreFullImage": False,
            "MaxSizeInKB": 30720,
            "IsPrimaryImage": True,
            "MetadataId": "…",
        },
    ]


def test_updating_can_store_full_image(api: httpx.Client) -> None:
    create_image_column(api, "account", False)
    url = ATTRIBUTES.format(table="account") + "(LogicalName='new_imagecolumn')"
    cast = url + "/Microsoft.Dynamics.CRM.ImageAttributeMetadata"
    current = api.get(cast).json()
    assert api.put(url, json={**current, "CanStoreFullImage": True}).status_code == 204
    assert api.get(cast + "?$select=CanStoreFullImage").json()["CanStoreFullImage"] is True


def test_retrieve_the_records_with_their_thumbnails(
    api: httpx.Client, records: dict[bool, Records]
) -> None:
    for made in records.values():
        for size, (entity_set, row) in made.items():
            got = api.get(f"{entity_set}({row})?$select=new_imagecolumn")
            assert got.status_code == 200
            thumbnail = base64.b64decode(got.json()["new_imagecolumn"])
            side = THUMBNAILS[size]
            assert images.dimensions(thumbnail) == (side, side)


def test_download_full_images_with_actions(api: httpx.Client, records: dict[bool, Records]) -> None:
    for full, made in records.items():
        for size, (entity_set, row) in made.items():
            table = entity_set[:-1]
            started = api.post(
                "InitializeFileBlocksDownload",
                json={
                    "Target": {f"{table}id": row, "@odata.type": f"Microsoft.Dynamics.CRM.{table}"},
                    "FileAttributeName": "new_imagecolumn",
                },
            )
            if not full:  # "5 should fail"
                assert started.status_code == 404
                error = started.json()["error"]
                assert error["code"] == "0x80040217"
                image_id = api.get(f"{entity_set}({row})?$select=new_imagecolumnid").json()[
                    "new_imagecolumnid"
                ]
                assert error["message"] == (
                    f"No FileAttachment records found for imagedescriptorId: {image_id} for "
                    f"image attribute: new_imagecolumn of {table} record with id {row}."
                )
                continue
            body = started.json()
            block = api.post(
                "DownloadBlock",
                json={
                    "Offset": 0,
                    "BlockLength": body["FileSizeInBytes"],
                    "FileContinuationToken": body["FileContinuationToken"],
                },
            )
            assert base64.b64decode(block.json()["Data"]) == png(*size)


def test_download_full_images_with_chunks(api: httpx.Client, records: dict[bool, Records]) -> None:
    for full, made in records.items():
        for size, (entity_set, row) in made.items():
            got = api.get(
                f"{entity_set}({row})/new_imagecolumn/$value?size=full",
                headers={"Range": "bytes=0-4194303"},
            )
            if not full:  # no full-sized image: 204 No Content
                assert got.status_code == 204
                continue
            assert got.status_code == 206
            assert got.headers["x-ms-file-size"] == str(len(png(*size)))
            assert got.content == png(*size)


def test_download_full_images_with_stream(api: httpx.Client, records: dict[bool, Records]) -> None:
    for full, made in records.items():
        for size, (entity_set, row) in made.items():
            got = api.get(f"{entity_set}({row})/new_imagecolumn/$value?size=full")
            assert got.status_code == (200 if full else 204)
            if full:
                assert got.content == png(*size)


def test_delete_the_image_data_three_ways(api: httpx.Client, records: dict[bool, Records]) -> None:
    rows = [made[size] for made in records.values() for size in SIZES]
    for n, (entity_set, row) in enumerate(rows):
        if n < 3:
            response = api.patch(
                f"{entity_set}({row})",
                json={f"{entity_set[:-1]}id": row, "new_imagecolumn": None},
                headers={"If-Match": "*"},
            )
        elif n < 6:
            response = api.put(f"{entity_set}({row})/new_imagecolumn", json={"value": None})
        else:
            response = api.delete(f"{entity_set}({row})/new_imagecolumn")
        assert response.status_code == 204
        assert response.headers["OData-Version"] == "4.0"
        if n < 3:
            assert response.headers["OData-EntityId"].endswith(f"{entity_set}({row})")
    for entity_set, row in rows:
        assert (
            api.get(f"{entity_set}({row})?$select=new_imagecolumn").json()["new_imagecolumn"]
            is None
        )


def test_clean_up(api: httpx.Client, records: dict[bool, Records]) -> None:
    for made in records.values():
        for entity_set, row in made.values():
            assert api.delete(f"{entity_set}({row})").status_code == 204
    for table in ("account", "contact"):
        url = ATTRIBUTES.format(table=table) + "(LogicalName='new_imagecolumn')"
        assert api.delete(url).status_code == 204
    got = api.get("EntityDefinitions(LogicalName='account')?$select=PrimaryImageAttribute")
    assert got.json()["PrimaryImageAttribute"] is None
