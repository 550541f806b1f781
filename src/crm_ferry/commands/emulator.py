"""``crm-ferry emulator serve`` and ``emulator dump``, and the client wired to an in-process
emulator (what the demo and the tests talk to).

The emulator and the client share no code; :func:`embedded_client` only connects them
through an ``httpx`` transport, exactly as a real tenant would be reached over the network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from crm_ferry.dataverse.auth import MsalCredential
from crm_ferry.dataverse.client import ClientOptions, DataverseClient
from crm_ferry.emulator.app import EmulatorApp, EmulatorConfig
from crm_ferry.emulator.server import RunningServer, serve
from crm_ferry.errors import EmulatorError
from crm_ferry.settings import Settings

__all__ = ["embedded_client", "emulator_dump", "emulator_serve"]


def emulator_serve(
    settings: Settings,
    *,
    config: EmulatorConfig | None = None,
    data_dir: Path | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> RunningServer:
    """Serve the Dataverse emulator over HTTP in the background; ``.shutdown()`` stops it.

    ``data_dir`` keeps the data in SQLite under that folder; without it, in memory.
    """
    app = EmulatorApp(config, data_dir=settings.resolve(data_dir) if data_dir else None)
    try:
        return serve(app, host=host, port=port)
    except BaseException:
        app.close()
        raise


def emulator_dump(
    settings: Settings, *, data_dir: Path, table: str | None = None
) -> dict[str, Any]:
    """Every row the emulator stored under ``data_dir`` (of one table, if given)."""
    folder = settings.resolve(data_dir)
    if not folder.is_dir():
        raise EmulatorError(
            f"no emulator data in {folder}",
            hint="pass the folder given to `crm-ferry emulator serve --data`",
        )
    with EmulatorApp(data_dir=folder) as app:
        return dict(app.dump(table))


def embedded_client(
    app: EmulatorApp, *, transport: httpx.BaseTransport | None = None, **options: Any
) -> DataverseClient:
    """A client signed in to ``app`` as its default application user, in process
    (``transport``: another way to ``app``'s requests, such as one that loses answers)."""
    client_id, secret = app.default_client
    credential = MsalCredential.client_secret(
        environment_url=app.base_url,
        client_id=client_id,
        secret=secret,
        tenant=app.tenant,
        authority=app.base_url,
        http=httpx.Client(transport=app.transport()),
    )
    opts = {"visibility_delays": (0.0,), **options}
    return DataverseClient(
        app.base_url,
        credential,
        transport=transport or app.transport(),
        options=ClientOptions(**opts),
    )
