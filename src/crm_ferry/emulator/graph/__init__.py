"""Microsoft Graph's SharePoint file API, as the emulator serves it beside Dataverse.

crm-ferry sends the documents that do not belong in Dataverse to SharePoint, the way the
Dynamics 365 SharePoint integration stores them (a library per table, a folder per record);
this package is the Graph side of that: sites, document libraries (drives), folders and
files, simple uploads, resumable upload sessions and pre-authenticated downloads, written
from Microsoft's Graph documentation (each module names the articles and commits it
follows). :class:`~crm_ferry.emulator.app.EmulatorApp` routes ``/v1.0/`` (and the upload
and download URLs it hands out, ``/_files/``) here.

Layout: :mod:`.service` (the router), :mod:`.items` and :mod:`.uploads` and
:mod:`.downloads` (what the requests do), :mod:`.state` and :mod:`.store` (the sites,
libraries, items and sessions; SQLite and files), :mod:`.resources` (the JSON), :mod:`.paths`
(URL syntax and query options), :mod:`.names` (the names SharePoint refuses),
:mod:`.hashes` (QuickXorHash), :mod:`.errors` (Graph's error shape), :mod:`.guard` (Graph
tokens only), :mod:`.config`.
"""

from __future__ import annotations

from crm_ferry.emulator.graph.config import DEFAULT_SITE_URL, GraphConfig, SiteSpec
from crm_ferry.emulator.graph.errors import fault_answer
from crm_ferry.emulator.graph.guard import GraphGuard
from crm_ferry.emulator.graph.service import GraphService, is_graph

__all__ = [
    "DEFAULT_SITE_URL",
    "GraphConfig",
    "GraphGuard",
    "GraphService",
    "SiteSpec",
    "fault_answer",
    "is_graph",
]
