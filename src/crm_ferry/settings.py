"""Settings: defaults < ``ferry.toml`` < ``CRM_FERRY_*`` environment variables < flags.

``ferry.toml`` lives in the migration project folder and holds no secrets::

    [source]
    path = "export.zip"                 # folder or zip of The Practice export
    files = "downloads/"                # the separately downloaded (linked) files
    [source.columns.clients]            # per-file column map: header as written -> field
    "Client Ref" = "id"

    [dataverse]
    url = "https://contoso.crm.dynamics.com"
    tenant = "contoso.onmicrosoft.com"
    client_id = "00000000-0000-0000-0000-000000000000"
    solution = "PracticeMigration"
    publisher_prefix = "new"

    [load]
    batch_size = 500
    max_concurrency = 16
    reject_threshold = "2%"             # per object: more records rejected than this (a
                                        # share, or a number of records) fails migrate and
                                        # delta (exit 8) and verify --check (exit 7)
    [load.reject_thresholds]            # the threshold of single objects
    files = "10%"

    [delta]
    removed = "report"                  # records gone from the source: report, deactivate
                                        # (rows set inactive) or delete (children first)

    [journal]                           # optional: the journal on PostgreSQL, for workers
    url = "postgresql://ferry@db.example.com:5432/practice"   # password: environment/keyring

    [sharepoint]                        # documents that go to SharePoint (optional)
    site = "https://contoso.sharepoint.com/sites/crm"
    graph_url = "https://graph.microsoft.com/v1.0"   # the emulator's: <its URL>/v1.0
    libraries = ["contact", "account"]  # what doctor checks (default: the map's tables)

Every scalar ``[section] key`` can be overridden by the environment variable
``CRM_FERRY_<SECTION>_<KEY>`` (upper case), e.g. ``CRM_FERRY_DATAVERSE_URL``.
Secrets are read only from the environment (``CRM_FERRY_CLIENT_SECRET``) or the OS
keyring (service ``crm-ferry``, user = client id), never from a file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from crm_ferry.errors import ConfigError
from crm_ferry.reconcile.thresholds import DEFAULT_THRESHOLD, RejectLimits, RejectThreshold
from crm_ferry.references.credentials import credential_reason
from crm_ferry.sources.schema import READ_ORDER

CONFIG_FILE = "ferry.toml"
ENV_PREFIX = "CRM_FERRY_"
SECRET_ENV = "CRM_FERRY_CLIENT_SECRET"
KEYRING_SERVICE = "crm-ferry"

# (section, key) in ferry.toml -> Settings attribute
_TOML_KEYS: dict[tuple[str, str], str] = {
    ("source", "path"): "source",
    ("source", "files"): "source_files",
    ("source", "line_limit_mib"): "line_limit_mib",
    ("dataverse", "url"): "environment_url",
    ("dataverse", "tenant"): "tenant",
    ("dataverse", "client_id"): "client_id",
    ("dataverse", "authority"): "authority",
    ("dataverse", "solution"): "solution",
    ("dataverse", "publisher_prefix"): "publisher_prefix",
    ("load", "batch_size"): "batch_size",
    ("load", "max_concurrency"): "max_concurrency",
    ("load", "reject_threshold"): "reject_threshold",
    ("delta", "removed"): "delta_removed",
    ("sharepoint", "site"): "sharepoint_site",
    ("sharepoint", "graph_url"): "sharepoint_graph_url",
    ("journal", "url"): "journal_url",
}
JOURNAL_PASSWORD_ENV = "CRM_FERRY_JOURNAL_PASSWORD"

REMOVED_POLICIES = ("report", "deactivate", "delete")
"""What ``crm-ferry delta`` does with the rows of records gone from the source
(``[delta] removed``); the same values as :data:`crm_ferry.load.removal.REMOVED_POLICIES`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Resolved settings of one migration project. Never holds a secret."""

    project_dir: Path = field(default_factory=Path.cwd)
    source: Path | None = None
    source_files: Path | None = None
    """``[source] files``: the folder (relative to the project) holding the linked files of
    the export, downloaded separately; None: none was downloaded."""
    column_map: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Per object (file stem): header as written in the export -> canonical field name."""
    environment_url: str | None = None
    tenant: str | None = None
    client_id: str | None = None
    authority: str | None = None
    """Token authority; defaults to ``https://login.microsoftonline.com/<tenant>``."""
    solution: str | None = None
    publisher_prefix: str = "new"
    line_limit_mib: int = 4
    """``[source] line_limit_mib``: the longest line of an export file, in MiB, that is read
    (a longer one is a reject naming it; an export with large inline images may need more)."""
    batch_size: int = 500
    max_concurrency: int = 16
    delta_removed: str = "report"
    """``[delta] removed``: one of :data:`REMOVED_POLICIES`."""
    reject_threshold: RejectThreshold = field(
        default_factory=lambda: RejectThreshold.parse(DEFAULT_THRESHOLD)
    )
    """``[load] reject_threshold``: how many of an object's records may be rejected (a share
    like ``"2%"`` or a number of records) before ``migrate``, ``delta`` and ``verify
    --check`` fail."""
    reject_thresholds: Mapping[str, RejectThreshold] = field(default_factory=dict)
    """``[load.reject_thresholds]``: the threshold of single objects (``sessions = "5%"``)."""
    sharepoint_site: str | None = None
    """``[sharepoint] site``: the SharePoint site documents go to (its full URL)."""
    sharepoint_graph_url: str = "https://graph.microsoft.com/v1.0"
    """``[sharepoint] graph_url``: Microsoft Graph's root (the emulator's ``<url>/v1.0``)."""
    journal_url: str | None = None
    """``[journal] url``: the journal on a PostgreSQL server (``postgresql://user@host/db``,
    never with a password; that comes from :data:`JOURNAL_PASSWORD_ENV` or the keyring);
    None: the project's own ``journal.sqlite``."""
    raw: Mapping[str, Any] = field(default_factory=dict)
    """The whole parsed ``ferry.toml``, for sections later stages own."""

    @property
    def line_limit(self) -> int:
        """:attr:`line_limit_mib` in bytes, as the bundle reader takes it."""
        return self.line_limit_mib * 1024 * 1024

    @classmethod
    def load(
        cls,
        project_dir: Path | str | None = None,
        *,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> Settings:
        """Resolve settings for ``project_dir`` (default: the current folder).

        ``overrides`` are flag values; ``None`` means "not given".
        """
        env = os.environ if env is None else env
        base = Path(project_dir) if project_dir is not None else Path.cwd()
        values: dict[str, Any] = {"project_dir": base}
        raw: dict[str, Any] = {}
        config_path = base / CONFIG_FILE
        if config_path.is_file():
            try:
                raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{config_path}: not valid TOML: {exc}") from exc
            _reject_secrets(config_path, raw)
            for (section, key), attr in _TOML_KEYS.items():
                sect = raw.get(section)
                if isinstance(sect, dict) and key in sect:
                    values[attr] = sect[key]
            columns = raw.get("source", {}).get("columns", {})
            if not isinstance(columns, dict) or not all(
                isinstance(v, dict) for v in columns.values()
            ):
                raise ConfigError(
                    f'{config_path}: [source.columns.<object>] must be tables of "header" = "field"'
                )
            values["column_map"] = {
                obj: {str(h): str(f) for h, f in cmap.items()} for obj, cmap in columns.items()
            }
            values["reject_thresholds"] = _object_thresholds(config_path, raw)
            values["raw"] = raw
        for (section, key), attr in _TOML_KEYS.items():
            name = f"{ENV_PREFIX}{section}_{key}".upper()
            if name in env:
                values[attr] = env[name]
        for attr, value in overrides.items():
            if value is not None:
                values[attr] = value
        return _coerce(values, config_path)

    @property
    def reject_limits(self) -> RejectLimits:
        """The reject threshold of every source object."""
        return RejectLimits(self.reject_threshold, self.reject_thresholds)

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def resolve(self, path: Path | str) -> Path:
        """A path from the settings, relative to the project folder."""
        p = Path(path)
        return p if p.is_absolute() else self.project_dir / p


def secret_env_name(client_id: str) -> str:
    """The environment variable holding one application user's secret:
    ``CRM_FERRY_CLIENT_SECRET_<CLIENT ID>``, dashes as underscores, upper case."""
    return f"{SECRET_ENV}_{client_id.strip().replace('-', '_').upper()}"


def client_secret(
    client_id: str | None, *, env: Mapping[str, str] | None = None, shared: bool = True
) -> str | None:
    """The client secret of ``client_id``, if any: from its own environment variable
    (:func:`secret_env_name`), then ``CRM_FERRY_CLIENT_SECRET`` (unless ``shared`` is false:
    extra application users never take the main user's secret), then the OS keyring."""
    env = os.environ if env is None else env
    if client_id and env.get(secret_env_name(client_id)):
        return env[secret_env_name(client_id)]
    if shared and env.get(SECRET_ENV):
        return env[SECRET_ENV]
    if not client_id:
        return None
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:  # pragma: no cover - keyring is a dependency
        return None
    try:
        secret = keyring.get_password(KEYRING_SERVICE, client_id)
    except (KeyringError, RuntimeError):
        return None
    return secret if isinstance(secret, str) else None


def journal_password(url: str, *, env: Mapping[str, str] | None = None) -> str | None:
    """The password of the journal's PostgreSQL user: :data:`JOURNAL_PASSWORD_ENV`, else
    the OS keyring (service ``crm-ferry``, user ``journal:<url>``), else None (libpq's own
    ``PGPASSWORD`` or ``~/.pgpass`` may still hold it)."""
    env = os.environ if env is None else env
    if env.get(JOURNAL_PASSWORD_ENV):
        return env[JOURNAL_PASSWORD_ENV]
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:  # pragma: no cover - keyring is a dependency
        return None
    try:
        secret = keyring.get_password(KEYRING_SERVICE, f"journal:{url}")
    except (KeyringError, RuntimeError):
        return None
    return secret if isinstance(secret, str) else None


def journal_url_problem(url: str) -> Literal["scheme", "password"] | None:
    """What makes ``url`` unfit for ``[journal] url``: ``scheme`` (not a PostgreSQL URL
    naming a host) or ``password`` (one is in it: secrets are never kept in files); None
    when it is fit."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
        return "scheme"
    if parts.password is not None or "password=" in parts.query:
        return "password"
    return None


def _check_journal_url(path: Path, url: str) -> None:
    """``[journal] url`` is a PostgreSQL URL without a password."""
    problem = journal_url_problem(url)
    if problem == "scheme":
        raise ConfigError(
            f"{path}: [journal] url = {url!r} is not a PostgreSQL URL",
            hint='set [journal] url = "postgresql://USER@HOST:PORT/DATABASE" (or '
            "CRM_FERRY_JOURNAL_URL), or remove it to keep the journal in journal.sqlite",
        )
    if problem == "password":
        raise ConfigError(
            f"{path}: [journal] url holds a password; secrets are never read from files",
            hint=f"remove the password from the URL and set {JOURNAL_PASSWORD_ENV} in the "
            f"environment, or store it in the OS keyring (service '{KEYRING_SERVICE}', user "
            "'journal:<the url>')",
        )


def _reject_secrets(path: Path, raw: Mapping[str, Any]) -> None:
    """Refuse ``ferry.toml`` if anything in it looks like a secret: every table, inline table,
    array and array of tables is walked, and a field is refused by its name (``client_secret``,
    ``client_credential``, ``api_key``, ``password``, ``token``…) or by its value's shape (a
    JSON Web Token, a provider's key, a long random string under a name like ``hmac``):
    :func:`~crm_ferry.references.credentials.credential_reason`. The headers of
    ``[source.columns.<object>]`` are the export's column names, so only their values are
    judged. The message names the field, never its value."""
    found = _first_secret(raw, "", columns=False)
    if found is None:
        return
    dotted, reason = found
    raise ConfigError(
        f"{path}: '{dotted}' looks like a secret ({reason}); secrets are never read from files",
        hint=f"remove it from {path.name}; set {SECRET_ENV} (or {SECRET_ENV}_<CLIENT ID> for an "
        f"extra application user) in the environment or store it in the OS keyring "
        f"(service '{KEYRING_SERVICE}', user = the client id)",
    )


def _first_secret(value: Any, where: str, *, columns: bool) -> tuple[str, str] | None:
    """The path of the first secret-looking field under ``value`` and why, or None."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            dotted = f"{where}.{key}" if where else str(key)
            reason = credential_reason(None if columns else str(key), item)
            if reason is not None and not (columns and isinstance(item, Mapping)):
                return dotted, reason
            inner = columns or dotted == "source.columns"
            found = _first_secret(item, dotted, columns=inner)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            reason = credential_reason(None, item)
            if reason is not None:
                return f"{where}[{i}]", reason
            found = _first_secret(item, f"{where}[{i}]", columns=columns)
            if found is not None:
                return found
    return None


def _object_thresholds(path: Path, raw: Mapping[str, Any]) -> dict[str, RejectThreshold]:
    """``[load.reject_thresholds]``: source object -> its reject threshold."""
    load = raw.get("load")
    table = load.get("reject_thresholds", {}) if isinstance(load, dict) else {}
    if not isinstance(table, dict):
        raise ConfigError(
            f'{path}: [load.reject_thresholds] must be a table of object = "2%" (or a count)'
        )
    out: dict[str, RejectThreshold] = {}
    for obj, value in table.items():
        if obj not in READ_ORDER:
            raise ConfigError(
                f"{path}: [load.reject_thresholds] {obj!r} is not an object of the export",
                hint="use one of " + ", ".join(READ_ORDER),
            )
        try:
            out[obj] = RejectThreshold.parse(value)
        except ValueError as exc:
            raise ConfigError(
                f"{path}: [load.reject_thresholds] {obj} = {value!r}: {exc}",
                hint=_THRESHOLD_HINT,
            ) from None
    return out


_THRESHOLD_HINT = (
    'write a share of the object\'s records, like "2%", or a number of records, like 5 '
    "(0: not one record may be rejected)"
)


def _coerce(values: dict[str, Any], config_path: Path) -> Settings:
    kinds = {f.name: f.type for f in fields(Settings)}
    out: dict[str, Any] = {}
    for name, value in values.items():
        kind = str(kinds.get(name, ""))
        try:
            if name in {"batch_size", "max_concurrency", "line_limit_mib"}:
                value = int(value)
                if value < 1:
                    raise ValueError("must be at least 1")
            elif name == "reject_threshold" and not isinstance(value, RejectThreshold):
                try:
                    value = RejectThreshold.parse(value)
                except ValueError as exc:
                    raise ConfigError(
                        f"{config_path}: [load] reject_threshold = {value!r}: {exc}",
                        hint=_THRESHOLD_HINT + " in ferry.toml or CRM_FERRY_LOAD_REJECT_THRESHOLD",
                    ) from None
            elif name in ("source", "source_files") and value is not None:
                value = Path(value)
                if not value.is_absolute():
                    value = Path(values["project_dir"]) / value
            elif kind.startswith("str") and value is not None:
                value = str(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{config_path}: setting '{name}' = {value!r}: {exc}") from exc
        out[name] = value
    site = out.get("sharepoint_site")
    if site is not None and not str(site).startswith("https://"):
        raise ConfigError(
            f"{config_path}: [sharepoint] site = {site!r} is not an https:// URL",
            hint="set [sharepoint] site (or CRM_FERRY_SHAREPOINT_SITE) to the site's full URL, "
            "e.g. https://contoso.sharepoint.com/sites/crm",
        )
    journal = out.get("journal_url")
    if journal is not None:
        _check_journal_url(config_path, str(journal))
    if out.get("delta_removed", "report") not in REMOVED_POLICIES:
        raise ConfigError(
            f"{config_path}: [delta] removed = {out['delta_removed']!r} is not one of "
            + ", ".join(REMOVED_POLICIES),
            hint='set [delta] removed = "report", "deactivate" or "delete" in ferry.toml '
            "(or CRM_FERRY_DELTA_REMOVED), or pass --removed to crm-ferry delta",
        )
    if out.get("line_limit_mib", 1) > 1024:
        raise ConfigError(
            f"{config_path}: [source] line_limit_mib {out['line_limit_mib']} is over 1024 "
            "(a line of a GiB is read whole into memory)",
            hint="set [source] line_limit_mib to at most 1024 in ferry.toml",
        )
    if out.get("batch_size", 1) > 1000:
        raise ConfigError(
            f"{config_path}: batch_size {out['batch_size']} is over Dataverse's 1,000 per request"
        )
    if out.get("max_concurrency", 1) > 52:
        raise ConfigError(
            f"{config_path}: max_concurrency {out['max_concurrency']} is over the 52 concurrent "
            "requests Dataverse allows per user"
        )
    return Settings(**out)
