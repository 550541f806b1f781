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


def test_sharepoint_is_refused_until_the_load_sends_documents_there() -> None:
    docs, problems = _parse("documents: {files: sharepoint_over_limit, images: sharepoint}\n")
    assert docs == Documents()
    assert [p.split(":")[0] for p in problems] == ["documents.files", "documents.images"]
    assert "not supported by this version" in problems[0]
    assert "set dataverse" in problems[0]


def test_wrong_values_and_keys_are_problems_with_their_place() -> None:
    docs, problems = _parse("documents: {files: onedrive, linked: drop, folder: x}\n")
    assert docs == Documents()
    assert problems == [
        "documents.files: must be one of dataverse, sharepoint, sharepoint_over_limit, "
        "not 'onedrive'",
        "documents.linked: must be one of fail, skip, link, not 'drop'",
        "documents.folder: is not a setting of documents (files, images, linked)",
    ]
