"""File and image transfers on a record's column, and the raw value of a property.

- ``PATCH <set>(id)/<column>`` with the whole file as the body (``x-ms-file-name`` header or
  query parameter; at most ``CoreConfig.file_upload_limit``, 128 MB);
- ``PATCH`` with ``x-ms-transfer-mode: chunked`` starts a chunked upload: ``200`` with
  ``Location`` (the column's URL with ``sessiontoken``) and ``x-ms-chunk-size``; each chunk is
  a ``PATCH`` of that URL with ``Content-Range: bytes <start>-<end>/<size>``, answered ``206``
  until the file is complete (``204``);
- ``GET <set>(id)/<column>/$value``: the file (``x-ms-file-size``, ``x-ms-file-name``,
  ``mimetype``); with ``Range: bytes=<start>-<end>`` a part of it (``206`` with
  ``Content-Range`` and ``x-ms-chunk-size``). An Image column gives its thumbnail, or with
  ``?size=full`` its full image (``204`` when none is kept);
- ``GET <set>(id)/<property>/$value`` of any other column: its value as ``text/plain``
  (a note's ``documentbody``, an attachment's ``body``).

Deleting a file (``DELETE <set>(id)/<column>``) and setting an image with ``PUT`` go through
the property requests of :mod:`.handlers`.

Sources (Microsoft Learn):
https://learn.microsoft.com/power-apps/developer/data-platform/file-column-data,
https://learn.microsoft.com/power-apps/developer/data-platform/image-column-data,
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/retrieve-entity-using-web-api
("Retrieve the raw value of a property").
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import httpx

from crm_ferry.emulator import odata
from crm_ferry.emulator.records import files
from crm_ferry.emulator.records.context import Ctx, check_if_match, method_not_allowed
from crm_ferry.emulator.records.handlers import addressed, single_property
from crm_ferry.emulator.records.keys import lookup_name
from crm_ferry.emulator.records.privileges import check_privilege
from crm_ferry.emulator.records.reads import represent
from crm_ferry.emulator.records.rows import write_platform_update
from crm_ferry.emulator.schema import AttributeDef, EntityDef
from crm_ferry.emulator.state import TenantState
from crm_ferry.emulator.validation import (
    ATTACHMENT_TOO_BIG,
    INVALID_ARGUMENT,
    NOT_IMPLEMENTED,
    Fault,
    unknown_property,
)

TRANSFER_PARAMETERS = ("x-ms-file-name", "sessiontoken", "size")
"""Query parameters of file transfers (taken out before the OData query options are read)."""
TRANSFER_HEADERS = ("x-ms-transfer-mode", "x-ms-file-name")
"""Request headers only a file upload reads."""

MB = 1024 * 1024
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)(?:/(\d+))?$")


def split_parameters(query: str) -> tuple[str, dict[str, str]]:
    """The query string without the file transfer parameters, and those parameters."""
    kept: list[tuple[str, str]] = []
    taken: dict[str, str] = {}
    for key, value in parse_qsl(query.lstrip("?"), keep_blank_values=True):
        if key in TRANSFER_PARAMETERS:
            taken[key] = value
        else:
            kept.append((key, value))
    if not taken:
        return query, {}
    return urlencode(kept, quote_via=quote), taken


def refuse_parameters(params: dict[str, str]) -> None:
    """A file transfer parameter on a request that is not a file transfer: 501, as the OData
    layer answers any query parameter it does not know."""
    for name in params:
        raise Fault(
            501,
            NOT_IMPLEMENTED,
            f"The query parameter '{name}' is not implemented by the emulator.",
        )


def refuse_transfer_headers(request: httpx.Request) -> None:
    """A file upload's header on any other request: 501 (never ignored)."""
    for name in TRANSFER_HEADERS:
        if name in request.headers:
            raise Fault(
                501,
                NOT_IMPLEMENTED,
                f"The request header {name} outside a file upload is not implemented by the "
                "emulator.",
            )


@dataclass(frozen=True, slots=True)
class _Cell:
    """What a transfer reads or writes: the File or Image column ``attr`` of the row
    ``row_id`` of ``entity`` (``row``: the row as stored)."""

    entity: EntityDef
    row_id: str
    row: dict[str, Any]
    attr: AttributeDef


def _header_pairs(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("ascii"), v.encode("utf-8")) for k, v in headers.items()]


def _respond(status: int, headers: dict[str, str], content: bytes = b"") -> httpx.Response:
    return httpx.Response(
        status, headers=_header_pairs({"OData-Version": "4.0", **headers}), content=content
    )


def _bad(message: str, code: str = INVALID_ARGUMENT) -> Fault:
    return Fault(400, code, message)


def _check_conditions(ctx: Ctx, row: dict[str, Any]) -> None:
    """``If-None-Match: null`` (every documented request sends it) means nothing; ``If-Match``
    must name the row's version (or ``*``)."""
    if_none = ctx.request.headers.get("If-None-Match")
    if if_none is not None and if_none.strip() != "null":
        raise Fault(
            501,
            NOT_IMPLEMENTED,
            f"If-None-Match: {if_none} on a file transfer is not implemented by the emulator.",
        )
    check_if_match(ctx.request.headers.get("If-Match"), row)


# ---------------------------------------------------------------------------------------
# Routing


def property_request(
    em: TenantState,
    ctx: Ctx,
    entity: EntityDef,
    key: odata.Key,
    name: str,
    method: str,
    params: dict[str, str],
) -> httpx.Response:
    """``<set>(id)/<property>``: an upload for ``PATCH`` on a File or Image column, else the
    property requests of :mod:`.handlers`."""
    attr = entity.attribute(lookup_name(name))
    if attr is not None and attr.type in ("File", "Image") and method == "PATCH":
        return upload(em, ctx, entity, key, attr, params)
    if method == "PATCH" and (params or any(h in ctx.request.headers for h in TRANSFER_HEADERS)):
        files.media_column(entity, name)  # an upload to a column that holds no files
    refuse_parameters(params)
    refuse_transfer_headers(ctx.request)
    return single_property(em, ctx, entity, key, name, method)


def value_request(
    em: TenantState,
    ctx: Ctx,
    entity: EntityDef,
    key: odata.Key,
    name: str,
    method: str,
    params: dict[str, str],
) -> httpx.Response:
    """``<set>(id)/<property>/$value``."""
    if method != "GET":
        raise method_not_allowed(method, f"{name}/$value")
    attr = entity.attribute(lookup_name(name))
    if attr is None:
        raise unknown_property(entity.logical_name, name)
    check_privilege(em, ctx, "Read", entity)
    row_id, row = addressed(em, entity, key)
    refuse_transfer_headers(ctx.request)
    if attr.type in ("File", "Image"):
        return _download(em, ctx, _Cell(entity, row_id, row, attr), params)
    refuse_parameters(params)
    if "Range" in ctx.request.headers:
        raise Fault(
            501,
            NOT_IMPLEMENTED,
            "Range requests for the raw value of a column that isn't a file or image column "
            "are not implemented by the emulator.",
        )
    value = represent(em, ctx, entity, row, [name], []).get(name)
    em.count_records(1)
    if value is None:
        return _respond(204, {})
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return _respond(200, {"Content-Type": "text/plain"}, text.encode("utf-8"))


# ---------------------------------------------------------------------------------------
# Uploads


def _file_name(ctx: Ctx, params: dict[str, str]) -> str:
    """``x-ms-file-name``: the header wins over the query parameter (which carries names
    outside ASCII)."""
    name = ctx.request.headers.get("x-ms-file-name") or params.get("x-ms-file-name")
    if not name:
        raise _bad("The file name is required: send it in x-ms-file-name.")
    return name


def upload(
    em: TenantState,
    ctx: Ctx,
    entity: EntityDef,
    key: odata.Key,
    attr: AttributeDef,
    params: dict[str, str],
) -> httpx.Response:
    row_id, row = addressed(em, entity, key)
    check_privilege(em, ctx, "Write", entity)
    _check_conditions(ctx, row)
    if "size" in params:
        refuse_parameters({"size": params["size"]})
    cell = _Cell(entity, row_id, row, attr)
    token = params.get("sessiontoken")
    if token is not None:
        return _chunk(em, ctx, cell, token)
    mode = ctx.request.headers.get("x-ms-transfer-mode")
    if mode is not None:
        if mode.strip().lower() != "chunked":
            raise _bad(f"'{mode}' is not a transfer mode the service knows; use 'chunked'.")
        return _start_chunks(em, ctx, cell, params)
    data = ctx.request.content
    name = _file_name(ctx, params)
    if not data:
        raise _bad("File content can not be null.", files.FILE_CONTENT_NULL)
    limit = em.config.file_upload_limit
    if len(data) > limit:
        raise _bad(
            f"Maximum file size supported for upload is [{limit // MB}] MB. File of "
            f"[{len(data) // MB} MB] size may only be uploaded using staged chunk upload.",
            files.FILE_TOO_BIG_FOR_ONE_REQUEST,
        )
    _store(em, ctx, cell, data, name, ctx.request.headers.get("Content-Type"))
    return _respond(204, {})


def _store(
    em: TenantState, ctx: Ctx, cell: _Cell, data: bytes, name: str, content_type: str | None
) -> None:
    """Keep an uploaded file in its column and write the row."""
    entity, row, attr = cell.entity, cell.row, cell.attr
    if attr.type == "Image":
        files.store_image(
            em, entity, row, attr, data, creating=False, old=row.get(attr.logical_name), name=name
        )
    else:
        files.store_file(
            em, entity, row, attr, data, name, files.mime_of(name, content_type), ctx.caller
        )
    write_platform_update(em, entity, cell.row_id, row, ctx.caller)
    em.count_records(1)


def _start_chunks(em: TenantState, ctx: Ctx, cell: _Cell, params: dict[str, str]) -> httpx.Response:
    entity, row_id, attr = cell.entity, cell.row_id, cell.attr
    name = _file_name(ctx, params)
    if ctx.request.content:
        raise _bad("The request that starts a chunked upload carries no file content.")
    files.check_file_name(em, name)
    token = secrets.token_urlsafe(24)
    em.store.put_transfer(
        token,
        {
            "kind": "chunked",
            "table": entity.logical_name,
            "row": row_id,
            "column": attr.logical_name,
            "name": name,
            "size": None,
        },
    )
    location = (
        f"{ctx.base}{entity.entity_set_name}({row_id})/{attr.logical_name}"
        f"?sessiontoken={quote(token, safe='')}"
    )
    return _respond(
        200,
        {
            "Accept-Ranges": "bytes",
            "Location": location,
            "x-ms-chunk-size": str(em.config.file_block_size),
            "Access-Control-Expose-Headers": "x-ms-chunk-size",
        },
    )


def _range_fault(size: int) -> Fault:
    return _bad(
        "Content range is either not valid or size of the payload "
        f"[{size}] doesn't match with the chunk size provided.",
        files.INVALID_CONTENT_RANGE,
    )


def _chunk(em: TenantState, ctx: Ctx, cell: _Cell, token: str) -> httpx.Response:
    """One chunk of a chunked upload: ``206``, or ``204`` once every byte has come."""
    entity, row_id, attr = cell.entity, cell.row_id, cell.attr
    transfer = em.store.get_transfer(token)
    if (
        transfer is None
        or transfer.get("kind") != "chunked"
        or (transfer["table"], transfer["row"], transfer["column"])
        != (entity.logical_name, row_id, attr.logical_name)
    ):
        raise _bad("The sessiontoken is not valid: start the upload again.")
    headers = ctx.request.headers
    if headers.get("x-ms-file-name") != transfer["name"]:
        raise _bad(f"Each chunk must carry x-ms-file-name: {transfer['name']}.")
    if (headers.get("Content-Type") or "").split(";")[0].strip().lower() != files.OCTET_STREAM:
        raise _bad("Chunks are sent as Content-Type: application/octet-stream.")
    data = ctx.request.content
    match = _CONTENT_RANGE.match(headers.get("Content-Range", "").strip())
    if match is None:
        raise _range_fault(len(data))
    start, end, total = (int(g) for g in match.groups())
    if end < start or end >= total or len(data) != end - start + 1:
        raise _range_fault(len(data))
    if transfer["size"] is None:
        if files.too_big(attr, total):
            if attr.type == "Image":
                raise files.image_failure(
                    f"File size is too big. MaxSize: {(attr.max_size_kb or 0) // 1024} MB, "
                    f"Uploaded filesize: {total // MB} MB."
                )
            raise Fault(400, ATTACHMENT_TOO_BIG, "Attachment file size is too big.")
        transfer["size"] = total
        em.store.put_transfer(token, transfer)
    elif transfer["size"] != total:
        raise _range_fault(len(data))
    block = f"{start:020d}"
    sizes = em.store.block_sizes(token)
    for other, length in sizes.items():
        first = int(other)
        same = first == start and length == len(data)  # a chunk sent again
        if not same and first <= end and first + length - 1 >= start:
            raise _range_fault(len(data))
    em.store.put_block(token, block, data)
    sizes[block] = len(data)
    if sum(sizes.values()) < total:
        return _respond(206, {})
    content = em.store.read_blocks(token, sorted(sizes))
    em.store.delete_transfer(token)
    _store(em, ctx, cell, content, transfer["name"], None)
    return _respond(204, {})


# ---------------------------------------------------------------------------------------
# Downloads


def _source(
    em: TenantState, cell: _Cell, params: dict[str, str]
) -> tuple[str, int, str | None, str] | None:
    """(blob id, size, file name or None, MIME type) of what ``$value`` downloads; None when
    an image has no full image kept."""
    attr = cell.attr
    size = params.get("size")
    if size is not None and size != "full":
        raise _bad(f"'{size}' is not a size to download; ask for size=full.")
    stored = cell.row.get(attr.logical_name)
    if attr.type == "File":
        info = files.file_info(em, stored)
        if info is None:
            raise files.not_found_file(cell.entity, attr, cell.row_id)
        return str(stored), int(info["filesizeinbytes"]), info.get("filename"), info["mimetype"]
    if not stored:
        return None
    blob_id = f"{stored}/full" if size == "full" else str(stored)
    found = em.store.blob_info(blob_id)
    if found is None:
        return None
    _, meta, length = found
    return blob_id, length, meta.get("filename"), str(meta.get("mimetype") or files.OCTET_STREAM)


def _download(em: TenantState, ctx: Ctx, cell: _Cell, params: dict[str, str]) -> httpx.Response:
    _check_conditions(ctx, cell.row)
    source = _source(em, cell, params)
    em.count_records(1)
    if source is None:
        # "If the image column doesn't support full-sized images ... 204 No Content"
        # (image-column-data, "Download images")
        return _respond(204, {})
    blob_id, size, name, mime = source
    # a thumbnail comes without its size ('x-ms-file-size' only with ?size=full; the
    # DownloadFileChunkResponse of the Web API samples)
    described = cell.attr.type == "File" or params.get("size") == "full"
    headers = {"Content-Type": files.OCTET_STREAM, "mimetype": mime}
    exposed = ["mimetype"]
    if described:
        headers["x-ms-file-size"] = str(size)
        headers["x-ms-file-name"] = name or ""
        exposed = ["x-ms-file-size", "x-ms-file-name", "mimetype"]
    limit = em.config.file_download_limit
    wanted = ctx.request.headers.get("Range")
    if wanted is None:
        if size > limit:
            raise _bad(
                f"Maximum file size supported for download is [{limit // MB}] MB. File of "
                f"[{size // MB} MB] size may only be downloaded using staged chunk download.",
                files.FILE_TOO_BIG_FOR_ONE_REQUEST,
            )
        headers["Access-Control-Expose-Headers"] = "; ".join(exposed)
        return _respond(200, headers, em.store.read_blob(blob_id) or b"")
    start, end = _byte_range(wanted, size, limit)
    headers["x-ms-chunk-size"] = str(em.config.file_block_size)
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Access-Control-Expose-Headers"] = "; ".join(
        [*exposed[:-1], "x-ms-chunk-size", "mimetype"]
    )
    return _respond(206, headers, em.store.read_blob(blob_id, start, end - start + 1) or b"")


def _byte_range(header: str, size: int, limit: int) -> tuple[int, int]:
    """(first, last) byte of ``Range: bytes=<first>-<last>`` (``<last>`` past the end or left
    out: the end of the file; the old form's ``/<size>`` must say the file's size)."""
    fault = _bad(
        "Chunk range used in this call is either not valid or it is bigger than allowed "
        f"{limit // MB} MB.",
        files.INVALID_RANGE,
    )
    match = _RANGE.match(header.strip())
    if match is None:
        raise fault
    first, last_text, total = match.groups()
    start = int(first)
    end = min(int(last_text), size - 1) if last_text else size - 1
    if start >= size or end < start or end - start + 1 > limit:
        raise fault
    if total is not None and int(total) != size:
        raise fault
    return start, end


__all__ = [
    "TRANSFER_HEADERS",
    "TRANSFER_PARAMETERS",
    "property_request",
    "refuse_parameters",
    "refuse_transfer_headers",
    "split_parameters",
    "upload",
    "value_request",
]
