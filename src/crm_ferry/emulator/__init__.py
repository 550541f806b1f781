"""A Dataverse-compatible emulator: the Web API, its sign-in service, its limits and its faults.

``EmulatorApp`` is the whole environment as one request-to-response callable; use
``app.transport()`` with ``httpx.Client`` in process, or serve it over HTTP with
``crm_ferry.emulator.server.serve`` (``crm-ferry emulator serve``).

Layout, from the outside in (each group imports only itself and the groups after it):

- serving: :mod:`.server` (HTTP), :mod:`.app` (the stack of layers), :mod:`.auth`
  (sign-in), :mod:`.faults` and :mod:`.protection` (service-protection limits);
- the data plane: :mod:`.core` (``Emulator``: the router of ``/api/data/v9.2/``), then what
  it routes to: :mod:`.actions` (functions and actions), :mod:`.blocks` (the block-transfer
  messages of files, notes and attachments), :mod:`.bulk` (CreateMultiple...), :mod:`.batch`
  (``$batch``), :mod:`.metadata` (the metadata API), :mod:`.fetchxml` (FetchXML queries,
  ``GET <set>?fetchXml=``) and :mod:`.records` (record requests, file and image transfers,
  writes, reads and business rules);
- the tenant: :mod:`.state` (``CoreConfig`` and the tenant's state every handler works on),
  :mod:`.store` (SQLite), :mod:`.tenant` (the standard tables and rows), :mod:`.served` (a
  tenant served from a tenant snapshot instead), :mod:`.validation`
  (values, error codes and faults) and :mod:`.schema` (the metadata model);
- shared by all: :mod:`.odata` (the Web API's URL syntax, pure), :mod:`.conditions`
  (Dataverse's condition operators, pure: what FetchXML's conditions and ``$filter``'s query
  functions mean), :mod:`.images` (image formats and thumbnails, pure) and :mod:`.layers`
  (the handler type, the extension keys layers talk through, OData error responses).
"""

from __future__ import annotations

from crm_ferry.emulator.app import EmulatorApp, EmulatorConfig

__all__ = ["EmulatorApp", "EmulatorConfig"]
