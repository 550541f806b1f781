"""Helpers of the load tests: the project a test works on, and dumps that can be compared.

Building it (generate, invite the coaches, propose, confirm, provision) takes seconds; a
copy of its emulator data folder and project folder takes milliseconds. Each test gets its
own emulator (SQLite under its tmp_path) and its own project (journal, map, runs).
"""

from __future__ import annotations

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
