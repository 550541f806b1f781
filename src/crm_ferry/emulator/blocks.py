"""The block-transfer messages: files of File and Image columns, notes and e-mail attachments
uploaded and downloaded in blocks, and ``DeleteFile``.

Upload: ``Initialize{File,Annotation,Attachment}BlocksUpload`` answers a
``FileContinuationToken``; ``UploadBlock`` keeps one block (``BlockId``: Base64 of at most 64
bytes, the same length for every block of a file; ``BlockData``: at most
``CoreConfig.file_block_size``, 4 MB); ``Commit{File,Annotation,Attachment}BlocksUpload`` joins
the blocks of ``BlockList`` in its order (each must have been uploaded; 0x80090006 otherwise)
and stores the file: in the column (``FileId``, ``FileSizeInBytes``), in the note's
``documentbody`` (created or updated; ``AnnotationId``) or in a new attachment's ``body``
(``ActivityMimeAttachmentId``). Notes and attachments are then checked as any write of them
is (``organization.maxuploadfilesize`` on the Base64 text, blocked extensions and MIME types).

Download: ``Initialize{File,Annotation,Attachment}BlocksDownload`` answers the size, the name
and a token (an Image column gives its full image, or 404 when none is kept); ``DownloadBlock``
gives ``BlockLength`` bytes (at most 4 MB) from ``Offset``, fewer at the end of the file.

Tokens are the emulator's own random text; they don't expire. Sources (Microsoft Learn):
https://learn.microsoft.com/power-apps/developer/data-platform/file-column-data,
https://learn.microsoft.com/power-apps/developer/data-platform/attachment-annotation-files,
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/uploadblock,
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/downloadblock.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import httpx

from crm_ferry.emulator.records import (
    Ctx,
    check_privilege,
    create_record,
    files,
    json_response,
    no_content,
    read_body,
    update_record,
    write_platform_update,
)
from crm_ferry.emulator.schema import EntityDef
from crm_ferry.emulator.state import TenantState
from crm_ferry.emulator.validation import (
    INVALID_ARGUMENT,
    OBJECT_DOES_NOT_EXIST,
    PAYLOAD_ERROR,
    Fault,
    duplicate_record,
    is_guid,
    norm_guid,
    not_found,
)

MB = 1024 * 1024
_TEXT_FILES = {"annotation": "documentbody", "activitymimeattachment": "body"}
"""Tables whose file is a Base64 column of the row, and that column."""


def _bad(message: str, code: str = INVALID_ARGUMENT) -> Fault:
    return Fault(400, code, message)


def _required(body: dict[str, Any], name: str, kind: type) -> Any:
    value = body.get(name)
    if value is None:
        raise _bad(f"The parameter '{name}' is required.")
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _bad(f"The parameter '{name}' has the wrong type.", PAYLOAD_ERROR)
    return value


def _answer(ctx: Ctx, kind: str, body: dict[str, Any]) -> httpx.Response:
    context = f"{ctx.base}$metadata#Microsoft.Dynamics.CRM.{kind}"
    return json_response(200, {"@odata.context": context, **body})


def _target(
    em: TenantState, body: dict[str, Any], table: str | None
) -> tuple[EntityDef, dict[str, Any]]:
    """The table and the record of a ``Target`` (a ``crmbaseentity``, typed by ``@odata.type``)."""
    target = _required(body, "Target", dict)
    declared = target.get("@odata.type")
    name = (
        declared.lstrip("#").removeprefix("Microsoft.Dynamics.CRM.")
        if isinstance(declared, str)
        else ""
    )
    entity = em.schema.entity(name) if name else None
    if entity is None:
        raise _bad(
            "The Target needs its @odata.type (Microsoft.Dynamics.CRM.<table>).", PAYLOAD_ERROR
        )
    if table is not None and entity.logical_name != table:
        raise _bad(f"The Target of this message is a {table}, not a {entity.logical_name}.")
    return entity, dict(target)


def _record_id(entity: EntityDef, target: dict[str, Any]) -> str:
    value = target.get(entity.primary_id)
    if not is_guid(value):
        raise _bad(f"The Target must carry its {entity.primary_id}.")
    return norm_guid(str(value))


def _row(em: TenantState, entity: EntityDef, row_id: str) -> dict[str, Any]:
    row = em.store.get(entity.logical_name, row_id)
    if row is None:
        raise not_found(entity.logical_name, row_id)
    return row


def _transfer(em: TenantState, body: dict[str, Any], *kinds: str) -> tuple[str, dict[str, Any]]:
    token = _required(body, "FileContinuationToken", str)
    transfer = em.store.get_transfer(token)
    if transfer is None or transfer.get("kind") not in kinds:
        raise _bad("The FileContinuationToken is not valid.")
    return token, transfer


def _begin(em: TenantState, ctx: Ctx, kind: str, transfer: dict[str, Any]) -> httpx.Response:
    token = secrets.token_urlsafe(24)
    em.store.put_transfer(token, {"kind": kind, **transfer})
    return _answer(ctx, f"Initialize{kind}BlocksUploadResponse", {"FileContinuationToken": token})


def _joined(em: TenantState, token: str, body: dict[str, Any]) -> bytes:
    """The blocks of ``BlockList``, in its order; InvalidBlockList unless each was uploaded,
    once."""
    blocks = _required(body, "BlockList", list)
    sizes = em.store.block_sizes(token)
    if (
        not blocks
        or not all(isinstance(b, str) and b in sizes for b in blocks)
        or len(set(blocks)) != len(blocks)
    ):
        raise _bad(
            "Commit file operation failed. Either the specified block list is invalid or some "
            "chunk(s) are missing to upload.",
            files.INVALID_BLOCK_LIST,
        )
    return em.store.read_blocks(token, blocks)


# ---------------------------------------------------------------------------------------
# Uploads


def initialize_file_upload(em: TenantState, ctx: Ctx, body: dict[str, Any]) -> httpx.Response:
    entity, target = _target(em, body, None)
    row_id = _record_id(entity, target)
    name = _required(body, "FileName", str)
    attr = files.media_column(entity, _required(body, "FileAttributeName", str))
    _row(em, entity, row_id)
    check_privilege(em, ctx, "Write", entity)
    files.check_file_name(em, name)
    return _begin(
        em,
        ctx,
        "File",
        {"table": entity.logical_name, "row": row_id, "column": attr.logical_name, "name": name},
    )


def initialize_text_upload(
    em: TenantState, ctx: Ctx, body: dict[str, Any], table: str
) -> httpx.Response:
    """A note's (``annotationid`` required: the messages create or update that note) or a new
    attachment's (which must not exist yet) file."""
    entity, target = _target(em, body, table)
    column = _TEXT_FILES[table]
    if column in target:
        raise _bad(f"The file is uploaded in blocks: leave {column} out of the Target.")
    kind = "Annotation" if table == "annotation" else "Attachment"
    if table == "annotation":
        _record_id(entity, target)
    elif target.get(entity.primary_id) and em.store.get(table, str(target[entity.primary_id])):
        raise duplicate_record()
    name = target.get("filename")
    if isinstance(name, str) and name:
        files.check_file_name(em, name)
    return _begin(em, ctx, kind, {"target": target})


def upload_block(em: TenantState, ctx: Ctx, body: dict[str, Any]) -> httpx.Response:
    token, _ = _transfer(em, body, "File", "Annotation", "Attachment")
    block_id = _required(body, "BlockId", str)
    try:
        if len(base64.b64decode(block_id, validate=True)) > 64:
            raise ValueError("too long")
    except (binascii.Error, ValueError):
        raise _bad("The BlockId must be Base64 text of at most 64 bytes.") from None
    known = em.store.block_sizes(token)
    if any(len(other) != len(block_id) for other in known):
        raise _bad("Every BlockId of a file must have the same length.")
    try:
        data = base64.b64decode(_required(body, "BlockData", str), validate=True)
    except (binascii.Error, ValueError):
        raise _bad("The BlockData must be Base64 text.", PAYLOAD_ERROR) from None
    limit = em.config.file_block_size
    if len(data) > limit:
        raise _bad(
            "Chunk range used in this call is either not valid or it is bigger than allowed "
            f"{limit // MB} MB.",
            files.INVALID_RANGE,
        )
    em.store.put_block(token, block_id, data)
    return no_content()


def commit_file_upload(em: TenantState, ctx: Ctx, body: dict[str, Any]) -> httpx.Response:
    token, transfer = _transfer(em, body, "File")
    name = _required(body, "FileName", str)
    mime = _required(body, "MimeType", str)
    data = _joined(em, token, body)
    entity = em.schema.entity(transfer["table"])
    if entity is None:
        raise _bad("The FileContinuationToken is not valid.")
    attr = files.media_column(entity, transfer["column"])
    row = _row(em, entity, transfer["row"])
    if attr.type == "Image":
        files.check_mime_type(em, mime)
        file_id = files.store_image(
            em, entity, row, attr, data, creating=False, old=row.get(attr.logical_name), name=name
        )
    else:
        file_id = files.store_file(em, entity, row, attr, data, name, mime, ctx.caller)
    write_platform_update(em, entity, transfer["row"], row, ctx.caller)
    em.store.delete_transfer(token)
    em.count_records(1)
    return _answer(
        ctx, "CommitFileBlocksUploadResponse", {"FileId": file_id, "FileSizeInBytes": len(data)}
    )


def commit_text_upload(
    em: TenantState, ctx: Ctx, body: dict[str, Any], table: str
) -> httpx.Response:
    kind = "Annotation" if table == "annotation" else "Attachment"
    token, transfer = _transfer(em, body, kind)
    entity, target = _target(em, body, table)
    data = _joined(em, token, body)
    column = _TEXT_FILES[table]
    if column in target:
        raise _bad(f"The file is uploaded in blocks: leave {column} out of the Target.")
    values = {**target, column: base64.b64encode(data).decode("ascii")}
    if table == "annotation":
        row_id = _record_id(entity, target)
        if row_id != _record_id(entity, transfer["target"]):
            raise _bad("The Target is not the note the upload was initialized for.")
        existing = em.store.get(table, row_id)
        if existing is None:
            create_record(em, ctx, entity, values, row_id=row_id)
        else:
            update_record(em, ctx, entity, row_id, existing, values)
        answer = {"AnnotationId": row_id, "FileSizeInBytes": len(data)}
    else:
        given = target.get(entity.primary_id)
        if given and em.store.get(table, str(given)) is not None:
            raise duplicate_record()
        row_id, _ = create_record(em, ctx, entity, values)
        answer = {"FileSizeInBytes": len(data), "ActivityMimeAttachmentId": row_id}
    em.store.delete_transfer(token)
    return _answer(ctx, f"Commit{kind}BlocksUploadResponse", answer)


# ---------------------------------------------------------------------------------------
# Downloads


def _download_token(em: TenantState, transfer: dict[str, Any]) -> str:
    token = secrets.token_urlsafe(24)
    em.store.put_transfer(token, {"kind": "Download", **transfer})
    return token


def initialize_file_download(em: TenantState, ctx: Ctx, body: dict[str, Any]) -> httpx.Response:
    entity, target = _target(em, body, None)
    row_id = _record_id(entity, target)
    attr = files.media_column(entity, _required(body, "FileAttributeName", str))
    check_privilege(em, ctx, "Read", entity)
    row = _row(em, entity, row_id)
    stored = row.get(attr.logical_name)
    if attr.type == "File":
        info = files.file_info(em, stored)
        if info is None:
            raise files.not_found_file(entity, attr, row_id)
        blob, size, name = str(stored), int(info["filesizeinbytes"]), info.get("filename")
    else:
        # the full image, never the thumbnail (image-column-data, "Download images")
        found = em.store.blob_info(f"{stored}/full") if stored else None
        if found is None:
            raise Fault(
                404,
                OBJECT_DOES_NOT_EXIST,
                f"No FileAttachment records found for imagedescriptorId: {stored} for image "
                f"attribute: {attr.logical_name} of {entity.logical_name} record with id "
                f"{row_id}.",
            )
        blob, size, name = f"{stored}/full", found[2], found[1].get("filename")
    em.count_records(1)
    token = _download_token(em, {"blob": blob, "size": size})
    return _answer(
        ctx,
        "InitializeFileBlocksDownloadResponse",
        {
            "FileSizeInBytes": size,
            "FileName": name,
            "FileContinuationToken": token,
            "IsChunkingSupported": True,
        },
    )


def initialize_text_download(
    em: TenantState, ctx: Ctx, body: dict[str, Any], table: str
) -> httpx.Response:
    entity, target = _target(em, body, table)
    row_id = _record_id(entity, target)
    check_privilege(em, ctx, "Read", entity)
    row = _row(em, entity, row_id)
    column = _TEXT_FILES[table]
    text = row.get(column)
    if not text:
        raise Fault(404, OBJECT_DOES_NOT_EXIST, f"The {table} {row_id} has no file.")
    size = _decoded_size(text)
    em.count_records(1)
    token = _download_token(em, {"table": table, "row": row_id, "column": column, "size": size})
    _DOWNLOADS.keep(token, text)
    kind = "Annotation" if table == "annotation" else "Attachment"
    name = row.get("filename")
    answer = (
        {"FileContinuationToken": token, "FileSizeInBytes": size, "FileName": name}
        if table == "annotation"
        else {"FileName": name, "FileSizeInBytes": size, "FileContinuationToken": token}
    )
    return _answer(ctx, f"Initialize{kind}BlocksDownloadResponse", answer)


def _decoded_size(text: str) -> int:
    """The number of bytes Base64 ``text`` holds, without decoding it."""
    return len(text) // 4 * 3 - (len(text) - len(text.rstrip("=")))


class _Downloads:
    """The Base64 text of the notes being downloaded, by token, the latest few: each
    ``DownloadBlock`` slices it instead of reading the row again (a 60 MB note is 80 MB of
    text; reading it from the store for each of its 15 blocks cost 770 ms a block)."""

    KEPT = 4

    def __init__(self) -> None:
        self._texts: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, token: str, text: str) -> None:
        with self._lock:
            self._texts[token] = text
            while len(self._texts) > self.KEPT:
                self._texts.popitem(last=False)

    def get(self, token: str) -> str | None:
        with self._lock:
            return self._texts.get(token)


_DOWNLOADS = _Downloads()


def _base64_slice(text: str, offset: int, length: int) -> bytes:
    """``length`` bytes from ``offset`` of the data ``text`` encodes, decoding only them."""
    first = offset // 3 * 4
    last = -(-(offset + length) // 3) * 4
    chunk = base64.b64decode(text[first:last])
    skip = offset % 3
    return chunk[skip : skip + length]


def download_block(em: TenantState, ctx: Ctx, body: dict[str, Any]) -> httpx.Response:
    token, transfer = _transfer(em, body, "Download")
    offset = _required(body, "Offset", int)
    length = _required(body, "BlockLength", int)
    size = int(transfer["size"])
    limit = em.config.file_block_size
    if offset < 0 or length <= 0 or offset >= size or length > limit:
        raise _bad(
            "Chunk range used in this call is either not valid or it is bigger than allowed "
            f"{limit // MB} MB.",
            files.INVALID_RANGE,
        )
    length = min(length, size - offset)
    if "blob" in transfer:
        data = em.store.read_blob(transfer["blob"], offset, length)
    else:
        text = _DOWNLOADS.get(token)
        if text is None:  # another process's token, or one read long ago: the row as it is
            text = em.store.value_of(transfer["table"], transfer["row"], transfer["column"])
        elif not em.store.exists(transfer["table"], transfer["row"]):
            text = None  # deleted since: the file as it was when its download began, or none
        data = _base64_slice(text, offset, length) if isinstance(text, str) else None
    if data is None:
        raise Fault(404, OBJECT_DOES_NOT_EXIST, "The file being downloaded no longer exists.")
    em.count_records(1)
    return _answer(ctx, "DownloadBlockResponse", {"Data": base64.b64encode(data).decode("ascii")})


# ---------------------------------------------------------------------------------------
# DeleteFile


def delete_file(em: TenantState, ctx: Ctx, body: dict[str, Any]) -> httpx.Response:
    """``DeleteFile`` by the id a file column returns (or an image's id)."""
    file_id = _required(body, "FileId", str)
    if not is_guid(file_id):
        raise _bad("The FileId must be a GUID.", PAYLOAD_ERROR)
    file_id = norm_guid(file_id)
    found = em.store.blob_info(file_id)
    if found is None:
        raise not_found(files.FILE_ATTACHMENT, file_id)
    (table, row_id, column), _, _ = found
    entity = em.schema.entity(table)
    attr = entity.attribute(column) if entity is not None else None
    row = em.store.get(table, row_id)
    if entity is None or attr is None or row is None:
        raise not_found(files.FILE_ATTACHMENT, file_id)
    check_privilege(em, ctx, "Write", entity)
    if attr.type == "Image":
        files.clear_image(em, row, attr, row.get(column))
    else:
        files.clear_file(em, row, attr)
        row.pop(column, None)
        row.pop(f"{column}_name", None)
    write_platform_update(em, entity, row_id, row, ctx.caller)
    em.count_records(1)
    return no_content()


_HANDLERS: dict[str, Callable[[TenantState, Ctx, dict[str, Any]], httpx.Response]] = {
    "InitializeFileBlocksUpload": initialize_file_upload,
    "UploadBlock": upload_block,
    "CommitFileBlocksUpload": commit_file_upload,
    "InitializeFileBlocksDownload": initialize_file_download,
    "DownloadBlock": download_block,
    "DeleteFile": delete_file,
    "InitializeAnnotationBlocksUpload": lambda em, ctx, b: initialize_text_upload(
        em, ctx, b, "annotation"
    ),
    "CommitAnnotationBlocksUpload": lambda em, ctx, b: commit_text_upload(em, ctx, b, "annotation"),
    "InitializeAnnotationBlocksDownload": lambda em, ctx, b: initialize_text_download(
        em, ctx, b, "annotation"
    ),
    "InitializeAttachmentBlocksUpload": lambda em, ctx, b: initialize_text_upload(
        em, ctx, b, "activitymimeattachment"
    ),
    "CommitAttachmentBlocksUpload": lambda em, ctx, b: commit_text_upload(
        em, ctx, b, "activitymimeattachment"
    ),
    "InitializeAttachmentBlocksDownload": lambda em, ctx, b: initialize_text_download(
        em, ctx, b, "activitymimeattachment"
    ),
}

MESSAGES = frozenset(_HANDLERS)
"""The messages this module answers (actions, ``POST``)."""


def handle(em: TenantState, ctx: Ctx, name: str) -> httpx.Response:
    """Answer the block-transfer message ``name`` (one of :data:`MESSAGES`)."""
    return _HANDLERS[name](em, ctx, read_body(ctx))


__all__ = ["MESSAGES", "handle"]
