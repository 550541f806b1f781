"""``crm-ferry emulator serve`` and ``emulator dump``, and the client wired to an in-process
emulator (what the demo and the tests talk to). :func:`emulator_connection` is what connects
a project to a served emulator: its ``[dataverse]`` table, the same settings as environment
variables, and the variables that hold the secrets. :func:`snapshot_tenant` is the tenant of
a snapshot in process (what ``rehearse`` and ``discover --snapshot`` read and write instead
of the configured tenant), :func:`snapshot_file` the snapshot a verb was given or the
project's own.

The emulator and the client share no code; :func:`embedded_client` only connects them
through an ``httpx`` transport, exactly as a real tenant would be reached over the network.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from crm_ferry.dataverse.auth import MsalCredential
from crm_ferry.dataverse.client import ClientOptions, DataverseClient
from crm_ferry.emulator.app import EmulatorApp, EmulatorConfig
from crm_ferry.emulator.served import load_snapshot
from crm_ferry.emulator.server import RunningServer, serve
from crm_ferry.emulator.state import CoreConfig
from crm_ferry.emulator.tls import make_certificate
from crm_ferry.errors import ConfigError, EmulatorError
from crm_ferry.reconcile.scoping import SnapshotOrigin
from crm_ferry.settings import ENV_PREFIX, SECRET_ENV, Settings, secret_env_name
from crm_ferry.sharepoint import GRAPH_SCOPE, SharePointClient
from crm_ferry.snapshot import SNAPSHOT_FILE

__all__ = [
    "EmulatorConnection",
    "SnapshotTenant",
    "embedded_client",
    "emulator_connection",
    "emulator_dump",
    "emulator_serve",
    "snapshot_file",
    "snapshot_tenant",
]


def emulator_serve(
    settings: Settings,
    *,
    config: EmulatorConfig | None = None,
    data_dir: Path | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    tls_dir: Path | None = None,
) -> RunningServer:
    """Serve the Dataverse emulator over HTTP in the background; ``.shutdown()`` stops it.

    ``data_dir`` keeps the data in SQLite under that folder; without it, in memory. With
    ``tls_dir``, it serves HTTPS with a self-signed certificate made there at start-up (for
    clients that refuse plain HTTP, as Microsoft's Python SDK does).
    """
    app = EmulatorApp(config, data_dir=settings.resolve(data_dir) if data_dir else None)
    try:
        tls = make_certificate(settings.resolve(tls_dir), host) if tls_dir is not None else None
        return serve(app, host=host, port=port, tls=tls)
    except BaseException:
        app.close()
        raise


@dataclass(frozen=True, slots=True)
class EmulatorConnection:
    """What connects a project to a served emulator: the environment URL, tenant, sign-in
    authority and application users (client id, secret) it accepts, as ferry.toml's
    ``[dataverse]`` table, as ``CRM_FERRY_*`` variables, and as an ``init`` command line."""

    url: str
    tenant: str
    authority: str
    users: tuple[tuple[str, str], ...]
    """(client id, secret) of every enabled application user, the configured one first."""
    certificate: str | None = None
    """The self-signed certificate of an HTTPS emulator, which clients must trust."""

    @property
    def client_id(self) -> str:
        return self.users[0][0]

    def secrets(self) -> dict[str, str]:
        """The variable of each user's secret (the configured user's ``CRM_FERRY_CLIENT_SECRET``,
        each extra user's ``CRM_FERRY_CLIENT_SECRET_<CLIENT ID>``) and its value."""
        (_, main), *extra = self.users
        return {SECRET_ENV: main, **{secret_env_name(cid): secret for cid, secret in extra}}

    def settings(self) -> dict[str, str]:
        """The ``[dataverse]`` settings, by key."""
        return {
            "url": self.url,
            "tenant": self.tenant,
            "client_id": self.client_id,
            "authority": self.authority,
        }

    def ferry_toml(self) -> str:
        """The ``[dataverse]`` table (its strings are JSON's, which TOML reads alike)."""
        lines = ["[dataverse]", *(f"{k} = {json.dumps(v)}" for k, v in self.settings().items())]
        if len(self.users) > 1:
            lines.append(f"extra_client_ids = {json.dumps([cid for cid, _ in self.users[1:]])}")
        return "\n".join(lines) + "\n"

    def env(self) -> dict[str, str]:
        """The same settings as environment variables, and the configured user's secret
        (extra users are listed in ferry.toml only)."""
        named = {f"{ENV_PREFIX}DATAVERSE_{k}".upper(): v for k, v in self.settings().items()}
        return {**named, SECRET_ENV: self.users[0][1], **self.trust()}

    def trust(self) -> dict[str, str]:
        """For an HTTPS emulator, the variables that make clients trust its certificate:
        ``SSL_CERT_FILE`` (httpx, which crm-ferry uses) and ``REQUESTS_CA_BUNDLE`` (requests,
        which MSAL and Microsoft's Python SDK use)."""
        if self.certificate is None:
            return {}
        return {"SSL_CERT_FILE": self.certificate, "REQUESTS_CA_BUNDLE": self.certificate}

    def init_command(self) -> str:
        """``crm-ferry init DIR ...`` making a project connected to the emulator."""
        flags = {"--url": self.url, "--tenant": self.tenant, "--client-id": self.client_id}
        flags["--authority"] = self.authority
        return "crm-ferry init DIR " + " ".join(f"{k} {shlex.quote(v)}" for k, v in flags.items())

    def as_dict(self) -> dict[str, Any]:
        return {
            "ferry_toml": self.ferry_toml(),
            "env": self.env(),
            "secrets": {**self.secrets(), **self.trust()},
            "init": self.init_command(),
        }


def emulator_connection(server: RunningServer) -> EmulatorConnection:
    """How a project connects to ``server``: its URL, tenant, authority and enabled users."""
    app = server.app
    users = tuple((c.client_id, c.secret) for c in app.clients if not c.disabled)
    if not users:
        raise EmulatorError(
            "the emulator accepts no enabled application user",
            hint="serve it with --users 1 or more",
        )
    certificate = None if server.tls is None else str(server.tls.certificate)
    return EmulatorConnection(server.url, app.tenant, app.authority, users, certificate)


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
    credential = _embedded_credential(app)
    opts = {"visibility_delays": (0.0,), **options}
    return DataverseClient(
        app.base_url,
        credential,
        transport=transport or app.transport(),
        options=ClientOptions(**opts),
    )


def embedded_sharepoint(app: EmulatorApp) -> SharePointClient:
    """A Microsoft Graph client signed in to ``app`` as its default application user, in
    process: the emulator's SharePoint site (``app.graph``)."""
    return SharePointClient(_embedded_credential(app, GRAPH_SCOPE), transport=app.transport())


def _embedded_credential(app: EmulatorApp, scope: str | None = None) -> MsalCredential:
    """The default application user of ``app``, signing in in process (for ``scope``: the
    environment's by default)."""
    client_id, secret = app.default_client
    return MsalCredential.client_secret(
        environment_url=app.base_url,
        client_id=client_id,
        secret=secret,
        tenant=app.tenant,
        authority=app.base_url,
        http=httpx.Client(transport=app.transport()),
        scope=scope,
    )


def snapshot_file(settings: Settings, snapshot: Path | None = None) -> Path:
    """The tenant snapshot to serve: ``snapshot`` (a path from the project folder), else the
    project's ``tenant-snapshot.json``; a :class:`ConfigError` naming the file and saying
    how to make one when there is none."""
    if snapshot is not None:
        path = settings.resolve(snapshot)
        hint = (
            "check --snapshot FILE, or run `crm-ferry snapshot --out FILE` to capture the "
            "configured tenant into it"
        )
    else:
        path = settings.project_dir / SNAPSHOT_FILE
        hint = (
            "run `crm-ferry snapshot` to capture the configured tenant into it (it reads the "
            "tenant and writes nothing there), or pass --snapshot FILE naming another"
        )
    if not path.is_file():
        raise ConfigError(f"no tenant snapshot at {path}", hint=hint)
    return path


@dataclass(frozen=True, slots=True)
class SnapshotTenant:
    """A tenant snapshot served in process: the emulator, a client signed in to it, where
    the snapshot came from and the tables it holds."""

    app: EmulatorApp
    client: DataverseClient
    origin: SnapshotOrigin
    tables: frozenset[str]
    """The tables the snapshot holds (the emulator keeps its built-in ones besides)."""


@contextmanager
def snapshot_tenant(
    path: Path, *, data_dir: Path | None = None, **options: Any
) -> Iterator[SnapshotTenant]:
    """The tenant the snapshot at ``path`` describes, served in process (stored under
    ``data_dir``, else in memory), with a client signed in to it (``options``: its
    :class:`ClientOptions`). A snapshot the emulator cannot represent is a
    :class:`ConfigError` naming what."""
    loaded = load_snapshot(path)
    doc = loaded.document
    origin = SnapshotOrigin(
        path=str(path),
        environment_url=str(doc.get("environment_url") or "an unnamed environment"),
        taken_at=str(doc.get("taken_at") or "at an unknown time"),
    )
    config = EmulatorConfig(core=CoreConfig(snapshot=loaded))
    with EmulatorApp(config, data_dir=data_dir) as app, embedded_client(app, **options) as client:
        yield SnapshotTenant(app, client, origin, frozenset(loaded.tables))
