"""File and Image columns: their rules when created, the read-only columns each brings, and
what the table gains (the FileAttachment relationship, the primary image).

Written from
https://learn.microsoft.com/power-apps/developer/data-platform/file-column-data (the
``<column>_Name`` column, the ``{table}_FileAttachments`` relationship),
https://learn.microsoft.com/power-apps/developer/data-platform/image-attributes and
https://learn.microsoft.com/power-apps/developer/data-platform/image-column-data (``MaxSizeInKB``
10 240 KB by default and at most 30 720; ``CanStoreFullImage``; ``IsPrimaryImage``, set by
default for a table's only image column and ignored on create when the table has one already;
``MaxHeight`` / ``MaxWidth`` always 144; the ``<column>Id``, ``<column>_Timestamp`` and
``<column>_URL`` columns). A file column's ``MaxSizeInKB`` defaults to 32 768 KB and goes up to
10 485 760 (10 GB) (FileAttributeMetadata.MaxSizeInKB, SDK for .NET reference).
"""

from __future__ import annotations

from typing import Any

from crm_ferry.emulator import images
from crm_ferry.emulator.metadata.errors import bad
from crm_ferry.emulator.schema import AttributeDef, EntityDef, RelationshipDef, Schema
from crm_ferry.emulator.validation import Fault

FILE_MAX_KB = 10_485_760
FILE_DEFAULT_KB = 32_768
IMAGE_MAX_KB = 30_720
IMAGE_DEFAULT_KB = 10_240
INVALID_FILE_SIZE = "0x80090009"
"""``InvalidMaxSizeInKB`` (Web service error codes)."""
INVALID_IMAGE_SIZE = "0x8009000E"
"""``ImageInvalidMaxSizeInKB`` (Web service error codes)."""
FILE_ATTACHMENT = "fileattachment"
"""The table describing each file of a file column (``fileattachmentid`` is the column value)."""


def _type_name(body: dict[str, Any], expected: str) -> None:
    declared = body.get("AttributeTypeName")
    value = declared.get("Value") if isinstance(declared, dict) else declared
    if value is not None and value != expected:
        raise bad(f"AttributeTypeName '{value}' doesn't match the column type ({expected}).")


def _max_size(
    attr: AttributeDef, body: dict[str, Any], type_name: str, default: int, most: int, fault: Fault
) -> None:
    """``AttributeTypeName`` (if sent) must be ``type_name``; ``MaxSizeInKB`` (``default`` if
    not sent) a whole number from 1 to ``most``, else ``fault``."""
    _type_name(body, type_name)
    size = body.get("MaxSizeInKB", default)
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= most:
        raise fault
    attr.max_size_kb = size


def file_rules(attr: AttributeDef, body: dict[str, Any]) -> None:
    """A File column: ``MaxSizeInKB``; set only by an upload (IsValidForCreate false), and
    emptied by an update that sets it to null."""
    _max_size(
        attr,
        body,
        "FileType",
        FILE_DEFAULT_KB,
        FILE_MAX_KB,
        bad(
            f"Invalid size for file type attribute. Valid size should be between "
            f"[0-{FILE_MAX_KB}] KB",
            code=INVALID_FILE_SIZE,
        ),
    )
    attr.valid_for_create = False


def image_rules(attr: AttributeDef, body: dict[str, Any], entity_name: str) -> None:
    """An Image column: ``MaxSizeInKB``, ``CanStoreFullImage``; ``MaxHeight`` and
    ``MaxWidth`` may only say 144."""
    _max_size(
        attr,
        body,
        "ImageType",
        IMAGE_DEFAULT_KB,
        IMAGE_MAX_KB,
        bad(
            f"Invalid MaxSizeInKB for image attribute {attr.logical_name} of entity "
            f"{entity_name}. Valid size should be between [1 - {IMAGE_MAX_KB}] KB",
            code=INVALID_IMAGE_SIZE,
        ),
    )
    full = body.get("CanStoreFullImage", False)
    if not isinstance(full, bool):
        raise bad("CanStoreFullImage must be true or false.")
    attr.can_store_full_image = full
    primary = body.get("IsPrimaryImage", False)
    if not isinstance(primary, bool):
        raise bad("IsPrimaryImage must be true or false.")
    for name in ("MaxHeight", "MaxWidth"):
        value = body.get(name)
        if value is not None and value != images.THUMBNAIL_SIDE:
            raise bad(f"{name} of an image column is always {images.THUMBNAIL_SIDE}.")


def _read_only(
    attr: AttributeDef, logical: str, schema: str, type_: Any, **kw: Any
) -> AttributeDef:
    return AttributeDef(
        logical_name=logical,
        schema_name=schema,
        type=type_,
        display_name=f"{attr.display_name} ({schema[len(attr.schema_name) :].strip('_')})",
        attribute_of=attr.logical_name,
        is_custom=True,
        valid_for_create=False,
        valid_for_update=False,
        **kw,
    )


def companions(attr: AttributeDef) -> list[AttributeDef]:
    """The read-only columns a File column (``_name``) or Image column (``id``,
    ``_timestamp``, ``_url``) brings."""
    name, schema = attr.logical_name, attr.schema_name
    if attr.type == "File":
        return [_read_only(attr, f"{name}_name", f"{schema}_Name", "String", max_length=255)]
    return [
        _read_only(attr, f"{name}id", f"{schema}Id", "Uniqueidentifier"),
        _read_only(
            attr,
            f"{name}_timestamp",
            f"{schema}_Timestamp",
            "BigInt",
            min_value=-(2**63),
            max_value=2**63 - 1,
        ),
        _read_only(attr, f"{name}_url", f"{schema}_URL", "String", max_length=200, format="Url"),
    ]


def attach(schema: Schema, entity: EntityDef, attr: AttributeDef) -> None:
    """What the table gains with a new File or Image column: the column in ``media``, the
    primary image (the table's first image column), the FileAttachment relationship."""
    entity.media = (*entity.media, attr.logical_name)
    if attr.type == "Image" and entity.primary_image is None:
        entity.primary_image = attr.logical_name
    if attr.type == "File":
        add_file_relationship(schema, entity)


def detach(entity: EntityDef, attr: AttributeDef) -> None:
    """A File or Image column deleted: another image column becomes the primary image."""
    entity.media = tuple(m for m in entity.media if m != attr.logical_name)
    if entity.primary_image == attr.logical_name:
        entity.primary_image = next(
            (m for m in entity.media if (a := entity.attribute(m)) and a.type == "Image"), None
        )


def add_file_relationship(schema: Schema, entity: EntityDef) -> None:
    """``{table}_FileAttachments``: the files of the table's file columns (deleted with the
    row, Cascade), ``$expand``-able from the row."""
    files = schema.entity(FILE_ATTACHMENT)
    objectid = files.attribute("objectid") if files is not None else None
    name = f"{entity.logical_name}_FileAttachments"
    if objectid is None or name in schema.relationships:
        return
    if entity.logical_name not in objectid.targets:
        objectid.targets = (*objectid.targets, entity.logical_name)
    schema.add_relationship(
        RelationshipDef(
            schema_name=name,
            referenced_entity=entity.logical_name,
            referenced_attribute=entity.primary_id,
            referencing_entity=FILE_ATTACHMENT,
            referencing_attribute="objectid",
            referencing_nav=f"objectid_{entity.logical_name}",
            referenced_nav=name,
            cascade_delete="Cascade",
        )
    )


__all__ = [
    "FILE_ATTACHMENT",
    "add_file_relationship",
    "attach",
    "companions",
    "detach",
    "file_rules",
    "image_rules",
]
