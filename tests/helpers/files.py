"""Test helpers for file and image columns: columns made through the metadata API, rows, and
image files built byte by byte (no imaging library)."""

from __future__ import annotations

import base64
import functools
import struct
import zlib
from typing import Any

import httpx

from helpers.definitions import NS, add_column, label
from helpers.webapi import created_id

Pixel = tuple[int, int, int, int]


def _media_column(
    api: httpx.Client, table: str, meta_type: str, schema: str, body: dict[str, Any]
) -> str:
    sent = {"@odata.type": NS + meta_type, "SchemaName": schema, **body}
    response = add_column(api, table, sent)
    assert response.status_code == 204, response.text
    return schema.lower()


def file_column(
    api: httpx.Client, table: str = "account", schema: str = "new_FileColumn", **extra: Any
) -> str:
    """Make a file column; its logical name."""
    body = {"DisplayName": label("Sample File Column"), "RequiredLevel": {"Value": "None"}}
    return _media_column(api, table, "FileAttributeMetadata", schema, {**body, **extra})


def image_column(
    api: httpx.Client, table: str = "account", schema: str = "new_ImageColumn", **extra: Any
) -> str:
    """Make an image column; its logical name."""
    body = {"DisplayName": label("Sample Image Column"), **extra}
    return _media_column(api, table, "ImageAttributeMetadata", schema, body)


def new_row(api: httpx.Client, entity_set: str = "accounts", **values: Any) -> str:
    body = {"name": "Test account for file data sample"} if entity_set == "accounts" else {}
    return created_id(api.post(entity_set, json={**body, **values}))


def upload(api: httpx.Client, path: str, data: bytes, name: str, **headers: str) -> httpx.Response:
    return api.patch(
        path,
        content=data,
        headers={"Content-Type": "application/octet-stream", "x-ms-file-name": name, **headers},
    )


def sample_bytes(size: int, seed: int = 0) -> bytes:
    return bytes((i * 31 + seed) % 251 for i in range(size))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def block_id(n: int) -> str:
    """A block id like the Web API samples': the block number padded to 16 digits."""
    return b64(f"{n:016d}".encode())


# ---------------------------------------------------------------------------------------
# Image files


def gradient(width: int, height: int) -> list[list[Pixel]]:
    """Each pixel tells where it is: red = x % 256, green = y % 256, blue = x // 256."""
    return [[(x % 256, y % 256, x // 256, 255) for x in range(width)] for y in range(height)]


@functools.cache
def png(width: int, height: int) -> bytes:
    rows = gradient(width, height)
    raw = b"".join(b"\x00" + b"".join(bytes(p) for p in row) for row in rows)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def read_png(data: bytes) -> list[list[Pixel]]:
    """The pixels of an 8-bit RGBA PNG whose rows are not filtered (what the emulator writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    idat = b""
    at = 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        if data[at + 4 : at + 8] == b"IDAT":
            idat += data[at + 8 : at + 8 + length]
        at += 12 + length
    raw = zlib.decompress(idat)
    stride = 4 * width + 1
    rows = []
    for y in range(height):
        line = raw[y * stride : (y + 1) * stride]
        assert line[0] == 0
        rows.append(
            [
                (line[1 + 4 * x], line[2 + 4 * x], line[3 + 4 * x], line[4 + 4 * x])
                for x in range(width)
            ]
        )
    return rows


def bmp(width: int, height: int) -> bytes:
    """A 24-bit bottom-up BMP of :func:`gradient` (without alpha)."""
    stride = ((width * 24 + 31) // 32) * 4
    lines = []
    for row in reversed(gradient(width, height)):
        line = b"".join(bytes((b, g, r)) for r, g, b, _ in row)
        lines.append(line + b"\x00" * (stride - len(line)))
    pixels = b"".join(lines)
    header = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(pixels), 0, 0, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54 + len(pixels), 0, 0, 54) + header + pixels


def gif(width: int, height: int, indices: list[int]) -> bytes:
    """A GIF with a 4-color table (red, blue, green, white) and the given color indices; the
    LZW stream resets its table after every two codes, so codes stay 3 bits wide."""
    colors = bytes([255, 0, 0, 0, 0, 255, 0, 255, 0, 255, 255, 255])
    out = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x81, 0, 0) + colors
    out += b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
    codes: list[int] = []
    for i, v in enumerate(indices):
        if i % 2 == 0:
            codes.append(4)  # clear
        codes.append(v)
    codes.append(5)  # end
    bits = held = 0
    packed = bytearray()
    for code in codes:
        bits |= code << held
        held += 3
        while held >= 8:
            packed.append(bits & 0xFF)
            bits >>= 8
            held -= 8
    if held:
        packed.append(bits & 0xFF)
    out += b"\x02"
    for i in range(0, len(packed), 255):
        part = packed[i : i + 255]
        out += bytes([len(part)]) + part
    return out + b"\x00;"


def jpeg_header(width: int, height: int) -> bytes:
    """The start of a JPEG file up to its frame header: enough to be measured."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


def png_scanlines(
    width: int,
    height: int,
    lines: list[bytes],
    *,
    color: int,
    depth: int = 8,
    kind: int = 0,
    palette: bytes = b"",
) -> bytes:
    """A PNG of raw scanlines (``color``: the PNG color type), each filtered with filter
    ``kind`` (0 none, 1 sub, 2 up, 3 average, 4 Paeth) as the PNG specification defines them."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color]
    bpp = max(1, channels * depth // 8)
    out = b""
    prior = bytes(len(lines[0]))
    for line in lines:
        filtered = bytearray()
        for i, byte in enumerate(line):
            a = line[i - bpp] if i >= bpp else 0
            b = prior[i]
            c = prior[i - bpp] if i >= bpp else 0
            if kind == 0:
                pred = 0
            elif kind == 1:
                pred = a
            elif kind == 2:
                pred = b
            elif kind == 3:
                pred = (a + b) >> 1
            else:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            filtered.append((byte - pred) & 0xFF)
        out += bytes([kind]) + bytes(filtered)
        prior = line

    def chunk(name: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(name + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + name + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    extra = chunk(b"PLTE", palette) if palette else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + extra
        + chunk(b"IDAT", zlib.compress(out))
        + chunk(b"IEND", b"")
    )
