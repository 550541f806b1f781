"""Sample: Attachment and Annotation file operations using Dataverse Web API, replayed against a
fresh tenant.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/samples/attachment-annotation-file-operations
(page read at MicrosoftDocs/powerapps-docs commit 2d5f8da23ede4140732be831e4c71a8bfb726da5),
with the requests of its two projects (microsoft/PowerApps-Samples,
``dataverse/webapi/C#-NETx/AttachmentAndAnnotationOperations``: AnnotationOperations and
ActivityMimeAttachmentOperations, and ``Utility.cs``) as the article they follow shows them
(https://learn.microsoft.com/power-apps/developer/data-platform/attachment-annotation-files).

Adapted: the sample's Word, Excel and 25 MB PDF files are generated files of a few kilobytes,
uploaded in 1 KB blocks. The attachments of an e-mail are found with a ``$filter`` on the
attachment table rather than through the e-mail's collection-valued navigation property. The
re-usable attachments of the sample hang off an e-mail template, a table the emulator doesn't
have.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import pytest

from helpers.files import b64, sample_bytes
from helpers.webapi import created_id

WORD = sample_bytes(1200, seed=1)
EXCEL = sample_bytes(1500, seed=2)
PDF = sample_bytes(3500, seed=3)
WORD_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
EXCEL_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def organization_id(api: httpx.Client) -> str:
    return str(api.get("WhoAmI").json()["OrganizationId"])


def max_upload_file_size(api: httpx.Client) -> int:
    """``Utility.GetMaxUploadFileSize``."""
    got = api.get("organizations?$select=maxuploadfilesize")
    assert got.status_code == 200
    (org,) = got.json()["value"]
    return int(org["maxuploadfilesize"])


def set_max_upload_file_size(api: httpx.Client, size: int) -> httpx.Response:
    """``Utility.SetMaxUploadFileSize``."""
    return api.patch(
        f"organizations({organization_id(api)})",
        json={"maxuploadfilesize": size},
        headers={"If-Match": "*"},
    )


def upload_in_blocks(
    api: httpx.Client, kind: str, target: dict[str, Any], data: bytes
) -> httpx.Response:
    """The sample's ``UploadNote`` / ``UploadAttachment``: initialize, one ``UploadBlock`` per
    block (ids made from new GUIDs, all the same length), commit."""
    started = api.post(f"Initialize{kind}BlocksUpload", json={"Target": target})
    assert started.status_code == 200
    assert started.json()["@odata.context"].endswith(
        f"$metadata#Microsoft.Dynamics.CRM.Initialize{kind}BlocksUploadResponse"
    )
    token = started.json()["FileContinuationToken"]
    ids = []
    for at in range(0, len(data), 1024):
        ids.append(b64(str(uuid.uuid4()).encode()))
        sent = api.post(
            "UploadBlock",
            json={
                "BlockId": ids[-1],
                "BlockData": b64(data[at : at + 1024]),
                "FileContinuationToken": token,
            },
        )
        assert sent.status_code == 204
    return api.post(
        f"Commit{kind}BlocksUpload",
        json={"Target": target, "BlockList": ids, "FileContinuationToken": token},
    )


def download_in_blocks(api: httpx.Client, kind: str, target: dict[str, Any]) -> tuple[bytes, str]:
    """The sample's ``DownloadNote`` / ``DownloadAttachment``."""
    started = api.post(f"Initialize{kind}BlocksDownload", json={"Target": target})
    assert started.status_code == 200
    body = started.json()
    token, size = body["FileContinuationToken"], body["FileSizeInBytes"]
    data, offset, block = b"", 0, 1024
    while size > 0:
        got = api.post(
            "DownloadBlock",
            json={"Offset": offset, "BlockLength": block, "FileContinuationToken": token},
        )
        assert got.status_code == 200
        data += base64.b64decode(got.json()["Data"])
        size -= block
        offset += block
    return data, str(body["FileName"])


# ---------------------------------------------------------------------------------------
# AnnotationOperations


@pytest.fixture
def note(api: httpx.Client) -> tuple[str, str]:
    """An account and a note with the Word document attached."""
    account = created_id(
        api.post("accounts", json={"name": "Test Account for AnnotationOperations"})
    )
    note = created_id(
        api.post(
            "annotations",
            json={
                "subject": "Example Note",
                "filename": "WordDoc.docx",
                "documentbody": b64(WORD),
                "notetext": "Please see attached file.",
                "mimetype": WORD_TYPE,
                "objectid_account@odata.bind": f"accounts({account})",
            },
        )
    )
    return account, note


def test_get_the_max_upload_file_size(api: httpx.Client) -> None:
    assert max_upload_file_size(api) == 5242880


def test_create_and_retrieve_a_note_with_a_file(api: httpx.Client, note: tuple[str, str]) -> None:
    _, note_id = note
    got = api.get(f"annotations({note_id})?$select=documentbody,mimetype,filename")
    assert got.status_code == 200
    body = got.json()
    assert base64.b64decode(body["documentbody"]) == WORD
    assert (body["filename"], body["mimetype"]) == ("WordDoc.docx", WORD_TYPE)


def test_update_the_note_with_another_file(api: httpx.Client, note: tuple[str, str]) -> None:
    _, note_id = note
    updated = api.patch(
        f"annotations({note_id})",
        json={
            "annotationid": note_id,
            "filename": "ExcelDoc.xlsx",
            "documentbody": b64(EXCEL),
            "notetext": "Please see new attached file.",
            "mimetype": EXCEL_TYPE,
        },
    )
    assert updated.status_code == 204
    got = api.get(f"annotations({note_id})?$select=documentbody,filename").json()
    assert (base64.b64decode(got["documentbody"]), got["filename"]) == (EXCEL, "ExcelDoc.xlsx")


def test_set_the_max_upload_file_size_to_the_maximum(api: httpx.Client) -> None:
    response = set_max_upload_file_size(api, 131072000)
    assert response.status_code == 204
    assert response.headers["OData-EntityId"].endswith(f"organizations({organization_id(api)})")
    assert max_upload_file_size(api) == 131072000
    assert set_max_upload_file_size(api, 131072001).status_code == 400


def note_for_large_file(note_id: str) -> dict[str, Any]:
    return {
        "annotationid": note_id,
        "subject": "large PDF file",
        "filename": "25mb.pdf",
        "notetext": "Please see new attached pdf file.",
        "mimetype": "application/pdf",
        "@odata.type": "Microsoft.Dynamics.CRM.annotation",
    }


def test_upload_a_large_file_to_the_note(api: httpx.Client, note: tuple[str, str]) -> None:
    _, note_id = note
    done = upload_in_blocks(api, "Annotation", note_for_large_file(note_id), PDF)
    assert done.status_code == 200
    body = done.json()
    assert list(body) == ["@odata.context", "AnnotationId", "FileSizeInBytes"]
    assert body["@odata.context"].endswith(
        "$metadata#Microsoft.Dynamics.CRM.CommitAnnotationBlocksUploadResponse"
    )
    assert (body["AnnotationId"], body["FileSizeInBytes"]) == (note_id, len(PDF))
    got = api.get(f"annotations({note_id})?$select=subject,filename,documentbody").json()
    assert (got["subject"], got["filename"]) == ("large PDF file", "25mb.pdf")
    assert base64.b64decode(got["documentbody"]) == PDF


def test_download_the_note_file_in_blocks_and_in_one_request(
    api: httpx.Client, note: tuple[str, str]
) -> None:
    _, note_id = note
    upload_in_blocks(api, "Annotation", note_for_large_file(note_id), PDF)
    target = {"annotationid": note_id, "@odata.type": "Microsoft.Dynamics.CRM.annotation"}
    data, name = download_in_blocks(api, "Annotation", target)
    assert (data, name) == (PDF, "25mb.pdf")
    single = api.get(f"annotations({note_id})/documentbody/$value")  # DownloadAnnotationFileRequest
    assert single.status_code == 200
    assert single.headers["Content-Type"] == "text/plain"
    assert base64.b64decode(single.text) == PDF


def test_deleting_the_account_deletes_its_notes(api: httpx.Client, note: tuple[str, str]) -> None:
    account, note_id = note
    assert api.delete(f"accounts({account})").status_code == 204
    assert api.get(f"annotations({note_id})").status_code == 404


# ---------------------------------------------------------------------------------------
# ActivityMimeAttachmentOperations


@pytest.fixture
def email(api: httpx.Client) -> str:
    return created_id(api.post("emails", json={"subject": "This is an example email."}))


def attachment(email: str, name: str, mime: str, **extra: Any) -> dict[str, Any]:
    return {
        "objectid_email@odata.bind": f"emails({email})",
        "objecttypecode": "email",
        "subject": f"Sample attached {name}",
        "filename": name,
        "mimetype": mime,
        **extra,
    }


def test_attach_small_files_to_the_email(api: httpx.Client, email: str) -> None:
    for name, data, mime in (
        ("WordDoc.docx", WORD, WORD_TYPE),
        ("ExcelDoc.xlsx", EXCEL, EXCEL_TYPE),
    ):
        created = api.post(
            "activitymimeattachments", json=attachment(email, name, mime, body=b64(data))
        )
        assert created.status_code == 204
        row = api.get(
            f"activitymimeattachments({created_id(created)})?$select=filename,filesize,body"
        ).json()
        assert (row["filename"], row["filesize"]) == (name, len(data))
        assert base64.b64decode(row["body"]) == data


def test_add_a_large_attachment_in_blocks(api: httpx.Client, email: str) -> None:
    set_max_upload_file_size(api, 131072000)
    target = {
        **attachment(email, "25mb.pdf", "application/pdf"),
        "@odata.type": "Microsoft.Dynamics.CRM.activitymimeattachment",
    }
    done = upload_in_blocks(api, "Attachment", target, PDF)
    assert done.status_code == 200
    body = done.json()
    assert list(body) == ["@odata.context", "FileSizeInBytes", "ActivityMimeAttachmentId"]
    assert body["@odata.context"].endswith(
        "$metadata#Microsoft.Dynamics.CRM.CommitAttachmentBlocksUploadResponse"
    )
    assert body["FileSizeInBytes"] == len(PDF)
    attachment_id = body["ActivityMimeAttachmentId"]
    # the attachments of the e-mail (the sample reads them through the e-mail)
    listed = api.get(
        f"activitymimeattachments?$select=filename&$filter=_objectid_value eq {email}"
    ).json()["value"]
    assert [(a["filename"], a["activitymimeattachmentid"]) for a in listed] == [
        ("25mb.pdf", attachment_id)
    ]
    ref = {
        "activitymimeattachmentid": attachment_id,
        "@odata.type": "Microsoft.Dynamics.CRM.activitymimeattachment",
    }
    assert download_in_blocks(api, "Attachment", ref) == (PDF, "25mb.pdf")
    single = api.get(f"activitymimeattachments({attachment_id})/body/$value")
    assert (single.status_code, base64.b64decode(single.text)) == (200, PDF)
    assert api.delete(f"emails({email})").status_code == 204  # the attachments go with it
    assert api.get(f"activitymimeattachments({attachment_id})").status_code == 404


def test_reusable_attachments_need_the_template_table(api: httpx.Client) -> None:
    got = api.post("templates", json={"title": "Example Account Template"})
    assert got.status_code == 404
    assert got.json()["error"]["code"] == "0x80060888"


def test_reset_the_max_upload_file_size(api: httpx.Client) -> None:
    original = max_upload_file_size(api)
    set_max_upload_file_size(api, 131072000)
    assert set_max_upload_file_size(api, original).status_code == 204
    assert max_upload_file_size(api) == original
