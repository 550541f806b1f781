"""Small, real, byte-for-byte reproducible documents for generated bundles.

The attachments a generated bundle carries must be genuine files (a PDF a viewer opens, a
PNG with a valid IHDR, a DOCX Word opens) so that later stages exercise real content types
and checksums; and they must be reproducible, so nothing here reads the clock: zip entries
carry a fixed timestamp and fixed attributes, and every byte comes from the arguments.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO
from xml.sax.saxutils import escape

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
"""The timestamp of every zip entry we write (the earliest a zip can hold)."""

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def zip_info(name: str, *, size: int = 0) -> zipfile.ZipInfo:
    """A zip entry header that depends on nothing but the name."""
    info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3
    info.external_attr = 0o100644 << 16
    info.file_size = size
    return info


def write_zip(target: BinaryIO | Path, entries: Iterable[tuple[str, Path | bytes]]) -> None:
    """Write ``entries`` (name, file or bytes) to a zip, in the order given, reproducibly.

    Files are streamed in chunks, so a large bundle is zipped in constant memory.
    """
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name, content in entries:
            if isinstance(content, bytes):
                zf.writestr(zip_info(name, size=len(content)), content)
                continue
            size = content.stat().st_size
            with (
                content.open("rb") as src,
                zf.open(zip_info(name, size=size), "w", force_zip64=size > 0x7FFF0000) as dst,
            ):
                shutil.copyfileobj(src, dst, 1 << 20)


# ---------------------------------------------------------------------------
# PNG


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png(width: int, height: int, rgb: tuple[int, int, int], *, stripe: int = 0) -> bytes:
    """An 8-bit RGB PNG: a solid colour with a darker diagonal band every ``stripe`` pixels."""
    r, g, b = rgb
    dark = bytes((r // 2, g // 2, b // 2))
    light = bytes((r, g, b))
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            rows += dark if stripe and (x + y) % stripe < 2 else light
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + _png_chunk(b"IEND", b"")
    )


# ---------------------------------------------------------------------------
# PDF


def _pdf_text(s: str) -> str:
    """A PDF literal string body: Latin-1 only, with its three special characters escaped."""
    s = s.encode("latin-1", "replace").decode("latin-1")
    return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _pdf_objects(title: str, lines: list[str], stream_extra: int) -> list[bytes]:
    text = ["BT", "/F1 16 Tf", "72 740 Td", f"({_pdf_text(title)}) Tj", "/F1 11 Tf"]
    for line in lines:
        text += ["0 -18 Td", f"({_pdf_text(line)}) Tj"]
    text.append("ET")
    content = "\n".join(text).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    if stream_extra:
        objects.append(b"<< /Length %d >>\nstream\n" % stream_extra)
    return objects


def pdf(title: str, lines: list[str]) -> bytes:
    """A one-page PDF 1.4 with a title and lines of text, with a correct xref table."""
    return b"".join(_pdf_stream(title, lines, 0, ()))


def pdf_with_payload(
    title: str, lines: list[str], length: int, chunks: Iterable[bytes]
) -> Iterator[bytes]:
    """A PDF with an extra stream object of ``length`` bytes taken from ``chunks``.

    Produced piece by piece, so a large file never sits in memory.
    """
    yield from _pdf_stream(title, lines, length, chunks)


def _pdf_stream(
    title: str, lines: list[str], extra: int, chunks: Iterable[bytes]
) -> Iterator[bytes]:
    objects = _pdf_objects(title, lines, extra)
    offsets: list[int] = []
    pos = 0
    header = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    yield header
    pos += len(header)
    for number, body in enumerate(objects, start=1):
        offsets.append(pos)
        head = b"%d 0 obj\n" % number + body
        yield head
        pos += len(head)
        if extra and number == len(objects):
            written = 0
            for chunk in chunks:
                yield chunk
                written += len(chunk)
            if written != extra:
                raise ValueError(f"PDF payload is {written} bytes, not the {extra} announced")
            tail = b"\nendstream\nendobj\n"
        else:
            tail = b"\nendobj\n"
        yield tail
        pos += len(tail) + (extra if extra and number == len(objects) else 0)
    xref = [b"xref\n0 %d\n" % (len(objects) + 1), b"0000000000 65535 f \n"]
    xref += [b"%010d 00000 n \n" % off for off in offsets]
    yield b"".join(xref)
    yield b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        pos,
    )


# ---------------------------------------------------------------------------
# DOCX

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/>'
    "</Relationships>"
)
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def docx(title: str, paragraphs: list[str]) -> bytes:
    """A minimal WordprocessingML document (a zip) with a bold title and paragraphs."""
    bold = "<w:rPr><w:b/></w:rPr>"
    body = [f'<w:p><w:r>{bold}<w:t xml:space="preserve">{escape(title)}</w:t></w:r></w:p>']
    body += [
        f'<w:p><w:r><w:t xml:space="preserve">{escape(p)}</w:t></w:r></w:p>' for p in paragraphs
    ]
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<w:document xmlns:w="{_W}"><w:body>{"".join(body)}</w:body></w:document>'
    )
    buf = io.BytesIO()
    write_zip(
        buf,
        [
            ("[Content_Types].xml", _CONTENT_TYPES.encode()),
            ("_rels/.rels", _RELS.encode()),
            ("word/document.xml", document.encode()),
        ],
    )
    return buf.getvalue()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------
# M4A


def m4a(payload: bytes) -> bytes:
    """An MPEG-4 audio container (``ftyp`` brand ``M4A``, then an ``mdat`` box holding
    ``payload``): what a phone's voice recorder names ``.m4a``, recognisable by its type."""
    ftyp = b"ftyp" + b"M4A " + struct.pack(">I", 0) + b"M4A mp42isom"
    mdat = b"mdat" + payload
    return struct.pack(">I", 4 + len(ftyp)) + ftyp + struct.pack(">I", 4 + len(mdat)) + mdat
