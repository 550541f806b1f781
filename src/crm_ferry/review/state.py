"""What every page of the review application shares: the project's settings, the client
of its tenant, the start's token, and what is slow to compute and worth keeping between
requests (the source profile, the tenant's users), each recomputed when what it was made
from changed.

Pages run in Starlette's thread pool, so several may compute at once: :meth:`memo` computes
a value once per key under a lock of its own name, and other threads wait for it.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from crm_ferry.commands._project import client_from_settings, open_journal, require_project
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.journal import Journal
from crm_ferry.settings import Settings

__all__ = ["TOKEN_BYTES", "ReviewState", "new_token", "stamp"]

T = TypeVar("T")

TOKEN_BYTES = 24
"""Random bytes of a start's token (32 URL-safe characters)."""


def new_token() -> str:
    """A fresh random token for one start of the review server."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def stamp(path: Path | None) -> Hashable:
    """The state of a file's or a folder's contents (names, sizes, times of change, and a
    file's inode, which a save by rename changes): a :meth:`ReviewState.memo` key that
    changes whenever the contents may have, for a few ``stat`` calls."""
    if path is None or not path.exists():
        return None
    if path.is_file():
        st = path.stat()
        return (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    return tuple(
        (str(p.relative_to(path)), p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(path.rglob("*"))
        if p.is_file()
    )


@dataclass
class ReviewState:
    """The project the review application shows, and its caches."""

    settings: Settings
    client: DataverseClient
    token: str = field(default_factory=new_token)
    source: Path | None = None
    """The export bundle, when not the project's ``[source] path``."""
    _memo: dict[str, tuple[Hashable, Any]] = field(default_factory=dict, repr=False)
    _warming: list[threading.Thread] = field(default_factory=list, repr=False)
    _locks: dict[str, threading.Lock] = field(default_factory=dict, repr=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def open(cls, settings: Settings, *, source: Path | None = None) -> ReviewState:
        """The state of the project ``settings`` name, signed in to its tenant."""
        require_project(settings)
        return cls(settings, client_from_settings(settings), source=source)

    def close(self, *, wait: float = 2.0) -> None:
        """Close the tenant's client once the background reads have ended (at most ``wait``
        seconds): a read still going keeps it, as closing a client under a request in flight
        waits for that request; the process ending ends both."""
        if self.wait_warm(wait):
            self.client.close()

    @property
    def project_dir(self) -> Path:
        return self.settings.project_dir

    @contextmanager
    def journal(self) -> Iterator[Journal]:
        """The project's journal, opened for one request (SQLite connections stay in the
        thread that opened them)."""
        journal = open_journal(self.settings)
        try:
            yield journal
        finally:
            journal.close()

    def memo(self, name: str, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()`` kept under ``name`` while ``key`` stays the same."""
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            kept = self._memo.get(name)
            if kept is not None and kept[0] == key:
                value: T = kept[1]
                return value
            value = compute()
            self._memo[name] = (key, value)
            return value

    def warm(self, *readers: Callable[[ReviewState], None]) -> None:
        """Run each reader in a background thread of its own: what the pages need and is
        slow to read (a 5,000-client export takes seconds to profile), read before a
        person opens them. A request meanwhile waits for the same read (:meth:`memo`),
        never reads twice. A reader's error is not kept: the page that needs what it
        reads computes it again, and shows the error then."""
        for reader in readers:

            def run(reader: Callable[[ReviewState], None] = reader) -> None:
                with contextlib.suppress(Exception):
                    reader(self)

            thread = threading.Thread(target=run, name=f"review-warm-{reader.__name__}")
            thread.daemon = True
            thread.start()
            self._warming.append(thread)

    @property
    def warming(self) -> bool:
        """Some background read is still going."""
        return any(t.is_alive() for t in self._warming)

    def wait_warm(self, timeout: float | None = None) -> bool:
        """Wait for the background reads (at most ``timeout`` seconds in all); True once
        every one has ended."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._warming:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(left)
        return not self.warming

    def forget(self, name: str) -> None:
        """Drop what :meth:`memo` keeps under ``name`` (the next use computes it again)."""
        with self._guard:
            self._memo.pop(name, None)
