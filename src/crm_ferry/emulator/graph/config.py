"""What shapes the emulated SharePoint: its sites and libraries, and Graph's documented limits.

The default site is ``https://crmferry.sharepoint.com/sites/crm``: the emulated tenant's
users are ``…@crmferry.onmicrosoft.com`` (:mod:`crm_ferry.emulator.tenant`), and SharePoint
Online serves a tenant ``<name>.onmicrosoft.com`` at ``<name>.sharepoint.com``. It has one
document library, "Documents" (its URL is ``Shared Documents``, as a new site's default
library is).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from crm_ferry.errors import ConfigError

DEFAULT_HOST = "crmferry.sharepoint.com"
DEFAULT_SITE_URL = f"https://{DEFAULT_HOST}/sites/crm"
DEFAULT_LIBRARY = "Documents"
DEFAULT_LIBRARY_URL = "Shared Documents"

KIB = 1024
MIB = 1024 * KIB


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class SiteSpec:
    """A SharePoint site the emulator serves, with the document libraries it starts with."""

    url: str
    display_name: str = "CRM"
    libraries: tuple[str, ...] = (DEFAULT_LIBRARY,)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme != "https" or not parts.hostname or not parts.path.strip("/"):
            raise ConfigError(
                f"SharePoint site URL {self.url!r} is not https://<host>/<path>",
                hint="give the site's full URL, e.g. https://contoso.sharepoint.com/sites/crm",
            )

    @property
    def hostname(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()

    @property
    def path(self) -> str:
        """The server-relative path without slashes at either end (``sites/crm``)."""
        return urlsplit(self.url).path.strip("/")


def library_url_name(display_name: str) -> str:
    """The URL segment of a library: ``Shared Documents`` for the default "Documents", else
    the display name."""
    return DEFAULT_LIBRARY_URL if display_name == DEFAULT_LIBRARY else display_name


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphConfig:
    """The emulated SharePoint's sites and the limits of Graph's file API."""

    sites: tuple[SiteSpec, ...] = (SiteSpec(DEFAULT_SITE_URL),)
    simple_upload_limit: int = 4 * MIB
    """"This method only supports files up to 4MB in size" (driveitem-put-content)."""
    fragment_limit: int = 60 * MIB
    """"the maximum bytes in any given request is less than 60 MiB" (createUploadSession):
    a fragment must be smaller than this."""
    fragment_multiple: int = 320 * KIB
    """"the size of each byte range MUST be a multiple of 320 KiB (327,680 bytes)", but the
    last one's."""
    upload_session_lifetime_s: float = 3600.0
    """Seconds an upload session lives after its last accepted fragment. UNCERTAIN: the
    documents show an ``expirationDateTime`` on every answer but give no lifetime."""
    download_url_lifetime_s: float = 3600.0
    """"The URL will only be available for a short period of time (1 hour)" (driveItem)."""
    page_size: int = 200
    """"If a collection exceeds the default page size (200 items), the @odata.nextLink
    property is returned" (driveitem-list-children)."""
    quota_total: int = 1024**4
    wall_clock: Callable[[], datetime] = _utc_now
    """createdDateTime, lastModifiedDateTime and expirationDateTime come from here."""

    def __post_init__(self) -> None:
        hosts = [s.url.rstrip("/").lower() for s in self.sites]
        if len(set(hosts)) != len(hosts):
            raise ConfigError("two SharePoint sites have the same URL")
