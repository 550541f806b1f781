"""HTML email bodies as plain text: paragraphs and list items kept as lines, links kept."""

from __future__ import annotations

from crm_ferry.transform import html


def html_to_text(html_text: str | None) -> str:
    """``html_text`` as plain text: one line per paragraph or list item, entities decoded,
    each link's target after its text (the note converter, with links)."""
    return html.html_to_text(html_text, links=True).text
