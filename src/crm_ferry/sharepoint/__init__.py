"""crm-ferry's SharePoint client, through Microsoft Graph: where documents go that do not
belong in Dataverse (over the upload limit, a blocked file type, or because the map says
so), stored as the Dynamics 365 SharePoint integration stores them: a document library per
table, a folder per record, the file inside.

Like :mod:`crm_ferry.dataverse` it knows nothing of mappings, loads or reports. It signs in
with the same application as the Dataverse client, for another audience
(``https://graph.microsoft.com/.default``; :class:`crm_ferry.dataverse.auth.MsalCredential`
with that scope). :mod:`.client` (sites, libraries, folders, downloads), :mod:`.upload`
(simple uploads and resumable upload sessions), :mod:`.http` (retries), :mod:`.names`
(names SharePoint takes), :mod:`.errors`, :mod:`.doctor` (``crm-ferry doctor``'s checks).
"""

from __future__ import annotations

from crm_ferry.sharepoint.client import SharePointClient, encode_path
from crm_ferry.sharepoint.doctor import SharePointCheck, check_sharepoint
from crm_ferry.sharepoint.errors import (
    GraphAccessDenied,
    GraphAuthError,
    GraphConflict,
    GraphConnectionLost,
    GraphNotFound,
    GraphRejected,
    GraphThrottled,
    GraphUnavailable,
    SharePointError,
)
from crm_ferry.sharepoint.http import GRAPH_SCOPE, GRAPH_URL, GraphRetry
from crm_ferry.sharepoint.items import Drive, DriveItem, Site
from crm_ferry.sharepoint.names import safe_name
from crm_ferry.sharepoint.upload import DEFAULT_CHUNK, SIMPLE_LIMIT, LocalFileError

__all__ = [
    "DEFAULT_CHUNK",
    "GRAPH_SCOPE",
    "GRAPH_URL",
    "SIMPLE_LIMIT",
    "Drive",
    "DriveItem",
    "GraphAccessDenied",
    "GraphAuthError",
    "GraphConflict",
    "GraphConnectionLost",
    "GraphNotFound",
    "GraphRejected",
    "GraphRetry",
    "GraphThrottled",
    "GraphUnavailable",
    "LocalFileError",
    "SharePointCheck",
    "SharePointClient",
    "SharePointError",
    "Site",
    "check_sharepoint",
    "encode_path",
    "safe_name",
]
