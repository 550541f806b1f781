"""SQLite storage of the emulated tenant: rows as JSON, alternate-key values indexed, schema.

One database: in memory without a folder, ``<data_dir>/emulator.sqlite`` (WAL) with one, so
a restarted emulator on the same folder sees the same tenant. The folder is owner-only (0700)
and the database file 0600 before SQLite opens it (its ``-wal`` and ``-shm`` files take the
database file's mode): it holds the migrated client data. Rows are JSON objects keyed by
(table, primary id). Alternate-key values live in their own index table so that lookups and
uniqueness checks by key do not scan a table; Dataverse compares key values with the
database's case-insensitive collation, so string parts are case-folded in the index.

Lookup values have an index table too (``refidx``: table, column, id → value, searchable by
value), for the columns rows are looked up by (``Store.referencing``: a cascade, an invoice's
lines, ``$filter=_<lookup>_value eq ...``). A column is indexed the first time it is asked
for (``refcols`` lists those) and from then on kept up to date by every write of its table;
columns never asked for cost writes nothing. (An index on ``json_extract(data, ...)`` would
do the same without the table, but SQLite before 3.41 decodes each found row's JSON again to
check it, which made a lookup that finds 500 rows take 40 ms instead of 2.)

Files and images (File and Image columns) are kept outside the rows, in ``blobs``: one per
stored file, owned by the row and column it belongs to (deleting the row deletes them).
Transfers in progress (chunked uploads, ``UploadBlock`` sessions, downloads) are
``transfers``, their uploaded pieces ``blocks``; both are rolled back with the request that
wrote them, like rows.

Transactions are SQLite savepoints, nestable: the core opens one per request (one commit per
request, never one per row), change sets and bulk messages nest theirs inside it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from crm_ferry.owner_only import secure_dir, secure_file

DB_NAME = "emulator.sqlite"
_CHUNK = 500
"""Values bound per ``IN (...)`` query."""

_DDL = """
CREATE TABLE IF NOT EXISTS rows (
    entity TEXT NOT NULL,
    id TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (entity, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS keyidx (
    entity TEXT NOT NULL,
    sig TEXT NOT NULL,
    val TEXT NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (entity, sig, val, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS keyidx_by_id ON keyidx (entity, id);
CREATE TABLE IF NOT EXISTS refidx (
    entity TEXT NOT NULL,
    col TEXT NOT NULL,
    id TEXT NOT NULL,
    val NOT NULL,
    PRIMARY KEY (entity, col, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS refidx_by_val ON refidx (entity, col, val, id);
CREATE TABLE IF NOT EXISTS refcols (
    entity TEXT NOT NULL,
    col TEXT NOT NULL,
    PRIMARY KEY (entity, col)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blobs (
    id TEXT PRIMARY KEY,
    entity TEXT NOT NULL,
    row_id TEXT NOT NULL,
    col TEXT NOT NULL,
    meta TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS blobs_by_owner ON blobs (entity, row_id, col);
CREATE TABLE IF NOT EXISTS transfers (token TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (
    token TEXT NOT NULL,
    block TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (token, block)
);
"""


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"))
"""How rows are stored: ``json.dumps(row, sort_keys=True, separators=(",", ":"))`` without
building an encoder per row."""


def key_signature(columns: Sequence[str]) -> str:
    """The name a key's values are indexed under: its columns, in key order."""
    return ",".join(columns)


def key_value(row: dict[str, Any], columns: Sequence[str]) -> str | None:
    """The indexed form of a row's key values, or None when a part is empty (not indexed)."""
    parts: list[Any] = []
    for col in columns:
        value = row.get(col)
        if value is None:
            return None
        parts.append(value.casefold() if isinstance(value, str) else value)
    return json.dumps(parts, separators=(",", ":"))


def _indexed_value(value: Any) -> Any:
    """A row's value as ``json_extract`` gives it (what the lookup index holds), or None."""
    if value is None or isinstance(value, str | int | float):
        return value  # bool is an int: json_extract gives 1 / 0 for true / false too
    return _ENCODER.encode(value)


class Store:
    """Rows, key index and schema in one SQLite connection (the caller holds the lock)."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.persistent = data_dir is not None
        """Whether the store outlives the process (a data folder), not only memory."""
        if data_dir is None:
            target = ":memory:"
        else:
            secure_dir(data_dir)
            target = str(secure_file(data_dir / DB_NAME))
            for suffix in ("-wal", "-shm"):  # left by an emulator of an earlier version
                side = data_dir / f"{DB_NAME}{suffix}"
                if side.exists():
                    secure_file(side)
        self.conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
        if data_dir is not None:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(_DDL)
        for (name,) in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'ref:%'"
        ).fetchall():
            # the expression indexes earlier versions made: refidx does their work
            self.conn.execute(f'DROP INDEX IF EXISTS "{name}"')
        self._depth = 0
        self._indexed: set[tuple[str, str]] = set()
        self._absent: set[tuple[str, str]] = set()
        """(entity, id) known to have no row (see :meth:`known_absent`)."""
        self._refcols: dict[str, tuple[str, ...]] | None = None
        """Indexed lookup columns by table (``refcols``; None: to be read again)."""

    # -- transactions ----------------------------------------------------------------

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Everything inside is atomic; nested savepoints roll back on their own."""
        name = f"sp{self._depth}"
        self.conn.execute(f"SAVEPOINT {name}")
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            self.conn.execute(f"ROLLBACK TO {name}")
            self.conn.execute(f"RELEASE {name}")
            self._indexed.clear()  # an index build may have been rolled back
            self._refcols = None  # and so may a lookup index's creation
            self._absent.clear()  # a row deleted since may be back
            raise
        else:
            self._depth -= 1
            self.conn.execute(f"RELEASE {name}")

    # -- rows ------------------------------------------------------------------------

    def get(self, entity: str, row_id: str) -> dict[str, Any] | None:
        if self._absent and (entity, row_id) in self._absent:
            return None
        cur = self.conn.execute("SELECT data FROM rows WHERE entity=? AND id=?", (entity, row_id))
        found = cur.fetchone()
        return None if found is None else dict(json.loads(found[0]))

    def value_of(self, entity: str, row_id: str, column: str) -> Any:
        """One column's value of a row (None when the row or the value is missing), without
        decoding the whole row."""
        if self._absent and (entity, row_id) in self._absent:
            return None
        cur = self.conn.execute(
            "SELECT json_extract(data, ?) FROM rows WHERE entity=? AND id=?",
            (f'$."{column}"', entity, row_id),
        )
        found = cur.fetchone()
        return None if found is None else found[0]

    def exists(self, entity: str, row_id: str) -> bool:
        """Whether :meth:`get` would find the row (without decoding it)."""
        if self._absent and (entity, row_id) in self._absent:
            return False
        cur = self.conn.execute("SELECT 1 FROM rows WHERE entity=? AND id=?", (entity, row_id))
        return cur.fetchone() is not None

    def put(
        self,
        entity: str,
        row_id: str,
        row: dict[str, Any],
        keys: Sequence[Sequence[str]] = (),
    ) -> None:
        """Insert or replace a row and re-index its values for the given keys."""
        self._absent.discard((entity, row_id))
        self.conn.execute(
            "INSERT OR REPLACE INTO rows (entity, id, data) VALUES (?, ?, ?)",
            (entity, row_id, _ENCODER.encode(row)),
        )
        indexed = self._lookup_columns().get(entity)
        if indexed:
            for column in indexed:
                value = _indexed_value(row.get(column))
                if value is None:
                    self.conn.execute(
                        "DELETE FROM refidx WHERE entity=? AND col=? AND id=?",
                        (entity, column, row_id),
                    )
                else:
                    self.conn.execute(
                        "INSERT OR REPLACE INTO refidx VALUES (?, ?, ?, ?)",
                        (entity, column, row_id, value),
                    )
        if keys:
            self.conn.execute("DELETE FROM keyidx WHERE entity=? AND id=?", (entity, row_id))
            for columns in keys:
                value = key_value(row, columns)
                if value is not None:
                    self.conn.execute(
                        "INSERT OR IGNORE INTO keyidx VALUES (?, ?, ?, ?)",
                        (entity, key_signature(columns), value, row_id),
                    )

    @contextmanager
    def known_absent(self, entity: str, row_ids: Sequence[str]) -> Iterator[None]:
        """Inside, :meth:`get` answers None for those of ``row_ids`` that have no row, without
        a query each (one query per 500 ids up front): for a bulk write of new rows. A row
        written inside is forgotten from the set, and a rollback forgets them all."""
        wanted = sorted(set(row_ids))
        present: set[str] = set()
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            cur = self.conn.execute(
                f"SELECT id FROM rows WHERE entity=? AND id IN ({marks})", (entity, *chunk)
            )
            present.update(r[0] for r in cur.fetchall())
        self._absent.update((entity, i) for i in wanted if i not in present)
        try:
            yield
        finally:
            self._absent.clear()

    def delete(self, entity: str, row_id: str) -> bool:
        """Delete a row, its key and lookup index entries and the files it owns."""
        cur = self.conn.execute("DELETE FROM rows WHERE entity=? AND id=?", (entity, row_id))
        self.conn.execute("DELETE FROM keyidx WHERE entity=? AND id=?", (entity, row_id))
        self.conn.execute("DELETE FROM blobs WHERE entity=? AND row_id=?", (entity, row_id))
        columns = self._lookup_columns().get(entity, ())
        if columns:
            marks = ",".join("?" * len(columns))
            self.conn.execute(
                f"DELETE FROM refidx WHERE entity=? AND id=? AND col IN ({marks})",
                (entity, row_id, *columns),
            )
        return cur.rowcount > 0

    def rows(self, entity: str) -> Iterator[dict[str, Any]]:
        """Every row of a table, ordered by primary id."""
        cur = self.conn.execute("SELECT data FROM rows WHERE entity=? ORDER BY id", (entity,))
        for (data,) in cur.fetchall():
            yield json.loads(data)

    def get_many(self, entity: str, row_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The rows of ``entity`` with these primary ids (those that exist), ordered by id
        as :meth:`rows` orders them; one query per 500 ids."""
        wanted = sorted(set(row_ids))
        found: list[tuple[str, str]] = []
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            found += self.conn.execute(
                f"SELECT id, data FROM rows WHERE entity=? AND id IN ({marks})", (entity, *chunk)
            ).fetchall()
        found.sort()
        return [json.loads(data) for _, data in found]

    def _lookup_columns(self) -> dict[str, tuple[str, ...]]:
        if self._refcols is None:
            found: dict[str, list[str]] = {}
            for entity, column in self.conn.execute(
                "SELECT entity, col FROM refcols ORDER BY entity, col"
            ).fetchall():
                found.setdefault(entity, []).append(column)
            self._refcols = {k: tuple(v) for k, v in found.items()}
        return self._refcols

    def _ensure_lookup_index(self, entity: str, column: str) -> None:
        """Index ``column`` of ``entity`` (once; kept up to date by :meth:`put`)."""
        if column in self._lookup_columns().get(entity, ()):
            return
        path = f'$."{column}"'
        self.conn.execute(
            "INSERT OR REPLACE INTO refidx (entity, col, id, val) "
            "SELECT entity, ?, id, json_extract(data, ?) FROM rows "
            "WHERE entity = ? AND json_extract(data, ?) IS NOT NULL",
            (column, path, entity, path),
        )
        self.conn.execute("INSERT OR IGNORE INTO refcols VALUES (?, ?)", (entity, column))
        self._refcols = None

    def rows_after(self, entity: str, after: str | None = None) -> Iterator[dict[str, Any]]:
        """The rows of a table whose primary id sorts after ``after`` (all when None), in
        primary id order, read 500 at a time (no statement is left open between reads, so
        the caller may stop early and may query in between)."""
        last = after
        while True:
            if last is None:
                cur = self.conn.execute(
                    "SELECT id, data FROM rows WHERE entity=? ORDER BY id LIMIT ?",
                    (entity, _CHUNK),
                )
            else:
                cur = self.conn.execute(
                    "SELECT id, data FROM rows WHERE entity=? AND id > ? ORDER BY id LIMIT ?",
                    (entity, last, _CHUNK),
                )
            found = cur.fetchall()
            for _, data in found:
                yield json.loads(data)
            if len(found) < _CHUNK:
                return
            last = found[-1][0]

    def referencing(self, entity: str, column: str, value: str) -> list[tuple[str, dict[str, Any]]]:
        """(id, row) of the rows of ``entity`` whose ``column`` holds ``value`` (a lookup),
        ordered by id, through the lookup index (made the first time it is asked for)."""
        self._ensure_lookup_index(entity, column)
        cur = self.conn.execute(
            "SELECT r.id, r.data FROM refidx x JOIN rows r ON r.entity = x.entity AND r.id = x.id "
            "WHERE x.entity = ? AND x.col = ? AND x.val = ? ORDER BY x.id",
            (entity, column, value),
        )
        return [(row_id, json.loads(data)) for row_id, data in cur.fetchall()]

    def referencing_any(
        self, entity: str, column: str, values: Sequence[str]
    ) -> list[dict[str, Any]]:
        """The rows of ``entity`` whose ``column`` holds one of ``values``, ordered by id (as
        :meth:`rows` orders them), through the lookup index; one query per 500 values."""
        self._ensure_lookup_index(entity, column)
        wanted = sorted(set(values))
        ids: set[str] = set()
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            cur = self.conn.execute(
                f"SELECT id FROM refidx WHERE entity = ? AND col = ? AND val IN ({marks})",
                (entity, column, *chunk),
            )
            ids.update(r[0] for r in cur.fetchall())
        return self.get_many(entity, sorted(ids))

    def referenced_by(
        self, lookups: Sequence[tuple[str, str]], value: str
    ) -> dict[tuple[str, str], list[str]]:
        """For each (table, lookup column) of ``lookups``: the ids of its rows that hold
        ``value`` (ordered by id; absent when none), in one query through the lookup index."""
        if not lookups:
            return {}
        for entity, column in lookups:
            self._ensure_lookup_index(entity, column)
        # one indexed search per lookup (MULTI-INDEX OR); a row-value IN would scan
        where = " OR ".join("(entity=? AND col=? AND val=?)" for _ in lookups)
        cur = self.conn.execute(
            f"SELECT entity, col, id FROM refidx WHERE {where} ORDER BY entity, col, id",
            tuple(x for entity, column in lookups for x in (entity, column, value)),
        )
        out: dict[tuple[str, str], list[str]] = {}
        for entity, column, row_id in cur.fetchall():
            out.setdefault((entity, column), []).append(row_id)
        return out

    def count_rows(self, entity: str) -> int:
        cur = self.conn.execute("SELECT COUNT(*) FROM rows WHERE entity=?", (entity,))
        return int(cur.fetchone()[0])

    def entities(self) -> list[str]:
        cur = self.conn.execute("SELECT DISTINCT entity FROM rows ORDER BY entity")
        return [r[0] for r in cur.fetchall()]

    # -- alternate keys --------------------------------------------------------------

    def ensure_key_index(self, entity: str, columns: Sequence[str]) -> None:
        """Index the key's values of rows written before the key existed (once)."""
        marker = (entity, key_signature(columns))
        if marker in self._indexed:
            return
        sig = key_signature(columns)
        self.conn.execute("DELETE FROM keyidx WHERE entity=? AND sig=?", (entity, sig))
        for row_id, data in self.conn.execute(
            "SELECT id, data FROM rows WHERE entity=?", (entity,)
        ).fetchall():
            value = key_value(json.loads(data), columns)
            if value is not None:
                self.conn.execute(
                    "INSERT OR IGNORE INTO keyidx VALUES (?, ?, ?, ?)", (entity, sig, value, row_id)
                )
        self._indexed.add(marker)

    def find_by_key(self, entity: str, columns: Sequence[str], values: dict[str, Any]) -> list[str]:
        """Ids of rows whose key columns hold ``values`` (case-insensitive for text)."""
        self.ensure_key_index(entity, columns)
        value = key_value(values, columns)
        if value is None:
            return []
        cur = self.conn.execute(
            "SELECT id FROM keyidx WHERE entity=? AND sig=? AND val=? ORDER BY id",
            (entity, key_signature(columns), value),
        )
        return [r[0] for r in cur.fetchall()]

    def has_duplicates(self, entity: str, columns: Sequence[str]) -> bool:
        """Whether two rows share the values of ``columns`` (blocks a key's activation)."""
        return bool(self.duplicate_values(entity, columns))

    def duplicate_values(self, entity: str, columns: Sequence[str]) -> list[str]:
        """The indexed key values held by more than one row."""
        self.ensure_key_index(entity, columns)
        cur = self.conn.execute(
            "SELECT val FROM keyidx WHERE entity=? AND sig=? GROUP BY val HAVING COUNT(*) > 1 "
            "ORDER BY val",
            (entity, key_signature(columns)),
        )
        return [r[0] for r in cur.fetchall()]

    # -- metadata-driven changes -----------------------------------------------------

    def drop_table(self, entity: str) -> None:
        self.conn.execute("DELETE FROM blobs WHERE entity=?", (entity,))
        self.conn.execute("DELETE FROM rows WHERE entity=?", (entity,))
        self.conn.execute("DELETE FROM keyidx WHERE entity=?", (entity,))
        self.conn.execute("DELETE FROM refidx WHERE entity=?", (entity,))
        self.conn.execute("DELETE FROM refcols WHERE entity=?", (entity,))
        self._refcols = None
        self._indexed = {m for m in self._indexed if m[0] != entity}

    def drop_column(self, entity: str, column: str) -> None:
        """Remove a deleted column's values (and its lookup annotations) from every row."""
        for row_id, data in self.conn.execute(
            "SELECT id, data FROM rows WHERE entity=?", (entity,)
        ).fetchall():
            row = json.loads(data)
            names = [k for k in row if k == column or k.startswith(column + "@")]
            if names:
                for name in names:
                    del row[name]
                self.put(entity, row_id, row)
        self.conn.execute("DELETE FROM refidx WHERE entity=? AND col=?", (entity, column))
        self.conn.execute("DELETE FROM refcols WHERE entity=? AND col=?", (entity, column))
        self._refcols = None

    def drop_media(self, entity: str, column: str | None, records_of: str) -> None:
        """Delete the files stored for ``column`` of ``entity`` (every column when None) and
        the rows of ``records_of`` (the file attachment table) that describe them."""
        where, args = (
            ("entity=?", [entity]) if column is None else ("entity=? AND col=?", [entity, column])
        )
        ids = [r[0] for r in self.conn.execute(f"SELECT id FROM blobs WHERE {where}", args)]
        for row_id in ids:
            self.delete(records_of, row_id)
        self.conn.execute(f"DELETE FROM blobs WHERE {where}", args)

    # -- files -----------------------------------------------------------------------

    def put_blob(
        self, blob_id: str, owner: tuple[str, str, str], data: bytes, meta: dict[str, Any]
    ) -> None:
        """Store a file (replacing one with the same id), owned by (table, row id, column)."""
        self.conn.execute(
            "INSERT OR REPLACE INTO blobs (id, entity, row_id, col, meta, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (blob_id, *owner, _ENCODER.encode(meta), data),
        )

    def blob_info(self, blob_id: str) -> tuple[tuple[str, str, str], dict[str, Any], int] | None:
        """(owner, meta, size in bytes) of a stored file, without reading its data."""
        found = self.conn.execute(
            "SELECT entity, row_id, col, meta, length(data) FROM blobs WHERE id=?", (blob_id,)
        ).fetchone()
        if found is None:
            return None
        entity, row_id, col, meta, size = found
        return (entity, row_id, col), dict(json.loads(meta)), int(size)

    def read_blob(self, blob_id: str, start: int = 0, length: int | None = None) -> bytes | None:
        """``length`` bytes of a stored file from ``start`` (to its end when None)."""
        if length is None:
            found = self.conn.execute(
                "SELECT substr(data, ?) FROM blobs WHERE id=?", (start + 1, blob_id)
            ).fetchone()
        else:
            found = self.conn.execute(
                "SELECT substr(data, ?, ?) FROM blobs WHERE id=?", (start + 1, length, blob_id)
            ).fetchone()
        return None if found is None else bytes(found[0])

    def delete_blob(self, blob_id: str) -> None:
        self.conn.execute("DELETE FROM blobs WHERE id=?", (blob_id,))

    # -- transfers in progress -------------------------------------------------------

    def put_transfer(self, token: str, data: dict[str, Any]) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO transfers (token, data) VALUES (?, ?)",
            (token, _ENCODER.encode(data)),
        )

    def get_transfer(self, token: str) -> dict[str, Any] | None:
        found = self.conn.execute("SELECT data FROM transfers WHERE token=?", (token,)).fetchone()
        return None if found is None else dict(json.loads(found[0]))

    def delete_transfer(self, token: str) -> None:
        """Forget a transfer and the blocks uploaded for it."""
        self.conn.execute("DELETE FROM transfers WHERE token=?", (token,))
        self.conn.execute("DELETE FROM blocks WHERE token=?", (token,))

    def put_block(self, token: str, block: str, data: bytes) -> None:
        """Keep one uploaded block (a block uploaded again under the same id replaces it)."""
        self.conn.execute(
            "INSERT OR REPLACE INTO blocks (token, block, data) VALUES (?, ?, ?)",
            (token, block, data),
        )

    def block_sizes(self, token: str) -> dict[str, int]:
        """The blocks uploaded for a transfer and their sizes, in block id order."""
        cur = self.conn.execute(
            "SELECT block, length(data) FROM blocks WHERE token=? ORDER BY block", (token,)
        )
        return {block: int(size) for block, size in cur.fetchall()}

    def read_blocks(self, token: str, blocks: Sequence[str]) -> bytes:
        """The data of ``blocks`` (all uploaded) joined in the order given."""
        found = dict(
            self.conn.execute("SELECT block, data FROM blocks WHERE token=?", (token,)).fetchall()
        )
        return b"".join(bytes(found[b]) for b in blocks)

    def drop_lookup_target(self, entity: str, column: str, target: str) -> None:
        """Clear a lookup column in the rows where it points to ``target`` (the table a
        lookup points to is kept under ``<column>@lookuplogicalname``): one table taken
        from a multi-table lookup."""
        type_key = f"{column}@lookuplogicalname"
        for row_id, data in self.conn.execute(
            "SELECT id, data FROM rows WHERE entity=? AND json_extract(data, ?) = ?",
            (entity, f'$."{type_key}"', target),
        ).fetchall():
            row = json.loads(data)
            for name in [k for k in row if k == column or k.startswith(column + "@")]:
                del row[name]
            self.put(entity, row_id, row)

    # -- metadata --------------------------------------------------------------------

    def get_meta(self, name: str) -> str | None:
        cur = self.conn.execute("SELECT value FROM meta WHERE name=?", (name,))
        found = cur.fetchone()
        return None if found is None else str(found[0])

    def set_meta(self, name: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value))

    def meta_names(self, prefix: str) -> list[str]:
        cur = self.conn.execute(
            "SELECT name FROM meta WHERE substr(name, 1, ?) = ? ORDER BY name",
            (len(prefix), prefix),
        )
        return [str(r[0]) for r in cur.fetchall()]

    def delete_meta(self, name: str) -> None:
        self.conn.execute("DELETE FROM meta WHERE name=?", (name,))

    def max_version(self) -> int:
        cur = self.conn.execute(
            "SELECT MAX(CAST(json_extract(data, '$.versionnumber') AS INTEGER)) FROM rows"
        )
        found = cur.fetchone()[0]
        return int(found) if found is not None else 0

    def close(self) -> None:
        self.conn.close()


__all__ = ["DB_NAME", "Store", "key_signature", "key_value"]
