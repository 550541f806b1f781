"""The emulator as one callable: sign-in, faults, protection and latency over the data plane.

::

    request -> SignIn -> FaultInjector -> ServiceProtection -> AccountCheck -> Latency
            -> data plane -> response

Microsoft Graph (``/v1.0/``, and the upload and download URLs it hands out) has a stack of
its own beside it, on the same sign-in service, clock and latency
(:mod:`crm_ferry.emulator.graph`)::

    request -> GraphGuard -> FaultInjector (its own numbering) -> Latency -> Graph -> response

:class:`EmulatorApp` is a :data:`~crm_ferry.emulator.layers.Handler`, so it runs in process
behind ``httpx.MockTransport`` (``app.transport()``) or over real HTTP through
:func:`crm_ferry.emulator.server.serve`. Everything is deterministic by default: a fixed
tenant and a fixed default client (id and secret, which are not secrets: they open only
this emulator), no latency, no faults, and Microsoft's default service-protection limits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import httpx

from crm_ferry.emulator.auth import (
    DEFAULT_CLIENT,
    AccountCheck,
    AuthConfig,
    ClientApp,
    SignIn,
    emulator_clients,
)
from crm_ferry.emulator.core import Emulator
from crm_ferry.emulator.faults import (
    FAULT_KINDS,
    Corruption,
    FaultInjector,
    FaultKind,
    FaultSchedule,
)
from crm_ferry.emulator.graph import (
    GraphConfig,
    GraphGuard,
    GraphService,
    fault_answer,
    is_graph,
)
from crm_ferry.emulator.layers import (
    API_PREFIX,
    Clock,
    Handler,
    Sleep,
    is_api,
    monotonic,
    records_of,
)
from crm_ferry.emulator.protection import ProtectionLimits, ServiceProtection
from crm_ferry.emulator.served import load_snapshot
from crm_ferry.emulator.state import CoreConfig
from crm_ferry.errors import ConfigError

DEFAULT_BASE_URL = "https://dataverse.emulator.local"
"""In-process base URL. https because MSAL refuses an authority that is not."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LatencyConfig:
    """Simulated server time per request and per record read or written (off by default)."""

    per_request_ms: float = 0.0
    per_record_ms: float = 0.0

    @property
    def active(self) -> bool:
        return self.per_request_ms > 0 or self.per_record_ms > 0


@dataclass(frozen=True, slots=True, kw_only=True)
class EmulatorConfig:
    """Everything that shapes an emulated environment."""

    core: CoreConfig | None = None
    base_url: str = DEFAULT_BASE_URL
    auth: AuthConfig = field(default_factory=AuthConfig)
    protection: ProtectionLimits = field(default_factory=ProtectionLimits)
    latency: LatencyConfig = field(default_factory=LatencyConfig)
    faults: FaultSchedule = field(default_factory=FaultSchedule)
    snapshot: Path | None = None
    """A tenant snapshot (``tenant-snapshot.json``) to serve instead of the built-in tenant
    (:mod:`crm_ferry.emulator.served`)."""
    graph: GraphConfig = field(default_factory=GraphConfig)
    """The SharePoint sites Microsoft Graph serves (:mod:`crm_ferry.emulator.graph`)."""
    graph_faults: FaultSchedule = field(default_factory=FaultSchedule)
    """Faults of Graph's requests, numbered on their own (none by default)."""


class DataPlane(Protocol):
    """What the serving layers need from the data plane (``crm_ferry.emulator.core.Emulator``)."""

    def handle(self, request: httpx.Request) -> httpx.Response: ...

    def application_user(self, client_id: str) -> tuple[str, bool] | None: ...

    def register_application_user(self, client_id: str, name: str) -> str: ...

    def dump(self, table: str | None = None) -> Mapping[str, Any]: ...

    def close(self) -> None: ...


class Latency:
    """A layer that sleeps like a server working, outside any lock so requests overlap."""

    def __init__(self, inner: Handler, config: LatencyConfig, *, sleep: Sleep = time.sleep) -> None:
        self._inner = inner
        self.config = config
        self._sleep = sleep

    def __call__(self, request: httpx.Request) -> httpx.Response:
        response = self._inner(request)
        delay_ms = self.config.per_request_ms + self.config.per_record_ms * records_of(response)
        if delay_ms > 0:
            self._sleep(delay_ms / 1000)
        return response


class EmulatorApp:
    """A Dataverse-compatible environment with its own sign-in service, as a handler.

    ``data_dir`` makes the data plane store in SQLite under that folder (else in memory).
    ``backend`` replaces the data plane (tests of the serving layers use a small fake).
    ``snapshot`` (or ``config.snapshot``) serves the tenant of that snapshot file; one the
    emulator cannot represent is a :class:`~crm_ferry.errors.ConfigError` naming what.
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        data_dir: Path | None = None,
        *,
        backend: DataPlane | None = None,
        clock: Clock = monotonic,
        sleep: Sleep = time.sleep,
        snapshot: Path | None = None,
    ) -> None:
        self.config = config or EmulatorConfig()
        if snapshot is not None:
            self.config = replace(self.config, snapshot=snapshot)
        if backend is None:
            core = self.config.core or CoreConfig()
            if self.config.snapshot is not None:
                core = replace(core, snapshot=load_snapshot(self.config.snapshot))
            disabled = {c.client_id for c in self.config.auth.clients if c.disabled}
            if disabled:  # the systemuser rows say so too (isdisabled), as in Dataverse
                core = replace(core, disabled_client_ids=core.disabled_client_ids | disabled)
            backend = Emulator(core, data_dir)
        self.backend: DataPlane = backend
        self._base_url = self.config.base_url.rstrip("/")
        self.latency = Latency(backend.handle, self.config.latency, sleep=sleep)
        self.accounts = AccountCheck(
            self.latency,
            backend,
            tenant=self.config.auth.tenant,
            locally_disabled=lambda client_id: self.sign_in.is_disabled(client_id),
        )
        self.protection = ServiceProtection(self.accounts, self.config.protection, clock=clock)
        self.faults = FaultInjector(
            self.protection,
            self.config.faults,
            clock=clock,
            sleep=sleep,
            table_of=self._table_of,
        )
        self.sign_in = SignIn(self.faults, backend, self.config.auth, clock=clock)
        self._data_dir = data_dir
        self._clock = clock
        self._sleep = sleep
        self._graph: GraphService | None = None
        self._graph_lock = threading.Lock()
        self.graph_faults = FaultInjector(
            self._serve_graph,
            self.config.graph_faults,
            clock=clock,
            sleep=sleep,
            answer=fault_answer,
        )
        """The fault layer of Graph's requests (``.schedule``, ``.numbered``, ``.injected``)."""
        self._graph_stack = GraphGuard(
            self.graph_faults, self.sign_in.lookup, tenant=self.config.auth.tenant
        )

    @property
    def graph(self) -> GraphService:
        """Microsoft Graph's SharePoint (made on first use: a Dataverse-only run never
        opens its store)."""
        with self._graph_lock:
            if self._graph is None:
                self._graph = GraphService(self.config.graph, self._data_dir, clock=self._clock)
            return self._graph

    def _serve_graph(self, request: httpx.Request) -> httpx.Response:
        response = self.graph(request)
        delay_ms = self.config.latency.per_request_ms
        if delay_ms > 0:
            self._sleep(delay_ms / 1000)
        return response

    def graph_dump(self) -> Mapping[str, Any]:
        """Every SharePoint site, library and item (path, size, SHA-256 of the content),
        sorted, and the open upload sessions (:meth:`GraphService.dump`)."""
        return self.graph.dump()

    def _table_of(self, entity_set: str) -> str | None:
        """The table of an entity set name, from the data plane's schema (if it has one)."""
        schema = getattr(self.backend, "schema", None)
        by_set = getattr(schema, "by_entity_set", None)
        entity = by_set(entity_set) if callable(by_set) else None
        name = getattr(entity, "logical_name", None)
        return name if isinstance(name, str) else None

    def add_user(
        self,
        first: str,
        last: str,
        email: str,
        *,
        upn: str | None = None,
        disabled: bool = False,
    ) -> str:
        """Add a person to the tenant as a system user (demo and tests); its systemuserid."""
        add = getattr(self.backend, "add_user", None)
        if add is None:
            raise TypeError("this data plane cannot add users")
        return str(add(first, last, email, upn=upn, disabled=disabled))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if is_graph(request):
            return self._graph_stack(request)
        response = self.sign_in(request)
        if is_api(request):
            # On every Web API answer, refusals before the protection layer included.
            response.headers["x-ms-dop-hint"] = str(self.config.protection.dop_hint)
        return response

    def transport(self) -> httpx.MockTransport:
        """An httpx transport that runs requests through this app in process."""
        return httpx.MockTransport(self)

    @property
    def base_url(self) -> str:
        """The environment URL (the served URL once the app is served over HTTP)."""
        return self._base_url

    def bind(self, base_url: str) -> None:
        """Tell the app where it is served, so the URLs it reports point there."""
        self._base_url = base_url.rstrip("/")

    @property
    def api_url(self) -> str:
        return f"{self._base_url}{API_PREFIX}".rstrip("/")

    @property
    def tenant(self) -> str:
        return self.sign_in.tenant

    @property
    def authority(self) -> str:
        return f"{self._base_url}/{self.tenant}"

    @property
    def token_url(self) -> str:
        return f"{self.authority}/oauth2/v2.0/token"

    @property
    def scope(self) -> str:
        return f"{self._base_url}/.default"

    @property
    def default_client(self) -> tuple[str, str]:
        """Client id and secret the emulator accepts (fixed, documented, not secret)."""
        client = self.config.auth.clients[0] if self.config.auth.clients else DEFAULT_CLIENT
        return client.client_id, client.secret

    @property
    def clients(self) -> tuple[ClientApp, ...]:
        return self.config.auth.clients

    def dump(self, table: str | None = None) -> Mapping[str, Any]:
        return self.backend.dump(table)

    def close(self) -> None:
        self.backend.close()
        with self._graph_lock:
            if self._graph is not None:
                self._graph.close()
                self._graph = None

    def __enter__(self) -> EmulatorApp:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def emulator_config(
    *,
    latency_ms: float = 0.0,
    per_record_ms: float = 0.0,
    requests_per_window: int | None = None,
    window_seconds: float | None = None,
    max_execution_ms: int | None = None,
    max_concurrent: int | None = None,
    dop_hint: int | None = None,
    limits: bool = True,
    fault_seed: int = 0,
    fault_probabilities: Mapping[str, float] | None = None,
    fault_at: Mapping[str, Iterable[int]] | None = None,
    fault_retry_after_s: int | None = None,
    fault_hold_s: float | None = None,
    fault_item: int | None = None,
    fault_corrupt: Iterable[str] = (),
    users: int = 1,
    snapshot: Path | None = None,
) -> EmulatorConfig:
    """An :class:`EmulatorConfig` from flat options (what ``crm-ferry emulator serve`` takes).

    Options left ``None`` keep their defaults; an unknown fault kind or impossible value
    raises :class:`~crm_ferry.errors.ConfigError`. ``fault_corrupt``: corruptions as
    ``TABLE.COLUMN[:EVERY][@MATCH]`` (:meth:`~crm_ferry.emulator.faults.Corruption.parse`).
    ``users``: how many application clients may sign in
    (:func:`~crm_ferry.emulator.auth.emulator_clients`). ``snapshot``: the tenant snapshot
    to serve (:mod:`crm_ferry.emulator.served`).
    """
    base_limits = ProtectionLimits()
    given = {
        "max_requests": requests_per_window,
        "window_s": window_seconds,
        "max_execution_ms": max_execution_ms,
        "max_concurrent": max_concurrent,
        "dop_hint": dop_hint,
    }
    for name, value in given.items():
        if value is not None and value <= 0:
            raise ConfigError(f"{name.replace('_', ' ')} must be positive, not {value}")
    if latency_ms < 0 or per_record_ms < 0:
        raise ConfigError("latency must not be negative")
    if users < 1:
        raise ConfigError(f"users must be at least 1, not {users}")
    protection = replace(
        base_limits,
        enabled=limits,
        max_requests=requests_per_window or base_limits.max_requests,
        window_s=window_seconds or base_limits.window_s,
        max_execution_ms=max_execution_ms or base_limits.max_execution_ms,
        max_concurrent=max_concurrent or base_limits.max_concurrent,
        dop_hint=dop_hint or base_limits.dop_hint,
    )
    schedule: dict[str, Any] = {"seed": fault_seed}
    if fault_retry_after_s is not None:
        schedule["retry_after_s"] = fault_retry_after_s
    if fault_hold_s is not None:
        schedule["timeout_hold_s"] = fault_hold_s
    if fault_item is not None:
        schedule["fail_item_index"] = fault_item
    try:
        probabilities = {_kind(k): p for k, p in (fault_probabilities or {}).items()}
        faults = FaultSchedule(
            probabilities=probabilities,
            at={_kind(k): frozenset(v) for k, v in (fault_at or {}).items()},
            corrupt=tuple(Corruption.parse(text) for text in fault_corrupt),
            **schedule,
        )
        # Graph's requests meet the same random faults (numbered on their own; the
        # request numbers of --fault-at are Dataverse's)
        graph_faults = FaultSchedule(
            seed=fault_seed,
            probabilities={k: p for k, p in probabilities.items() if k != "fail_item"},
            retry_after_s=faults.retry_after_s,
            timeout_hold_s=faults.timeout_hold_s,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    return EmulatorConfig(
        auth=AuthConfig(clients=emulator_clients(users)),
        latency=LatencyConfig(per_request_ms=latency_ms, per_record_ms=per_record_ms),
        protection=protection,
        faults=faults,
        graph_faults=graph_faults,
        snapshot=snapshot,
    )


def _kind(name: str) -> FaultKind:
    for kind in FAULT_KINDS:
        if kind == name:
            return kind
    raise ConfigError(f"unknown fault kind {name!r}; known: {', '.join(FAULT_KINDS)}")
