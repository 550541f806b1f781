"""A throwaway PostgreSQL server for the tests of the journal's PostgreSQL backend.

One server per test process (each xdist worker starts its own), started on first use and
stopped at the end of the session, its folder removed. It runs Debian's ``postgresql``
binaries (``make test`` installs them where apt-get can) or any ``initdb`` on PATH; where
none can be had the tests that need it are skipped, saying so. A server that is there but
fails to start is an error, with the end of its log.

PostgreSQL will not run as root, so as root the server runs as the ``postgres`` system
user (which Debian's package creates), in a folder it owns. Settings are for speed, not
durability: no fsync, no synchronous commit, no full-page writes. The server listens on
127.0.0.1 only, on a free port, with its unix socket in its own folder.

Clients sign in as the role :data:`ROLE` with a random password over TCP
(``scram-sha-256``), as the journal does: the URL of a database carries no password, which
comes from the environment (:data:`PASSWORD_ENV`). The superuser is trusted on the unix
socket only, for setting up.

Fixtures (loaded by ``tests/conftest.py``): ``postgres_server``, the server of the
session, and ``postgres_url``, a fresh database for one test with the password in the
environment (so a subprocess the test starts has it too).
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg
import pytest
from psycopg import sql

ROLE = "ferry"
"""The role the tests (and the journal) sign in as; it owns every database it is given."""

PASSWORD_ENV = "CRM_FERRY_JOURNAL_PASSWORD"
"""Where the journal reads the password of its PostgreSQL role."""

SYSTEM_USER = "postgres"
"""The system user the server runs as when the tests run as root (Debian's package makes it)."""

SUPERUSER = "postgres"
"""The server's superuser, trusted on the unix socket only."""

INSTALL_HINT = "apt-get install postgresql (`make test` does it where it can)"

SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "max_connections": "200",  # several worker processes, each with a pool
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "unix_socket_permissions": "0700",
    "logging_collector": "off",
}
"""postgresql.conf for a server whose data may be lost (``port`` and the socket folder are
added per server)."""

START_TIMEOUT = 30.0
"""Seconds to wait for the server to accept connections (it takes well under one)."""

_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresStartError(RuntimeError):
    """A PostgreSQL server that is installed failed to set up or start."""


def find_bindir() -> Path | None:
    """The folder of the server binaries: ``initdb`` on PATH (with ``pg_ctl`` and
    ``postgres`` beside it, wherever links lead), else the newest
    ``/usr/lib/postgresql/<version>/bin`` (Debian's layout, not on PATH); None if neither."""
    on_path = shutil.which("initdb")
    if on_path is not None:
        bindir = Path(on_path).resolve().parent
        if (bindir / "postgres").exists():
            return bindir
    versions = []
    for initdb in Path("/usr/lib/postgresql").glob("*/bin/initdb"):
        version = initdb.parents[1].name
        if version.isdigit() and (initdb.parent / "postgres").exists():
            versions.append((int(version), initdb.parent))
    return max(versions)[1] if versions else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(text.splitlines()[-lines:])


class PostgresServer:
    """A PostgreSQL server of its own in a temporary folder, until :meth:`stop`.

    ``with PostgresServer.start() as server:``, or the ``postgres_server`` fixture.
    """

    def __init__(self, bindir: Path, run_as: pwd.struct_passwd | None) -> None:
        self.bindir = bindir
        self.run_as = run_as
        """The system user the server runs as (as root), or None: the tests' own user."""
        self.password = secrets.token_urlsafe(24)
        """The password of :data:`ROLE`; the URLs of :meth:`new_database` leave it out."""
        self.host = "127.0.0.1"
        self.port = 0
        self.folder = Path(tempfile.mkdtemp(prefix="crm-ferry-pg-"))
        self.data = self.folder / "data"
        self.socket_dir = self.folder / "socket"
        self.log = self.folder / "server.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._setpriv = shutil.which("setpriv")
        self.started_in = 0.0
        """Seconds from :meth:`start` to a server ready with its role."""

    @classmethod
    def start(cls) -> PostgresServer:
        """Set up and start a server, or skip the test if PostgreSQL cannot be had."""
        began = time.perf_counter()
        bindir = find_bindir()
        if bindir is None:
            pytest.skip(
                "PostgreSQL server binaries not found (no initdb on PATH or under "
                f"/usr/lib/postgresql/*/bin): {INSTALL_HINT}"
            )
        run_as = None
        if os.geteuid() == 0:
            try:
                run_as = pwd.getpwnam(SYSTEM_USER)
            except KeyError:
                pytest.skip(
                    "PostgreSQL will not run as root and there is no "
                    f"{SYSTEM_USER!r} system user to run it as: {INSTALL_HINT} creates "
                    "one, or run the tests as a normal user"
                )
        server = cls(bindir, run_as)
        try:
            server._init()
            server._launch()
            server._create_role()
        except BaseException:
            server.stop()
            raise
        server.started_in = time.perf_counter() - began
        return server

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- setting up --------------------------------------------------------------------

    def _command(self, program: str, *args: str) -> list[str]:
        """``program`` of the server's binaries, run as :attr:`run_as` when that is set.

        ``setpriv`` (util-linux) also asks the kernel to end the server if the test
        process dies without stopping it (a killed xdist worker); without it the switch of
        user is left to :func:`subprocess.Popen`.
        """
        command = [str(self.bindir / program), *args]
        if self._setpriv is None:
            return command
        switch = []
        if self.run_as is not None:
            switch = [f"--reuid={self.run_as.pw_uid}", f"--regid={self.run_as.pw_gid}"]
            switch.append("--init-groups")
        return [self._setpriv, *switch, "--pdeathsig=SIGQUIT", "--", *command]

    def _popen_user(self) -> dict[str, Any]:
        if self.run_as is None or self._setpriv is not None:
            return {}
        return {"user": self.run_as.pw_uid, "group": self.run_as.pw_gid, "extra_groups": []}

    def _init(self) -> None:
        if self.run_as is not None:
            self._check_reachable()
            os.chown(self.folder, self.run_as.pw_uid, self.run_as.pw_gid)
        self.socket_dir.mkdir(mode=0o700)
        if self.run_as is not None:
            os.chown(self.socket_dir, self.run_as.pw_uid, self.run_as.pw_gid)
        # A C locale and UTF-8 whatever the machine's locale (a container's is often
        # POSIX, which would make the databases SQL_ASCII).
        done = subprocess.run(
            self._command(
                "initdb",
                f"--pgdata={self.data}",
                f"--username={SUPERUSER}",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
                "--no-instructions",
                "--auth=trust",
            ),
            cwd=self.folder,
            capture_output=True,
            text=True,
            check=False,
            **self._popen_user(),
        )
        if done.returncode != 0:
            raise PostgresStartError(
                f"initdb ({self.bindir}) failed with exit code {done.returncode}:\n"
                f"{done.stdout}{done.stderr}"
            )
        (self.data / "pg_hba.conf").write_text(
            f"local all {SUPERUSER} trust\nhost all {ROLE} 127.0.0.1/32 scram-sha-256\n",
            encoding="utf-8",
        )

    def _check_reachable(self) -> None:
        """The server's user can reach its folder: every folder above it can be crossed by
        others (a TMPDIR in root's home cannot), which initdb would say less plainly."""
        for parent in self.folder.parents:
            if not parent.stat().st_mode & stat.S_IXOTH:
                raise PostgresStartError(
                    f"the {SYSTEM_USER} user cannot reach {self.folder} ({parent} is closed "
                    "to other users): set TMPDIR to a folder it can reach"
                )

    def _launch(self) -> None:
        """Start ``postgres`` on a free port and wait until it accepts connections; a port
        taken in between (by another worker) is tried again with another."""
        for _attempt in range(3):
            self.port = _free_port()
            settings = {
                **SETTINGS,
                "port": str(self.port),
                "unix_socket_directories": str(self.socket_dir),
            }
            options = [arg for k, v in settings.items() for arg in ("-c", f"{k}={v}")]
            with self.log.open("ab") as log:
                self._process = subprocess.Popen(
                    self._command("postgres", "-D", str(self.data), *options),
                    cwd=self.folder,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    **self._popen_user(),
                )
            if self._wait_ready():
                return
            if "could not bind" not in _tail(self.log, 10):
                break
        raise PostgresStartError(
            f"the PostgreSQL server ({self.bindir}) did not start; the end of its log "
            f"({self.log}):\n{_tail(self.log)}"
        )

    def _wait_ready(self) -> bool:
        """Wait for the server to say it is ready in ``postmaster.pid`` (the status line
        ``pg_ctl -w`` reads), polled more often than pg_ctl does; False if it exited."""
        assert self._process is not None
        pid_file = self.data / "postmaster.pid"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            try:
                lines = pid_file.read_text(encoding="utf-8").splitlines()
            except FileNotFoundError:
                lines = []
            if (
                len(lines) >= 8
                and lines[0] == str(self._process.pid)
                and lines[7].strip() == "ready"
            ):
                return True
            time.sleep(0.01)
        self._kill()
        raise PostgresStartError(
            f"the PostgreSQL server did not get ready within {START_TIMEOUT:.0f} s; the end "
            f"of its log ({self.log}):\n{_tail(self.log)}"
        )

    def _superuser(self, dbname: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=SUPERUSER,
            dbname=dbname,
            autocommit=True,
        )

    def _create_role(self) -> None:
        with self._superuser() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(ROLE), sql.Literal(self.password)
                )
            )

    # -- use -----------------------------------------------------------------------------

    def url(self, name: str) -> str:
        """The URL of database ``name`` as :data:`ROLE`, without the password."""
        return f"postgresql://{ROLE}@{self.host}:{self.port}/{name}"

    def new_database(self, name: str) -> str:
        """Create database ``name`` (lower-case letters, digits and ``_``), owned by
        :data:`ROLE`, and return its URL (no password in it)."""
        if not _NAME.fullmatch(name):
            raise ValueError(f"not a plain database name: {name!r}")
        with self._superuser() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(ROLE)
                )
            )
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name``, ending any connection still open to it."""
        with self._superuser() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    # -- stopping --------------------------------------------------------------------------

    def _kill(self) -> None:
        """Stop the server at once (SIGQUIT, ``pg_ctl stop -m immediate``) and wait."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGQUIT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def stop(self) -> None:
        """Stop the server and remove its folder (its data, socket and log)."""
        self._kill()
        shutil.rmtree(self.folder, ignore_errors=True)


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The PostgreSQL server of this test process, started when a test first asks."""
    with PostgresServer.start() as server:
        yield server


_databases = iter(range(1, 1_000_000))


@pytest.fixture
def postgres_url(
    postgres_server: PostgresServer, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The URL of a fresh database for this test (no password in it), the password in
    :data:`PASSWORD_ENV` for the test and the processes it starts; dropped after."""
    stem = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:40]
    name = f"t{next(_databases)}_{stem}"
    url = postgres_server.new_database(name)
    monkeypatch.setenv(PASSWORD_ENV, postgres_server.password)
    yield url
    postgres_server.drop_database(name)
