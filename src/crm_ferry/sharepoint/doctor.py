"""``crm-ferry doctor``'s SharePoint checks: the site resolves with the Graph token, and the
document libraries a load needs exist (or which of them the load will create).

Each check is one line, as the Dataverse checks are: ``pass``, ``warn``, ``fail`` or
``skip``. Creating a library (``POST /sites/{site-id}/lists``) takes the permission
Sites.Manage.All ("Application | Sites.Manage.All", list-create); reading and writing
files Sites.ReadWrite.All or Sites.Selected (driveitem-put-content, site-get).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from crm_ferry.dataverse.auth import CredentialProvider
from crm_ferry.errors import FerryError
from crm_ferry.sharepoint.client import SharePointClient
from crm_ferry.sharepoint.errors import (
    PERMISSION_HINT,
    GraphAccessDenied,
    GraphAuthError,
    GraphNotFound,
    SharePointError,
)
from crm_ferry.sharepoint.items import Site

Status = Literal["pass", "warn", "fail", "skip"]
CHECKS = ("SharePoint sign-in", "SharePoint site", "SharePoint libraries")
SITE_HINT = (
    "check [sharepoint] site in ferry.toml (or CRM_FERRY_SHAREPOINT_SITE): the site's full "
    "URL, e.g. https://contoso.sharepoint.com/sites/crm"
)


@dataclass(frozen=True, slots=True)
class SharePointCheck:
    name: str
    status: Status
    detail: str
    hint: str | None = None


def check_sharepoint(
    client: SharePointClient,
    credential: CredentialProvider,
    site_url: str,
    libraries: Sequence[str],
) -> list[SharePointCheck]:
    """The checks, in order; never raises for what it finds."""
    out: list[SharePointCheck] = []
    try:
        credential.token()
    except FerryError as exc:
        out.append(SharePointCheck(CHECKS[0], "fail", exc.message, exc.hint))
        out.extend(
            SharePointCheck(n, "skip", "skipped after an earlier failure") for n in CHECKS[1:]
        )
        return out
    out.append(SharePointCheck(CHECKS[0], "pass", f"a Microsoft Graph token for {credential.name}"))
    try:
        site = client.site(site_url)
    except SharePointError as exc:
        out.append(_site_failure(site_url, exc))
        out.append(SharePointCheck(CHECKS[2], "skip", "skipped after an earlier failure"))
        return out
    out.append(
        SharePointCheck(CHECKS[1], "pass", f"{site.web_url} ({site.display_name}, {site.id})")
    )
    out.append(_libraries(client, site, libraries))
    return out


def _site_failure(site_url: str, exc: SharePointError) -> SharePointCheck:
    if isinstance(exc, GraphAuthError | GraphAccessDenied):
        return SharePointCheck(
            CHECKS[1],
            "fail",
            f"Microsoft Graph refused to open {site_url}: {exc.detail}",
            PERMISSION_HINT,
        )
    if isinstance(exc, GraphNotFound):
        return SharePointCheck(CHECKS[1], "fail", f"no SharePoint site at {site_url}", SITE_HINT)
    return SharePointCheck(CHECKS[1], "fail", exc.message, exc.hint)


def _libraries(client: SharePointClient, site: Site, needed: Sequence[str]) -> SharePointCheck:
    try:
        present = {d.name.casefold(): d.name for d in client.drives(site)}
    except SharePointError as exc:
        return SharePointCheck(
            CHECKS[2], "fail", f"cannot list the libraries: {exc.detail}", PERMISSION_HINT
        )
    existing = [n for n in needed if n.casefold() in present]
    missing = [n for n in needed if n.casefold() not in present]
    if not needed:
        return SharePointCheck(
            CHECKS[2],
            "pass",
            f"{len(present)} librar{'y' if len(present) == 1 else 'ies'}; none needed yet",
        )
    if not missing:
        return SharePointCheck(CHECKS[2], "pass", f"all needed exist: {', '.join(existing)}")
    have = f"exist: {', '.join(existing)}; " if existing else ""
    return SharePointCheck(
        CHECKS[2],
        "warn",
        f"{have}created by the first load: {', '.join(missing)}",
        "the app needs Sites.Manage.All to create document libraries; or create them in "
        "SharePoint before the load",
    )
