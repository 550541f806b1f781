"""Queries on a project's ``journal.sqlite``, for assertions about what a run wrote (the code
under test reaches the journal only through :class:`crm_ferry.journal.Journal`), and one
staged crash: runs whose process is gone."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg

from crm_ferry.journal import JOURNAL_FILE
from crm_ferry.settings import Settings, journal_password


def journal_rows(project_dir: Path, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The rows ``sql`` selects from the project's journal, opened read-only."""
    uri = f"file:{project_dir / JOURNAL_FILE}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as db:
        return [tuple(row) for row in db.execute(sql, args).fetchall()]


def forget_process(project_dir: Path) -> None:
    """Make the project's running runs look like the process writing them is gone (as after
    ``kill -9``): their pid becomes one no process has. In ``journal.sqlite``, or in the
    PostgreSQL database ``[journal] url`` names (its password in the environment)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    update = "UPDATE runs SET pid = {} WHERE state = 'running'"
    settings = Settings.load(project_dir)
    if settings.journal_url:
        password = journal_password(settings.journal_url)
        with psycopg.connect(settings.journal_url, password=password, autocommit=True) as pg:
            pg.execute(update.format("%s"), (child.pid,))
        return
    with closing(sqlite3.connect(project_dir / JOURNAL_FILE)) as db, db:
        db.execute(update.format("?"), (child.pid,))
