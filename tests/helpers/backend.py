"""Which journal the load tests run on, and putting a project's journal there.

``CRM_FERRY_TEST_JOURNAL`` chooses: ``postgresql`` (the default, when a server can be had:
:mod:`helpers.postgres` starts one of its own) or ``sqlite`` (each project's own
``journal.sqlite``). Projects are built on SQLite (once, as templates) and copied; on
PostgreSQL each copy then has its journal moved, as a user would move it, with
``commands.journal_copy`` into a fresh database: ``ferry.toml`` names the database, so the
project's settings, reloaded, and every ``crm-ferry`` process a test starts use it (the
password is in the environment, :data:`helpers.postgres.PASSWORD_ENV`).

The choice, and why, is in the pytest header (``tests/conftest.py``).
"""

from __future__ import annotations

import itertools
import os
import pwd
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from crm_ferry import commands
from crm_ferry.settings import Settings
from helpers.postgres import INSTALL_HINT, SYSTEM_USER, PostgresServer, find_bindir

BACKEND_ENV = "CRM_FERRY_TEST_JOURNAL"
"""``postgresql`` or ``sqlite``: the journal the load tests run on."""

BackendName = Literal["postgresql", "sqlite"]


@dataclass(frozen=True, slots=True)
class Backend:
    """The journal the load tests use, and why."""

    name: BackendName
    why: str
    missing: str | None = None
    """Why no PostgreSQL server can be had, when ``postgresql`` was asked for all the same
    (the tests then fail, saying so)."""

    @property
    def postgres(self) -> bool:
        return self.name == "postgresql"

    def header(self) -> str:
        line = f"load tests' journal: {self.name} ({self.why})"
        if self.missing:
            line += f"; but no server can be had: {self.missing}"
        return line


def _server_missing() -> str | None:
    """Why :class:`PostgresServer` cannot start here, or None (it may still fail to)."""
    if find_bindir() is None:
        return f"no PostgreSQL server binaries (initdb): {INSTALL_HINT}"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            return f"running as root, and no {SYSTEM_USER!r} user to run the server as"
    return None


def choose_backend(env: dict[str, str] | None = None) -> Backend:
    """The backend :data:`BACKEND_ENV` asks for; unset, PostgreSQL when a server can be
    had, else SQLite (the reason said)."""
    env = dict(os.environ) if env is None else env
    asked = env.get(BACKEND_ENV, "").strip().lower()
    if asked == "sqlite":
        return Backend("sqlite", f"{BACKEND_ENV}=sqlite")
    if asked not in ("", "postgresql"):
        return Backend(
            "postgresql",
            f"{BACKEND_ENV}={asked!r}",
            missing=f"{asked!r} is not a backend: set {BACKEND_ENV} to postgresql or sqlite",
        )
    missing = _server_missing()
    if asked == "postgresql":
        return Backend("postgresql", f"{BACKEND_ENV}=postgresql", missing=missing)
    if missing is not None:
        return Backend("sqlite", f"{missing}; {BACKEND_ENV}=postgresql makes that an error")
    return Backend("postgresql", f"the default; {BACKEND_ENV}=sqlite for the file")


BACKEND = choose_backend()
"""The backend of this test session (read before any test clears ``CRM_FERRY_*``)."""


def move_journal(project_dir: Path, url: str) -> Settings:
    """Move the journal of the project in ``project_dir`` to the empty database at ``url``
    (``crm-ferry journal copy --to URL``); the project's settings, reloaded."""
    commands.journal_copy(Settings.load(project_dir), to=url)
    settings = Settings.load(project_dir)
    assert settings.journal_url == url, settings.journal_url
    assert not (project_dir / "journal.sqlite").exists()
    return settings


_numbers = itertools.count(1)


@dataclass
class JournalHomes:
    """Puts projects' journals on :data:`BACKEND`: on PostgreSQL, each in a database of
    its own on ``server``, dropped by :meth:`drop` (or with the server)."""

    backend: Backend
    server: PostgresServer | None
    made: list[str] = field(default_factory=list)
    placed: list[Path] = field(default_factory=list)

    def place(self, project_dir: Path) -> Settings:
        """The project's settings, its journal moved to a fresh database first when the
        tests run on PostgreSQL."""
        if self.server is None:
            return Settings.load(project_dir)
        stem = re.sub(r"[^a-z0-9]+", "_", project_dir.parent.name.lower()).strip("_")[:30]
        name = f"j{next(_numbers)}_{stem}"
        url = self.server.new_database(name)
        self.made.append(name)
        settings = move_journal(project_dir, url)
        self.placed.append(project_dir)
        return settings

    def strays(self) -> list[Path]:
        """SQLite journals made in the projects moved to PostgreSQL: code that opened the
        file and not the project's journal (its settings)."""
        return [p / "journal.sqlite" for p in self.placed if (p / "journal.sqlite").exists()]

    def drop(self) -> None:
        """Drop the databases made so far (their connections ended)."""
        if self.server is None:
            return
        while self.made:
            self.server.drop_database(self.made.pop())
