"""SharePoint for the verbs that move, check or undo documents: the Graph client of the
configured application (or the one given: tests, the demo) and what the tenant already has
of the SharePoint integration (its site row and library locations)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from crm_ferry.commands._project import credential_from_settings
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.errors import ConfigError
from crm_ferry.mapping.spec import MappingSpec
from crm_ferry.settings import Settings
from crm_ferry.sharepoint import GRAPH_SCOPE, SharePointClient
from crm_ferry.transform.context import SharePointPlan

__all__ = ["sharepoint_client", "sharepoint_plan"]


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@contextmanager
def sharepoint_client(
    settings: Settings, needed: bool, given: SharePointClient | None, *, why: str = ""
) -> Iterator[SharePointClient | None]:
    """The Graph client when ``needed`` (the map sends documents to SharePoint, or a run put
    files there: ``why`` says which), else None; a :class:`ConfigError` saying what to set
    when it is needed and no site is configured."""
    if given is not None:
        yield given
        return
    if not needed:
        yield None
        return
    if settings.sharepoint_site is None:
        raise ConfigError(
            f"{why or 'mapping.yaml sends documents to SharePoint'} but no SharePoint site is set",
            hint='set [sharepoint] site = "https://<tenant>.sharepoint.com/sites/<site>" in '
            "ferry.toml (check it with `crm-ferry doctor`), or set documents.files and "
            "documents.images to dataverse",
        )
    credential = credential_from_settings(settings, scope=GRAPH_SCOPE)
    with SharePointClient(credential, graph_url=settings.sharepoint_graph_url) as client:
        yield client


def sharepoint_plan(
    settings: Settings, spec: MappingSpec, client: DataverseClient, site: str | None = None
) -> SharePointPlan | None:
    """The site and the library locations the tenant has for it (None: no SharePoint)."""
    url = site or settings.sharepoint_site
    if url is None or not spec.documents.uses_sharepoint:
        return None
    url = url.rstrip("/")
    found = next(
        iter(
            client.query(
                "sharepointsite",
                select=["sharepointsiteid"],
                filter=f"absoluteurl eq {_quoted(url)}",
                top=1,
            )
        ),
        None,
    )
    if found is None:
        return SharePointPlan(url)
    site_id = str(found["sharepointsiteid"])
    libraries = {
        str(row["relativeurl"]).lower(): str(row["sharepointdocumentlocationid"])
        for row in client.query(
            "sharepointdocumentlocation",
            select=["sharepointdocumentlocationid", "relativeurl"],
            filter=f"_parentsiteorlocation_value eq {site_id}",
        )
        if row.get("relativeurl")
    }
    return SharePointPlan(url, site_id, libraries)
