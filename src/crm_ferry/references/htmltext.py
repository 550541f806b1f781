"""HTML email bodies as plain text: paragraphs and list items kept as lines, links kept."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Final

_BLOCK: Final = frozenset(
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
        "tr",
        "table",
        "blockquote",
        "pre",
        "hr",
        "section",
        "article",
        "header",
        "footer",
    }
)
_SKIP: Final = frozenset({"script", "style", "head", "title"})


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._href: list[str | None] = []
        self._list: list[str] = []
        self._counters: list[int] = []

    def _newline(self) -> None:
        self.parts.append("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
            return
        if tag in ("ul", "ol"):
            self._list.append(tag)
            self._counters.append(0)
        if tag in _BLOCK:
            self._newline()
        if tag == "li":
            if self._list and self._list[-1] == "ol":
                self._counters[-1] += 1
                self.parts.append(f"{self._counters[-1]}. ")
            else:
                self.parts.append("- ")
        if tag == "a":
            self._href.append(dict(attrs).get("href"))
        if tag == "img":
            alt = dict(attrs).get("alt")
            self.parts.append(f"[image{': ' + alt if alt else ''}]")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in ("br", "hr", "img"):
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
            return
        if tag == "a" and self._href:
            href = self._href.pop()
            if href and not href.startswith(("mailto:", "#")):
                self.parts.append(f" ({href})")
        if tag in ("ul", "ol") and self._list:
            self._list.pop()
            self._counters.pop()
        if tag in _BLOCK:
            self._newline()

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str | None) -> str:
    """``html`` as plain text: one line per paragraph or list item, entities decoded."""
    if not html:
        return ""
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).split("\n")]
    return "\n".join(line for line in lines if line)
