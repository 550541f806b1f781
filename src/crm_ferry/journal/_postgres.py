"""The journal on a PostgreSQL server (``[journal] url``): what several worker processes,
on one machine or many, share.

The same tables as the SQLite file (:mod:`crm_ferry.journal._ddl`, each with a ``rowid``),
the same SQL (the journal's queries are written in what both take; ``?`` placeholders
become psycopg's ``%s`` here), the same guarantees: every write is its own committed
transaction (autocommit), or one explicit transaction (:meth:`PgConnection.tx`), so a crash
never loses a written intent. Connections come from a pool (psycopg_pool), so the threads
of one process (a worker's lease keeper, the review page) each get their own.

The schema is created, or brought to :data:`~crm_ferry.journal._ddl.VERSION`, on open under
an advisory lock: workers that start together do not create it twice.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from crm_ferry.journal._ddl import MIGRATIONS, VERSION, postgres_ddl, schema_text
from crm_ferry.journal._sqlite import JournalError

SCHEMES = ("postgresql", "postgres")
_LOCK = 727_312_551
"""The advisory lock held while the schema is created or migrated (any fixed number)."""
_SQL: dict[str, str] = {}
"""The journal's SQL (``?`` placeholders) → psycopg's (``%s``, a literal ``%`` doubled)."""


@dataclass(frozen=True, slots=True)
class PostgresTarget:
    """Where a journal on PostgreSQL is: its URL (no password in it) and the password, read
    from the environment or the keyring by whoever opens it."""

    url: str
    password: str | None = field(default=None, repr=False)

    @property
    def where(self) -> str:
        return display_url(self.url)


def journal_exists(target: Path | PostgresTarget) -> bool:
    """Whether the journal at ``target`` was made: its file is there (one on a server is
    made when first opened, and opening it costs what asking would)."""
    return True if isinstance(target, PostgresTarget) else target.is_file()


def is_postgres_url(text: str) -> bool:
    return urlsplit(text).scheme in SCHEMES


def display_url(url: str) -> str:
    """``url`` as messages show it: scheme, user, host, port and database, never a password."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit((parts.scheme, user + host, parts.path, "", ""))


def _pg(sql: str) -> str:
    out = _SQL.get(sql)
    if out is None:
        out = _SQL[sql] = sql.replace("%", "%%").replace("?", "%s")
    return out


class _Rows:
    """A query's answer, read whole (the connection goes back to the pool at once)."""

    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._rows)


def _run(conn: Any, sql: str, args: Sequence[Any]) -> _Rows:
    cur = conn.execute(_pg(sql), tuple(args))
    rows = cur.fetchall() if cur.description is not None else []
    return _Rows(rows, cur.rowcount)


class _Tx:
    """One connection inside a transaction: the ``db`` a ``with tx() as db`` block writes."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, args: Sequence[Any] = ()) -> _Rows:
        return _run(self._conn, sql, args)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> _Rows:
        rows = list(rows)
        if not rows:
            return _Rows([], 0)
        with self._conn.cursor() as cur:
            cur.executemany(_pg(sql), rows)
            return _Rows([], cur.rowcount)


class _Pooled:
    """Statements outside a transaction, each on a connection from the pool (committed at
    once: the pool's connections are in autocommit mode)."""

    def __init__(self, owner: PgConnection) -> None:
        self._owner = owner

    def execute(self, sql: str, args: Sequence[Any] = ()) -> _Rows:
        held = self._owner._held()
        if held is not None:
            return _run(held, sql, args)
        with self._owner.pool.connection() as conn:
            return _run(conn, sql, args)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> _Rows:
        with self._owner.tx() as tx:
            return tx.executemany(sql, rows)


class PgConnection:
    """The journal's database on a PostgreSQL server, opened: the schema created or
    brought to :data:`VERSION`."""

    dialect = "postgresql"
    clock = "EXTRACT(EPOCH FROM clock_timestamp())::float8"
    """SQL for the server's clock, in seconds since 1970: every worker times leases by the
    same clock, whatever its own machine's says."""
    lock = " FOR UPDATE SKIP LOCKED"
    """What a claim's SELECT ends with: a row another worker is claiming is passed over."""

    def __init__(self, url: str, *, password: str | None = None, max_size: int = 4) -> None:
        import psycopg
        from psycopg.conninfo import make_conninfo
        from psycopg_pool import ConnectionPool

        self.url = url
        self.where = display_url(url)
        self.path = None
        extra: dict[str, Any] = {"application_name": "crm-ferry"}
        if password is not None:
            extra["password"] = password
        conninfo = make_conninfo(url, **extra)
        self._local = threading.local()
        reason = _reason(conninfo, psycopg)  # one attempt first: its error says why, at once
        if reason is not None:
            raise _cannot_open(self.where, reason)
        self.pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=max_size,
            kwargs={"autocommit": True},
            open=True,
            name="crm-ferry-journal",
        )
        self.db = _Pooled(self)
        try:
            self._prepare()
        except BaseException:
            self.pool.close()
            raise

    def _held(self) -> Any:
        return getattr(self._local, "conn", None)

    def _prepare(self) -> None:
        with self.tx() as db:
            db.execute("SELECT pg_advisory_xact_lock(?)", (_LOCK,))
            has_meta = db.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()
            version = None
            if has_meta and has_meta[0]:
                row = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
                version = None if row is None else int(row[0])
            if version is None:
                for statement in postgres_ddl(schema_text()):
                    db.execute(statement)
                db.execute("INSERT INTO meta (key, value) VALUES ('version', ?)", (str(VERSION),))
                db.execute(
                    "INSERT INTO meta (key, value) VALUES ('namespace', ?)", (str(uuid.uuid4()),)
                )
                return
            if version > VERSION:
                raise JournalError(
                    f"the journal at {self.where} is of version {version}; this crm-ferry "
                    f"reads up to {VERSION}",
                    hint="use the crm-ferry version that wrote it (or a newer one)",
                )
            for step in range(version + 1, VERSION + 1):
                for statement in postgres_ddl(MIGRATIONS[step]):
                    db.execute(statement)
            if version < VERSION:
                db.execute("UPDATE meta SET value = ? WHERE key = 'version'", (str(VERSION),))

    @contextmanager
    def tx(self) -> Iterator[_Tx]:
        held = self._held()
        if held is not None:  # a step of a transaction already open in this thread
            yield _Tx(held)
            return
        with self.pool.connection() as conn:
            self._local.conn = conn
            try:
                with conn.transaction():
                    yield _Tx(conn)
            finally:
                self._local.conn = None

    def meta(self, key: str) -> str:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise JournalError(f"the journal at {self.where} has no {key!r}")
        return str(row[0])

    def vacuum(self) -> None:
        self.db.execute("VACUUM")

    def close(self) -> None:
        self.pool.close()


def database_tables(target: PostgresTarget) -> list[str]:
    """The tables in the database at ``target`` (its current schema), looked at without
    making it a journal: what a copy into it checks first, so that a database holding
    something else is refused before a journal table is created in it."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    extra: dict[str, Any] = {"application_name": "crm-ferry"}
    if target.password is not None:
        extra["password"] = target.password
    try:
        with psycopg.connect(make_conninfo(target.url, **extra), connect_timeout=5) as conn:
            rows = conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() ORDER BY table_name"
            ).fetchall()
    except psycopg.Error as exc:
        text = str(exc).strip()
        raise _cannot_open(
            target.where, text.splitlines()[-1] if text else type(exc).__name__
        ) from None
    return [str(r[0]) for r in rows]


def _cannot_open(where: str, reason: str) -> JournalError:
    return JournalError(
        f"cannot open the journal at {where}: {reason}",
        hint="check [journal] url in ferry.toml, that the server is running and "
        "reachable, and that CRM_FERRY_JOURNAL_PASSWORD (or the keyring) holds the "
        "password of its user",
    )


def _reason(conninfo: str, psycopg: Any) -> str | None:
    """Why a connection to ``conninfo`` fails, as the server says it (one attempt)."""
    try:
        psycopg.connect(conninfo, connect_timeout=5).close()
    except psycopg.Error as exc:
        text = str(exc).strip()
        return text.splitlines()[-1] if text else type(exc).__name__
    return None
