"""Note bodies: HTML to plain text, and the inline images it carries.

Paragraphs, headings, line breaks and list items each become a line (list items keep a
``- `` or ``1. `` marker), entities are decoded, everything else is dropped. Images written
as ``data:`` URIs are pulled out so each can become its own note with a document; other
images (``http:`` ...) are named in the text, not fetched.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import unquote_to_bytes

__all__ = ["InlineImage", "NoteBody", "html_to_text"]

_BLOCKS = frozenset(
    {
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "table",
        "tr",
        "hr",
        "section",
        "article",
        "header",
        "footer",
    }
)
_SKIP = frozenset({"script", "style", "head", "title"})
_DATA_URI = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?((?:;[\w.+-]+=[^;,]*)*)(;base64)?,(.*)$", re.S)
_EXT = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/jpg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/bmp": "bmp",
    "image/svg+xml": "svg",
    "image/tiff": "tif",
}


@dataclass(frozen=True, slots=True)
class InlineImage:
    """An image embedded in the HTML as a ``data:`` URI."""

    index: int
    """1-based position among the note's inline images."""
    mimetype: str
    data: bytes
    alt: str = ""

    @property
    def extension(self) -> str:
        return _EXT.get(self.mimetype, "bin")

    @property
    def filename(self) -> str:
        return f"image-{self.index}.{self.extension}"


@dataclass(frozen=True, slots=True)
class NoteBody:
    text: str
    images: tuple[InlineImage, ...] = ()
    problems: tuple[str, ...] = ()
    """Inline images that could not be decoded (the caller decides what that means)."""


class _TextParser(HTMLParser):
    def __init__(self, *, links: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self.links = links
        self.hrefs: list[str | None] = []
        """Targets of the open ``<a>`` elements (when ``links``)."""
        self.lines: list[str] = []
        self.current: list[str] = []
        self.lists: list[list[int]] = []
        """Stack of open lists: ``[0]`` for ul, ``[n]`` counter for ol."""
        self.skip = 0
        self.pre = 0
        self.images: list[InlineImage] = []
        self.problems: list[str] = []

    # -- line handling -------------------------------------------------------------------

    def _break(self) -> None:
        text = "".join(self.current)
        text = text.rstrip() if self.pre else " ".join(text.split())
        if text:
            self.lines.append(text)
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
            return
        if tag in _BLOCKS:
            self._break()
        if tag == "pre":
            self.pre += 1
        if tag == "ul":
            self.lists.append([0])
        elif tag == "ol":
            self.lists.append([1])
        elif tag == "li":
            marker = "- "
            if self.lists and self.lists[-1][0] > 0:
                marker = f"{self.lists[-1][0]}. "
                self.lists[-1][0] += 1
            indent = "  " * max(0, len(self.lists) - 1)
            self.current.append(indent + marker)
        elif tag == "img":
            self._image(dict(attrs))
        elif tag == "a" and self.links:
            self.hrefs.append(dict(attrs).get("href"))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _BLOCKS and tag != "img":
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
            return
        if tag == "a" and self.hrefs:
            href = self.hrefs.pop()
            if href and not href.startswith(("mailto:", "#")):
                self.current.append(f" ({href})")
        if tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        if tag == "pre":
            self.pre = max(0, self.pre - 1)
        if tag in _BLOCKS:
            self._break()

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        self.current.append(data)

    def _image(self, attrs: dict[str, str | None]) -> None:
        src = (attrs.get("src") or "").strip()
        alt = (attrs.get("alt") or "").strip()
        match = _DATA_URI.match(src)
        if match is None:
            if src:
                self.current.append(f"[image: {alt or src}]")
            return
        mimetype = (match.group(1) or "application/octet-stream").lower()
        payload = match.group(4)
        index = len(self.images) + len(self.problems) + 1
        try:
            if match.group(3):
                data = base64.b64decode("".join(payload.split()), validate=True)
            else:
                data = unquote_to_bytes(payload)
        except (binascii.Error, ValueError):
            self.problems.append(f"inline image {index} is not valid base64")
            return
        image = InlineImage(index=index, mimetype=mimetype, data=data, alt=alt)
        self.images.append(image)
        self.current.append(f"[image: {image.filename}]")

    def result(self) -> NoteBody:
        self._break()
        return NoteBody("\n".join(self.lines), tuple(self.images), tuple(self.problems))


def html_to_text(html: str | None, *, links: bool = False) -> NoteBody:
    """Plain text of ``html`` (one line per block and list item) and its inline images;
    with ``links``, each link's target follows its text in brackets."""
    if not html:
        return NoteBody("")
    parser = _TextParser(links=links)
    parser.feed(html)
    parser.close()
    return parser.result()
