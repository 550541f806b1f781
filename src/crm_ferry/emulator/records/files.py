"""Files and images of records: File and Image column values kept outside the row, and the
checks every stored file passes (size, blocked extensions, blocked MIME types).

A File column holds the id of a ``fileattachment`` row (file name, MIME type, size, the row
and column it belongs to); ``<column>_name`` holds the file name; the bytes are a blob of the
store with the same id, owned by the record. An Image column holds the id of its image (also
``<column>id``), ``<column>_timestamp`` (.NET ticks of the upload) and ``<column>_url`` (the
documented download URL); the thumbnail is a blob with the image id, the full image (when the
column stores full images) one with ``<id>/full``. Deleting the record deletes its blobs; the
``fileattachment`` rows go with it through ``{table}_FileAttachments`` (Cascade).

Sources (Microsoft Learn):
https://learn.microsoft.com/power-apps/developer/data-platform/file-column-data,
https://learn.microsoft.com/power-apps/developer/data-platform/image-column-data,
https://learn.microsoft.com/power-apps/developer/data-platform/files-images-overview
(blocked extensions and MIME types).
"""

from __future__ import annotations

import mimetypes
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from crm_ferry.emulator import images, tenant
from crm_ferry.emulator.records.rows import TYPE_SUFFIX, store_row, system_columns
from crm_ferry.emulator.schema import AttributeDef, EntityDef
from crm_ferry.emulator.state import TenantState
from crm_ferry.emulator.validation import (
    ATTACHMENT_BLOCKED,
    ATTACHMENT_TOO_BIG,
    NOT_IMPLEMENTED,
    OBJECT_DOES_NOT_EXIST,
    Fault,
)

FILE_ATTACHMENT = "fileattachment"

# Error codes (Web service error codes; names and texts in the docs cited above)
INVALID_FILE_ATTRIBUTE = "0x80090007"
"""``InvalidFileAttributeName``: "Invalid File Attribute Name: [{0}]."."""
FILE_TOO_BIG_FOR_ONE_REQUEST = "0x80090001"
"""``FileSizeExceededForNonChunkedRequest``."""
FILE_CONTENT_NULL = "0x80090004"
"""``FileContentIsNull``: "File content can not be null."."""
INVALID_CONTENT_RANGE = "0x80090005"
"""``InvalidContentRangeForFileUpload``."""
INVALID_BLOCK_LIST = "0x80090006"
"""``InvalidBlockList``."""
INVALID_RANGE = "0x80090000"
"""``InvalidFileRangeRequested``."""
PROCESS_IMAGE_FAILURE = "0x80072553"
"""``ProcessImageFailure``."""
NON_PRIMARY_IMAGE_ON_CREATE = "0x80090487"
"""``CannotUploadNonPrimaryImageAttributeOnCreate``."""
MIME_TYPE_NOT_ALLOWED = "0x80072521"
"""``MimeTypeNotInAllowedList``."""
MIME_TYPE_BLOCKED = "0x80072522"
"""``MimeTypeBlocked``."""

OCTET_STREAM = "application/octet-stream"
_TYPES = mimetypes.MimeTypes()
"""Python's built-in table only (no system files), so a name maps to the same type everywhere."""
_EPOCH = datetime(1, 1, 1, tzinfo=UTC)


def organization(em: TenantState) -> dict[str, Any]:
    return em.store.get("organization", tenant.ORGANIZATION_ID) or {}


def _listed(value: Any) -> set[str]:
    return {p.strip().lower() for p in str(value or "").replace(",", ";").split(";") if p.strip()}


def check_file_name(em: TenantState, name: str) -> None:
    """400 AttachmentBlocked (0x80043e09) for an extension in ``blockedattachments``."""
    org = organization(em)
    blocked = org.get("blockedattachments")
    extensions = (
        _listed(blocked)
        if blocked is not None
        else {e.lower() for e in em.config.blocked_extensions}
    )
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext in extensions:
        raise Fault(
            400,
            ATTACHMENT_BLOCKED,
            "The attachment is either not a valid type or is too large. It cannot be "
            "uploaded or downloaded.",
        )


def check_mime_type(em: TenantState, mime: str) -> None:
    """``allowedmimetypes`` (when set, the only types allowed) and ``blockedmimetypes``."""
    org = organization(em)
    allowed, blocked, low = (
        _listed(org.get("allowedmimetypes")),
        _listed(org.get("blockedmimetypes")),
        mime.lower(),
    )
    if allowed and low not in allowed:
        raise Fault(
            400,
            MIME_TYPE_NOT_ALLOWED,
            f"Operation not allowed as mime type {mime} is not in the allow list.",
        )
    if not allowed and low in blocked:
        raise Fault(
            400, MIME_TYPE_BLOCKED, f"Operation not allowed as mime type {mime} is blocked."
        )


def mime_of(name: str, content_type: str | None = None) -> str:
    """The MIME type stored for a file: the one the request declares, else (for
    ``application/octet-stream``, what every example sends) the one its name's extension
    gives; the docs' ``4094kb.txt`` uploaded as octet-stream downloads as ``text/plain``."""
    declared = (content_type or "").split(";", 1)[0].strip().lower()
    if declared and declared != OCTET_STREAM:
        return declared
    guessed, _ = _TYPES.guess_type(name, strict=False)
    return guessed or OCTET_STREAM


def media_column(entity: EntityDef, name: Any) -> AttributeDef:
    """The File or Image column ``name``; 400 InvalidFileAttributeName otherwise."""
    attr = entity.attribute(str(name)) if isinstance(name, str) else None
    if attr is None or attr.type not in ("File", "Image"):
        raise Fault(400, INVALID_FILE_ATTRIBUTE, f"Invalid File Attribute Name: [{name}].")
    return attr


def _ticks(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def too_big(attr: AttributeDef, size: int) -> bool:
    return attr.max_size_kb is not None and size > attr.max_size_kb * 1024


# ---------------------------------------------------------------------------------------
# File columns


def file_info(em: TenantState, file_id: Any) -> dict[str, Any] | None:
    """The ``fileattachment`` row of a file id, if there is one."""
    return em.store.get(FILE_ATTACHMENT, str(file_id)) if file_id else None


def store_file(
    em: TenantState,
    entity: EntityDef,
    row: dict[str, Any],
    attr: AttributeDef,
    data: bytes,
    name: str,
    mime: str,
    caller: str,
) -> str:
    """Put ``data`` in the File column ``attr`` of ``row`` (replacing its file); the new file
    id. The caller writes the row."""
    if too_big(attr, len(data)):
        raise Fault(400, ATTACHMENT_TOO_BIG, "Attachment file size is too big.")
    check_file_name(em, name)
    check_mime_type(em, mime)
    row_id = str(row[entity.primary_id])
    clear_file(em, row, attr)
    file_id = str(uuid.uuid4())
    em.store.put_blob(file_id, (entity.logical_name, row_id, attr.logical_name), data, {})
    files = em.schema.entity(FILE_ATTACHMENT)
    if files is not None:
        described: dict[str, Any] = {
            "fileattachmentid": file_id,
            "filename": name,
            "mimetype": mime,
            "filesizeinbytes": len(data),
            "objectid": row_id,
            "objectid" + TYPE_SUFFIX: entity.logical_name,
            "objecttypecode": entity.logical_name,
            "objectidtypecode": entity.logical_name,
            "regardingfieldname": attr.logical_name,
        }
        system_columns(em, files, described, caller, creating=True)
        store_row(em, files, file_id, described)
    row[attr.logical_name] = file_id
    row[f"{attr.logical_name}_name"] = name
    return file_id


def clear_file(em: TenantState, row: Mapping[str, Any], attr: AttributeDef) -> None:
    """Delete the file the File column holds in ``row`` (the column itself is the caller's)."""
    old = row.get(attr.logical_name)
    if old:
        em.store.delete(FILE_ATTACHMENT, str(old))
        em.store.delete_blob(str(old))


# ---------------------------------------------------------------------------------------
# Image columns


def image_failure(reason: str) -> Fault:
    return Fault(
        400, PROCESS_IMAGE_FAILURE, f"Error occured when processing image. Reason: {reason}"
    )


def store_image(
    em: TenantState,
    entity: EntityDef,
    row: dict[str, Any],
    attr: AttributeDef,
    data: bytes,
    *,
    creating: bool,
    old: Any = None,
    name: str | None = None,
) -> str:
    """Put the image ``data`` in the Image column ``attr`` of ``row``: its thumbnail, and the
    full image when the column keeps full images; the new image id. ``old``: the image id the
    row held."""
    table, col = entity.logical_name, attr.logical_name
    row_id = str(row[entity.primary_id])
    if creating and col != entity.primary_image:
        raise Fault(
            400,
            NON_PRIMARY_IMAGE_ON_CREATE,
            f"Non-primary image attribute {col} of entity {table} is not allowed to upload "
            "during Create operation.",
        )
    if too_big(attr, len(data)):
        raise image_failure(
            f"File size is too big. MaxSize: {(attr.max_size_kb or 0) // 1024} MB, Uploaded "
            f"filesize: {len(data) // (1024 * 1024)} MB."
        )
    mime = images.image_type(data)
    try:
        if mime is None:
            raise images.ImageError("not an image")
        thumb, thumb_type = images.thumbnail(data)
    except images.ImageError:
        raise image_failure(
            f"Update image properties failed for objectid: {row_id}, logicalName: {table}, "
            f"attribute: {col}"
        ) from None
    except images.NotDecodable as exc:
        raise Fault(
            501, NOT_IMPLEMENTED, f"{exc.feature} is not implemented by the emulator."
        ) from None
    if name is not None:
        check_file_name(em, name)
    check_mime_type(em, mime)
    drop_image(em, old)
    image_id = str(uuid.uuid4())
    owner = (table, row_id, col)
    em.store.put_blob(image_id, owner, thumb, {"mimetype": thumb_type})
    if attr.can_store_full_image:
        full_name = name or f"{col}{mimetypes.guess_extension(mime) or ''}"
        em.store.put_blob(
            f"{image_id}/full", owner, data, {"mimetype": mime, "filename": full_name}
        )
    stamp = _ticks(em.now())
    row[col] = image_id
    row[f"{col}id"] = image_id
    row[f"{col}_timestamp"] = stamp
    row[f"{col}_url"] = (
        f"/Image/download.aspx?Entity={table}&Attribute={col}&Id={image_id}&Timestamp={stamp}"
    )
    return image_id


def drop_image(em: TenantState, image_id: Any) -> None:
    if image_id:
        em.store.delete_blob(str(image_id))
        em.store.delete_blob(f"{image_id}/full")


def clear_image(em: TenantState, row: dict[str, Any], attr: AttributeDef, old: Any) -> None:
    col = attr.logical_name
    drop_image(em, old)
    for name in (col, f"{col}id", f"{col}_timestamp", f"{col}_url"):
        row.pop(name, None)


def thumbnail_of(em: TenantState, row: Mapping[str, Any], attr: AttributeDef) -> bytes | None:
    """The thumbnail an Image column returns with its row (None when empty)."""
    image_id = row.get(attr.logical_name)
    return em.store.read_blob(str(image_id)) if image_id else None


# ---------------------------------------------------------------------------------------
# Record writes


def apply_writes(
    em: TenantState,
    entity: EntityDef,
    row: dict[str, Any],
    changes: Mapping[str, Any],
    existing: Mapping[str, Any] | None,
) -> None:
    """File and Image columns a create or update sets: an image (its Base64 text, made bytes by
    validation) is stored and replaced by its id; null empties a column and deletes its data."""
    for col in entity.media:
        if col not in changes:
            continue
        attr = entity.attribute(col)
        if attr is None:
            continue
        value = changes[col]
        old = (existing or {}).get(col)
        if attr.type == "Image":
            if value is None:
                clear_image(em, row, attr, old)
            else:
                store_image(em, entity, row, attr, bytes(value), creating=existing is None, old=old)
        elif value is None and existing is not None:
            clear_file(em, existing, attr)
            row.pop(f"{col}_name", None)


def not_found_file(entity: EntityDef, attr: AttributeDef, row_id: str) -> Fault:
    return Fault(
        404,
        OBJECT_DOES_NOT_EXIST,
        f"No file attachment found for attribute: {attr.logical_name} of "
        f"{entity.logical_name} record with id {row_id}.",
    )


__all__ = [
    "FILE_ATTACHMENT",
    "INVALID_BLOCK_LIST",
    "INVALID_CONTENT_RANGE",
    "INVALID_RANGE",
    "OCTET_STREAM",
    "apply_writes",
    "check_file_name",
    "check_mime_type",
    "clear_file",
    "clear_image",
    "file_info",
    "image_failure",
    "media_column",
    "mime_of",
    "not_found_file",
    "organization",
    "store_file",
    "store_image",
    "thumbnail_of",
    "too_big",
]
