"""Read-only queries on a project's ``journal.sqlite``, for assertions about what a run
wrote (the code under test reaches the journal only through :class:`crm_ferry.journal.Journal`)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from crm_ferry.journal import JOURNAL_FILE


def journal_rows(project_dir: Path, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The rows ``sql`` selects from the project's journal, opened read-only."""
    uri = f"file:{project_dir / JOURNAL_FILE}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as db:
        return [tuple(row) for row in db.execute(sql, args).fetchall()]
