"""What every verb needs once: the project folder, the source path, the map, the client.

The stage packages know nothing of ``ferry.toml``; this is where settings become the plain
values they take: a path, a column map, a signed-in :class:`DataverseClient` (or several,
one per application user), the confirmed map.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import httpx

from crm_ferry.dataverse.auth import MsalCredential
from crm_ferry.dataverse.client import ClientOptions, DataverseClient
from crm_ferry.dataverse.pool import ClientPool
from crm_ferry.errors import ConfigError, Interrupted, SourceError
from crm_ferry.journal import JOURNAL_FILE, Journal, PostgresTarget
from crm_ferry.mapping.check import require_loadable_map
from crm_ferry.mapping.fingerprint import MetadataReader
from crm_ferry.mapping.profile import SourceProfile
from crm_ferry.mapping.spec import MAP_FILE, MappingSpec
from crm_ferry.settings import (
    CONFIG_FILE,
    KEYRING_SERVICE,
    SECRET_ENV,
    Settings,
    client_secret,
    journal_password,
    secret_env_name,
)
from crm_ferry.sources.downloads import Downloads

__all__ = [
    "client_from_settings",
    "clients",
    "confirmed_map",
    "connected",
    "credential_from_settings",
    "downloads_folder",
    "extra_client_ids",
    "init_source",
    "journal_target",
    "map_file",
    "open_journal",
    "options_from_settings",
    "pool_from_settings",
    "require_environment",
    "require_project",
    "source_path",
    "stops_cleanly",
    "writing",
]

P = ParamSpec("P")
R = TypeVar("R")

# ---------------------------------------------------------------------------
# The project folder and the files in it


def require_project(settings: Settings) -> Path:
    """The project folder, or a :class:`ConfigError` when it does not exist, is not a
    folder or holds no ``ferry.toml``: what every verb that works in a project says first."""
    folder = settings.project_dir
    if not folder.exists():
        raise ConfigError(
            f"the project folder {folder} does not exist",
            hint="pass --project DIR naming a folder `crm-ferry init DIR` created, or run "
            f"`crm-ferry init {folder}` to create one there",
        )
    if not folder.is_dir():
        raise ConfigError(
            f"the project folder {folder} is not a folder",
            hint="pass --project DIR naming the folder that holds ferry.toml",
        )
    if not (folder / CONFIG_FILE).is_file():
        raise ConfigError(
            f"no {CONFIG_FILE} in {folder}",
            hint="run `crm-ferry init DIR` to create a project, or pass --project DIR",
        )
    return folder


def init_source(settings: Settings, directory: Path, source: str) -> str:
    """The ``[source] path`` that ``init --source`` records for a new project in
    ``directory``: the path as typed (from the current folder, ``settings.project_dir``),
    written relative to the new project so that it resolves from there; else the path as
    it already reads from the new project. A :class:`SourceError` when it is in neither."""
    given = Path(source).expanduser()
    here = settings.resolve(given)
    if here.exists():
        if given.is_absolute():
            return str(given)
        return Path(os.path.relpath(here.absolute(), directory.absolute())).as_posix()
    # the new folder may not exist yet: "project/../bundle" is read as the OS will read it then
    if Path(os.path.normpath(directory / given)).exists():
        return source
    raise SourceError(
        f"{here}: no such folder or zip file",
        hint="pass --source with the export bundle (a folder or a .zip), as a path from the "
        "current folder or from the new project's folder",
    )


def map_file(settings: Settings) -> Path:
    """The project's ``mapping.yaml``."""
    return settings.project_dir / MAP_FILE


def source_path(settings: Settings, source: Path | None = None) -> Path:
    """The export bundle: ``source`` (relative to the project folder), else ``[source] path``
    from ``ferry.toml``; a :class:`ConfigError` or :class:`SourceError` saying what to do."""
    path = settings.resolve(source) if source is not None else settings.source
    if path is None:
        require_project(settings)  # outside a project, that is what to say first
        raise ConfigError(
            "no source bundle given",
            hint=f"pass --source PATH or set `path` in the [source] table of {CONFIG_FILE} "
            "(or CRM_FERRY_SOURCE_PATH)",
        )
    if not Path(path).exists():
        raise SourceError(
            f"{path}: no such folder or zip file",
            hint=f"check --source or the [source] path in {CONFIG_FILE}",
        )
    return Path(path)


def downloads_folder(settings: Settings) -> Downloads | None:
    """The folder of the separately downloaded (linked) files, ``[source] files``, scanned;
    None when none is set; a :class:`ConfigError` naming it when it is not a folder."""
    folder = settings.source_files
    if folder is None:
        return None
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise ConfigError(
            f"the downloads folder {folder} ([source] files) {what}",
            hint="create it and put the separately downloaded files in it, or correct "
            f"[source] files in {CONFIG_FILE} (or CRM_FERRY_SOURCE_FILES); leave the "
            "setting out when no file was downloaded",
        )
    return Downloads(folder)


def confirmed_map(
    settings: Settings,
    *,
    profile: SourceProfile | None = None,
    metadata: MetadataReader | None = None,
) -> MappingSpec:
    """The project's confirmed, current map (see :func:`require_loadable_map`)."""
    return require_loadable_map(map_file(settings), profile=profile, metadata=metadata)


# ---------------------------------------------------------------------------
# Signing in


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
        # not configured at all: the project is what is missing (a wrong --project folder)
        if not (settings.project_dir / CONFIG_FILE).is_file():
            require_project(settings)
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
    scope: str | None = None,
) -> MsalCredential:
    """A client-secret credential for ``client_id`` (default: the configured one), for
    ``scope`` (default: the environment's; Microsoft Graph's for SharePoint).

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
        scope=scope,
    )


def client_from_settings(
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
    env: Mapping[str, str] | None = None,
    **options: Any,
) -> DataverseClient:
    """The configured application user, signed in."""
    url, _ = require_environment(settings)
    cred = credential_from_settings(settings, transport=transport, env=env)
    return DataverseClient(
        url, cred, transport=transport, options=options_from_settings(settings, **options)
    )


def journal_target(settings: Settings) -> Path | PostgresTarget:
    """Where the project's journal is: ``[journal] url`` on a PostgreSQL server (with its
    password from the environment or the keyring), else ``journal.sqlite`` in the project."""
    if settings.journal_url:
        return PostgresTarget(settings.journal_url, journal_password(settings.journal_url))
    return settings.project_dir / JOURNAL_FILE


def open_journal(settings: Settings) -> Journal:
    """The project's journal, opened (created when it is not there yet)."""
    return Journal(journal_target(settings))


def extra_client_ids(settings: Settings) -> list[str]:
    """``[dataverse] extra_client_ids``: the application users besides the configured one."""
    section = settings.raw.get("dataverse") if isinstance(settings.raw, Mapping) else None
    extra = section.get("extra_client_ids", []) if isinstance(section, Mapping) else []
    if not isinstance(extra, list | tuple):
        return []
    main = settings.client_id
    return list(dict.fromkeys(str(c) for c in extra if str(c) != main))


def pool_from_settings(
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
    only: Sequence[str] | None = None,
    **options: Any,
) -> ClientPool:
    """The configured user plus ``[dataverse] extra_client_ids``, each with its own secret
    (of those only the client ids ``only``, when given: a worker's share)."""
    url, main_id = require_environment(settings)
    opts = options_from_settings(settings, **options)
    users = [main_id, *extra_client_ids(settings)]
    if only is not None:
        unknown = [c for c in only if c not in users]
        if unknown:
            raise ConfigError(
                f"{', '.join(unknown)} is not an application user of this project",
                hint="pass a client id of [dataverse] client_id or extra_client_ids in ferry.toml",
            )
        users = list(dict.fromkeys(only))
    # every secret first: a missing one stops the run before any connection is opened
    credentials: list[MsalCredential] = []
    try:
        for cid in users:
            credentials.append(
                credential_from_settings(settings, client_id=cid, transport=transport)
            )
    except ConfigError:
        for made in credentials:
            made.close()
        raise
    built = [DataverseClient(url, c, transport=transport, options=opts) for c in credentials]
    return ClientPool(built)


@contextmanager
def connected(settings: Settings, client: DataverseClient | None) -> Iterator[DataverseClient]:
    """The client a verb talks to: the one given (tests, the demo), or one built from the
    settings and closed afterwards."""
    if client is not None:
        yield client
        return
    built = client_from_settings(settings)
    try:
        yield built
    finally:
        built.close()


@contextmanager
def clients(
    settings: Settings, client: DataverseClient | None, *, only: Sequence[str] | None = None
) -> Iterator[list[DataverseClient]]:
    """The clients of a load: the one given (tests, the demo), or every configured
    application user (the pool), closed afterwards."""
    if client is not None:
        yield [client]
        return
    pool = pool_from_settings(settings) if only is None else pool_from_settings(settings, only=only)
    try:
        yield list(pool.clients)
    finally:
        for c in pool.clients:
            c.close()


# ---------------------------------------------------------------------------
# Stopping a writing command


@contextmanager
def stops_cleanly(settings: Settings, *, command: str) -> Iterator[None]:
    """Around a writing command (``command`` as typed to run it again, e.g. ``migrate``):
    when it stops before its end, no run of this process is left ``running`` in the
    journal; each is marked ``interrupted`` (:meth:`Journal.interrupt_own_runs`), which the
    next run of its kind continues. Ctrl-C ends the command with :class:`Interrupted`
    (exit 130) saying how to continue; any other error goes on up as it was."""
    try:
        yield
    except KeyboardInterrupt:
        runs = _interrupt_own_runs(settings)
        stopped = (
            f"; {'runs' if len(runs) > 1 else 'run'} {', '.join(runs)} marked interrupted"
            if runs
            else " before it wrote anything"
        )
        raise Interrupted(
            f"crm-ferry {command} was interrupted{stopped}",
            hint=f"run `crm-ferry {command}` again to continue (what is written is not sent again)",
            runs=runs,
            command=command,
        ) from None
    except BaseException:
        _interrupt_own_runs(settings)
        raise


def writing(
    command: Callable[[Mapping[str, Any]], str],
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A writing verb ``fn(settings, **options)`` run under :func:`stops_cleanly`;
    ``command`` gives, from the options it was called with, the command that continues it
    (``lambda options: "migrate"``)."""

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            settings = args[0] if args else kwargs["settings"]
            assert isinstance(settings, Settings)
            with stops_cleanly(settings, command=command(kwargs)):
                return fn(*args, **kwargs)

        return run

    return wrap


def _interrupt_own_runs(settings: Settings) -> list[str]:
    """Mark this process's running runs interrupted; best effort, never in the way of the
    error that stopped the command (a journal that is not there is not created)."""
    if not settings.journal_url and not (settings.project_dir / JOURNAL_FILE).is_file():
        return []
    try:
        with open_journal(settings) as j:
            return j.interrupt_own_runs()
    except Exception:  # the journal unreadable: the error that stopped the command matters
        return []
