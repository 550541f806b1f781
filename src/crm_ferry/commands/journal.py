"""``crm-ferry journal copy --to URL``: move the project's journal to a PostgreSQL database.

Workers on several machines share a journal on a PostgreSQL server (``[journal] url``); a
project begins with ``journal.sqlite``. This moves what the journal holds, from whichever
backend it is on now, into an empty database: every table in one transaction, then the
rows of each table counted on both sides. Only then does ``ferry.toml`` get the new
``[journal] url`` (its text edited in place, everything else kept byte for byte), and a
SQLite source is renamed ``journal-moved-<UTC stamp>.sqlite`` so that nothing reads the
stale copy. A database the journal leaves is kept as it was.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crm_ferry.commands._project import journal_target, require_project
from crm_ferry.errors import ConfigError
from crm_ferry.journal import (
    Journal,
    JournalError,
    PostgresTarget,
    copy_journal,
    database_tables,
    display_url,
    journal_exists,
    journal_tables,
    table_counts,
)
from crm_ferry.owner_only import secure_file, write_atomic
from crm_ferry.settings import (
    CONFIG_FILE,
    JOURNAL_PASSWORD_ENV,
    KEYRING_SERVICE,
    Settings,
    journal_password,
    journal_url_problem,
)

__all__ = ["JournalCopyResult", "journal_copy"]

MOVED_PREFIX = "journal-moved-"
"""How a SQLite journal that was moved is renamed: ``journal-moved-<UTC stamp>.sqlite``."""
_SIDE_FILES = ("-wal", "-shm")
"""SQLite's write-ahead log and its index, beside the file (renamed with it)."""
_PASSWORD_HINT = (
    f"set {JOURNAL_PASSWORD_ENV} in the environment, or store the password in the OS keyring "
    f"(service '{KEYRING_SERVICE}', user 'journal:<the url>')"
)


@dataclass(frozen=True)
class JournalCopyResult:
    """What ``journal copy`` moved, and where the project's journal is now."""

    source: str
    """The journal moved, as messages name it (``journal.sqlite``, or a URL)."""
    source_backend: str
    """``sqlite`` or ``postgresql``."""
    target: str
    """The URL the journal is now at (``[journal] url``), without a password."""
    tables: dict[str, int]
    """Rows per table, equal in both (counted after the copy)."""
    config: Path
    """The ``ferry.toml`` that now names the new URL."""
    moved_to: Path | None = None
    """Where a SQLite source was renamed, so that nothing reads it (None: PostgreSQL)."""
    left: str | None = None
    """The database a PostgreSQL source is still in, left as it was (None: SQLite)."""

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": {"backend": self.source_backend, "where": self.source},
            "target": self.target,
            "tables": dict(self.tables),
            "rows": self.rows,
            "config": str(self.config),
            "moved_to": None if self.moved_to is None else str(self.moved_to),
            "left": self.left,
        }


def journal_copy(settings: Settings, *, to: str) -> JournalCopyResult:
    """Move the project's journal to the empty PostgreSQL database at ``to`` (a URL
    without a password: that comes from :data:`JOURNAL_PASSWORD_ENV` or the keyring) and
    make it the project's (``[journal] url`` in ``ferry.toml``).

    Refused, before anything is written: a URL that is not PostgreSQL's or holds a
    password, a project whose journal is already there or does not exist yet, a run live
    in the journal, a target that holds anything."""
    folder = require_project(settings)
    _check_url(to)
    config = folder / CONFIG_FILE
    text = config.read_bytes().decode("utf-8")  # as it is: its line ends kept
    edited = _with_journal_url(config, text, to)  # before the copy: a file we cannot edit stops it
    source_target = journal_target(settings)
    if isinstance(source_target, PostgresTarget) and _same_url(source_target.url, to):
        raise JournalError(
            f"the project's journal is already at {display_url(to)}",
            hint="pass --to with the URL of another (empty) database",
        )
    if isinstance(source_target, Path) and not journal_exists(source_target):
        raise JournalError(
            f"the project has no journal yet (no {source_target.name} in {folder})",
            hint=f'nothing to copy: set [journal] url = "{to}" in {CONFIG_FILE} and the '
            "journal is made there when first used",
        )
    target = PostgresTarget(to, journal_password(to))
    with Journal(source_target) as source:
        _refuse_live(source)
        _refuse_occupied(target)
        try:
            copy_into = Journal(target)
        except JournalError as exc:
            raise JournalError(exc.message, hint=_open_hint()) from None
        with copy_into:
            _refuse_holding(copy_into)
            copy_journal(source, copy_into)
            _refuse_live(source)  # a run begun while copying would be left behind
            counts = table_counts(source)
            copied = table_counts(copy_into)
            if copied != counts or copy_into.namespace != source.namespace:
                differ = [t for t in counts if copied.get(t) != counts[t]]
                raise JournalError(
                    f"the copy at {copy_into.where} differs from {source.where}: "
                    + (
                        ", ".join(f"{t} {copied.get(t)} rows, not {counts[t]}" for t in differ)
                        or "another id namespace"
                    ),
                    hint=f"{CONFIG_FILE} is unchanged and the project still uses "
                    f"{source.where}; drop and create the database again, make sure "
                    "nothing writes the journal meanwhile, and run `crm-ferry journal copy` "
                    "again",
                )
        where = source.where
    write_atomic(config, edited, mode=config.stat().st_mode & 0o7777)
    moved_to = None
    left = None
    if isinstance(source_target, PostgresTarget):
        left = source_target.where
    else:
        moved_to = _move_aside(source_target)
    return JournalCopyResult(
        source=where,
        source_backend="postgresql" if left is not None else "sqlite",
        target=display_url(to),
        tables=counts,
        config=config,
        moved_to=moved_to,
        left=left,
    )


def _check_url(url: str) -> None:
    """``--to`` is fit for ``[journal] url`` (as ``ferry.toml``'s is checked)."""
    problem = journal_url_problem(url)
    if problem == "scheme":
        raise ConfigError(
            f"--to {display_url(url)!r} is not a PostgreSQL URL",
            hint="pass --to postgresql://USER@HOST:PORT/DATABASE, the URL of an empty database",
        )
    if problem == "password":
        raise ConfigError(
            f"the --to URL holds a password; it would be written to {CONFIG_FILE}, and "
            "secrets are never kept in files",
            hint=f"pass the URL without the password and {_PASSWORD_HINT}",
        )


def _open_hint() -> str:
    return (
        "check the --to URL, that the server is running and reachable, and that the "
        f"password of its user is there: {_PASSWORD_HINT}"
    )


def _same_url(a: str, b: str) -> bool:
    def norm(url: str) -> str:
        return display_url(url).replace("postgres://", "postgresql://", 1)

    return norm(a) == norm(b)


def _refuse_live(journal: Journal) -> None:
    """A run some process is still writing stops the move, named."""
    live = [r for r in journal.runs() if journal.is_live(r)]
    schema = [r for r in journal.schema.unfinished() if journal.schema.is_live(r)]
    if not live and not schema:
        return
    named = [f"{r.kind} run {r.run_id} (pid {r.pid})" for r in live]
    named += [f"{r.kind} run {r.run_id} (pid {r.pid})" for r in schema]
    raise JournalError(
        f"{', '.join(named)} is still writing {journal.where}",
        hint="let it end (or stop it with Ctrl-C: its run is marked interrupted), then run "
        "`crm-ferry journal copy` again; the next run of its kind continues it on the new "
        "journal",
    )


def _refuse_occupied(target: PostgresTarget) -> None:
    """A database holding tables that are not the journal's is left untouched."""
    try:
        tables = database_tables(target)
    except JournalError as exc:
        raise JournalError(exc.message, hint=_open_hint()) from None
    foreign = sorted(set(tables) - set(journal_tables()))
    if foreign:
        shown = ", ".join(foreign[:8]) + (
            f" and {len(foreign) - 8} more" if len(foreign) > 8 else ""
        )
        raise JournalError(
            f"the database at {target.where} is not empty: it holds {len(foreign)} "
            f"table(s) that are not the journal's ({shown})",
            hint="create a new, empty database for the journal (CREATE DATABASE … OWNER "
            "<the url's user>) and pass its URL to --to",
        )


def _refuse_holding(target: Journal) -> None:
    """A journal that holds any row (but its version and namespace) is not overwritten."""
    held = {t: n for t, n in table_counts(target).items() if n and t != "meta"}
    if held:
        shown = ", ".join(f"{n:,} rows in {t}" for t, n in held.items())
        raise JournalError(
            f"the database at {target.where} already holds a journal ({shown})",
            hint="pass --to with a new, empty database; if this journal is no longer "
            "needed, drop the database and create it again, then run "
            "`crm-ferry journal copy` again",
        )


# -- ferry.toml ----------------------------------------------------------------------------

_HEADER = re.compile(r"^[ \t]*\[(?P<name>[^\[\]]*)\][ \t]*(?:#.*)?$")
_ANY_HEADER = re.compile(r"^[ \t]*\[")
_URL_LINE = re.compile(
    r"""^(?P<key>[ \t]*(?:url|"url"|'url')[ \t]*=[ \t]*)"""
    r"""(?P<value>"(?:[^"\\\n]|\\.)*"|'[^'\n]*')?(?P<rest>.*)$"""
)


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _with_journal_url(config: Path, text: str, url: str) -> str:
    """``text`` (``ferry.toml``) with ``[journal] url = url``: the url line of the
    ``[journal]`` table replaced (its comment kept), else one added to that table, else the
    table appended; every other byte as it was. The result is parsed again and must say
    what the old text said but for the url."""
    lines = text.splitlines(keepends=True)
    new_line = f"url = {_toml_string(url)}"
    start = next(
        (
            i
            for i, line in enumerate(lines)
            if (m := _HEADER.match(line.rstrip("\r\n"))) and m["name"].strip() == "journal"
        ),
        None,
    )
    if start is None:
        end = "" if not text or text.endswith("\n") else "\n"
        gap = "\n" if text.strip() else ""
        edited = f"{text}{end}{gap}[journal]\n{new_line}\n"
    else:
        stop = next(
            (i for i in range(start + 1, len(lines)) if _ANY_HEADER.match(lines[i])), len(lines)
        )
        at = next(
            (i for i in range(start + 1, stop) if _URL_LINE.match(lines[i].rstrip("\r\n"))), None
        )
        if at is None:
            newline = "\r\n" if lines[start].endswith("\r\n") else "\n"
            if not lines[start].endswith(("\n", "\r")):
                lines[start] += newline
            lines.insert(start + 1, new_line + newline)
        else:
            body = lines[at].rstrip("\r\n")
            ending = lines[at][len(body) :]
            m = _URL_LINE.match(body)
            assert m is not None
            rest = m["rest"] if m["value"] is not None else ""
            lines[at] = f"{m['key']}{_toml_string(url)}{rest}{ending}"
        edited = "".join(lines)
    try:
        before = tomllib.loads(text)
        after = tomllib.loads(edited)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{config}: cannot set [journal] url in it: {exc}",
            hint=f'set [journal] url = "{url}" in {CONFIG_FILE} by hand after the copy, or '
            "write the [journal] table plainly (a url line of its own) and run again",
        ) from None
    journal = before.get("journal")
    expected = dict(before)
    expected["journal"] = {**(journal if isinstance(journal, dict) else {}), "url": url}
    if after != expected:
        raise ConfigError(
            f"{config}: cannot set [journal] url in it (the [journal] table is not written "
            "as a table of its own lines)",
            hint=f'write it as a [journal] table with a line url = "{url}", or let '
            "`crm-ferry journal copy` append one, then run again",
        )
    return edited


def _move_aside(path: Path) -> Path:
    """Rename the moved SQLite journal (with its side files) out of the way."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    moved = path.with_name(f"{MOVED_PREFIX}{stamp}.sqlite")
    n = 1
    while moved.exists():
        n += 1
        moved = path.with_name(f"{MOVED_PREFIX}{stamp}-{n}.sqlite")
    for suffix in _SIDE_FILES:
        side = Path(f"{path}{suffix}")
        if side.exists():
            os.replace(side, Path(f"{moved}{suffix}"))
    os.replace(path, moved)
    secure_file(moved)
    return moved
