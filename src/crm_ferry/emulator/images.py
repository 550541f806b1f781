"""Image files as Dataverse's Image columns take them: the accepted formats, their size in
pixels, and the thumbnail every stored image gets.

Image columns store GIF, JPEG, TIFF, BMP and PNG files and refuse anything else ("Image file
types"); every image gets a thumbnail-sized copy, cropped on center to a square and, when a
side is longer than 144 pixels, scaled down to 144x144 ("Resize rules for thumbnail-sized
images"; both in
https://learn.microsoft.com/power-apps/developer/data-platform/image-column-data).

Pure Python, no imaging library: PNG (not interlaced), GIF (the first frame) and uncompressed
BMP files are decoded, cropped and scaled (each thumbnail pixel takes the source pixel at its
center) and the thumbnail is written as PNG. JPEG and TIFF files are only measured: one that
already is a square of at most 144 pixels is its own thumbnail; for the others
:func:`thumbnail` raises :class:`NotDecodable` (the emulator answers 501).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator

THUMBNAIL_SIDE = 144
"""``MaxHeight`` and ``MaxWidth`` of every Image column (they can't be changed)."""
MB = 1024 * 1024
_MOST_PNG_BYTES = 32 * MB
"""The most pixel data of a PNG image the emulator decodes (pure Python is slow)."""
_MOST_GIF_PIXELS = 16 * MB

Pixel = tuple[int, int, int, int]
"""RGBA, 0-255 each."""


class ImageError(ValueError):
    """Not a file of an accepted image type, or a damaged one."""


class NotDecodable(Exception):
    """An image whose thumbnail the emulator can't make; ``feature`` names what is missing."""

    def __init__(self, feature: str) -> None:
        super().__init__(feature)
        self.feature = feature


_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)


def image_type(data: bytes) -> str | None:
    """The MIME type of ``data`` when it is one of the accepted image types, else None."""
    for signature, mime in _SIGNATURES:
        if data.startswith(signature):
            return mime
    return None


def dimensions(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels; :class:`ImageError` when it can't be read."""
    mime = image_type(data)
    try:
        if mime == "image/png":
            return _png_header(data)[:2]
        if mime == "image/gif":
            return _gif_frame(data)[:2]
        if mime == "image/bmp":
            return _bmp_header(data)[:2]
        if mime == "image/jpeg":
            return _jpeg_size(data)
        if mime == "image/tiff":
            return _tiff_size(data)
    except (IndexError, struct.error, zlib.error) as exc:
        raise ImageError(f"damaged {mime} file") from exc
    raise ImageError("not an accepted image type")


def thumbnail(data: bytes) -> tuple[bytes, str]:
    """(thumbnail, its MIME type) of an image; :class:`ImageError` for one that isn't an
    accepted image, :class:`NotDecodable` for one the emulator can't scale."""
    mime = image_type(data)
    width, height = dimensions(data)
    if width <= 0 or height <= 0:
        raise ImageError("an image without pixels")
    if mime in ("image/jpeg", "image/tiff"):
        if width == height and width <= THUMBNAIL_SIDE:
            return data, str(mime)
        kind = "JPEG" if mime == "image/jpeg" else "TIFF"
        raise NotDecodable(
            f"Making the thumbnail of a {kind} image that isn't a square of at most "
            f"{THUMBNAIL_SIDE} pixels"
        )
    try:
        pick = _decoder(data, str(mime))
    except (IndexError, struct.error, zlib.error) as exc:
        raise ImageError(f"damaged {mime} file") from exc
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    out = min(side, THUMBNAIL_SIDE)
    # the source pixel at the center of each thumbnail pixel
    spots = [((2 * i + 1) * side) // (2 * out) for i in range(out)]
    xs = [left + s for s in spots]
    try:
        rows = [pick(top + s, xs) for s in spots]
    except (IndexError, zlib.error) as exc:
        raise ImageError(f"damaged {mime} file") from exc
    return encode_png(rows), "image/png"


# ---------------------------------------------------------------------------------------
# PNG


def _chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    at = 8
    while at + 8 <= len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind = data[at + 4 : at + 8]
        yield kind, data[at + 8 : at + 8 + length]
        if kind == b"IEND":
            return
        at += 12 + length


def _png_header(data: bytes) -> tuple[int, int, int, int, int]:
    """(width, height, bit depth, color type, interlace) from IHDR."""
    kind, body = next(_chunks(data), (b"", b""))
    if kind != b"IHDR" or len(body) < 13:
        raise ImageError("a PNG file must start with IHDR")
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body[:13])
    return width, height, depth, color, interlace


_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def _png_decoder(data: bytes) -> Callable[[int, list[int]], list[Pixel]]:
    width, height, depth, color, interlace = _png_header(data)
    if interlace:
        raise NotDecodable("Making the thumbnail of an interlaced PNG image")
    if color not in _CHANNELS or depth not in (1, 2, 4, 8, 16):
        raise ImageError("unknown PNG color type")
    palette: list[Pixel] = []
    alpha = b""
    idat = bytearray()
    for kind, body in _chunks(data):
        if kind == b"PLTE":
            palette = [(body[i], body[i + 1], body[i + 2], 255) for i in range(0, len(body), 3)]
        elif kind == b"tRNS":
            alpha = body
        elif kind == b"IDAT":
            idat += body
    if alpha and color == 3:
        palette = [
            (r, g, b, alpha[i] if i < len(alpha) else 255) for i, (r, g, b, _) in enumerate(palette)
        ]
    channels = _CHANNELS[color]
    bpp = max(1, channels * depth // 8)
    stride = (width * channels * depth + 7) // 8
    if stride * height > _MOST_PNG_BYTES:
        raise NotDecodable(
            f"Making the thumbnail of a PNG image of more than {_MOST_PNG_BYTES // MB} MB of "
            "pixel data"
        )
    raw = zlib.decompress(bytes(idat))
    state = {"y": -1}
    line = bytearray(stride)

    def row(y: int) -> bytearray:
        """Row ``y`` unfiltered (rows are asked for in increasing order; only the last one
        unfiltered is kept)."""
        nonlocal line
        while state["y"] < y:
            at = (state["y"] + 1) * (stride + 1)
            kind, current = raw[at], bytearray(raw[at + 1 : at + 1 + stride])
            if len(current) != stride:
                raise ImageError("PNG image data ends early")
            _unfilter(kind, current, line, bpp)
            line = current
            state["y"] += 1
        return line

    def value(line: bytearray, x: int, channel: int) -> int:
        if depth == 8:
            return line[x * channels + channel]
        if depth == 16:
            return line[(x * channels + channel) * 2]
        bit = x * depth
        v = (line[bit // 8] >> (8 - depth - bit % 8)) & ((1 << depth) - 1)
        return v if color == 3 else v * 255 // ((1 << depth) - 1)

    def pick(y: int, xs: list[int]) -> list[Pixel]:
        line = row(y)
        out: list[Pixel] = []
        for x in xs:
            if color == 3:
                out.append(palette[value(line, x, 0)])
            elif color in (0, 4):
                g = value(line, x, 0)
                out.append((g, g, g, value(line, x, 1) if color == 4 else 255))
            else:
                rgb = (value(line, x, 0), value(line, x, 1), value(line, x, 2))
                out.append((*rgb, value(line, x, 3) if color == 6 else 255))
        return out

    return pick


def _unfilter(kind: int, line: bytearray, prior: bytearray, bpp: int) -> None:
    n = len(line)
    if kind == 0:
        return
    if kind == 1:
        for i in range(bpp, n):
            line[i] = (line[i] + line[i - bpp]) & 0xFF
    elif kind == 2:
        for i in range(n):
            line[i] = (line[i] + prior[i]) & 0xFF
    elif kind == 3:
        for i in range(n):
            left = line[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + ((left + prior[i]) >> 1)) & 0xFF
    elif kind == 4:
        for i in range(n):
            a = line[i - bpp] if i >= bpp else 0
            b = prior[i]
            c = prior[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            line[i] = (line[i] + pred) & 0xFF
    else:
        raise ImageError(f"unknown PNG filter type {kind}")


def encode_png(rows: list[list[Pixel]]) -> bytes:
    """An 8-bit RGBA PNG of ``rows`` (all the same length)."""
    height = len(rows)
    width = len(rows[0]) if rows else 0
    raw = bytearray()
    for pixels in rows:
        raw.append(0)
        for px in pixels:
            raw += bytes(px)

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(raw)))
        + chunk(b"IEND", b"")
    )


# ---------------------------------------------------------------------------------------
# GIF (the first frame; a frame smaller than the screen is taken on its own)


def _gif_frame(data: bytes) -> tuple[int, int, int]:
    """(width, height, offset of the first image descriptor)."""
    flags = data[10]
    at = 13 + (3 * (2 << (flags & 7)) if flags & 0x80 else 0)
    while data[at] == 0x21:  # extensions: label, then sub-blocks
        at += 2
        while data[at]:
            at += data[at] + 1
        at += 1
    if data[at] != 0x2C:
        raise ImageError("a GIF file without an image")
    width, height = struct.unpack("<HH", data[at + 5 : at + 9])
    return width, height, at


def _gif_transparent(data: bytes, end: int) -> int | None:
    flags = data[10]
    at = 13 + (3 * (2 << (flags & 7)) if flags & 0x80 else 0)
    found = None
    while at < end and data[at] == 0x21:
        if data[at + 1] == 0xF9 and data[at + 3] & 1:
            found = data[at + 6]
        at += 2
        while data[at]:
            at += data[at] + 1
        at += 1
    return found


def _gif_decoder(data: bytes) -> Callable[[int, list[int]], list[Pixel]]:
    width, height, at = _gif_frame(data)
    screen_flags, frame_flags = data[10], data[at + 9]
    if frame_flags & 0x80:
        table_at, size = at + 10, 2 << (frame_flags & 7)
        at += 10 + 3 * size
    elif screen_flags & 0x80:
        table_at, size = 13, 2 << (screen_flags & 7)
        at += 10
    else:
        raise ImageError("a GIF image without colors")
    clear = _gif_transparent(data, at)
    colors: list[Pixel] = [
        (data[table_at + 3 * i], data[table_at + 3 * i + 1], data[table_at + 3 * i + 2], 255)
        for i in range(size)
    ]
    if clear is not None and clear < size:
        colors[clear] = (*colors[clear][:3], 0)
    if width * height > _MOST_GIF_PIXELS:
        raise NotDecodable(
            f"Making the thumbnail of a GIF image of more than {_MOST_GIF_PIXELS} pixels"
        )
    min_code = data[at]
    at += 1
    packed = bytearray()
    while data[at]:
        packed += data[at + 1 : at + 1 + data[at]]
        at += data[at] + 1
    indices = _lzw(bytes(packed), min_code, width * height)
    order = list(range(height))
    if frame_flags & 0x40:  # interlaced: rows 0,8,.. then 4,12,.. then 2,6,.. then 1,3,..
        order = [*range(0, height, 8), *range(4, height, 8), *range(2, height, 4)]
        order += list(range(1, height, 2))
    line_of = {y: i for i, y in enumerate(order)}

    def pick(y: int, xs: list[int]) -> list[Pixel]:
        start = line_of[y] * width
        return [
            colors[indices[start + x]] if indices[start + x] < size else (0, 0, 0, 0) for x in xs
        ]

    return pick


def _lzw(packed: bytes, min_code: int, count: int) -> bytearray:
    clear, end = 1 << min_code, (1 << min_code) + 1
    table: list[bytes] = [bytes([i]) for i in range(clear)] + [b"", b""]
    size = min_code + 1
    out = bytearray()
    prev: bytes | None = None
    buf = held = at = 0
    while len(out) < count:
        while held < size and at < len(packed):
            buf |= packed[at] << held
            held += 8
            at += 1
        if held < size:
            break
        code = buf & ((1 << size) - 1)
        buf >>= size
        held -= size
        if code == clear:
            table = table[: clear + 2]
            size, prev = min_code + 1, None
            continue
        if code == end:
            break
        if code < len(table):
            entry = table[code]
            if prev is not None:
                table.append(prev + entry[:1])
        elif prev is not None and code == len(table):
            entry = prev + prev[:1]
            table.append(entry)
        else:
            raise ImageError("damaged GIF image data")
        out += entry
        prev = entry
        if len(table) == (1 << size) and size < 12:
            size += 1
    if len(out) < count:
        out += bytes(count - len(out))
    return out


# ---------------------------------------------------------------------------------------
# BMP (uncompressed, 8, 24 or 32 bits per pixel)


def _bmp_header(data: bytes) -> tuple[int, int, int, int, int]:
    """(width, height, bits per pixel, compression, pixel data offset); height > 0."""
    (offset,) = struct.unpack("<I", data[10:14])
    (header,) = struct.unpack("<I", data[14:18])
    if header not in (40, 52, 56, 108, 124):  # BITMAPINFOHEADER and its successors
        raise ImageError("not a BMP file this emulator reads")
    width, height, _, bits, compression = struct.unpack("<iiHHI", data[18:34])
    return width, abs(height), bits, compression, offset


def _bmp_decoder(data: bytes) -> Callable[[int, list[int]], list[Pixel]]:
    width, height, bits, compression, offset = _bmp_header(data)
    (signed_height,) = struct.unpack("<i", data[22:26])
    if bits not in (8, 24, 32) or compression not in (0, 3) or (compression == 3 and bits != 32):
        raise NotDecodable(f"Making the thumbnail of a {bits}-bit compressed BMP image")
    stride = ((width * bits + 31) // 32) * 4
    (header,) = struct.unpack("<I", data[14:18])
    palette: list[Pixel] = []
    if bits == 8:
        at = 14 + header
        palette = [
            (data[at + 4 * i + 2], data[at + 4 * i + 1], data[at + 4 * i], 255)
            for i in range(256)
            if at + 4 * i + 3 < offset
        ]

    def pick(y: int, xs: list[int]) -> list[Pixel]:
        line = offset + stride * (y if signed_height < 0 else height - 1 - y)
        if bits == 8:
            return [palette[data[line + x]] for x in xs]
        step = bits // 8
        return [
            (data[line + x * step + 2], data[line + x * step + 1], data[line + x * step], 255)
            for x in xs
        ]

    return pick


# ---------------------------------------------------------------------------------------
# JPEG and TIFF: size only


def _jpeg_size(data: bytes) -> tuple[int, int]:
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            raise ImageError("damaged JPEG file")
        marker = data[at + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            at += 2
            continue
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        at += 2 + length
    raise ImageError("a JPEG file without a frame header")


def _tiff_size(data: bytes) -> tuple[int, int]:
    order = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack(order + "I", data[4:8])
    (count,) = struct.unpack(order + "H", data[ifd : ifd + 2])
    found: dict[int, int] = {}
    for i in range(count):
        entry = data[ifd + 2 + 12 * i : ifd + 14 + 12 * i]
        tag, kind = struct.unpack(order + "HH", entry[:4])
        if tag in (256, 257):
            fmt = "H" if kind == 3 else "I"
            (found[tag],) = struct.unpack(order + fmt, entry[8 : 8 + struct.calcsize(fmt)])
    if 256 not in found or 257 not in found:
        raise ImageError("a TIFF file without its size")
    return found[256], found[257]


def _decoder(data: bytes, mime: str) -> Callable[[int, list[int]], list[Pixel]]:
    if mime == "image/png":
        return _png_decoder(data)
    if mime == "image/gif":
        return _gif_decoder(data)
    return _bmp_decoder(data)


__all__ = [
    "THUMBNAIL_SIDE",
    "ImageError",
    "NotDecodable",
    "dimensions",
    "encode_png",
    "image_type",
    "thumbnail",
]
