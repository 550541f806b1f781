"""Files of notes and e-mail attachments moved in blocks: InitializeAnnotationBlocksUpload,
UploadBlock, CommitAnnotationBlocksUpload, InitializeAnnotationBlocksDownload, DownloadBlock
and the attachment messages, with the organization's limits.

Written from
https://learn.microsoft.com/power-apps/developer/data-platform/attachment-annotation-files.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import pytest

from helpers.files import b64, block_id, new_row, sample_bytes
from helpers.webapi import created_id

NOTE = "Microsoft.Dynamics.CRM.annotation"
ATTACHMENT = "Microsoft.Dynamics.CRM.activitymimeattachment"


def error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def note_target(note_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "annotationid": note_id,
        "subject": "large PDF file",
        "filename": "25mb.pdf",
        "notetext": "Please see new attached pdf file.",
        "mimetype": "application/pdf",
        "@odata.type": NOTE,
        **extra,
    }


def send_blocks(api: httpx.Client, token: str, data: bytes, size: int = 1000) -> list[str]:
    ids = []
    for n, at in enumerate(range(0, len(data), size)):
        body = {
            "BlockId": block_id(n),
            "BlockData": b64(data[at : at + size]),
            "FileContinuationToken": token,
        }
        assert api.post("UploadBlock", json=body).status_code == 204
        ids.append(block_id(n))
    return ids


def upload_in_blocks(
    api: httpx.Client, kind: str, target: dict[str, Any], data: bytes
) -> httpx.Response:
    """``Initialize<kind>BlocksUpload``, the blocks, then the answer of
    ``Commit<kind>BlocksUpload`` (``kind``: ``Annotation`` or ``Attachment``)."""
    started = api.post(f"Initialize{kind}BlocksUpload", json={"Target": target})
    assert started.status_code == 200, started.text
    token = started.json()["FileContinuationToken"]
    ids = send_blocks(api, token, data)
    return api.post(
        f"Commit{kind}BlocksUpload",
        json={"Target": target, "BlockList": ids, "FileContinuationToken": token},
    )


def test_a_block_upload_creates_a_note_whose_documentbody_is_base64(api: httpx.Client) -> None:
    account = new_row(api)
    note_id = str(uuid.uuid4())
    data = sample_bytes(2500)
    target = note_target(note_id, **{"objectid_account@odata.bind": f"accounts({account})"})
    done = upload_in_blocks(api, "Annotation", target, data)
    assert done.status_code == 200
    assert done.json() == {
        "@odata.context": "https://contoso.crm.dynamics.com/api/data/v9.2/$metadata#"
        "Microsoft.Dynamics.CRM.CommitAnnotationBlocksUploadResponse",
        "AnnotationId": note_id,
        "FileSizeInBytes": 2500,
    }
    got = api.get(
        f"annotations({note_id})?$select=documentbody,filename,mimetype,filesize,isdocument,"
        "_objectid_value"
    ).json()
    assert base64.b64decode(got["documentbody"]) == data
    assert (got["filename"], got["mimetype"], got["filesize"], got["isdocument"]) == (
        "25mb.pdf",
        "application/pdf",
        2500,
        True,
    )
    assert got["_objectid_value"] == account
    raw = api.get(f"annotations({note_id})/documentbody/$value")
    assert (raw.headers["Content-Type"], raw.text) == ("text/plain", b64(data))


def test_a_block_upload_updates_an_existing_note(api: httpx.Client) -> None:
    note_id = created_id(api.post("annotations", json={"subject": "old", "notetext": "x"}))
    done = upload_in_blocks(api, "Annotation", note_target(note_id), b"new file")
    assert done.status_code == 200
    got = api.get(f"annotations({note_id})?$select=subject,documentbody").json()
    assert (got["subject"], base64.b64decode(got["documentbody"])) == (
        "large PDF file",
        b"new file",
    )


def test_note_upload_errors(api: httpx.Client) -> None:
    no_id = api.post("InitializeAnnotationBlocksUpload", json={"Target": note_target("x")})
    assert error(no_id) == (400, "0x80040203")
    blocked = note_target(str(uuid.uuid4()), filename="run.cmd")
    assert error(api.post("InitializeAnnotationBlocksUpload", json={"Target": blocked})) == (
        400,
        "0x80043e09",
    )
    with_body = note_target(str(uuid.uuid4()), documentbody=b64(b"x"))
    assert error(api.post("InitializeAnnotationBlocksUpload", json={"Target": with_body}))[0] == 400
    wrong_type = {"accountid": str(uuid.uuid4()), "@odata.type": "Microsoft.Dynamics.CRM.account"}
    assert (
        error(api.post("InitializeAnnotationBlocksUpload", json={"Target": wrong_type}))[0] == 400
    )
    target = note_target(str(uuid.uuid4()))
    token = api.post("InitializeAnnotationBlocksUpload", json={"Target": target}).json()[
        "FileContinuationToken"
    ]
    ids = send_blocks(api, token, b"abc")
    other = note_target(str(uuid.uuid4()))
    mismatch = api.post(
        "CommitAnnotationBlocksUpload",
        json={"Target": other, "BlockList": ids, "FileContinuationToken": token},
    )
    assert error(mismatch) == (400, "0x80040203")
    as_file = api.post(
        "CommitFileBlocksUpload",
        json={
            "FileName": "a.pdf",
            "MimeType": "application/pdf",
            "BlockList": ids,
            "FileContinuationToken": token,
        },
    )
    assert error(as_file) == (400, "0x80040203")


def test_the_organization_size_limit_is_measured_on_the_base64_text(api: httpx.Client) -> None:
    org = api.get("organizations?$select=organizationid,maxuploadfilesize").json()["value"][0]
    assert org["maxuploadfilesize"] == 5242880
    api.patch(f"organizations({org['organizationid']})", json={"maxuploadfilesize": 1000})
    # 750 bytes are 1000 Base64 characters, 751 bytes 1004
    fits = upload_in_blocks(api, "Annotation", note_target(str(uuid.uuid4())), bytes(750))
    assert fits.status_code == 200
    too_big = upload_in_blocks(api, "Annotation", note_target(str(uuid.uuid4())), bytes(751))
    assert error(too_big) == (400, "0x80044a02")
    assert too_big.json()["error"]["message"] == "Attachment file size is too big."


@pytest.mark.parametrize("offset", [0, 1, 2, 3, 4, 998])
def test_download_a_note_in_blocks(api: httpx.Client, offset: int) -> None:
    data = sample_bytes(1000, seed=5)
    note_id = str(uuid.uuid4())
    upload_in_blocks(api, "Annotation", note_target(note_id), data)
    started = api.post(
        "InitializeAnnotationBlocksDownload",
        json={"Target": {"annotationid": note_id, "@odata.type": NOTE}},
    )
    assert started.status_code == 200
    body = started.json()
    assert list(body) == ["@odata.context", "FileContinuationToken", "FileSizeInBytes", "FileName"]
    assert (body["FileSizeInBytes"], body["FileName"]) == (1000, "25mb.pdf")
    block = api.post(
        "DownloadBlock",
        json={
            "Offset": offset,
            "BlockLength": 7,
            "FileContinuationToken": body["FileContinuationToken"],
        },
    )
    assert base64.b64decode(block.json()["Data"]) == data[offset : offset + 7]


def test_download_of_a_note_without_a_file(api: httpx.Client) -> None:
    note_id = created_id(api.post("annotations", json={"subject": "text only"}))
    started = api.post(
        "InitializeAnnotationBlocksDownload",
        json={"Target": {"annotationid": note_id, "@odata.type": NOTE}},
    )
    assert error(started) == (404, "0x80040217")


def test_a_note_without_a_mime_type_gets_octet_stream_and_mime_types_are_checked(
    api: httpx.Client,
) -> None:
    note_id = created_id(
        api.post("annotations", json={"filename": "a.docx", "documentbody": b64(b"x")})
    )
    assert api.get(f"annotations({note_id})?$select=mimetype").json()["mimetype"] == (
        "application/octet-stream"
    )
    org = api.get("organizations?$select=organizationid").json()["value"][0]["organizationid"]
    api.patch(f"organizations({org})", json={"blockedmimetypes": "application/x-msdownload"})
    refused = api.post(
        "annotations",
        json={"filename": "a.bin", "mimetype": "application/x-msdownload", "documentbody": "eA=="},
    )
    assert error(refused) == (400, "0x80072522")


# ---------------------------------------------------------------------------------------
# E-mail attachments


def attachment_target(email: str, **extra: Any) -> dict[str, Any]:
    return {
        "objectid_email@odata.bind": f"emails({email})",
        "objecttypecode": "email",
        "subject": "Sample attached 25mb.pdf",
        "filename": "25mb.pdf",
        "mimetype": "application/pdf",
        "@odata.type": ATTACHMENT,
        **extra,
    }


def test_a_block_upload_creates_an_attachment(api: httpx.Client) -> None:
    email = created_id(api.post("emails", json={"subject": "This is an example email."}))
    data = sample_bytes(1500)
    done = upload_in_blocks(api, "Attachment", attachment_target(email), data)
    assert done.status_code == 200
    body = done.json()
    assert list(body) == ["@odata.context", "FileSizeInBytes", "ActivityMimeAttachmentId"]
    assert body["FileSizeInBytes"] == 1500
    attachment = body["ActivityMimeAttachmentId"]
    got = api.get(
        f"activitymimeattachments({attachment})?$select=body,filename,filesize,objecttypecode,"
        "_objectid_value"
    ).json()
    assert base64.b64decode(got["body"]) == data
    assert (got["filesize"], got["objecttypecode"], got["_objectid_value"]) == (
        1500,
        "email",
        email,
    )
    raw = api.get(f"activitymimeattachments({attachment})/body/$value")
    assert (raw.status_code, raw.headers["Content-Type"], raw.text) == (
        200,
        "text/plain",
        b64(data),
    )
    started = api.post(
        "InitializeAttachmentBlocksDownload",
        json={"Target": {"activitymimeattachmentid": attachment, "@odata.type": ATTACHMENT}},
    )
    assert list(started.json()) == [
        "@odata.context",
        "FileName",
        "FileSizeInBytes",
        "FileContinuationToken",
    ]
    block = api.post(
        "DownloadBlock",
        json={
            "Offset": 1000,
            "BlockLength": 4194304,
            "FileContinuationToken": started.json()["FileContinuationToken"],
        },
    )
    assert base64.b64decode(block.json()["Data"]) == data[1000:]
    # attachments go with their e-mail
    assert api.delete(f"emails({email})").status_code == 204
    assert api.get(f"activitymimeattachments({attachment})").status_code == 404


def test_attachment_messages_only_create(api: httpx.Client) -> None:
    email = created_id(api.post("emails", json={"subject": "x"}))
    existing = created_id(
        api.post("activitymimeattachments", json={**attachment_target(email), "body": b64(b"x")})
    )
    again = attachment_target(email, activitymimeattachmentid=existing)
    refused = api.post("InitializeAttachmentBlocksUpload", json={"Target": again})
    assert error(refused) == (412, "0x80040237")
    no_parent = {k: v for k, v in attachment_target(email).items() if not k.startswith("objectid")}
    done = upload_in_blocks(api, "Attachment", no_parent, b"x")
    assert error(done) == (400, "0x80040203")  # objectid is SystemRequired
