"""Image columns of the emulator, and its image module.

Written from https://learn.microsoft.com/power-apps/developer/data-platform/image-column-data
and https://learn.microsoft.com/power-apps/developer/data-platform/image-attributes: the
accepted formats, the thumbnail (cropped on center to a square, scaled down to 144x144 when
larger), the primary image, full images, and the companion columns.
"""

from __future__ import annotations

import base64
import struct

import httpx
import pytest

from crm_ferry.emulator import images
from crm_ferry.emulator.core import Emulator
from helpers.definitions import add_column, label
from helpers.files import (
    b64,
    bmp,
    gif,
    gradient,
    image_column,
    jpeg_header,
    new_row,
    png,
    png_scanlines,
    read_png,
    upload,
)

TARGET = "Microsoft.Dynamics.CRM.account"


def error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


# ---------------------------------------------------------------------------------------
# The image module


@pytest.mark.parametrize(
    ("size", "side"), [((300, 428), 144), ((144, 400), 144), ((91, 130), 91), ((60, 80), 60)]
)
def test_a_thumbnail_is_the_centered_square_scaled_to_at_most_144(
    size: tuple[int, int], side: int
) -> None:
    width, height = size
    thumb, mime = images.thumbnail(png(width, height))
    assert mime == "image/png"
    assert images.dimensions(thumb) == (side, side)
    pixels = read_png(thumb)
    square = min(width, height)
    left, top = (width - square) // 2, (height - square) // 2
    source = gradient(width, height)
    for i in (0, side // 2, side - 1):
        spot = ((2 * i + 1) * square) // (2 * side)
        assert pixels[i][i] == source[top + spot][left + spot]


def test_bmp_and_gif_are_decoded_too() -> None:
    thumb, mime = images.thumbnail(bmp(10, 6))
    assert (mime, images.dimensions(thumb)) == ("image/png", (6, 6))
    assert read_png(thumb)[0][0] == gradient(10, 6)[0][2]
    # 4x3 GIF: rows "red blue red blue", "blue blue blue blue", "red red red red"
    thumb, _ = images.thumbnail(gif(4, 3, [0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0]))
    rows = read_png(thumb)
    assert images.dimensions(thumb) == (3, 3)
    assert rows[0] == [(255, 0, 0, 255), (0, 0, 255, 255), (255, 0, 0, 255)]
    assert rows[2] == [(255, 0, 0, 255)] * 3


def test_formats_are_recognized_by_their_signatures() -> None:
    assert images.image_type(png(2, 2)) == "image/png"
    assert images.image_type(bmp(2, 2)) == "image/bmp"
    assert images.image_type(gif(1, 1, [0])) == "image/gif"
    assert images.image_type(jpeg_header(10, 10)) == "image/jpeg"
    assert images.image_type(b"II*\x00rest") == "image/tiff"
    assert images.image_type(b"<svg/>") is None
    assert images.dimensions(jpeg_header(640, 480)) == (640, 480)
    tiff = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 2)
    tiff += struct.pack("<HHII", 256, 3, 1, 33) + struct.pack("<HHII", 257, 4, 1, 21)
    assert images.dimensions(tiff) == (33, 21)


def test_jpeg_and_tiff_thumbnails_only_when_nothing_is_to_be_done() -> None:
    small = jpeg_header(100, 100)
    assert images.thumbnail(small) == (small, "image/jpeg")
    with pytest.raises(images.NotDecodable) as caught:
        images.thumbnail(jpeg_header(640, 480))
    assert "JPEG" in caught.value.feature


def test_damaged_images_are_refused() -> None:
    for data in (b"\x89PNG\r\n\x1a\n", png(5, 5)[:40], b"GIF89a\x01", b"not an image"):
        with pytest.raises(images.ImageError):
            images.thumbnail(data)


# ---------------------------------------------------------------------------------------
# Definitions


def test_an_image_column_has_its_companions_and_is_the_primary_image(api: httpx.Client) -> None:
    image_column(api, MaxSizeInKB=30720, CanStoreFullImage=True)
    attrs = "EntityDefinitions(LogicalName='account')/Attributes"
    col = api.get(f"{attrs}(LogicalName='new_imagecolumn')").json()
    assert col["@odata.type"] == "#Microsoft.Dynamics.CRM.ImageAttributeMetadata"
    assert (col["MaxSizeInKB"], col["CanStoreFullImage"], col["IsPrimaryImage"]) == (
        30720,
        True,
        True,
    )
    assert (col["MaxHeight"], col["MaxWidth"]) == (144, 144)
    for name, kind in (
        ("new_imagecolumnid", "Uniqueidentifier"),
        ("new_imagecolumn_timestamp", "BigInt"),
        ("new_imagecolumn_url", "String"),
    ):
        companion = api.get(f"{attrs}(LogicalName='{name}')").json()
        assert (companion["AttributeType"], companion["AttributeOf"]) == (kind, "new_imagecolumn")
    entity = api.get("EntityDefinitions(LogicalName='account')?$select=PrimaryImageAttribute")
    assert entity.json()["PrimaryImageAttribute"] == "new_imagecolumn"
    # a second image column asking to be the primary image is not (the ask is ignored)
    image_column(api, schema="new_Second", IsPrimaryImage=True)
    second = api.get(f"{attrs}(LogicalName='new_second')").json()
    assert (second["MaxSizeInKB"], second["CanStoreFullImage"], second["IsPrimaryImage"]) == (
        10240,
        False,
        False,
    )


def test_deleting_the_primary_image_column_makes_another_one_primary(api: httpx.Client) -> None:
    image_column(api)
    image_column(api, schema="new_Second")
    api.delete("EntityDefinitions(LogicalName='account')/Attributes(LogicalName='new_imagecolumn')")
    entity = api.get("EntityDefinitions(LogicalName='account')?$select=PrimaryImageAttribute")
    assert entity.json()["PrimaryImageAttribute"] == "new_second"


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"MaxSizeInKB": 30721}, "0x8009000E"),
        ({"MaxSizeInKB": 0}, "0x8009000E"),
        ({"MaxHeight": 200}, "0x80040203"),
        ({"CanStoreFullImage": "yes"}, "0x80040203"),
    ],
)
def test_image_column_definitions_are_checked(
    api: httpx.Client, extra: dict[str, object], code: str
) -> None:
    body = {
        "@odata.type": "Microsoft.Dynamics.CRM.ImageAttributeMetadata",
        "SchemaName": "new_Picture",
        "DisplayName": label("Picture"),
        **extra,
    }
    assert error(add_column(api, "account", body)) == (400, code)


# ---------------------------------------------------------------------------------------
# Values


def test_set_an_image_with_the_record_and_read_its_thumbnail(api: httpx.Client) -> None:
    column = image_column(api)
    picture = png(300, 428)
    row = new_row(api, **{column: b64(picture)})
    got = api.get(
        f"accounts({row})?$select={column},{column}id,{column}_timestamp,{column}_url"
    ).json()
    thumb = base64.b64decode(got[column])
    assert images.dimensions(thumb) == (144, 144)
    assert got[f"{column}id"] == api.get(f"accounts({row})").json()[f"{column}id"]
    assert isinstance(got[f"{column}_timestamp"], int)
    assert got[f"{column}_url"] == (
        f"/Image/download.aspx?Entity=account&Attribute={column}&Id={got[column + 'id']}"
        f"&Timestamp={got[column + '_timestamp']}"
    )
    # like ColumnSet.AllColumns, a read of every column leaves image data out
    assert column not in api.get(f"accounts({row})").json()


def test_only_the_primary_image_is_set_on_create(api: httpx.Client) -> None:
    image_column(api)
    second = image_column(api, schema="new_Second")
    refused = api.post("accounts", json={"name": "a", second: b64(png(4, 4))})
    assert error(refused) == (400, "0x80090487")
    assert refused.json()["error"]["message"] == (
        "Non-primary image attribute new_second of entity account is not allowed to upload "
        "during Create operation."
    )
    row = new_row(api)
    assert api.patch(f"accounts({row})", json={second: b64(png(4, 4))}).status_code == 204


def test_images_are_checked(api: httpx.Client) -> None:
    column = image_column(api, MaxSizeInKB=1)
    row = new_row(api)
    wrong = api.patch(f"accounts({row})", json={column: b64(b"%PDF-1.7")})
    assert error(wrong) == (400, "0x80072553")
    assert wrong.json()["error"]["message"] == (
        "Error occured when processing image. Reason: Update image properties failed for "
        f"objectid: {row}, logicalName: account, attribute: {column}"
    )
    big = api.patch(f"accounts({row})", json={column: b64(png(40, 40))})
    assert error(big) == (400, "0x80072553")
    assert "File size is too big. MaxSize: 0 MB, Uploaded filesize: 0 MB." in big.text
    assert error(api.patch(f"accounts({row})", json={column: "***"})) == (400, "0x80048d19")
    large_jpeg = api.patch(f"accounts({row})", json={column: b64(jpeg_header(500, 400))})
    assert error(large_jpeg) == (501, "0x80040219")


def test_a_full_image_is_kept_only_when_the_column_says_so(api: httpx.Client) -> None:
    full = image_column(api, CanStoreFullImage=True)
    thumb_only = image_column(api, table="contact", schema="new_Photo")
    picture = png(200, 150)
    account = new_row(api, **{full: b64(picture)})
    contact = new_row(api, "contacts", lastname="x", **{thumb_only: b64(picture)})
    whole = api.get(f"accounts({account})/{full}/$value?size=full")
    assert whole.status_code == 200
    assert whole.content == picture
    assert whole.headers["x-ms-file-size"] == str(len(picture))
    assert whole.headers["mimetype"] == "image/png"
    assert api.get(f"contacts({contact})/{thumb_only}/$value?size=full").status_code == 204
    thumbnail = api.get(f"contacts({contact})/{thumb_only}/$value")
    assert images.dimensions(thumbnail.content) == (144, 144)
    assert "x-ms-file-size" not in thumbnail.headers
    refused = api.post(
        "InitializeFileBlocksDownload",
        json={
            "Target": {"contactid": contact, "@odata.type": "Microsoft.Dynamics.CRM.contact"},
            "FileAttributeName": thumb_only,
        },
    )
    assert error(refused) == (404, "0x80040217")
    assert refused.json()["error"]["message"].startswith(
        "No FileAttachment records found for imagedescriptorId: "
    )


def test_upload_an_image_as_a_file(api: httpx.Client) -> None:
    column = image_column(api, CanStoreFullImage=True)
    row = new_row(api)
    picture = png(30, 20)
    assert upload(api, f"accounts({row})/{column}", picture, "photo.png").status_code == 204
    whole = api.get(f"accounts({row})/{column}/$value?size=full")
    assert (whole.content, whole.headers["x-ms-file-name"]) == (picture, "photo.png")
    token = api.post(
        "InitializeFileBlocksUpload",
        json={
            "Target": {"accountid": row, "@odata.type": TARGET},
            "FileName": "other.bmp",
            "FileAttributeName": column,
        },
    ).json()["FileContinuationToken"]
    block = b64(b"0" * 16)
    api.post(
        "UploadBlock",
        json={"BlockId": block, "BlockData": b64(bmp(8, 8)), "FileContinuationToken": token},
    )
    done = api.post(
        "CommitFileBlocksUpload",
        json={
            "FileName": "other.bmp",
            "MimeType": "image/bmp",
            "BlockList": [block],
            "FileContinuationToken": token,
        },
    )
    assert done.status_code == 200
    assert (
        done.json()["FileId"]
        == api.get(f"accounts({row})?$select={column}id").json()[f"{column}id"]
    )
    assert api.get(f"accounts({row})/{column}/$value?size=full").content == bmp(8, 8)


@pytest.mark.parametrize("how", ["patch", "put", "delete"])
def test_delete_an_image(core_emulator: Emulator, api: httpx.Client, how: str) -> None:
    column = image_column(api)
    row = new_row(api, **{column: b64(png(10, 10))})
    image_id = api.get(f"accounts({row})?$select={column}id").json()[f"{column}id"]
    if how == "patch":
        response = api.patch(f"accounts({row})", json={column: None}, headers={"If-Match": "*"})
    elif how == "put":
        response = api.put(f"accounts({row})/{column}", json={"value": None})
    else:
        response = api.delete(f"accounts({row})/{column}")
    assert response.status_code == 204
    got = api.get(
        f"accounts({row})?$select={column},{column}id,{column}_timestamp,{column}_url"
    ).json()
    assert [got[k] for k in (column, f"{column}id", f"{column}_timestamp", f"{column}_url")] == [
        None
    ] * 4
    assert core_emulator.store.blob_info(image_id) is None


def test_set_an_image_with_put(api: httpx.Client) -> None:
    column = image_column(api)
    row = new_row(api)
    assert api.put(f"accounts({row})/{column}", json={"value": b64(png(3, 3))}).status_code == 204
    value = api.get(f"accounts({row})/{column}").json()["value"]
    assert images.dimensions(base64.b64decode(value)) == (3, 3)


def test_deleting_the_row_deletes_its_images(core_emulator: Emulator, api: httpx.Client) -> None:
    column = image_column(api, CanStoreFullImage=True)
    row = new_row(api, **{column: b64(png(10, 10))})
    image_id = api.get(f"accounts({row})?$select={column}id").json()[f"{column}id"]
    api.delete(f"accounts({row})")
    assert core_emulator.store.blob_info(image_id) is None
    assert core_emulator.store.blob_info(f"{image_id}/full") is None


@pytest.mark.parametrize("kind", [0, 1, 2, 3, 4])
def test_every_png_filter_is_undone(kind: int) -> None:
    width, height = 5, 7
    lines = [b"".join(bytes(p) for p in row) for row in gradient(width, height)]
    thumb, _ = images.thumbnail(png_scanlines(width, height, lines, color=6, kind=kind))
    assert read_png(thumb) == [row[:5] for row in gradient(width, height)[1:6]]


def test_png_color_types_and_depths() -> None:
    gray = images.thumbnail(png_scanlines(2, 2, [b"\x00\xff", b"\x80\x40"], color=0))[0]
    assert read_png(gray) == [
        [(0, 0, 0, 255), (255, 255, 255, 255)],
        [(128,) * 3 + (255,), (64,) * 3 + (255,)],
    ]
    palette = bytes([10, 20, 30, 40, 50, 60])
    # 4-bit palette indices: row 0 = 1, 0 ; row 1 = 0, 1
    indexed = png_scanlines(2, 2, [b"\x10", b"\x01"], color=3, depth=4, palette=palette)
    assert read_png(images.thumbnail(indexed)[0]) == [
        [(40, 50, 60, 255), (10, 20, 30, 255)],
        [(10, 20, 30, 255), (40, 50, 60, 255)],
    ]
    deep = png_scanlines(1, 1, [bytes([1, 2, 3, 4, 5, 6])], color=2, depth=16)
    assert read_png(images.thumbnail(deep)[0]) == [[(1, 3, 5, 255)]]
    gray_alpha = png_scanlines(1, 1, [bytes([9, 99])], color=4)
    assert read_png(images.thumbnail(gray_alpha)[0]) == [[(9, 9, 9, 99)]]
