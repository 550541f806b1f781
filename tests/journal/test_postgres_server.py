"""The tests' own PostgreSQL server: it starts, its databases are reachable with the
password from the environment (and only with it), and are independent of each other."""

from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import urlsplit

import psycopg
import pytest

from helpers import postgres
from helpers.postgres import PASSWORD_ENV, ROLE, PostgresServer


def test_the_server_answers_as_the_role(postgres_server: PostgresServer) -> None:
    url = postgres_server.new_database("answers")
    with psycopg.connect(url, password=postgres_server.password) as conn:
        row = conn.execute(
            "SELECT current_user, current_database(), current_setting('fsync'),"
            " pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()"
        ).fetchone()
    assert row == (ROLE, "answers", "off", "UTF8")


def test_a_fresh_database_is_reachable_with_the_password_from_the_environment(
    postgres_url: str,
) -> None:
    password = os.environ[PASSWORD_ENV]
    with psycopg.connect(postgres_url, password=password) as conn:
        conn.execute("CREATE TABLE runs (id int PRIMARY KEY)")  # the role owns the database
        conn.execute("INSERT INTO runs VALUES (1)")
        assert conn.execute("SELECT count(*) FROM runs").fetchone() == (1,)


def test_a_subprocess_has_the_password_too(postgres_url: str) -> None:
    code = (
        "import os, sys, psycopg\n"
        f"with psycopg.connect(sys.argv[1], password=os.environ[{PASSWORD_ENV!r}]) as c:\n"
        "    print(c.execute('SELECT current_user').fetchone()[0])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, postgres_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ROLE


def test_the_url_carries_no_password(postgres_server: PostgresServer, postgres_url: str) -> None:
    parts = urlsplit(postgres_url)
    assert parts.scheme == "postgresql"
    assert parts.username == ROLE
    assert parts.password is None
    assert parts.hostname == "127.0.0.1"
    assert parts.port == postgres_server.port
    assert postgres_server.password not in postgres_url


def test_without_a_password_the_server_refuses(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)  # where libpq would look otherwise
    monkeypatch.setenv("PGPASSFILE", os.devnull)
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(postgres_url)


def test_a_wrong_password_is_refused(postgres_url: str) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(postgres_url, password="not-" + os.environ[PASSWORD_ENV])


def test_the_superuser_is_not_reachable_over_tcp(postgres_server: PostgresServer) -> None:
    with pytest.raises(psycopg.OperationalError, match=r"no pg_hba\.conf entry"):
        psycopg.connect(
            host=postgres_server.host, port=postgres_server.port, user="postgres", dbname="postgres"
        )


def test_two_databases_are_independent(postgres_server: PostgresServer) -> None:
    first = postgres_server.new_database("independent_a")
    second = postgres_server.new_database("independent_b")
    password = postgres_server.password
    with psycopg.connect(first, password=password) as conn:
        conn.execute("CREATE TABLE marks (mark text)")
        conn.execute("INSERT INTO marks VALUES ('first')")
    with psycopg.connect(second, password=password) as conn:
        present = conn.execute("SELECT to_regclass('marks') IS NOT NULL").fetchone()
        assert present == (False,)
        conn.execute("CREATE TABLE marks (mark text)")  # the same name, no clash
        assert conn.execute("SELECT count(*) FROM marks").fetchone() == (0,)
    with psycopg.connect(first, password=password) as conn:
        assert conn.execute("SELECT mark FROM marks").fetchall() == [("first",)]


def test_a_stopped_server_leaves_nothing_behind() -> None:
    server = PostgresServer.start()
    assert server._process is not None
    pid, folder = server._process.pid, server.folder
    url = server.new_database("stopping")
    server.stop()
    assert not folder.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, password=server.password, connect_timeout=5)


def test_without_binaries_the_tests_are_skipped_saying_how_to_get_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(postgres, "find_bindir", lambda: None)
    with pytest.raises(pytest.skip.Exception, match=r"initdb.*apt-get install postgresql"):
        PostgresServer.start()


def test_a_server_that_fails_to_start_is_an_error_with_its_log(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(postgres.SETTINGS, "max_connections", "many")
    with pytest.raises(postgres.PostgresStartError, match="did not start") as failed:
        PostgresServer.start()
    assert 'invalid value for parameter "max_connections"' in str(failed.value)
