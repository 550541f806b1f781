"""Helpers of the load tests: the project a test works on, and dumps that can be compared.

Building it (generate, invite the coaches, propose, confirm, provision) takes seconds; a
copy of its emulator data folder and project folder takes milliseconds. Each test gets its
own emulator (SQLite under its tmp_path) and its own project (journal, map, runs).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.emulator import EmulatorApp
from crm_ferry.settings import Settings

CLIENTS = 40
SEED = 11
VOLATILE = frozenset(
    {"createdon", "modifiedon", "versionnumber", "modifiedby", "modifiedby@lookuplogicalname"}
)


@dataclass
class Project:
    root: Path
    bundle: Path
    settings: Settings
    app: EmulatorApp
    client: DataverseClient
    data_dir: Path

    def dump(self) -> dict[str, list[dict[str, Any]]]:
        return dict(self.app.dump()["records"])


def comparable(dump: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
    """A dump without what changes with the wall clock (times a row was written, versions),
    and without ids the service makes up (the opportunity close of WinOpportunity)."""
    import json

    out: dict[str, list[str]] = {}
    for table, rows in dump.items():
        items = []
        for row in rows:
            clean = {k: v for k, v in row.items() if k not in VOLATILE}
            if table in ("opportunityclose", "activitypointer", "activityparty"):
                clean = {k: v for k, v in clean.items() if not k.endswith("id") or "@" in k}
                clean.pop("activityid", None)
            if "createdon" in row and "overriddencreatedon" in row:
                clean["createdon"] = row["createdon"]
            items.append(json.dumps(clean, sort_keys=True, default=str))
        if items:
            out[table] = sorted(items)
    return out


# -- newer exports, for the delta tests ------------------------------------------------------

Row = dict[str, Any]
"""One record of a bundle file as read (CSV: text cells; JSON Lines: the decoded object)."""


def copy_bundle(src: Path, dst: Path) -> Path:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    return dst


def bundle_file(bundle: Path, obj: str) -> Path:
    """The file of ``obj`` in a generated bundle (``sessions.csv``, ``activities.jsonl``,
    ``service_types.json``)."""
    found = sorted(p for p in bundle.glob(f"{obj}.*") if p.suffix in (".csv", ".jsonl", ".json"))
    assert len(found) == 1, (obj, found)
    return found[0]


def read_rows(bundle: Path, obj: str) -> list[Row]:
    path = bundle_file(bundle, obj)
    if path.suffix == ".json":
        rows: list[Row] = json.loads(path.read_text(encoding="utf-8"))
        return rows
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def rewrite_rows(
    bundle: Path,
    obj: str,
    keep: Callable[[Row], bool] = lambda row: True,
    edit: Callable[[Row], Row] = lambda row: row,
    add: Iterable[Row] = (),
) -> list[Row]:
    """Rewrite one file of ``bundle`` in place, in its own format (BOM, line ends): the rows
    ``keep`` keeps, each through ``edit``, then ``add``. Returns the rows it left out."""
    path = bundle_file(bundle, obj)
    rows = read_rows(bundle, obj)
    kept = [edit(dict(r)) for r in rows if keep(r)]
    dropped = [r for r in rows if not keep(r)]
    kept.extend(dict(r) for r in add)
    if path.suffix == ".json":
        path.write_text(json.dumps(kept, indent=2) + "\n", encoding="utf-8")
        return dropped
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
        return dropped
    raw = path.read_bytes()
    with path.open(encoding="utf-8-sig", newline="") as fh:
        head = next(csv.reader(fh))
    out = io.StringIO()
    writer = csv.DictWriter(out, head, lineterminator="\r\n" if b"\r\n" in raw else "\n")
    writer.writeheader()
    writer.writerows(kept)
    path.write_text(out.getvalue(), encoding="utf-8-sig" if raw[:3] == b"\xef\xbb\xbf" else "utf-8")
    return dropped


def remove_records(bundle: Path, ids: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """Remove records by object and id from ``bundle`` (in place); the ids removed."""
    out: dict[str, list[str]] = {}
    for obj, wanted in ids.items():
        gone = set(wanted)
        dropped = rewrite_rows(bundle, obj, keep=lambda r, gone=gone: r["id"] not in gone)
        out[obj] = sorted(r["id"] for r in dropped)
        assert set(out[obj]) == gone, (obj, gone - set(out[obj]))
    return out


def remove_client(bundle: Path, client_id: str) -> dict[str, list[str]]:
    """Remove a client from ``bundle`` (in place) as the practice deleting it would: the
    client, its properties, sessions, notes, files, invoices with their items and payments,
    and activities. Returns the ids removed per object."""
    removed: dict[str, list[str]] = {}

    def of_client(obj: str) -> None:
        dropped = rewrite_rows(bundle, obj, keep=lambda r: r.get("client_id") != client_id)
        removed[obj] = sorted(r["id"] for r in dropped)

    removed["clients"] = remove_records(bundle, {"clients": [client_id]})["clients"]
    rewrite_rows(bundle, "client_properties", keep=lambda r: r["client_id"] != client_id)
    for obj in ("sessions", "invoices", "activities", "files"):
        of_client(obj)
    sessions, invoices = set(removed["sessions"]), set(removed["invoices"])
    dropped = rewrite_rows(
        bundle,
        "session_notes",
        keep=lambda r: r.get("client_id") != client_id and r.get("session_id") not in sessions,
    )
    removed["session_notes"] = sorted(r["id"] for r in dropped)
    for obj in ("invoice_items", "payments"):
        dropped = rewrite_rows(bundle, obj, keep=lambda r: r.get("invoice_id") not in invoices)
        removed[obj] = sorted(r["id"] for r in dropped)
    return {k: v for k, v in removed.items() if v}


def interrupted_run(project: Project, monkeypatch: Any, *, at: int) -> str:
    """Run migrate until the ``at``-th group is handed to the client (Ctrl-C there); the
    interrupted run's id (``monkeypatch``: pytest's, to stop the writes and put them back)."""
    import pytest

    from crm_ferry.commands.migrate import run_load
    from crm_ferry.errors import Interrupted
    from crm_ferry.load import engine

    calls = {"n": 0}
    write = engine.write_many

    def stop(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == at:
            raise KeyboardInterrupt
        return write(*args, **kwargs)

    monkeypatch.setattr(engine, "write_many", stop)
    with pytest.raises(Interrupted) as stopped:
        run_load(project.settings, client=project.client, skip_sample_gate=True)
    monkeypatch.setattr(engine, "write_many", write)
    (run_id,) = stopped.value.runs
    return str(run_id)
