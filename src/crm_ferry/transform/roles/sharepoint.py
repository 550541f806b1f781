"""A file that goes to SharePoint, stored as the Dynamics 365 SharePoint integration stores
documents: a document library per table (named by the table's logical name), a folder per
record named ``<record name>_<record id in capitals, without hyphens>``, the file inside.

The operations (each at most once per run; the load order puts them after every mapped
row, site first and file last):

- ``sharepointsite`` — the site (``absoluteurl``), unless the tenant has a row for it;
- ``sharepointdocumentlocation`` of the library (``relativeurl`` = the table, under the
  site), unless the tenant has one;
- ``sharepointdocumentlocation`` of the record's folder (``relativeurl`` = the folder name,
  under the library, ``regardingobjectid`` = the record): what the record's Documents tab
  shows;
- the file itself, of kind ``file`` on :data:`FILE_TABLE` (not a Dataverse table): the
  engine uploads it through Microsoft Graph into ``<library>/<folder>/<name>``.

A file of a session goes to its client's folder (the integration keeps a folder per record of
a table whose document management is on; contacts and accounts are, a practice's sessions
are not).
"""

from __future__ import annotations

import mimetypes

from crm_ferry.docnames import safe_name
from crm_ferry.errors import SourceError
from crm_ferry.model import FileRecord, RecordKey
from crm_ferry.transform.build import Builder
from crm_ferry.transform.ops import Operation
from crm_ferry.transform.row import Rejected, Row
from crm_ferry.transform.schema import TableSchema
from crm_ferry.transform.values import BadValue

__all__ = [
    "FILE_TABLE",
    "ROLES",
    "file_digest",
    "folder_name",
    "sharepoint_file",
]

FILE_TABLE = "sharepoint"
"""The ``table`` of a file operation: a file in SharePoint, not a Dataverse row."""
ROLES = ("sharepoint_site", "sharepoint_library", "sharepoint_folder", "sharepoint_file")
"""Roles of the SharePoint operations, in load order (after every mapped role)."""
LOCATION = "sharepointdocumentlocation"


def folder_name(name: str, row_id: str) -> str:
    """The integration's folder of a record: ``<name>_<ID WITHOUT HYPHENS>``, safe."""
    return safe_name(f"{name.strip() or 'Record'}_{row_id.replace('-', '').upper()}", folder=True)


def file_digest(b: Builder, record: FileRecord) -> str:
    """The SHA-256 of ``record``'s file, read piece by piece through the context (a file
    too large to be read into a payload); a reject when it cannot be read or does not
    match the ``sha256`` the export gives."""
    digest_of = b.context.attachment_sha256
    if digest_of is None or record.path is None:
        raise Rejected("path", record.path, "no attachment digest was given to transform")
    try:
        digest = digest_of(record.path)
    except (OSError, KeyError) as exc:
        raise Rejected(
            "path", record.path, f"the file is not in the bundle ({type(exc).__name__})"
        ) from None
    except SourceError as exc:
        raise Rejected("path", record.path, str(exc)) from None
    if record.sha256 and digest != record.sha256.strip().lower():
        raise Rejected("sha256", record.sha256, "the file's content does not match its sha256")
    return digest


def _once(b: Builder, key: str) -> bool:
    """True the first time ``key`` is asked for in this transform."""
    if key in b.emitted:
        return False
    b.emitted.add(key)
    return True


def sharepoint_file(
    b: Builder,
    record: FileRecord,
    *,
    filename: str,
    size: int,
    regarding: tuple[str, str],
    record_name: str,
) -> list[Operation]:
    """The operations that put ``record``'s file (``size`` bytes) into the folder of the
    record ``regarding`` (table, id), named after ``record_name``."""
    plan = b.context.sharepoint
    if plan is None:
        raise BadValue(
            "the map sends this file to SharePoint but no SharePoint site is set: set "
            "[sharepoint] site in ferry.toml"
        )
    digest = file_digest(b, record)
    table, row_id = regarding
    ops: list[Operation] = []
    site_id = plan.site_id or b.id("sharepoint_site", plan.site_url.lower())
    if plan.site_id is None and _once(b, "site"):
        site = Row(_table(b, "sharepointsite"))
        site.set_text("name", "Documents (crm-ferry)")
        site.set("absoluteurl", plan.site_url)
        ops.append(_op("sharepoint_site", "sharepointsite", site, site_id, record.key))
    library_id = plan.libraries.get(table) or b.id("sharepoint_library", table)
    location = _table(b, LOCATION)
    if table not in plan.libraries and _once(b, f"library/{table}"):
        lib = Row(location)
        lib.set_text("name", f"Documents on {table}")
        lib.set("relativeurl", table)
        lib.bind(b.schema, "parentsiteorlocation", "sharepointsite", site_id)
        ops.append(_op("sharepoint_library", LOCATION, lib, library_id, record.key))
    folder = folder_name(record_name, row_id)
    folder_id = b.id("sharepoint_folder", f"{table}/{row_id}")
    if _once(b, f"folder/{table}/{row_id}"):
        loc = Row(location)
        loc.set_text("name", f"Documents on {record_name}".strip())
        loc.set("relativeurl", folder)
        loc.bind(b.schema, "parentsiteorlocation", "sharepointdocumentlocation", library_id)
        loc.bind(b.schema, "regardingobjectid", table, row_id)
        ops.append(_op("sharepoint_folder", LOCATION, loc, folder_id, record.key))
    mime = record.content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
    ops.append(
        Operation(
            role="sharepoint_file",
            table=FILE_TABLE,
            id=b.id("sharepoint_file", record.id),
            payload={
                "site": plan.site_url,
                "library": table,
                "folder": folder,
                "name": safe_name(filename),
                "path": record.path,
                "size": size,
                "sha256": digest,
                "mimetype": mime,
            },
            source=record.key,
            kind="file",
            depends=((LOCATION, folder_id),),
        )
    )
    return ops


def _table(b: Builder, name: str) -> TableSchema:
    info = b.schema.table(name)
    if info is None:
        raise BadValue(
            f"the tenant has no {name} table: turn on the SharePoint integration (Settings > "
            "Document Management) before sending documents to SharePoint"
        )
    return info


def _op(role: str, table: str, row: Row, row_id: str, source: RecordKey) -> Operation:
    return Operation(
        role=role,
        table=table,
        id=row_id,
        payload=row.payload,
        source=source,
        depends=tuple(dict.fromkeys(row.depends)),
        create_only=tuple(row.create_only),
    )
