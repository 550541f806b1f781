"""The profile's value sets hold what the reader accepts; the values of the rows it rejects
are kept apart, each with those rows and why."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from crm_ferry.mapping.profile import profile_source
from crm_ferry.model import Reject, Session
from crm_ferry.sources.bundle import open_bundle

STATUSES = ("completed", "scheduled", "Cancelled", "no_show", "finished", "postponed", "")
TYPES = ("intro", "one_on_one", "Walk and talk", "VIP intensive", "")
USERS = "id,email,first_name,last_name,role,active\nU1,cora@example.com,Cora,One,coach,true\n"
CLIENTS = "id,first_name,last_name,coach_id\nC1,Ann,Lee,U1\n"

row = st.tuples(
    st.sampled_from(["S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8"]),
    st.sampled_from(STATUSES),
    st.sampled_from(TYPES),
    st.sampled_from(["2024-02-01T09:00:00", "2024-02-01", "soon"]),
)


def _write(root: Path, rows: list[tuple[str, str, str, str]], fmt: str) -> None:
    (root / "users.csv").write_text(USERS, encoding="utf-8")
    (root / "clients.csv").write_text(CLIENTS, encoding="utf-8")
    fields = ("id", "client_id", "status", "session_type", "start_at")
    records = [
        dict(zip(fields, (sid, "C1", status, kind, start), strict=True))
        for sid, status, kind, start in rows
    ]
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        (root / "sessions.csv").write_text(buf.getvalue(), encoding="utf-8")
    elif fmt == "jsonl":
        text = "\n".join(json.dumps(r) for r in records)  # a blank line counts as a line
        (root / "sessions.jsonl").write_text("\n" + text + "\n", encoding="utf-8")
    else:
        (root / "sessions.json").write_text(json.dumps(records), encoding="utf-8")


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(row, min_size=1, max_size=12), fmt=st.sampled_from(["csv", "jsonl", "json"]))
def test_value_sets_are_the_accepted_rows_and_the_rejected_ones_are_apart(
    rows: list[tuple[str, str, str, str]], fmt: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _write(root, rows, fmt)
        with open_bundle(root) as bundle:
            items = list(bundle.read("sessions"))
            profile = profile_source(bundle)
    accepted = [i for i in items if isinstance(i, Session)]
    refused = {i.line: i for i in items if isinstance(i, Reject)}
    assert dict(profile.value_sets.get("session_status", {})) == dict(
        Counter(s.status for s in accepted if s.status)
    )
    assert dict(profile.value_sets.get("session_type", {})) == dict(
        Counter(s.session_type for s in accepted if s.session_type)
    )
    # every value of a rejected row is kept with that row (as far as examples go) and its reason
    for name, field in (("session_status", 1), ("session_type", 2)):
        held = profile.rejected_values.get(name, {})
        lines = {line for rv in held.values() for line in (r.line for r in rv.examples)}
        assert lines <= set(refused)
        for rv in held.values():
            for r in rv.examples:
                assert r.file.startswith("sessions.")
                assert refused[r.line].reason in r.reason
        wanted = Counter(
            (rows[n][field].strip().lower() if name == "session_status" else rows[n][field].strip())
            for n in range(len(rows))
            if _line(n, fmt) in refused and rows[n][field].strip()
        )
        assert {v: rv.rows for v, rv in held.items()} == dict(wanted)
        only = profile.only_rejected(name)
        assert set(only) == set(held) - set(profile.value_sets.get(name, {}))


def _line(n: int, fmt: str) -> int:
    """The line (JSON: position) the reader gives the ``n``-th row written by :func:`_write`:
    after the header of a CSV file, after the blank first line of JSON Lines."""
    return n + 1 if fmt == "json" else n + 2
