"""Transform keeps every bad row to itself (issue 15, points 13, 15 and 24): a file the
bundle refuses, a moment Dataverse cannot hold, a value cut under ``truncate: true``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_ferry.model import Activity, Client, FileRecord, Provenance, Reject, Session
from crm_ferry.sources import open_bundle
from crm_ferry.transform.context import ContextBuilder, TransformContext
from crm_ferry.transform.engine import Transformer
from crm_ferry.transform.ops import Operation
from crm_ferry.transform.schema import TargetSchema
from helpers.transform import NAMESPACE, spec_of

P = Provenance("clients.csv", 9)
CASES = Path(__file__).parents[1] / "cases" / "sources"


def client(cid: str = "c1", **kw: Any) -> Client:
    base: dict[str, Any] = {
        "id": cid,
        "provenance": P,
        "type": "individual",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "coach_id": "usr_0001",
    }
    base.update(kw)
    return Client(**base)


def context(**kw: Any) -> TransformContext:
    b = ContextBuilder()
    b.add(client())
    return b.build(default_currency="USD", **kw)


def file_record(fid: str, path: str) -> FileRecord:
    return FileRecord(
        id=fid,
        provenance=Provenance("files.csv", 2),
        client_id="c1",
        filename=f"{fid}.txt",
        path=path,
    )


# -- 13: what the bundle refuses is a reject of that row, and the run goes on ----------


def test_a_file_the_bundle_refuses_is_a_reject_and_the_next_loads(
    doc: dict[str, Any], schema: TargetSchema, tmp_path: Path
) -> None:
    root = tmp_path / "b"
    (root / "files").mkdir(parents=True)
    (root / "users.csv").write_bytes((CASES / "users.csv").read_bytes())
    (root / "clients.csv").write_text("id,last_name\nc1,Lovelace\n")
    (root / "files" / "ok.txt").write_text("inside")
    (tmp_path / "passwd").write_text("root:x:0:0")
    (root / "files" / "link.txt").symlink_to(tmp_path / "passwd")
    with open_bundle(root) as bundle:
        ctx = context(read_attachment=bundle.read_attachment)
        t = Transformer(spec_of(doc), schema, NAMESPACE, ctx)
        paths = ["files/link.txt", "/etc/passwd", "../passwd", "C:\\x.txt", "a\\b", "f\x00.txt"]
        for n, path in enumerate(paths):
            (reject,) = t.transform(file_record(f"bad{n}", path))
            assert isinstance(reject, Reject), path
            assert reject.column == "path"
            assert reject.value == path
            assert "not inside the bundle" in reject.reason
        (op,) = t.transform(file_record("good", "files/ok.txt"))
        assert isinstance(op, Operation)
        assert op.table == "annotation"


def test_an_attachment_over_the_upload_limit_is_not_read(
    doc: dict[str, Any], schema: TargetSchema
) -> None:
    def read(path: str) -> bytes:
        raise AssertionError("read although its size was known to be over the limit")

    ctx = context(read_attachment=read, attachment_size=lambda path: 300 << 20)
    (reject,) = Transformer(spec_of(doc), schema, NAMESPACE, ctx).transform(
        file_record("f1", "files/huge.bin")
    )
    assert isinstance(reject, Reject)
    assert "upload limit" in reject.reason


# -- 15: moments Dataverse cannot hold are rejects (and the reject path holds) ----------

NY = timezone(timedelta(hours=-5))
TOKYO = timezone(timedelta(hours=9))


@pytest.mark.parametrize(
    "moment",
    [
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=NY),  # 10000-01-01 in UTC
        datetime(1, 1, 1, tzinfo=TOKYO),  # year 0 in UTC
        datetime(1700, 1, 1, tzinfo=UTC),
    ],
)
def test_a_moment_outside_dataverse_is_a_reject(
    doc: dict[str, Any], schema: TargetSchema, moment: datetime
) -> None:
    t = Transformer(spec_of(doc), schema, NAMESPACE, context())
    (reject,) = t.transform(client(created_at=moment))
    assert isinstance(reject, Reject)
    assert reject.column == "created_at"
    assert reject.value == moment.isoformat() or reject.value.endswith("Z")
    assert "1753" in reject.reason


_OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@settings(max_examples=80, deadline=None)
@given(moment=st.datetimes(timezones=_OFFSETS), minutes=st.none() | st.integers(0, 10**7))
def test_any_moment_is_written_or_rejected(
    provisioned: tuple[dict[str, Any], TargetSchema], moment: datetime, minutes: int | None
) -> None:
    """Property: any aware moment, in a client, a session or an activity, gives
    operations or a reject; never an exception."""
    doc, schema = provisioned
    t = Transformer(spec_of(doc), schema, NAMESPACE, context())
    records = [
        client(created_at=moment),
        Session(id="s1", provenance=P, client_id="c1", start_at=moment, status="scheduled"),
        Activity(
            id="a1",
            provenance=P,
            client_id="c1",
            kind="call",
            occurred_at=moment,
            duration_minutes=minutes,
        ),
    ]
    for record in records:
        out = t.transform(record)
        assert all(isinstance(o, Operation) for o in out) or (
            len(out) == 1 and isinstance(out[0], Reject)
        )


# -- 24: every value cut under truncate: true is reported ------------------------------


def test_every_truncation_is_reported_once_with_its_record(
    doc: dict[str, Any], schema: TargetSchema
) -> None:
    doc["targets"]["contact"]["fields"]["city"]["truncate"] = True
    t = Transformer(spec_of(doc), schema, NAMESPACE, context())
    long = "y" * 10_000
    (op,) = t.transform(client("c1", city=long))
    assert isinstance(op, Operation)
    assert op.payload["address1_city"] == "y" * 80
    t.transform(client("c2", city="short"))
    # cut, then rejected for another reason: no truncation of a record that is not loaded
    (reject,) = t.transform(client("c3", city=long, last_name=None, first_name=None))
    assert isinstance(reject, Reject)
    (cut,) = t.take_truncations()
    assert (cut.object, cut.source_id, cut.file, cut.line) == ("clients", "c1", "clients.csv", 9)
    assert (cut.field, cut.where, cut.length, cut.kept) == (
        "city",
        "contact.address1_city",
        10_000,
        80,
    )
    assert cut.value.endswith("...")
    assert len(cut.value) == 200
    assert t.take_truncations() == []


def test_a_name_the_transform_composes_and_cuts_is_reported_too(
    doc: dict[str, Any], schema: TargetSchema
) -> None:
    """A session's name is composed ("<day> <kind> with <client>") and cut to its column:
    the cut is reported like one made under ``truncate: true``."""
    b = ContextBuilder()
    b.add(client("c1", first_name="Ada" * 40, last_name="Lovelace" * 30))
    t = Transformer(spec_of(doc), schema, NAMESPACE, b.build(default_currency="USD"))
    moment = datetime(2024, 5, 6, 10, tzinfo=UTC)
    ops = t.transform(Session(id="s9", provenance=P, client_id="c1", start_at=moment))
    (op,) = [o for o in ops if isinstance(o, Operation)]
    name_col = schema.table(op.table).primary_name
    limit = schema.table(op.table).column(name_col).max_length
    assert len(op.payload[name_col]) == limit
    (cut,) = t.take_truncations()
    assert (cut.source_id, cut.field, cut.where) == (
        "s9",
        "(composed by the transform)",
        f"{op.table}.{name_col}",
    )
    assert (cut.kept, cut.length) == (limit, len("2024-05-06 Session with ") + 120 + 1 + 240)
