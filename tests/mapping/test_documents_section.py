"""The ``documents:`` section of mapping.yaml: where documents go and what a missing linked
file does."""

from __future__ import annotations

from crm_ferry.mapping.spec import Documents, MapDocument

BASE = """\
version: 1
status: proposed
targets:
  contact: {source: clients, table: contact, fields: {}}
"""


def _parse(extra: str) -> tuple[Documents, list[str]]:
    spec, problems = MapDocument.loads(BASE + extra).parse()
    return spec.documents, [f"{p.path}: {p.message}" for p in problems]


def test_defaults_when_the_section_is_missing() -> None:
    docs, problems = _parse("")
    assert docs == Documents("dataverse", "dataverse", "skip")
    assert not docs.uses_sharepoint
    assert problems == []


def test_the_settings_are_read() -> None:
    docs, problems = _parse("documents: {files: dataverse, images: dataverse, linked: link}\n")
    assert problems == []
    assert docs.files == "dataverse"
    assert docs.linked == "link"
    assert not docs.uses_sharepoint
    assert docs.store("images") == "dataverse"


def test_sharepoint_settings_are_read() -> None:
    docs, problems = _parse("documents: {files: sharepoint_over_limit}\n")
    assert problems == []
    assert (docs.files, docs.images, docs.linked) == ("sharepoint_over_limit", "dataverse", "skip")
    assert docs.uses_sharepoint


def test_inline_images_stay_notes() -> None:
    docs, problems = _parse("documents: {images: sharepoint}\n")
    assert docs.images == "dataverse"
    assert problems == [
        "documents.images: sharepoint is not supported for the images inlined in notes yet: "
        "set dataverse (each image becomes a note carrying it, on the session)"
    ]
