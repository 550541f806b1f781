"""``crm-ferry doctor``: is the configured environment ready for a load?"""

from __future__ import annotations

import httpx

from crm_ferry.commands._project import (
    credential_from_settings,
    options_from_settings,
    require_environment,
)
from crm_ferry.dataverse.doctor import DoctorResult, run_doctor
from crm_ferry.settings import Settings

__all__ = ["DoctorResult", "doctor"]


def doctor(
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
    bypass_custom_logic: bool = False,
) -> DoctorResult:
    """Check reachability, sign-in, WhoAmI, privileges and limits of the configured environment.

    ``transport`` (an ``httpx`` transport) lets tests and the demo talk to the emulator in
    process. The result's ``ok`` is false when a blocking problem was found.
    """
    url, _ = require_environment(settings)
    credential = credential_from_settings(settings, transport=transport)
    return run_doctor(
        url,
        credential,
        transport=transport,
        options=options_from_settings(settings),
        bypass_custom_logic=bypass_custom_logic,
    )
