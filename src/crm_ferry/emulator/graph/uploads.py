"""Upload sessions: ``createUploadSession``, then the fragments ``PUT`` to the upload URL.

From driveitem-createuploadsession (microsoft-graph-docs-contrib commit
0713c450496046d1f357f9afae7a914ac6ab4277), as strictly as it is written:

- the session answers ``uploadUrl``, ``expirationDateTime`` and ``nextExpectedRanges``; the
  body's ``item`` may carry ``@microsoft.graph.conflictBehavior`` ("fail (default) |
  replace | rename"), ``name`` (which must be the name in the path) and ``fileSize``;
  ``deferCommit: true`` waits for an empty ``POST`` to the upload URL;
- each fragment carries ``Content-Range: bytes a-b/total`` and ``Content-Length``; "the
  maximum bytes in any given request is less than 60 MiB"; "the size of each byte range
  MUST be a multiple of 320 KiB (327,680 bytes)" but the last; "The fragments of the file
  must be uploaded sequentially in order"; the total "is the same for all requests"; a
  fragment the server already has is "416 Requested Range Not Satisfiable" (``invalidRange``
  / ``fragmentOverlap``, the example of https://learn.microsoft.com/graph/errors), one past
  the next expected byte 416 ``fragmentOutOfOrder``, a different total 400
  ``fragmentLengthMismatch``, a fragment of 60 MiB or more 413 ``maxFragmentLengthExceeded``;
- ``202 Accepted`` with ``nextExpectedRanges`` until the last byte, then ``201 Created`` (a
  new file) or ``200 OK`` (a replaced one) with the driveItem; a name taken meanwhile is 409
  ``nameAlreadyExists`` on the last fragment, and the session stays until it expires;
- ``GET`` on the upload URL answers the session's status, ``DELETE`` cancels it (204);
  an unknown or expired session is 404 (``uploadSessionNotFound``: "Handle 404 Not Found
  errors when doing resumable uploads by starting the entire upload over");
- "If you include the Authorization header when issuing the PUT call, it may result in an
  HTTP 401 Unauthorized response": the emulator always answers it so.

A session expires ``upload_session_lifetime_s`` after it was created or last took a
fragment, on the emulator's clock.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import replace
from typing import Any

import httpx

from crm_ferry.emulator.graph.errors import GraphProblem, invalid, not_found, not_implemented
from crm_ferry.emulator.graph.hashes import ContentHashes
from crm_ferry.emulator.graph.items import (
    Place,
    check_preconditions,
    file_recorded,
    graph_base,
    item_context,
    json_body,
    name_taken,
    new_item,
    rendered,
)
from crm_ferry.emulator.graph.paths import CONFLICT, Query, conflict_behaviour
from crm_ferry.emulator.graph.resources import with_context
from crm_ferry.emulator.graph.state import GraphState
from crm_ferry.emulator.graph.store import Item, Session
from crm_ferry.emulator.layers import CLIENT_ID, json_response, origin

ITEM_KEYS = frozenset({CONFLICT, "name", "fileSize", "@odata.type"})
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_READ = 4 * 1024 * 1024


def create_session(
    g: GraphState, request: httpx.Request, place: Place, name: str | None
) -> httpx.Response:
    """``place.item`` is the folder the file ``name`` goes into, or (``name`` None) the
    file the session replaces."""
    Query.of(request).allow()
    body = json_body(request)
    extra = sorted(set(body) - {"item", "deferCommit", "@odata.type"})
    if extra:
        raise not_implemented(f"The property '{extra[0]}' of createUploadSession")
    props = body.get("item", {})
    if not isinstance(props, dict):
        raise invalid("'item' must be an object (driveItemUploadableProperties)")
    unknown = sorted(set(props) - ITEM_KEYS)
    if unknown:
        raise not_implemented(f"The upload property item.{unknown[0]}")
    defer = body.get("deferCommit", False)
    if not isinstance(defer, bool):
        raise invalid("deferCommit must be true or false")
    file_size = props.get("fileSize")
    if file_size is not None and (not isinstance(file_size, int) or file_size < 0):
        raise invalid("item.fileSize must be a whole number of bytes")
    behaviour = conflict_behaviour(props.get(CONFLICT), "fail")
    with g.store.transaction():
        _drop_expired(g)
        if name is None:
            if place.item.folder:
                raise invalid(f"'{place.item.name}' is a folder: only files have content")
            check_preconditions(request, place.item)
            parent = g.store.item(place.item.parent_id or "")
            assert parent is not None
            target_name, replaces = place.item.name, place.item.id
        else:
            parent, target_name, replaces = place.item, name, None
            if props.get("name") not in (None, name):
                raise invalid(
                    f"item.name {props.get('name')!r} is not the name in the path {name!r}"
                )
            g.check_new_name(place.site, place.library, parent, name, folder=False)
            existing = g.store.child(parent.id, name)
            check_preconditions(request, existing)
            if existing is not None and (behaviour == "fail" or existing.folder):
                raise name_taken(name)
        _check_quota(g, place, file_size)
        client = request.extensions.get(CLIENT_ID)
        session = Session(
            id=uuid.uuid4().hex,
            secret=secrets.token_urlsafe(24),
            drive_id=place.library.drive_id,
            parent_id=parent.id,
            name=target_name,
            conflict=behaviour,
            defer_commit=defer,
            expires_at=g.clock() + g.config.upload_session_lifetime_s,
            file_size=file_size,
            item_id=replaces,
            created_by=client if isinstance(client, str) else None,
        )
        g.store.put_session(session)
        g.store.part_path(session.id).touch(mode=0o600)
    return json_response(
        200,
        {
            "@odata.context": f"{graph_base(request)}/$metadata#microsoft.graph.uploadSession",
            "uploadUrl": f"{origin(request)}/_files/upload/{session.id}?tempauth={session.secret}",
            "expirationDateTime": g.expiry(session.expires_at),
            "nextExpectedRanges": ["0-"],
        },
    )


def _check_quota(g: GraphState, place: Place, file_size: int | None) -> None:
    if file_size is None:
        return
    remaining = g.config.quota_total - g.store.used(place.library.drive_id)
    if file_size > remaining:
        raise GraphProblem(
            507,
            "quotaLimitReached",
            f"The file of {file_size:,} bytes does not fit in the {remaining:,} bytes left",
        )


def _drop_expired(g: GraphState) -> None:
    now = g.clock()
    for session in g.store.sessions():
        if session.expires_at <= now:
            g.store.delete_session(session.id)


# -- the upload URL --------------------------------------------------------------------


def serve_session(g: GraphState, request: httpx.Request, session_id: str) -> httpx.Response:
    session = _session(g, request, session_id)
    method = request.method
    if method == "GET":
        return _status(g, session, 200)
    if method == "DELETE":
        g.store.delete_session(session.id)
        return httpx.Response(204)
    if method == "PUT":
        return _fragment(g, request, session)
    if method == "POST":
        return _commit_deferred(g, request, session)
    raise GraphProblem(405, "invalidRequest", f"An upload URL does not answer {method}")


def _session(g: GraphState, request: httpx.Request, session_id: str) -> Session:
    params = dict(request.url.params)
    extra = sorted(set(params) - {"tempauth"})
    if extra:
        raise not_implemented(f"The query parameter '{extra[0]}' on an upload URL")
    session = g.store.session(session_id)
    if session is not None and session.expires_at <= g.clock():
        g.store.delete_session(session.id)
        session = None
    if session is None:
        raise GraphProblem(
            404,
            "itemNotFound",
            "The upload session was not found or has expired",
            detail="uploadSessionNotFound",
        )
    if not secrets.compare_digest(params.get("tempauth", ""), session.secret):
        raise GraphProblem(401, "unauthenticated", "The upload URL is not this session's")
    return session


def _status(g: GraphState, session: Session, status: int) -> httpx.Response:
    done = session.total is not None and session.received >= session.total
    return json_response(
        status,
        {
            "expirationDateTime": g.expiry(session.expires_at),
            "nextExpectedRanges": [] if done else [f"{session.received}-"],
        },
    )


def _fragment(g: GraphState, request: httpx.Request, session: Session) -> httpx.Response:
    if "authorization" in request.headers:
        raise GraphProblem(
            401,
            "unauthenticated",
            "Send the fragments of an upload session without an Authorization header: the "
            "upload URL is pre-authenticated",
        )
    start, end, total = _content_range(g, request, session)
    data = request.read()
    if len(data) != end - start + 1:
        raise invalid(
            f"The body has {len(data):,} bytes; Content-Range says {end - start + 1:,}",
        )
    with open(g.store.part_path(session.id), "r+b") as part:
        part.seek(start)
        part.write(data)
    session = replace(
        session,
        received=end + 1,
        total=total,
        expires_at=g.clock() + g.config.upload_session_lifetime_s,
    )
    g.store.put_session(session)
    if session.received < total or session.defer_commit:
        return _status(g, session, 202)
    return _commit(g, request, session)


def _content_range(g: GraphState, request: httpx.Request, session: Session) -> tuple[int, int, int]:
    header = request.headers.get("content-range")
    if header is None:
        raise invalid("A fragment needs a Content-Range header (bytes a-b/total)")
    found = _CONTENT_RANGE.fullmatch(header.strip())
    if found is None or found.group(3) == "*":
        raise invalid(
            f"Content-Range {header!r} is not bytes a-b/total with the total known",
            detail="invalidParameterFormat",
        )
    start, end, total = int(found.group(1)), int(found.group(2)), int(found.group(3))
    declared = request.headers.get("content-length")
    if declared is None:
        raise GraphProblem(411, "invalidRequest", "A fragment needs a Content-Length header")
    expected_total = session.total if session.total is not None else session.file_size
    if expected_total is not None and total != expected_total:
        raise invalid(
            f"Content-Range declares a file of {total:,} bytes; the session's is "
            f"{expected_total:,}",
            detail="fragmentLengthMismatch",
        )
    if end < start or end >= total:
        raise GraphProblem(
            416, "invalidRange", f"Content-Range {header!r} is not a range of the file"
        )
    length = end - start + 1
    if length >= g.config.fragment_limit:
        raise GraphProblem(
            413,
            "invalidRequest",
            f"A fragment of {length:,} bytes: each must be less than "
            f"{g.config.fragment_limit:,} (60 MiB)",
            detail="maxFragmentLengthExceeded",
        )
    if start < session.received:
        raise GraphProblem(
            416,
            "invalidRange",
            "Uploaded fragment overlaps with existing data.",
            detail="fragmentOverlap",
        )
    if start > session.received:
        raise GraphProblem(
            416,
            "invalidRange",
            f"Uploaded fragment is out of order: the next expected byte is {session.received}",
            detail="fragmentOutOfOrder",
        )
    if end != total - 1 and length % g.config.fragment_multiple:
        raise invalid(
            f"A fragment of {length:,} bytes: every fragment but the last must be a multiple "
            f"of 320 KiB ({g.config.fragment_multiple:,} bytes)",
            detail="invalidRange",
        )
    if int(declared) != length:
        raise invalid(f"Content-Length {declared} is not the {length:,} bytes of Content-Range")
    return start, end, total


def _commit_deferred(g: GraphState, request: httpx.Request, session: Session) -> httpx.Response:
    if request.read():
        raise invalid("Completing an upload session takes an empty POST")
    if not session.defer_commit:
        raise invalid("This upload session completes with its last fragment (no deferCommit)")
    if session.total is None or session.received < session.total:
        raise GraphProblem(
            400,
            "invalidRequest",
            "The upload session is not complete",
            detail="uploadSessionIncomplete",
        )
    return _commit(g, request, session)


def _commit(g: GraphState, request: httpx.Request, session: Session) -> httpx.Response:
    """The file is shown in its folder: a new item, or the replaced one."""
    site, library = g.library_of_drive(session.drive_id)
    with g.store.transaction():
        parent = g.store.item(session.parent_id)
        if parent is None:
            raise GraphProblem(409, "itemNotFound", "The folder of the upload was deleted")
        target, created = _commit_target(g, request, session, parent)
        hashes = _hash_file(g, session)
        stored = file_recorded(
            g,
            request,
            target,
            created=created,
            size=session.total or 0,
            quick_xor=hashes.quick_xor.b64digest(),
            sha256=hashes.sha256.hexdigest(),
        )
        g.store.put_item(stored)
        g.store.adopt_part(session.id, stored.id)
        g.store.delete_session(session.id)
    place = Place(site, library, stored)
    body = with_context(item_context(request, place), rendered(g, request, place, stored))
    return json_response(201 if created else 200, body)


def _commit_target(
    g: GraphState, request: httpx.Request, session: Session, parent: Item
) -> tuple[Item, bool]:
    if session.item_id is not None:
        existing = g.store.item(session.item_id)
        if existing is None:
            raise not_found("The file this upload session replaces")
        return existing, False
    existing = g.store.child(parent.id, session.name)
    if existing is None:
        return new_item(g, request, parent, session.name, folder=False), True
    if session.conflict == "fail" or existing.folder:
        raise GraphProblem(
            409,
            "nameAlreadyExists",
            "Another file exists with the same name as the uploaded session.",
        )
    if session.conflict == "replace":
        return existing, False
    name = g.free_name(parent, session.name, folder=False)
    return new_item(g, request, parent, name, folder=False), True


def _hash_file(g: GraphState, session: Session) -> ContentHashes:
    hashes = ContentHashes()
    with open(g.store.part_path(session.id), "rb") as part:
        while piece := part.read(_READ):
            hashes.update(piece)
    return hashes


def session_summary(session: Session) -> dict[str, Any]:
    """A session as the dump shows it."""
    return {"name": session.name, "received": session.received, "total": session.total}


__all__ = ["create_session", "serve_session", "session_summary"]
