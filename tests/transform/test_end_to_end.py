"""A generated 30-client bundle, transformed and written to the emulator with zero errors."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC
from decimal import Decimal
from typing import Any

import pytest

from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.load.snapshot import read_org_settings, read_target_schema
from crm_ferry.model import Client, Invoice, Reject, Session
from crm_ferry.transform.context import ContextBuilder
from crm_ferry.transform.engine import Transformer
from crm_ferry.transform.ops import PHASE_LINKS, PHASE_ROWS, PHASE_STATE, Operation, target_id
from crm_ferry.transform.roles.opportunities import Skipped
from crm_ferry.transform.schema import tables_for
from helpers.transform import (
    NAMESPACE,
    BundleData,
    full_document,
    provision,
    read_attachment_for,
    seed_users,
    spec_of,
)

LOAD_ORDER = (
    "families",
    "clients",
    "service_types",
    "sessions",
    "session_notes",
    "invoices",
    "invoice_items",
    "payments",
    "activities",
    "files",
)


@pytest.fixture(scope="module")
def loaded(bundle_data: BundleData, emulated: DataverseClient) -> dict[str, Any]:
    client = emulated
    doc = full_document(bundle_data, seed_users())
    provision(client, doc)
    spec = spec_of(doc)
    schema = read_target_schema(client.metadata, tables_for(spec), org=read_org_settings(client))
    builder = ContextBuilder()
    for obj in ContextBuilder.OBJECTS:
        for r in bundle_data.records.get(obj, []):
            builder.add(r)
    context = builder.build(
        read_attachment=read_attachment_for(bundle_data.path), default_currency="USD"
    )
    t = Transformer(spec, schema, NAMESPACE, context)
    ops: list[Operation] = []
    rejects: list[Reject] = []
    skipped: list[Skipped] = []
    for obj in LOAD_ORDER:
        for record in bundle_data.records.get(obj, []):
            out = t.transform(record)
            for item in out:
                if isinstance(item, Reject):
                    rejects.append(item)
                elif isinstance(item, Skipped):
                    skipped.append(item)
                else:
                    ops.append(item)
    ops.extend(t.finish())
    errors: list[str] = []
    # rows: one write_many per table, in the order the tables first appear
    by_table: dict[str, list[Operation]] = defaultdict(list)
    for op in ops:
        if op.kind == "upsert" and op.phase == PHASE_ROWS:
            by_table[op.table].append(op)
    for table, table_ops in by_table.items():
        pk = schema.tables[table].primary_id
        rows = [{**op.payload, pk: op.id} for op in table_ops]
        report = client.write_many(table, rows)
        for r in report.rejected:
            errors.append(f"{table} {table_ops[r.index].source}: {r.error}")
    for op in ops:
        if op.phase == PHASE_LINKS:
            client.upsert(op.table, op.id, op.payload)
    for op in ops:
        if op.phase != PHASE_STATE:
            continue
        try:
            if op.kind in ("state", "close"):
                client.update(op.table, op.id, op.payload)
            elif op.kind == "action":
                assert op.action
                client.call(op.action, op.payload, idempotent=False)
        except Exception as exc:
            errors.append(f"{op.op_key}: {exc}")
    return {
        "ops": ops,
        "rejects": rejects,
        "skipped": skipped,
        "errors": errors,
        "schema": schema,
        "spec": spec,
    }


def test_every_operation_is_written_without_error(loaded: dict[str, Any]) -> None:
    assert loaded["errors"] == []
    kinds = Counter((op.table, op.kind) for op in loaded["ops"])
    assert kinds[("contact", "upsert")] == 30
    assert kinds[("new_session", "upsert")] > 100
    assert kinds[("opportunity", "action")] == kinds[("opportunity", "upsert")] > 0
    assert kinds[("invoice", "state")] > 0
    assert kinds[("phonecall", "close")] > 0


def test_rejects_are_the_planted_problems(loaded: dict[str, Any]) -> None:
    by_id = {(r.object, r.source_id): r for r in loaded["rejects"]}
    assert ("sessions", "ses_0000092") in by_id  # dangling client
    assert ("session_notes", "note_0000072") in by_id  # dangling session
    assert ("invoice_items", "ii_0000073") in by_id  # dangling invoice
    # a linked file, not downloaded: skipped with its reason (documents.linked: skip)
    assert ("files", "file_000002") not in by_id
    (linked,) = loaded["skipped"]
    assert (linked.object, linked.source_id, linked.role) == ("files", "file_000002", "attachment")
    assert "documents.linked: skip" in linked.reason
    for r in loaded["rejects"]:
        assert r.reason
        assert r.file
        assert r.line > 0


def test_rows_read_back(
    loaded: dict[str, Any], emulated: DataverseClient, bundle_data: BundleData
) -> None:
    client = emulated
    clients = {c.id: c for c in bundle_data.records["clients"] if isinstance(c, Client)}
    # a contact: names, owner, original creation time
    c1 = clients["cli_000001"]
    row = client.retrieve("contact", target_id(NAMESPACE, "contact", c1.id))
    assert row["lastname"] == c1.last_name
    assert row["new_practiceid"] == c1.id
    assert c1.created_at is not None
    assert row["createdon"] == c1.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert row["_ownerid_value"] == seed_users()["coach1"]
    # an organization: account, contact parented to it, primary contact linked back
    org = next(c for c in clients.values() if c.type == "organization")
    acc_id = target_id(NAMESPACE, "account", org.id)
    con_id = target_id(NAMESPACE, "contact", org.id)
    acc = client.retrieve("account", acc_id)
    assert acc["name"] == org.organization
    assert acc["_primarycontactid_value"] == con_id
    con = client.retrieve("contact", con_id)
    assert con["_parentcustomerid_value"] == acc_id
    # a session: name, client lookup, start time in UTC
    s = next(
        r
        for r in bundle_data.records["sessions"]
        if isinstance(r, Session) and r.client_id == "cli_000001" and r.start_at
    )
    srow = client.retrieve("new_session", target_id(NAMESPACE, "session", s.id))
    assert s.start_at is not None
    assert srow["new_name"].startswith(s.start_at.date().isoformat())
    assert srow["new_name"].endswith("with " + (c1.full_name or ""))
    assert srow["_new_clientid_value"] == target_id(NAMESPACE, "contact", "cli_000001")
    assert srow["new_start"] == s.start_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert Decimal(str(srow["new_price"])) == s.price
    # an invoice: totals from its lines, state set last
    paid = next(
        r for r in bundle_data.records["invoices"] if isinstance(r, Invoice) and r.status == "paid"
    )
    irow = client.retrieve("invoice", target_id(NAMESPACE, "invoice", paid.id))
    assert irow["statecode"] == 2
    assert irow["statuscode"] == 100001
    assert irow["invoicenumber"] == paid.number
    assert irow["new_sourcestatus"] == "paid"
    # notes hang off their session
    notes = list(
        client.query(
            "annotation",
            filter=f"_objectid_value eq {target_id(NAMESPACE, 'session', 'ses_0000001')}",
        )
    )
    assert notes
    assert notes[0]["objecttypecode"] == "new_session"
    # an opportunity closed as won with the sum of its sessions
    opp = next(op for op in loaded["ops"] if op.table == "opportunity" and op.kind == "upsert")
    orow = client.retrieve("opportunity", opp.id)
    assert orow["statecode"] == 1
    assert orow["statuscode"] == 3
    assert Decimal(str(orow["actualvalue"])) == opp.payload["actualvalue"]
    # a phone call: completed, regarding the client, with its parties
    call = next(op for op in loaded["ops"] if op.table == "phonecall" and op.kind == "upsert")
    crow = client.retrieve("phonecall", call.id, expand="phonecall_activity_parties")
    assert crow["statecode"] == 1
    assert crow["_regardingobjectid_value"]
    parties = crow["phonecall_activity_parties"]
    assert {p["participationtypemask"] for p in parties} == {1, 2}
