"""Several application users sharing one load.

Dataverse counts its service-protection limits per user
(https://learn.microsoft.com/power-apps/developer/data-platform/api-limits, "application
users are limited exactly like other users"), so N users get up to N times the requests,
execution time and concurrency of one. Each :class:`DataverseClient` in the pool keeps its
own token, Retry-After pause and concurrency window; :func:`~crm_ferry.dataverse.bulk.write_many`
deals work to all of them and moves a paused user's share to the others. Microsoft does not
present this as a way around the limits, and it does not raise the tenant's daily
request entitlement, which is shared.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from crm_ferry.dataverse.bulk import Op, WriteReport, write_many
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.dataverse.errors import ValidationRejected
from crm_ferry.progress import NO_PROGRESS, Progress


class ClientPool:
    """Application users of one environment; writes spread over all, reads round-robin."""

    def __init__(self, clients: Sequence[DataverseClient]) -> None:
        if not clients:
            raise ValidationRejected("a client pool needs at least one client")
        urls = {c.url for c in clients}
        if len(urls) != 1:
            raise ValidationRejected(f"all clients of a pool must use one environment: {urls}")
        self.clients = tuple(clients)
        self._next = itertools.cycle(range(len(self.clients)))
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ClientPool(users={[c.user for c in self.clients]!r})"

    @property
    def primary(self) -> DataverseClient:
        """The first user: metadata is read and cached through it."""
        return self.clients[0]

    def pick(self) -> DataverseClient:
        """The next user that is not paused (round-robin), for single requests."""
        with self._lock:
            for _ in range(len(self.clients)):
                client = self.clients[next(self._next)]
                if client.controller.paused_for() <= 0:
                    return client
            return min(self.clients, key=lambda c: c.controller.paused_for())

    def write_many(
        self,
        table: str,
        rows: Sequence[Mapping[str, Any]],
        *,
        op: Op = "upsert",
        key: Sequence[str] | None = None,
        progress: Progress = NO_PROGRESS,
    ) -> WriteReport:
        return write_many(self.clients, table, rows, op=op, key=key, progress=progress)

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def __enter__(self) -> ClientPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
