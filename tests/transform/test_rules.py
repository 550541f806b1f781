"""Each transform rule on small hand-built records (pure: the snapshot is taken once)."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_ferry.dataverse.metadata import ColumnInfo
from crm_ferry.dataverse.odata import json_default
from crm_ferry.errors import MapError
from crm_ferry.mapping.spec import MapDocument
from crm_ferry.model import (
    Activity,
    Client,
    Family,
    FileRecord,
    Invoice,
    InvoiceItem,
    Payment,
    Provenance,
    Reject,
    ServiceType,
    Session,
    SessionNote,
)
from crm_ferry.transform.context import ContextBuilder, TransformContext
from crm_ferry.transform.engine import Transformer
from crm_ferry.transform.html import html_to_text
from crm_ferry.transform.ops import PHASE_LINKS, PHASE_ROWS, PHASE_STATE, Operation, target_id
from crm_ferry.transform.roles.opportunities import Skipped
from crm_ferry.transform.schema import OrgSettings, TableSchema, TargetSchema
from helpers.transform import NAMESPACE, custom_column, seed_users, spec_of

NY = timezone(timedelta(hours=-5))
USERS = seed_users()
P = Provenance("x.csv", 7)


def tid(role: str, source: str) -> str:
    return target_id(NAMESPACE, role, source)


def client(cid: str = "c1", **kw: Any) -> Client:
    base: dict[str, Any] = {
        "id": cid,
        "provenance": P,
        "type": "individual",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "full_name": "Ada Lovelace",
        "coach_id": "usr_0001",
        "created_at": datetime(2022, 3, 6, 11, 15, tzinfo=NY),
    }
    base.update(kw)
    return Client(**base)


ORG = client(
    "o1",
    type="organization",
    organization="Acme Coaching Ltd",
    first_name="Grace",
    last_name="Hopper",
    full_name="Grace Hopper",
    vertical="Consulting",
)
SVC = ServiceType(
    id="svc_02", provenance=P, name="1:1 Coaching (60 min)", default_rate=Decimal(150)
)


def session(sid: str = "s1", **kw: Any) -> Session:
    base: dict[str, Any] = {
        "id": sid,
        "provenance": P,
        "client_id": "c1",
        "coach_id": "usr_0001",
        "service_type_id": "svc_02",
        "session_type": "one_on_one",
        "status": "completed",
        "billing_status": "paid",
        "start_at": datetime(2022, 4, 5, 11, 15, tzinfo=NY),
        "end_at": datetime(2022, 4, 5, 12, 15, tzinfo=NY),
        "duration_minutes": 60,
        "price": Decimal("150.10"),
        "currency": "USD",
        "created_at": datetime(2022, 3, 22, 13, 15, tzinfo=NY),
    }
    base.update(kw)
    return Session(**base)


INVOICE = Invoice(
    id="i1",
    provenance=P,
    number="INV-2022-000001",
    client_id="o1",
    issue_date=date(2022, 5, 9),
    due_date=date(2022, 6, 8),
    status="paid",
    currency="USD",
    total_amount=Decimal("300.00"),
    created_at=datetime(2022, 5, 9, 10, tzinfo=NY),
)
FAMILY = Family(id="f1", provenance=P, name="Lovelace family")


def context(**kw: Any) -> TransformContext:
    b = ContextBuilder()
    for r in (client(), ORG, SVC, session(), INVOICE, FAMILY):
        b.add(r)
    return b.build(default_currency="USD", **kw)


def make(doc: dict[str, Any], schema: TargetSchema, **ctx: Any) -> Transformer:
    return Transformer(spec_of(doc), schema, NAMESPACE, context(**ctx))


def ops_of(out: list[Operation] | list[Reject]) -> list[Operation]:
    assert all(isinstance(o, Operation) for o in out), out
    return [o for o in out if isinstance(o, Operation)]


def reject_of(out: list[Operation] | list[Reject]) -> Reject:
    assert len(out) == 1, out
    first = out[0]
    assert isinstance(first, Reject), out
    return first


# ---------------------------------------------------------------------------------------
# keys, owners, values


def test_contact_key_owner_dates(doc: dict[str, Any], schema: TargetSchema) -> None:
    t = make(doc, schema)
    (op,) = ops_of(t.transform(client(birth_date=date(1961, 4, 6))))
    assert op.table == "contact"
    assert op.id == tid("contact", "c1")
    p = op.payload
    assert p["ownerid@odata.bind"] == f"/systemusers({USERS['coach1']})"
    assert p["birthdate"] == "1961-04-06"  # DateOnly
    assert p["overriddencreatedon"] == "2022-03-06T16:15:00Z"  # UTC with Z
    assert p["new_practiceid"] == "c1"
    assert "overriddencreatedon" in op.create_only


def test_owner_missing_is_a_reject(doc: dict[str, Any], schema: TargetSchema) -> None:
    doc["owners"]["fallback_id"] = None
    t = make(doc, schema)
    r = reject_of(t.transform(client(coach_id="usr_0003")))  # disabled, no fallback
    assert r.column == "coach_id"
    assert r.value == "usr_0003"
    assert "fallback" in r.reason
    assert (r.file, r.line) == ("x.csv", 7)
    # with the fallback the disabled coach's rows go to it
    doc["owners"]["fallback_id"] = USERS["admin"]
    (op,) = ops_of(make(doc, schema).transform(client(coach_id="usr_0003")))
    assert op.payload["ownerid@odata.bind"] == f"/systemusers({USERS['admin']})"


def test_choices_value_maps_and_keep_text(doc: dict[str, Any], schema: TargetSchema) -> None:
    t = make(doc, schema)
    (op,) = ops_of(t.transform(client(status="prospect", gender="female")))
    assert (
        op.payload["new_clientstatus"] == doc["value_maps"]["client_status"]["values"]["prospect"]
    )
    assert op.payload["gendercode"] == 2
    assert op.payload["new_gender"] == "female"  # text_column gets the source text too
    (op,) = ops_of(t.transform(client(gender="non-binary")))  # keep_text: text only
    assert "gendercode" not in op.payload
    assert op.payload["new_gender"] == "non-binary"
    r = reject_of(t.transform(client(on_track_status="sideways")))  # policy fail
    assert r.column == "on_track_status"
    assert r.value == "sideways"
    assert "on_track_status" in r.reason


def test_multi_select_tags(doc: dict[str, Any], schema: TargetSchema) -> None:
    values = doc["value_maps"]["tags"]["values"]
    a, b = sorted(values)[:2]
    (op,) = ops_of(make(doc, schema).transform(client(tags=(a, b, a))))
    assert op.payload["new_tags"] == f"{values[a]},{values[b]}"
    r = reject_of(make(doc, schema).transform(client(tags=("no-such-tag",))))
    assert r.column == "tags"


def test_last_name_from_full_name(doc: dict[str, Any], schema: TargetSchema) -> None:
    c = client(first_name=None, last_name=None, full_name="Ludwig van Beethoven")
    (op,) = ops_of(make(doc, schema).transform(c))
    assert op.payload["firstname"] == "Ludwig"
    assert op.payload["lastname"] == "van Beethoven"
    r = reject_of(
        make(doc, schema).transform(client(first_name=None, last_name=None, full_name=None))
    )
    assert "last name" in r.reason


def test_max_length_reject_or_truncate(doc: dict[str, Any], schema: TargetSchema) -> None:
    long = "x" * 80  # contact.address1_city holds 80
    (op,) = ops_of(make(doc, schema).transform(client(city=long)))
    assert op.payload["address1_city"] == long
    r = reject_of(make(doc, schema).transform(client(city=long + "y")))
    assert r.column == "city"
    assert "81 characters" in r.reason
    assert "80" in r.reason
    doc["targets"]["contact"]["fields"]["city"]["truncate"] = True
    (op,) = ops_of(make(doc, schema).transform(client(city=long + "y")))
    assert op.payload["address1_city"] == long


def test_custom_properties_typed(
    doc: dict[str, Any], schema: TargetSchema, provisioned: Any
) -> None:
    fields = doc["targets"]["contact"]["fields"]
    choice = fields["custom:referral_source"]["create"]["options"]
    value, label = next(iter(choice.items()))
    c = client(
        custom={
            "intake_date": "2022-03-06",
            "monthly_budget": "2191.50",
            "newsletter_opt_in": "true",
            "referral_source": label.upper(),
            "coaching_goals": "Delegate more.",
        }
    )
    (op,) = ops_of(make(doc, schema).transform(c))
    p = op.payload
    assert p[custom_column("intake_date")] == "2022-03-06"
    assert p[custom_column("monthly_budget")] == Decimal("2191.50")
    assert p[custom_column("newsletter_opt_in")] is True
    assert p[custom_column("referral_source")] == value
    assert p[custom_column("coaching_goals")] == "Delegate more."
    r = reject_of(make(doc, schema).transform(client(custom={"intake_date": "31/02/2022"})))
    assert r.column == "custom:intake_date"
    assert r.value == "31/02/2022"


def test_extra_columns(doc: dict[str, Any], schema: TargetSchema) -> None:
    doc["targets"]["contact"]["fields"]["extra:Nickname"] = {"column": "nickname"}
    c = client(extra={"Nickname": "Countess"})
    (op,) = ops_of(make(doc, schema).transform(c))
    assert op.payload["nickname"] == "Countess"


def test_money_exact_and_json(doc: dict[str, Any], schema: TargetSchema) -> None:
    (op,) = ops_of(make(doc, schema).transform(session()))
    assert op.payload["new_price"] == Decimal("150.10")
    wire = json.dumps(op.payload, default=json_default)
    assert '"new_price": 150.1' in wire  # the client's encoding keeps the value
    r = reject_of(make(doc, schema).transform(session(price=Decimal("150.123"))))
    assert r.column == "price"
    assert "decimal places" in r.reason
    r = reject_of(make(doc, schema).transform(session(price=Decimal("922337203685476.99"))))
    assert r.column == "price"
    assert "rounded on the wire" in r.reason


# ---------------------------------------------------------------------------------------
# clients, households, sessions


def test_organization_account_contact_and_link(doc: dict[str, Any], schema: TargetSchema) -> None:
    ops = ops_of(make(doc, schema).transform(ORG))
    account, contact, link = ops
    assert (account.table, account.id, account.phase) == (
        "account",
        tid("account", "o1"),
        PHASE_ROWS,
    )
    assert account.payload["name"] == "Acme Coaching Ltd"
    assert account.payload["industrycode"] == 7  # Consulting
    assert contact.payload["parentcustomerid_account@odata.bind"] == f"/accounts({account.id})"
    assert ("account", account.id) in contact.depends
    assert (link.table, link.id, link.phase) == ("account", account.id, PHASE_LINKS)
    assert link.payload == {"primarycontactid@odata.bind": f"/contacts({contact.id})"}


def test_household(doc: dict[str, Any], schema: TargetSchema) -> None:
    t = make(doc, schema)
    (fam,) = ops_of(t.transform(FAMILY))
    assert (fam.table, fam.id) == ("account", tid("household", "f1"))
    assert fam.payload["name"] == "Lovelace family"
    (op,) = ops_of(t.transform(client(family_id="f1")))
    assert op.payload["parentcustomerid_account@odata.bind"] == f"/accounts({fam.id})"
    r = reject_of(t.transform(client(family_id="f404")))
    assert r.column == "family_id"
    assert "dangling" in r.reason


def test_session(doc: dict[str, Any], schema: TargetSchema) -> None:
    (op,) = ops_of(make(doc, schema).transform(session()))
    assert (op.table, op.id) == ("new_session", tid("session", "s1"))
    p = op.payload
    assert p["new_name"] == "2022-04-05 One on One with Ada Lovelace"
    assert p["new_ClientId@odata.bind"] == f"/contacts({tid('contact', 'c1')})"
    assert (
        p["new_ServiceTypeId@odata.bind"] == f"/new_servicetypes({tid('service_type', 'svc_02')})"
    )
    assert p["new_start"] == "2022-04-05T16:15:00Z"
    assert p["transactioncurrencyid@odata.bind"].startswith("/transactioncurrencies(")
    # an organization's session points to its primary contact
    (op,) = ops_of(make(doc, schema).transform(session(client_id="o1")))
    assert op.payload["new_ClientId@odata.bind"] == f"/contacts({tid('contact', 'o1')})"
    r = reject_of(make(doc, schema).transform(session(client_id="nobody")))
    assert r.column == "client_id"
    assert "dangling" in r.reason


def test_rejected_parent_rejects_children(doc: dict[str, Any], schema: TargetSchema) -> None:
    t = make(doc, schema)
    reject_of(t.transform(session(session_type="unheard of")))
    note = SessionNote(id="n1", provenance=P, session_id="s1", body_html="<p>x</p>")
    r = reject_of(t.transform(note))
    assert "was rejected" in r.reason


# ---------------------------------------------------------------------------------------
# notes


PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()


def test_note_text_subject_and_inline_image(doc: dict[str, Any], schema: TargetSchema) -> None:
    html = (
        "<p>Priorities &amp; boundaries&nbsp;today.</p><ul><li>Track sleep</li><li>Read</li></ul>"
        f'<p><img src="data:image/png;base64,{PNG}" alt="chart"></p><ol><li>One</li></ol>'
    )
    created = datetime(2022, 4, 5, 18, 2, tzinfo=NY)
    note = SessionNote(
        id="n1", provenance=P, session_id="s1", title="", body_html=html, created_at=created
    )
    ops = ops_of(make(doc, schema).transform(note))
    text, image = ops
    bind = f"/new_sessions({tid('session', 's1')})"
    assert text.table == "annotation"
    assert text.id == tid("note", "n1")
    assert text.payload["objectid_new_session@odata.bind"] == bind
    assert text.payload["subject"] == "2022-04-05 Session Note"
    assert text.payload["notetext"] == (
        "Priorities & boundaries today.\n- Track sleep\n- Read\n[image: image-1.png]\n1. One"
    )
    assert text.payload["overriddencreatedon"] == "2022-04-05T23:02:00Z"
    assert image.payload["objectid_new_session@odata.bind"] == bind
    assert image.payload["isdocument"] is True
    assert image.payload["filename"] == "image-1.png"
    assert image.payload["mimetype"] == "image/png"
    assert base64.b64decode(image.payload["documentbody"]) == b"\x89PNG\r\n\x1a\nfake"
    assert image.payload["overriddencreatedon"] == "2022-04-05T23:02:00Z"
    assert image.id != text.id
    titled = SessionNote(id="n2", provenance=P, session_id="s1", title="Check-in", body_html="")
    (op,) = ops_of(make(doc, schema).transform(titled))
    assert op.payload["subject"] == "2022-04-05 Session Note: Check-in"


def test_html_to_text() -> None:
    body = html_to_text("<h2>Plan</h2><p>a<br>b &lt;c&gt;</p><script>x()</script>")
    assert body.text == "Plan\na\nb <c>"
    assert body.images == ()
    assert html_to_text(None).text == ""
    bad = html_to_text('<img src="data:image/png;base64,@@@">')
    assert bad.problems


# ---------------------------------------------------------------------------------------
# invoices, lines, payments, opportunities


def test_invoice_and_state_last(doc: dict[str, Any], schema: TargetSchema) -> None:
    upsert, state = ops_of(make(doc, schema).transform(INVOICE))
    p = upsert.payload
    assert upsert.id == tid("invoice", "i1")
    assert p["name"] == p["invoicenumber"] == "INV-2022-000001"
    assert p["customerid_account@odata.bind"] == f"/accounts({tid('account', 'o1')})"
    assert p["pricelevelid@odata.bind"] == f"/pricelevels({schema.org.price_list_id})"
    currency = schema.org.currency_id("USD")
    assert p["transactioncurrencyid@odata.bind"] == f"/transactioncurrencies({currency})"
    assert p["duedate"] == "2022-06-08"
    assert p["new_issuedate"] == "2022-05-09"
    assert "statecode" not in p
    assert "statuscode" not in p
    assert p["new_sourcestatus"] == "paid"
    assert (state.kind, state.phase, state.id) == ("state", PHASE_STATE, upsert.id)
    assert state.payload == {"statecode": 2, "statuscode": 100001}
    individual = Invoice(id="i2", provenance=P, number="N2", client_id="c1", status="draft")
    ops = ops_of(make(doc, schema).transform(individual))
    assert len(ops) == 1  # Active / New: no state change
    assert ops[0].payload["customerid_contact@odata.bind"] == f"/contacts({tid('contact', 'c1')})"
    r = reject_of(
        make(doc, schema).transform(Invoice(id="i3", provenance=P, client_id="c1", status="lost"))
    )
    assert r.column == "status"


def test_invoice_needs_a_price_list(doc: dict[str, Any], schema: TargetSchema) -> None:
    no_list = replace(schema, org=replace(schema.org, price_list_id=None))
    with pytest.raises(MapError, match="price list"):
        Transformer(spec_of(doc), no_list, NAMESPACE, context())


def test_invoice_line_write_in(doc: dict[str, Any], schema: TargetSchema) -> None:
    item = InvoiceItem(
        id="ii1",
        provenance=P,
        invoice_id="i1",
        description="Coaching",
        quantity=Decimal(2),
        unit_price=Decimal("150.00"),
    )
    (op,) = ops_of(make(doc, schema).transform(item))
    assert op.table == "invoicedetail"
    assert op.id == tid("invoice_line", "ii1")
    assert op.payload["isproductoverridden"] is True
    assert op.payload["productdescription"] == "Coaching"
    assert op.payload["quantity"] == Decimal(2)
    assert op.payload["priceperunit"] == Decimal("150.00")
    assert op.payload["invoiceid@odata.bind"] == f"/invoices({tid('invoice', 'i1')})"
    r = reject_of(
        make(doc, schema).transform(InvoiceItem(id="ii2", provenance=P, invoice_id="nope"))
    )
    assert r.column == "invoice_id"


def test_payment(doc: dict[str, Any], schema: TargetSchema) -> None:
    pay = Payment(
        id="p1",
        provenance=P,
        invoice_id="i1",
        amount=Decimal("420.00"),
        method="card",
        paid_at=datetime(2022, 7, 22, 12, 15, tzinfo=NY),
    )
    (op,) = ops_of(make(doc, schema).transform(pay))
    assert op.table == "new_payment"
    assert op.payload["new_InvoiceId@odata.bind"] == f"/invoices({tid('invoice', 'i1')})"
    assert op.payload["new_amount"] == Decimal("420.00")
    assert op.payload["new_paidat"] == "2022-07-22T17:15:00Z"
    assert op.payload["new_name"] == "Payment INV-2022-000001 2022-07-22"


def test_opportunities_from_completed_paid_sessions(
    doc: dict[str, Any], schema: TargetSchema
) -> None:
    t = make(doc, schema)
    for s in (
        session("s1", price=Decimal("150.10")),
        session("s2", price=Decimal("99.90"), start_at=datetime(2022, 5, 1, 9, tzinfo=NY)),
        session("s3", billing_status="invoiced"),
        session("s4", status="cancelled"),
        session("s5", client_id="o1"),
    ):
        ops_of(t.transform(s))
    ops = list(t.finish())
    assert [o.kind for o in ops] == ["upsert", "action", "upsert", "action"]
    opp, win = ops[0], ops[1]
    assert opp.id == tid("opportunity", "c1/svc_02/USD")
    assert opp.payload["actualvalue"] == opp.payload["estimatedvalue"] == Decimal("250.00")
    assert opp.payload["new_sessioncount"] == 2
    assert opp.payload["customerid_contact@odata.bind"] == f"/contacts({tid('contact', 'c1')})"
    assert opp.payload["name"] == "1:1 Coaching (60 min) with Ada Lovelace"
    assert (win.phase, win.action) == (PHASE_STATE, "WinOpportunity")
    assert win.payload["Status"] == 3
    close = win.payload["OpportunityClose"]
    assert close["opportunityid@odata.bind"] == f"/opportunities({opp.id})"
    assert close["actualrevenue"] == Decimal("250.00")
    assert close["subject"].startswith("Won: ")
    org_opp = ops[2]
    assert org_opp.payload["customerid_account@odata.bind"] == f"/accounts({tid('account', 'o1')})"


# ---------------------------------------------------------------------------------------
# activities


def activity(kind: str, **kw: Any) -> Activity:
    base: dict[str, Any] = {
        "id": "a1",
        "provenance": P,
        "client_id": "c1",
        "kind": kind,
        "subject": "Quick check-in",
        "body": "Talked.",
        "direction": "outbound",
        "occurred_at": datetime(2024, 9, 9, 12, 45, tzinfo=NY),
        "duration_minutes": 27,
        "coach_id": "usr_0001",
        "created_at": datetime(2024, 9, 9, 13, 13, tzinfo=NY),
    }
    base.update(kw)
    return Activity(**base)


def test_phone_call(doc: dict[str, Any], schema: TargetSchema) -> None:
    row, close = ops_of(make(doc, schema).transform(activity("call")))
    p = row.payload
    assert row.table == "phonecall"
    assert row.id == tid("activity_call", "a1")
    assert p["directioncode"] is True
    assert (
        p["regardingobjectid_contact_phonecall@odata.bind"] == f"/contacts({tid('contact', 'c1')})"
    )
    assert p["actualstart"] == "2024-09-09T17:45:00Z"
    assert p["actualend"] == "2024-09-09T18:12:00Z"
    assert p["actualdurationminutes"] == 27
    assert p["overriddencreatedon"] == "2024-09-09T18:13:00Z"
    assert p["phonecall_activity_parties"] == [
        {
            "partyid_systemuser@odata.bind": f"/systemusers({USERS['coach1']})",
            "participationtypemask": 1,
        },
        {
            "partyid_contact@odata.bind": f"/contacts({tid('contact', 'c1')})",
            "participationtypemask": 2,
        },
    ]
    assert "phonecall_activity_parties" in row.create_only
    assert (close.kind, close.phase, close.payload) == (
        "close",
        PHASE_STATE,
        {"statecode": 1, "statuscode": 2},
    )
    inbound, close = ops_of(make(doc, schema).transform(activity("call", direction="inbound")))
    assert inbound.payload["directioncode"] is False
    assert close.payload["statuscode"] == 4


def test_email_and_meeting(doc: dict[str, Any], schema: TargetSchema) -> None:
    email, close = ops_of(make(doc, schema).transform(activity("email")))
    assert email.table == "email"
    assert close.payload == {"statecode": 1, "statuscode": 3}
    assert "email_activity_parties" in email.payload
    meeting, close = ops_of(make(doc, schema).transform(activity("meeting", client_id="o1")))
    p = meeting.payload
    assert meeting.table == "appointment"
    assert "directioncode" not in p
    assert p["scheduledstart"] == p["actualstart"]
    assert p["scheduledend"] == p["actualend"]
    assert (
        p["regardingobjectid_account_appointment@odata.bind"]
        == f"/accounts({tid('account', 'o1')})"
    )
    masks = {party["participationtypemask"] for party in p["appointment_activity_parties"]}
    assert masks == {7, 5}  # organizer, required attendee
    assert close.payload == {"statecode": 1, "statuscode": 3}


# ---------------------------------------------------------------------------------------
# files


def file_record(**kw: Any) -> FileRecord:
    base: dict[str, Any] = {
        "id": "f1",
        "provenance": P,
        "client_id": "c1",
        "filename": "Intake.pdf",
        "content_type": "application/pdf",
        "path": "files/f1.pdf",
        "uploaded_at": datetime(2022, 10, 20, 9, 15, tzinfo=NY),
    }
    base.update(kw)
    return FileRecord(**base)


def test_files(doc: dict[str, Any], schema: TargetSchema) -> None:
    store = {"files/f1.pdf": b"%PDF-1.4 tiny", "files/big.bin": b"x" * 3000}

    def read(path: str) -> bytes:
        return store[path]

    t = make(doc, schema, read_attachment=read)
    (op,) = ops_of(t.transform(file_record()))
    assert op.table == "annotation"
    assert op.id == tid("attachment", "f1")
    assert op.payload["objectid_contact@odata.bind"] == f"/contacts({tid('contact', 'c1')})"
    assert base64.b64decode(op.payload["documentbody"]) == b"%PDF-1.4 tiny"
    assert op.payload["filename"] == "Intake.pdf"
    assert op.payload["isdocument"] is True
    assert op.payload["overriddencreatedon"] == "2022-10-20T14:15:00Z"
    (op,) = ops_of(t.transform(file_record(session_id="s1")))
    assert op.payload["objectid_new_session@odata.bind"] == f"/new_sessions({tid('session', 's1')})"
    (skip,) = t.transform(file_record(path=None, url="https://drive.example.com/x"))
    assert isinstance(skip, Skipped)  # a linked file without its download (policy skip)
    assert "documents.linked: skip" in skip.reason
    r = reject_of(t.transform(file_record(filename="setup.exe")))
    assert "blocked" in r.reason
    r = reject_of(t.transform(file_record(path="files/missing.pdf")))
    assert "not in the bundle" in r.reason
    r = reject_of(t.transform(file_record(sha256="00" * 32)))
    assert r.column == "sha256"
    # the limit applies to the Base64 length: 3000 raw bytes are 4000 as Base64
    small = replace(schema, org=replace(schema.org, max_upload_bytes=3500))
    t = Transformer(spec_of(doc), small, NAMESPACE, context(read_attachment=read))
    r = reject_of(t.transform(file_record(path="files/big.bin", filename="big.bin")))
    assert "4000 bytes as Base64" in r.reason
    assert "3500" in r.reason


# ---------------------------------------------------------------------------------------
# the snapshot and the map


def test_strict_map_check(doc: dict[str, Any], schema: TargetSchema) -> None:
    doc["targets"]["contact"]["fields"]["email"]["column"] = "new_nosuchcolumn"
    with pytest.raises(MapError, match="new_nosuchcolumn"):
        make(doc, schema)
    t = Transformer(spec_of(doc), schema, NAMESPACE, context(), strict=False)
    assert any("new_nosuchcolumn" in p for p in t.problems)


def test_hand_built_snapshot() -> None:
    contact = TableSchema(
        logical_name="contact",
        entity_set="contacts",
        primary_id="contactid",
        primary_name="fullname",
        columns={
            "lastname": ColumnInfo("lastname", "String", max_length=5),
            "birthdate": ColumnInfo("birthdate", "DateTime", datetime_behavior="DateOnly"),
        },
    )
    schema = TargetSchema(tables={"contact": contact}, org=OrgSettings())
    doc = {
        "version": 1,
        "status": "confirmed",
        "targets": {
            "contact": {
                "source": "clients",
                "table": "contact",
                "fields": {
                    "last_name": {"column": "lastname"},
                    "birth_date": {"column": "birthdate"},
                },
            }
        },
    }
    spec = MapDocument.from_plain(doc).spec()
    t = Transformer(spec, schema, uuid.uuid4(), TransformContext())
    (op,) = ops_of(t.transform(client(last_name="Ward", birth_date=date(2000, 1, 2))))
    assert op.payload == {"lastname": "Ward", "birthdate": "2000-01-02"}
    r = reject_of(t.transform(client(last_name="Lovelace")))
    assert r.column == "last_name"


# ---------------------------------------------------------------------------------------
# determinism


@given(
    first=st.text(min_size=1, max_size=30).filter(lambda s: s.strip() != ""),
    price=st.decimals(min_value=0, max_value=10**6, places=2),
    minutes=st.integers(min_value=0, max_value=600),
    tz_hours=st.integers(min_value=-12, max_value=12),
)
def test_transform_is_deterministic(
    provisioned: tuple[dict[str, Any], TargetSchema],
    first: str,
    price: Decimal,
    minutes: int,
    tz_hours: int,
) -> None:
    doc, schema = provisioned
    tz = timezone(timedelta(hours=tz_hours))
    records = [
        client(first_name=first[:50], created_at=datetime(2023, 1, 2, 3, 4, tzinfo=tz)),
        session(
            price=price, start_at=datetime(2023, 1, 2, 3, 4, tzinfo=tz) + timedelta(minutes=minutes)
        ),
        activity("meeting", duration_minutes=minutes),
    ]
    runs = []
    for _ in range(2):
        t = Transformer(spec_of(doc), schema, NAMESPACE, context())
        out = [o for r in records for o in t.transform(r)] + list(t.finish())
        runs.append(out)
    assert runs[0] == runs[1]
    assert [getattr(o, "hash", None) for o in runs[0]] == [
        getattr(o, "hash", None) for o in runs[1]
    ]
    ids = [o.id for o in runs[0] if isinstance(o, Operation)]
    assert tid("contact", "c1") in ids
    assert tid("session", "s1") in ids
    assert all(isinstance(o, Operation) for o in runs[0])


def test_utc_conversion_keeps_instant(doc: dict[str, Any], schema: TargetSchema) -> None:
    moment = datetime(2022, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    (op,) = ops_of(make(doc, schema).transform(session(start_at=moment)))
    assert op.payload["new_start"] == "2021-12-31T19:00:00Z"
    assert datetime.fromisoformat(
        op.payload["new_start"].replace("Z", "+00:00")
    ) == moment.astimezone(UTC)
