"""``crm-ferry doctor``: is the configured environment ready for a load?"""

from __future__ import annotations

import httpx

from crm_ferry.commands._project import (
    credential_from_settings,
    options_from_settings,
    require_environment,
)
from crm_ferry.dataverse.auth import CredentialProvider
from crm_ferry.dataverse.doctor import DoctorResult, run_doctor
from crm_ferry.dataverse.errors import DataverseError
from crm_ferry.settings import Settings

__all__ = ["DoctorResult", "doctor"]


class _FailedSignIn:
    """A sign-in that failed as its credential was made (MSAL reads the authority's
    discovery document then): doctor reports it on its sign-in line, after reachability."""

    def __init__(self, client_id: str, error: DataverseError) -> None:
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
    """Check reachability, sign-in, WhoAmI, privileges and limits of the configured environment.

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
    return run_doctor(
        url,
        credential,
        transport=transport,
        options=options_from_settings(settings),
        bypass_custom_logic=bypass_custom_logic,
    )
