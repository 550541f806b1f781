"""``crm-ferry doctor``: is the configured environment ready for a load?"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import httpx

from crm_ferry.commands._project import (
    credential_from_settings,
    map_file,
    options_from_settings,
    require_environment,
)
from crm_ferry.dataverse.auth import CredentialProvider
from crm_ferry.dataverse.doctor import DoctorCheck, DoctorResult, run_doctor
from crm_ferry.dataverse.errors import DataverseError
from crm_ferry.errors import FerryError
from crm_ferry.mapping.spec import MapDocument
from crm_ferry.settings import Settings
from crm_ferry.sharepoint import GRAPH_SCOPE, SharePointClient, check_sharepoint

__all__ = ["DoctorResult", "doctor"]

CLIENT_ROLES = ("contact", "account")
"""The roles whose records get a SharePoint folder (a file of a session: its client's)."""


class _FailedSignIn:
    """A sign-in that failed as its credential was made (MSAL reads the authority's
    discovery document then): doctor reports it on its sign-in line, after reachability."""

    def __init__(self, client_id: str, error: FerryError) -> None:
        self._client_id = client_id
        self._error = error

    @property
    def name(self) -> str:
        return self._client_id

    def token(self, *, force_refresh: bool = False) -> str:
        raise self._error


def doctor(
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
    bypass_custom_logic: bool = False,
) -> DoctorResult:
    """Check reachability, sign-in, WhoAmI, privileges and limits of the configured environment,
    and, with ``[sharepoint] site`` set, the SharePoint site and its libraries.

    ``transport`` (an ``httpx`` transport) lets tests and the demo talk to the emulator in
    process. The result's ``ok`` is false when a blocking problem was found; a sign-in that
    fails names the authority it tried and the setting that changes it.
    """
    url, client_id = require_environment(settings)
    credential: CredentialProvider
    try:
        credential = credential_from_settings(settings, transport=transport)
    except DataverseError as exc:  # a missing secret (ConfigError) still stops here
        credential = _FailedSignIn(client_id, exc)
    result = run_doctor(
        url,
        credential,
        transport=transport,
        options=options_from_settings(settings),
        bypass_custom_logic=bypass_custom_logic,
    )
    if settings.sharepoint_site is None:
        return result
    return _with_sharepoint(settings, result, client_id, transport)


def _with_sharepoint(
    settings: Settings,
    result: DoctorResult,
    client_id: str,
    transport: httpx.BaseTransport | None,
) -> DoctorResult:
    assert settings.sharepoint_site is not None
    graph: CredentialProvider
    try:
        graph = credential_from_settings(settings, transport=transport, scope=GRAPH_SCOPE)
    except FerryError as exc:
        graph = _FailedSignIn(client_id, exc)
    libraries = needed_libraries(settings)
    with SharePointClient(graph, graph_url=settings.sharepoint_graph_url, transport=transport) as c:
        found = check_sharepoint(c, graph, settings.sharepoint_site, libraries)
    close = getattr(graph, "close", None)
    if callable(close):
        close()
    checks = tuple(DoctorCheck(f.name, f.status, f.detail, f.hint) for f in found)
    facts = {**result.facts, "sharepoint_site": settings.sharepoint_site, "libraries": libraries}
    return replace(result, checks=result.checks + checks, facts=facts)


def needed_libraries(settings: Settings) -> list[str]:
    """``[sharepoint] libraries``, else the tables of the map's clients (contact, account):
    documents go to their client's folder, in a library per table, as the Dynamics 365
    SharePoint integration keeps them."""
    section = settings.raw.get("sharepoint") if isinstance(settings.raw, Mapping) else None
    listed = section.get("libraries") if isinstance(section, Mapping) else None
    if isinstance(listed, list):
        return [str(name) for name in listed]
    path = map_file(settings)
    if not path.is_file():
        return []
    try:
        spec = MapDocument.load(path).spec()
    except FerryError:
        return []
    # documents go to the folder of their client: a library per client table
    return sorted(
        {t.table for role, t in spec.targets.items() if role in CLIENT_ROLES and t.enabled}
    )
