"""The journal on PostgreSQL: ``crm-ferry journal copy --to URL`` moves a migrated project's
journal there (every row, the namespace; ``ferry.toml`` then names it, the SQLite file is
renamed), the project works on it, and what is refused is refused saying what to do; the
schema is version 2 and opening it again changes nothing; ``rows_pointing_to`` answers
as on SQLite.

Rows are read back with sqlite3 and psycopg directly, not through the journal's own code.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import stat
import tomllib
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from crm_ferry import commands
from crm_ferry.cli import cli
from crm_ferry.commands._project import open_journal
from crm_ferry.commands.emulator import embedded_client
from crm_ferry.commands.journal import _with_journal_url
from crm_ferry.commands.migrate import run_load
from crm_ferry.emulator import EmulatorApp
from crm_ferry.errors import ConfigError
from crm_ferry.journal import (
    JOURNAL_FILE,
    VERSION,
    Journal,
    JournalError,
    PostgresTarget,
    journal_tables,
)
from crm_ferry.settings import Settings, journal_password
from helpers.postgres import PASSWORD_ENV, PostgresServer
from helpers.project import build_provisioned

MOVED = re.compile(r"journal-moved-\d{8}T\d{6}Z\.sqlite")


@pytest.fixture(scope="module")
def migrated_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small provisioned project after one full ``migrate`` (its journal on SQLite)."""
    base = build_provisioned(tmp_path_factory.mktemp("pgjournal") / "p", clients=8, seed=4)
    with EmulatorApp(data_dir=base / "data") as app, embedded_client(app) as client:
        result = run_load(Settings.load(base / "project"), client=client, skip_sample_gate=True)
        assert result.ok
    return base


@pytest.fixture
def project(migrated_base: Path, tmp_path: Path) -> Path:
    """A copy of the migrated project: its folder (``ferry.toml``, ``journal.sqlite``)."""
    root = tmp_path / "p"
    shutil.copytree(migrated_base, root)
    return root / "project"


def _sqlite_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every journal table in the file, in the order written (rowid)."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return {
            t: [tuple(r) for r in db.execute(f"SELECT * FROM {t} ORDER BY rowid")]
            for t in journal_tables()
        }


def _pg_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """The same of the database at ``url`` (its ``rowid`` column left out)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with psycopg.connect(url, password=os.environ[PASSWORD_ENV]) as conn:
        for t in journal_tables():
            cur = conn.execute(f"SELECT * FROM {t} ORDER BY rowid")
            assert cur.description is not None
            names = [d.name for d in cur.description]
            keep = [i for i, n in enumerate(names) if n != "rowid"]
            out[t] = [tuple(row[i] for i in keep) for row in cur.fetchall()]
    return out


def _pg_tables(url: str) -> list[str]:
    with psycopg.connect(url, password=os.environ[PASSWORD_ENV]) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() ORDER BY table_name"
        ).fetchall()
    return [str(r[0]) for r in rows]


def _invoke(*args: str, width: int = 80) -> Any:
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": str(width)}, catch_exceptions=False)


# -- the copy --------------------------------------------------------------------------------


def test_the_copy_holds_every_row_and_the_namespace_and_the_project_works_on_it(
    project: Path, postgres_url: str
) -> None:
    toml_before = (project / "ferry.toml").read_bytes()
    rows_before = _sqlite_rows(project / JOURNAL_FILE)
    with Journal.for_project(project) as j:
        namespace = j.namespace
        run_ids = [r.run_id for r in j.runs()]
    assert run_ids
    assert rows_before["ops"]
    assert rows_before["idmap"]
    assert rows_before["schema_ops"]

    out = _invoke("--project", str(project), "journal", "copy", "--to", postgres_url, "--json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["source"] == {"backend": "sqlite", "where": JOURNAL_FILE}
    assert data["target"] == postgres_url
    assert data["tables"] == {t: len(rows) for t, rows in rows_before.items()}
    assert all(type(n) is int for n in data["tables"].values())
    assert data["rows"] == sum(data["tables"].values())
    assert data["left"] is None

    # every row, in the order written, and nothing else
    assert _pg_rows(postgres_url) == rows_before
    assert sorted(_pg_tables(postgres_url)) == sorted(journal_tables())

    # ferry.toml: the [journal] table appended, every byte before it kept
    toml_after = (project / "ferry.toml").read_bytes()
    assert toml_after.startswith(toml_before)
    assert toml_after[len(toml_before) :] == f'\n[journal]\nurl = "{postgres_url}"\n'.encode()
    assert tomllib.loads(toml_after.decode())["journal"] == {"url": postgres_url}

    # the SQLite file renamed out of the way (side files with it), still owner-only
    moved = Path(data["moved_to"])
    assert moved.parent == project
    assert MOVED.fullmatch(moved.name)
    assert not (project / JOURNAL_FILE).exists()
    assert not list(project.glob(f"{JOURNAL_FILE}*"))
    assert stat.S_IMODE(moved.stat().st_mode) == 0o600
    assert _sqlite_rows(moved) == rows_before

    # the project now works on PostgreSQL
    settings = Settings.load(project)
    assert settings.journal_url == postgres_url
    with open_journal(settings) as j:
        assert j.dialect == "postgresql"
        assert j.namespace == namespace
    assert [r.run_id for r in commands.runs(settings).runs] == run_ids
    listed = _invoke("--project", str(project), "runs", "--json")
    assert listed.exit_code == 0, listed.output
    runs = json.loads(listed.stdout)["runs"]
    assert [r["run_id"] for r in runs] == run_ids
    assert runs[0]["state"] == "done"
    assert isinstance(runs[0]["outcomes"]["written"], int)
    assert runs[0]["outcomes"]["written"] > 0
    # and it is written there: a purge of the run is a write the next reader sees
    commands.purge(settings, run_id=run_ids[0])
    with open_journal(Settings.load(project)) as j:
        assert j.run(run_ids[0]).purged_at is not None


def test_a_copy_from_postgresql_to_another_database_leaves_the_first_as_it_was(
    project: Path, postgres_server: PostgresServer, postgres_url: str
) -> None:
    commands.journal_copy(Settings.load(project), to=postgres_url)
    first = _pg_rows(postgres_url)
    second = postgres_server.new_database(f"second_{os.getpid()}")
    try:
        out = _invoke("--project", str(project), "journal", "copy", "--to", second)
        assert out.exit_code == 0, out.output
        config = str(project / "ferry.toml")
        lines = out.stdout.splitlines()
        # 80 columns, but for a line that holds a path or URL longer than that whole
        typed = (config, postgres_url, second)
        assert all(len(line) <= 80 or any(t in line for t in typed) for line in lines), lines
        assert f"The journal is now at {second}" in lines
        assert f"[journal] url set in {config}" in lines
        assert f"Left as it was: {postgres_url}" in lines
        assert "drop that database" in out.stdout
        assert "ops" in out.stdout
        assert f"{len(first['ops']):,}" in out.stdout
        assert _pg_rows(second) == first
        assert _pg_rows(postgres_url) == first  # left as it was
        # the url line replaced, not a second [journal] table
        toml = (project / "ferry.toml").read_text(encoding="utf-8")
        assert toml.count("[journal]") == 1
        assert toml.count('url = "postgresql') == 1
        assert Settings.load(project).journal_url == second
        assert len(list(project.glob("journal-moved-*.sqlite"))) == 1  # the first move's
    finally:
        postgres_server.drop_database(f"second_{os.getpid()}")


# -- refused ---------------------------------------------------------------------------------


def test_a_target_that_holds_a_journal_or_other_tables_is_refused(
    project: Path,
    migrated_base: Path,
    tmp_path: Path,
    postgres_server: PostgresServer,
    postgres_url: str,
) -> None:
    commands.journal_copy(Settings.load(project), to=postgres_url)
    other = tmp_path / "other"
    shutil.copytree(migrated_base, other)
    toml = (other / "project" / "ferry.toml").read_bytes()
    with pytest.raises(JournalError) as held:
        commands.journal_copy(Settings.load(other / "project"), to=postgres_url)
    assert f"the database at {postgres_url} already holds a journal" in held.value.message
    assert "rows in runs" in held.value.message
    assert "rows in ops" in held.value.message
    assert held.value.hint is not None
    assert "new, empty database" in held.value.hint
    assert (other / "project" / "ferry.toml").read_bytes() == toml
    assert (other / "project" / JOURNAL_FILE).is_file()

    name = f"foreign_{os.getpid()}"
    foreign = postgres_server.new_database(name)
    try:
        with psycopg.connect(foreign, password=postgres_server.password) as conn:
            conn.execute("CREATE TABLE invoices_app (id int PRIMARY KEY)")
        with pytest.raises(JournalError) as occupied:
            commands.journal_copy(Settings.load(other / "project"), to=foreign)
        assert "not empty" in occupied.value.message
        assert "invoices_app" in occupied.value.message
        assert occupied.value.hint is not None
        assert "CREATE DATABASE" in occupied.value.hint
        assert _pg_tables(foreign) == ["invoices_app"]  # no journal table made in it
    finally:
        postgres_server.drop_database(name)
    assert (other / "project" / "ferry.toml").read_bytes() == toml


def test_a_url_with_a_password_is_refused_naming_the_file(project: Path) -> None:
    toml = (project / "ferry.toml").read_bytes()
    with pytest.raises(ConfigError) as given:
        commands.journal_copy(
            Settings.load(project), to="postgresql://ferry:s3cret@127.0.0.1:5432/journal"
        )
    assert "holds a password" in given.value.message
    assert "ferry.toml" in given.value.message
    assert "s3cret" not in f"{given.value.message} {given.value.hint}"
    assert given.value.hint is not None
    assert PASSWORD_ENV in given.value.hint
    assert (project / "ferry.toml").read_bytes() == toml
    assert (project / JOURNAL_FILE).is_file()

    (project / "ferry.toml").write_bytes(
        toml + b'\n[journal]\nurl = "postgresql://ferry:s3cret@127.0.0.1:5432/journal"\n'
    )
    with pytest.raises(ConfigError) as configured:
        Settings.load(project)
    assert str(project / "ferry.toml") in configured.value.message
    assert "s3cret" not in f"{configured.value.message} {configured.value.hint}"
    out = _invoke("--project", str(project), "runs")
    assert out.exit_code == 2
    assert str(project / "ferry.toml") in " ".join(out.output.split())


def test_a_wrong_password_is_a_journal_error_saying_where_the_password_comes_from(
    project: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password")
    with pytest.raises(JournalError) as opened:
        Journal(PostgresTarget(postgres_url, journal_password(postgres_url)))
    assert "password authentication failed" in opened.value.message
    assert opened.value.hint is not None
    assert PASSWORD_ENV in opened.value.hint
    assert "keyring" in opened.value.hint

    with pytest.raises(JournalError) as copied:
        commands.journal_copy(Settings.load(project), to=postgres_url)
    assert "password authentication failed" in copied.value.message
    assert copied.value.hint is not None
    assert PASSWORD_ENV in copied.value.hint
    assert "keyring" in copied.value.hint
    assert (project / JOURNAL_FILE).is_file()

    configured = Settings.load(project).with_changes(journal_url=postgres_url)
    with pytest.raises(JournalError) as reopened:
        open_journal(configured)
    assert reopened.value.hint is not None
    assert PASSWORD_ENV in reopened.value.hint


def test_a_project_without_a_journal_is_told_to_set_the_url(tmp_path: Path) -> None:
    (tmp_path / "ferry.toml").write_text("[source]\npath = 'bundle'\n", encoding="utf-8")
    with pytest.raises(JournalError) as none:
        commands.journal_copy(Settings.load(tmp_path), to="postgresql://ferry@db.example/j")
    assert "no journal yet" in none.value.message
    assert none.value.hint is not None
    assert "[journal] url" in none.value.hint
    assert not (tmp_path / JOURNAL_FILE).exists()


# -- the schema ------------------------------------------------------------------------------


def _schema(url: str) -> dict[str, Any]:
    with psycopg.connect(url, password=os.environ[PASSWORD_ENV]) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name, data_type, collation_name, is_nullable "
            "FROM information_schema.columns WHERE table_schema = current_schema() "
            "ORDER BY table_name, ordinal_position"
        ).fetchall()
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "ORDER BY indexname"
        ).fetchall()
        meta = conn.execute("SELECT key, value FROM meta ORDER BY key").fetchall()
    return {"columns": columns, "indexes": indexes, "meta": meta}


def test_the_schema_is_version_2_and_opening_it_again_changes_nothing(postgres_url: str) -> None:
    assert VERSION == 2
    target = PostgresTarget(postgres_url, os.environ[PASSWORD_ENV])
    with Journal(target) as j:
        namespace = j.namespace
    first = _schema(postgres_url)
    assert dict(first["meta"]) == {"version": "2", "namespace": str(namespace)}
    tables = {c[0] for c in first["columns"]}
    assert tables == set(journal_tables())
    assert {"slices", "workers"} <= tables  # version 2's
    assert all(c[3] == "C" for c in first["columns"] if c[2] == "text")
    with Journal(target) as j:
        assert j.namespace == namespace
    assert _schema(postgres_url) == first


# -- rows_pointing_to ------------------------------------------------------------------------


def _references(value: Any, in_list: bool = False) -> Iterator[tuple[str, bool]]:
    """Every ``…@odata.bind`` target id in a payload, and whether it is inside a list."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith("@odata.bind") and isinstance(item, str) and "(" in item:
                yield item.split("(", 1)[1].rstrip(")").lower(), in_list
            else:
                yield from _references(item, in_list)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item, True)


def test_rows_pointing_to_answers_on_postgresql_as_on_sqlite(
    project: Path, postgres_url: str
) -> None:
    moved = Path(commands.journal_copy(Settings.load(project), to=postgres_url).moved_to or "")
    with Journal(moved) as sqlite_journal, open_journal(Settings.load(project)) as pg_journal:
        entries = list(sqlite_journal.idmap())
        wanted = {e.row_id for e in entries if e.table in ("contact", "account")}
        on_sqlite = sqlite_journal.rows_pointing_to(wanted)
        on_postgres = pg_journal.rows_pointing_to(wanted)
    assert on_postgres == on_sqlite
    # the answer, worked out from the payloads: a lookup, or a party in an activity's list
    expected: set[tuple[str, str, str, str, str]] = set()
    only_in_lists: set[tuple[str, str]] = set()
    top_level: set[tuple[str, str]] = set()
    for e in entries:
        for target, in_list in _references(e.payload):
            if target in {w.lower() for w in wanted}:
                expected.add((e.table, e.row_id, e.source_object, e.source_id, target))
                (only_in_lists if in_list else top_level).add((e.row_id, target))
    assert set(on_postgres) == expected
    assert len(on_postgres) == len(expected)
    # parties nested in lists count too: some rows point to a contact only as a party
    assert only_in_lists - top_level


# -- editing ferry.toml ----------------------------------------------------------------------

URL = "postgresql://ferry@db.example.com:5432/practice"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (  # the url line replaced, its comment and the file's line ends kept
            '[source]\r\npath = "x"\r\n[journal]  # shared\r\nurl = "postgresql://old@h/j"'
            "  # was\r\n[load]\r\nbatch_size = 5\r\n",
            '[source]\r\npath = "x"\r\n[journal]  # shared\r\nurl = "' + URL + '"'
            "  # was\r\n[load]\r\nbatch_size = 5\r\n",
        ),
        (  # a [journal] table without a url gets one
            '[journal]\nnote = "n"\n\n[load]\nbatch_size = 5\n',
            '[journal]\nurl = "' + URL + '"\nnote = "n"\n\n[load]\nbatch_size = 5\n',
        ),
        (  # no [journal] table: appended, after a line end the file lacked
            '[source]\npath = "x"',
            '[source]\npath = "x"\n\n[journal]\nurl = "' + URL + '"\n',
        ),
    ],
)
def test_ferry_toml_gets_the_url_and_keeps_every_other_byte(before: str, after: str) -> None:
    assert _with_journal_url(Path("ferry.toml"), before, URL) == after


def test_a_journal_table_written_inline_is_not_edited_but_said(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as inline:
        _with_journal_url(tmp_path / "ferry.toml", 'journal = { url = "x" }\n', URL)
    assert str(tmp_path / "ferry.toml") in inline.value.message
    assert inline.value.hint is not None
    assert "[journal]" in inline.value.hint
