"""Clients from settings: environment URL, tenant, client id and authority from ``ferry.toml``,
the secret from the environment or the OS keyring (never from a file)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from crm_ferry.dataverse.auth import MsalCredential
from crm_ferry.dataverse.client import ClientOptions, DataverseClient
from crm_ferry.dataverse.pool import ClientPool
from crm_ferry.errors import ConfigError
from crm_ferry.settings import (
    KEYRING_SERVICE,
    SECRET_ENV,
    Settings,
    client_secret,
    secret_env_name,
)


def options_from_settings(settings: Settings, **overrides: Any) -> ClientOptions:
    values: dict[str, Any] = {
        "batch_size": settings.batch_size,
        "max_concurrency": settings.max_concurrency,
        "solution": settings.solution,
    }
    values.update(overrides)
    return ClientOptions(**values)


def require_environment(settings: Settings) -> tuple[str, str]:
    """``(url, client_id)``, or a :class:`ConfigError` saying what to set."""
    missing = [
        name
        for name, value in (("url", settings.environment_url), ("client_id", settings.client_id))
        if not value
    ]
    if missing:
        raise ConfigError(
            f"[dataverse] {', '.join(missing)} not set",
            hint="set them in ferry.toml or as CRM_FERRY_DATAVERSE_URL / _CLIENT_ID",
        )
    assert settings.environment_url
    assert settings.client_id
    return settings.environment_url, settings.client_id


def credential_from_settings(
    settings: Settings,
    *,
    client_id: str | None = None,
    transport: httpx.BaseTransport | None = None,
    env: Mapping[str, str] | None = None,
) -> MsalCredential:
    """A client-secret credential for ``client_id`` (default: the configured one).

    Only the configured user may take ``CRM_FERRY_CLIENT_SECRET``; an extra user's secret
    is its own variable (``CRM_FERRY_CLIENT_SECRET_<CLIENT ID>``) or the keyring."""
    url, default_id = require_environment(settings)
    cid = client_id or default_id
    main = cid.lower() == default_id.lower()
    secret = client_secret(cid, env=env, shared=main)
    if not secret:
        shared = f"{SECRET_ENV} or " if main else ""
        raise ConfigError(
            f"no client secret for client {cid}",
            hint=f"set {shared}{secret_env_name(cid)} or store it in the OS keyring "
            f"(service '{KEYRING_SERVICE}', user = the client id)",
        )
    return MsalCredential.client_secret(
        environment_url=url,
        client_id=cid,
        secret=secret,
        tenant=settings.tenant,
        authority=settings.authority,
        http=httpx.Client(transport=transport, timeout=30),
    )


def client_from_settings(
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
    env: Mapping[str, str] | None = None,
    **options: Any,
) -> DataverseClient:
    url, _ = require_environment(settings)
    cred = credential_from_settings(settings, transport=transport, env=env)
    return DataverseClient(
        url, cred, transport=transport, options=options_from_settings(settings, **options)
    )


def pool_from_settings(
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
    **options: Any,
) -> ClientPool:
    """The configured user plus ``[dataverse] extra_client_ids``, each with its own secret."""
    url, main_id = require_environment(settings)
    section = settings.raw.get("dataverse", {}) if isinstance(settings.raw, Mapping) else {}
    extra: Sequence[str] = section.get("extra_client_ids", []) if isinstance(section, dict) else []
    opts = options_from_settings(settings, **options)
    # every secret first: a missing one stops the run before any connection is opened
    credentials: list[MsalCredential] = []
    try:
        for cid in [main_id, *[str(c) for c in extra if str(c) != main_id]]:
            credentials.append(
                credential_from_settings(settings, client_id=cid, transport=transport)
            )
    except ConfigError:
        for made in credentials:
            made.close()
        raise
    clients = [DataverseClient(url, c, transport=transport, options=opts) for c in credentials]
    return ClientPool(clients)
