"""Session notes and files → notes (``annotation`` rows) on their session or client.

A session note becomes a note on its session, owned by the session's owner, its subject
``<session date> Session Note`` (``: <title>`` after it when the note has a title, cut to the
column's length), its HTML body as text; each image inlined in the body becomes a note of
its own carrying the image as a document. A file of the bundle becomes a note with the file
as its document, on its session or else on its client (the account of an organization,
where the lookup can point to accounts), owned like it. A document is checked against the
tenant's upload limit and blocked file types.

A linked file (no path in the bundle: a URL or only a file name) migrates exactly as a file
of the bundle does when it was matched to the downloads folder (its download is read by its
key, :attr:`~crm_ferry.transform.context.TransformContext.linked`); one that was not follows
``documents.linked``: ``link`` makes a note on the same record holding the URL (subject the
file name, text ``Linked file, not migrated: <url>``, or the name without a URL), ``skip``
leaves the record out with the reason (:class:`~crm_ferry.transform.row.Skip`), ``fail``
rejects it (a load refuses to start before that: see :mod:`crm_ferry.commands.migrate`).
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
from dataclasses import replace
from datetime import date

from crm_ferry.errors import SourceError
from crm_ferry.limits import base64_size, extension
from crm_ferry.mapping.spec import FieldMap, Target
from crm_ferry.model import FileRecord, SessionNote
from crm_ferry.transform.build import Builder, dangling, rows_match
from crm_ferry.transform.html import html_to_text
from crm_ferry.transform.ops import DOCUMENT, INLINE_DOCUMENT_LIMIT, Operation
from crm_ferry.transform.roles.sharepoint import file_digest, sharepoint_file
from crm_ferry.transform.row import Rejected, Row, Skip
from crm_ferry.transform.schema import TableSchema
from crm_ferry.transform.values import BadValue

__all__ = ["LINK_TEXT", "NOTE_SUBJECT", "attachment", "note", "note_subject"]

NOTE_SUBJECT = "Session Note"
"""What follows the session's date in a note's subject."""
LINK_TEXT = "Linked file, not migrated: "
"""What the note of a linked file that is not in the downloads starts with
(``documents.linked: link``); its URL (or its name) follows."""
_SESSION_OWNER = "owned by its session's owner: "
_CLIENT_OWNER = "owned by its client's owner: "


def note_subject(day: date | None, title: str | None, limit: int | None = None) -> str:
    """``<YYYY-MM-DD> Session Note``, then ``: <title>`` when there is one, cut to ``limit``
    characters (the title gives way first, the date last)."""
    head = f"{day.isoformat() if day else 'Undated'} {NOTE_SUBJECT}"
    text = " ".join((title or "").split())
    subject = f"{head}: {text}" if text else head
    if limit is not None and len(subject) > limit:
        subject = subject[:limit].rstrip()
    return subject


def _max_length(info: TableSchema, column: str) -> int | None:
    col = info.column(column)
    return col.max_length if col is not None else None


def note(b: Builder, record: SessionNote) -> list[Operation]:
    target = b.spec.target("note")
    session_t = b.spec.target("session")
    if target is None or not rows_match(target.rows, record):
        return []
    if session_t is None:
        raise Rejected("session_id", record.session_id, "sessions are not migrated")
    session = b.context.sessions.get(record.session_id or "")
    if session is None:
        raise Rejected("session_id", record.session_id, dangling("session", record.session_id))
    try:
        b.check_parent("sessions", session.id, "session")
    except BadValue as exc:
        raise Rejected("session_id", record.session_id, str(exc)) from None
    info = b.table(target)
    session_id = b.id("session", session.id)
    object_col = target.column_of("session_id") or "objectid"
    row = Row(info)
    b.fields(target, row, record)
    try:
        row.bind(b.schema, object_col, session_t.table, session_id)
    except BadValue as exc:
        raise Rejected("session_id", record.session_id, str(exc)) from None
    coach = b.session_coach(session)
    b.owner(row, coach, "session_id", record.session_id, why=_SESSION_OWNER)
    day = session.day or (record.created_at.date() if record.created_at else None)
    subject_col = target.column_of("title") or "subject"
    fm_subject = target.fields.get("title") or FieldMap("title", subject_col)
    subject = note_subject(day, record.title, _max_length(info, subject_col))
    body = html_to_text(record.body_html)
    if body.problems:
        raise Rejected("body_html", None, "; ".join(body.problems))
    try:
        row.set(
            subject_col,
            b.convert(fm_subject, info.column(subject_col), subject, info.logical_name),
        )
        text_col = target.column_of("body_html")
        if text_col and body.text:
            fm_text = target.fields.get("body_html") or FieldMap("body_html", text_col)
            row.set(
                text_col,
                b.convert(fm_text, info.column(text_col), body.text, info.logical_name),
            )
    except BadValue as exc:
        raise Rejected("title" if not body.text else "body_html", None, str(exc)) from None
    ops = [b.op(target, row, b.id("note", record.id), record.key)]
    for image in body.images:
        img = Row(info)
        img.bind(b.schema, object_col, session_t.table, session_id)
        b.owner(img, coach, "session_id", record.session_id, why=_SESSION_OWNER)
        try:
            _document(b, img, image.filename, image.mimetype, image.data)
        except BadValue as exc:
            raise Rejected("body_html", f"inline image {image.index}", str(exc)) from None
        img.set_text(subject_col, f"{subject} (image {image.index})")
        if "overriddencreatedon" in row.payload:
            img.set("overriddencreatedon", row.payload["overriddencreatedon"])
        image_id = b.id("note", f"{record.id}/image-{image.index}")
        ops.append(b.op(target, img, image_id, record.key))
    return ops


def attachment(b: Builder, record: FileRecord) -> list[Operation]:
    target = b.spec.target("attachment")
    if target is None or not rows_match(target.rows, record):
        return []
    info = b.table(target)
    filename = (record.filename or "").strip()
    if not record.path:
        if record.linked:
            return _linked(b, target, record)
        raise Rejected(
            "path", None, "the file has neither a path in the bundle, nor a URL or a file name"
        )
    if not filename:
        filename = record.path.rsplit("/", 1)[-1]
    row = Row(info)
    b.fields(target, row, record)
    _on_parent(b, target, row, record)
    read = b.context.read_attachment
    if read is None:
        raise Rejected("path", record.path, "no attachment reader was given to transform")
    size_of = b.context.attachment_size
    size = size_of(record.path) if size_of is not None else None
    if size is not None and _to_sharepoint(b, filename, size):
        return _in_sharepoint(b, record, filename, size)
    if size is not None and base64_size(size) > b.schema.org.max_upload_bytes:
        raise Rejected(  # known before reading it: not read
            "size_bytes",
            filename,
            f"{base64_size(size)} bytes as Base64 ({size} bytes raw) is over the tenant's "
            f"upload limit of {b.schema.org.max_upload_bytes} (maxuploadfilesize); listed "
            "for manual upload or a SharePoint document location, not migrated",
        )
    if size is not None and size > INLINE_DOCUMENT_LIMIT:
        _blocks(b, row, record, filename, size)
    else:
        try:
            data = read(record.path)
        except (OSError, KeyError) as exc:
            raise Rejected(
                "path", record.path, f"the file is not in the bundle ({type(exc).__name__})"
            ) from None
        except SourceError as exc:  # outside the bundle, or too large to read: this row only
            raise Rejected("path", record.path, str(exc)) from None
        if record.sha256 and hashlib.sha256(data).hexdigest() != _given_sha256(record):
            raise Rejected("sha256", record.sha256, "the file's content does not match its sha256")
        try:
            _document(b, row, filename, record.content_type, data)
        except BadValue as exc:
            raise Rejected(
                "filename" if "blocked" in str(exc) else "size_bytes", filename, str(exc)
            ) from None
    subject_col = info.primary_name or "subject"
    if subject_col not in row.payload and info.column(subject_col) is not None:
        row.set_text(subject_col, filename)
    return [b.op(target, row, b.id("attachment", record.id), record.key)]


def _on_parent(b: Builder, target: Target, row: Row, record: FileRecord) -> None:
    """Bind a file's note to its session, else its client (the account of an
    organization, where the lookup can point to accounts), and own it likewise."""
    object_col = target.column_of("client_id") or "objectid"
    session_t = b.spec.target("session")
    try:
        if record.session_id and session_t is not None:
            session = b.context.sessions.get(record.session_id)
            if session is None:
                raise Rejected(
                    "session_id", record.session_id, dangling("session", record.session_id)
                )
            b.check_parent("sessions", session.id, "session")
            row.bind(b.schema, object_col, session_t.table, b.id("session", session.id))
            coach = b.session_coach(session)
            b.owner(row, coach, "session_id", record.session_id, why=_SESSION_OWNER)
        elif record.client_id:
            client = b.client_ref(record.client_id)
            kind, ref_id = b.client_target(client, row.table, object_col)
            row.bind(b.schema, object_col, kind, ref_id)
            coach = b.client_coach(client.id)
            b.owner(row, coach, "client_id", record.client_id, why=_CLIENT_OWNER)
        else:
            raise Rejected("client_id", None, "the file belongs to no client or session")
    except BadValue as exc:
        field_ = "session_id" if record.session_id else "client_id"
        raise Rejected(field_, getattr(record, field_), str(exc)) from None


def _linked(b: Builder, target: Target, record: FileRecord) -> list[Operation]:
    """A linked file: its download when one was matched, else what ``documents.linked``
    says (see the module docstring)."""
    found = b.context.linked.get(record.id)
    if found is not None and found.key is not None:
        return attachment(b, replace(record, path=found.key, filename=record.linked_name))
    name = record.linked_name or record.url or record.id
    why = found.reason if found is not None else "no downloads were given to transform"
    state = "is ambiguous in" if found is not None and found.status == "ambiguous" else "is not in"
    policy = b.spec.documents.linked
    missing = f"linked file {name!r} {state} the downloads folder: {why}"
    if policy == "skip":
        raise Skip(target.role, f"{missing} (documents.linked: skip)")
    if policy == "fail":
        field_ = "url" if record.url else "filename"
        raise Rejected(field_, getattr(record, field_), f"{missing} (documents.linked: fail)")
    info = b.table(target)
    if info.column("notetext") is None:
        raise Rejected(
            "url", record.url, f"{info.logical_name} has no notetext column to hold the link"
        )
    row = Row(info)
    b.fields(target, row, record)
    _on_parent(b, target, row, record)
    subject_col = info.primary_name or "subject"
    if subject_col not in row.payload and info.column(subject_col) is not None:
        row.set_text(subject_col, name)
    row.set_text("notetext", LINK_TEXT + (record.url or name))
    row.set("isdocument", False)
    return [b.op(target, row, b.id("attachment", record.id), record.key)]


def _to_sharepoint(b: Builder, filename: str, size: int) -> bool:
    """Whether the map sends this file to SharePoint: every file, or only those over the
    tenant's upload limit or of a type it blocks."""
    store = b.spec.documents.files
    if store == "sharepoint":
        return True
    org = b.schema.org
    over = base64_size(size) > org.max_upload_bytes
    return store == "sharepoint_over_limit" and (
        over or extension(filename) in org.blocked_extensions
    )


def _in_sharepoint(b: Builder, record: FileRecord, filename: str, size: int) -> list[Operation]:
    """The file in its client's SharePoint folder (a session's file: its client's)."""
    client_id = record.client_id
    if record.session_id:
        session = b.context.sessions.get(record.session_id)
        client_id = session.client_id if session is not None else client_id
    try:
        client = b.client_ref(client_id)
        location = b.schema.table("sharepointdocumentlocation")
        if location is None:
            raise BadValue(
                "the tenant has no sharepointdocumentlocation table: turn on the SharePoint "
                "integration before sending documents to SharePoint"
            )
        try:
            regarding = b.client_target(client, location, "regardingobjectid")
        except BadValue:
            raise BadValue(
                "the tenant's document locations cannot be about a contact "
                "(sharepointdocumentlocation.regardingobjectid): turn on document management "
                "for Contact (Settings > Document Management Settings), then migrate again"
            ) from None
        return sharepoint_file(
            b, record, filename=filename, size=size, regarding=regarding, record_name=client.name
        )
    except BadValue as exc:
        raise Rejected(
            "client_id" if record.client_id else "session_id", client_id, str(exc)
        ) from None


def _given_sha256(record: FileRecord) -> str:
    return (record.sha256 or "").strip().lower()


def _blocks(b: Builder, row: Row, record: FileRecord, filename: str, size: int) -> None:
    """A document too large for one body: the note's columns, and :data:`DOCUMENT` naming
    the file (its size and digest, read piece by piece here) for the engine to upload in
    blocks."""
    try:
        _check_type(b, filename)
    except BadValue as exc:
        raise Rejected("filename", filename, str(exc)) from None
    digest = file_digest(b, record)
    _describe(b, row, filename, record.content_type)
    row.payload[DOCUMENT] = {"path": record.path, "size": size, "sha256": digest}


def _check_type(b: Builder, filename: str) -> None:
    ext = extension(filename)
    if ext and ext in b.schema.org.blocked_extensions:
        raise BadValue(
            f"the file type .{ext} is blocked by the tenant (blockedattachments); "
            "listed for manual handling, not migrated"
        )


def _describe(b: Builder, row: Row, filename: str, mimetype: str | None) -> None:
    """A note's ``isdocument``, ``filename`` and ``mimetype``."""
    fm_name = FieldMap("filename", "filename")
    row.set("filename", b.convert(fm_name, row.table.column("filename"), filename, "annotation"))
    mime = mimetype or mimetypes.guess_type(filename)[0] or "application/octet-stream"
    row.set("mimetype", mime)
    row.set("isdocument", True)


def _document(b: Builder, row: Row, filename: str, mimetype: str | None, data: bytes) -> None:
    """isdocument, filename, mimetype and the Base64 body, checked against the tenant's
    upload limit (on the Base64 length) and blocked extensions."""
    _check_type(b, filename)
    org = b.schema.org
    encoded = base64.b64encode(data).decode("ascii")
    if len(encoded) > org.max_upload_bytes:
        raise BadValue(
            f"{len(encoded)} bytes as Base64 ({len(data)} bytes raw) is over the tenant's "
            f"upload limit of {org.max_upload_bytes} (maxuploadfilesize); listed for "
            "manual upload or a SharePoint document location, not migrated"
        )
    _describe(b, row, filename, mimetype)
    row.set("documentbody", encoded)
