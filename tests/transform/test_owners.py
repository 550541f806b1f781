"""Who owns each row (pure: the snapshot is taken once): the coach's system user by coach id,
else by coach e-mail (any case; a user's e-mail or UPN), a row without a coach of its own
by its client's or its session's, else the fallback; a table that cannot take the owner
rejects the record, it never loads unowned."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from crm_ferry.mapping.spec import CoachRef, MapDocument
from crm_ferry.model import Activity, Client, Provenance, Reject, Session, SessionNote
from crm_ferry.transform.context import ContextBuilder
from crm_ferry.transform.engine import Transformer
from crm_ferry.transform.ops import Operation
from crm_ferry.transform.roles.notes import note_subject
from crm_ferry.transform.schema import TargetSchema
from helpers.transform import NAMESPACE, seed_users, spec_of

USERS = seed_users()
P = Provenance("x.csv", 3)
NY = timezone(timedelta(hours=-5))
START = datetime(2024, 3, 5, 10, tzinfo=NY)


def owners_section() -> dict[str, Any]:
    """Coaches as ``map propose`` lists them: by users-file id with their e-mail, and one
    only clients name, keyed by its e-mail."""
    return {
        "fallback": "alex.admin@crmferry.onmicrosoft.com",
        "fallback_id": USERS["admin"],
        "coaches": {
            "usr_0001": {
                "email": "casey@practice.example",
                "user": "casey.coach@crmferry.onmicrosoft.com",
                "systemuserid": USERS["coach1"],
                "status": "matched",
            },
            "usr_0002": {
                "email": "robin@practice.example",
                "user": "robin.mentor@crmferry.onmicrosoft.com",
                "systemuserid": USERS["coach2"],
                "status": "matched",
            },
            "usr_0003": {
                "email": "former@practice.example",
                "user": None,
                "systemuserid": None,
                "status": "fallback",
            },
            "pat@partner.example": {
                "email": "Pat@Partner.example",
                "user": "casey.coach@crmferry.onmicrosoft.com",
                "systemuserid": USERS["coach1"],
                "status": "matched",
            },
        },
    }


@pytest.fixture
def doc(provisioned: tuple[dict[str, Any], TargetSchema]) -> dict[str, Any]:
    d = copy.deepcopy(provisioned[0])
    d["owners"] = owners_section()
    return d


def client(cid: str, **kw: Any) -> Client:
    base: dict[str, Any] = {
        "id": cid,
        "provenance": P,
        "type": "individual",
        "first_name": "Ada",
        "last_name": "Lovelace",
    }
    base.update(kw)
    return Client(**base)


def session(sid: str, client_id: str, **kw: Any) -> Session:
    base: dict[str, Any] = {
        "id": sid,
        "provenance": P,
        "client_id": client_id,
        "status": "completed",
        "billing_status": "paid",
        "start_at": START,
        "end_at": START + timedelta(hours=1),
        "price": Decimal("150.00"),
        "currency": "USD",
    }
    base.update(kw)
    return Session(**base)


CLIENTS = (
    client("by-id", coach_id="usr_0002"),
    client("by-email", coach_email="ROBIN@Practice.EXAMPLE"),
    client("by-key", coach_email="pat@partner.example"),
    client("by-upn", coach_email="Robin.Mentor@crmferry.onmicrosoft.com"),
    client("id-unusable-email-usable", coach_id="usr_0003", coach_email="robin@practice.example"),
    client("unusable", coach_id="usr_0003"),
    client("nobody"),
)
SESSIONS = (
    session("own-email", "by-id", coach_email="casey@practice.example"),
    session("inherits", "by-email"),
    session("inherits-nobody", "nobody"),
)


def transformer(doc: dict[str, Any], schema: TargetSchema) -> Transformer:
    b = ContextBuilder()
    for r in (*CLIENTS, *SESSIONS):
        b.add(r)
    return Transformer(spec_of(doc), schema, NAMESPACE, b.build(default_currency="USD"))


def ops(out: list[Operation] | list[Reject]) -> list[Operation]:
    assert all(isinstance(o, Operation) for o in out), out
    return [o for o in out if isinstance(o, Operation)]


def owner(op: Operation) -> str:
    bound = str(op.payload["ownerid@odata.bind"])
    return bound.removeprefix("/systemusers(").removesuffix(")")


def test_clients_are_owned_by_the_coach_named_by_id_or_email(
    doc: dict[str, Any], schema: TargetSchema
) -> None:
    t = transformer(doc, schema)
    got = {c.id: owner(ops(t.transform(c))[0]) for c in CLIENTS}
    assert got == {
        "by-id": USERS["coach2"],
        "by-email": USERS["coach2"],  # the users file's e-mail, another case
        "by-key": USERS["coach1"],  # a coach only clients name, keyed by its e-mail
        "by-upn": USERS["coach2"],  # the matched user's own address
        "id-unusable-email-usable": USERS["coach2"],
        "unusable": USERS["admin"],  # the fallback
        "nobody": USERS["admin"],
    }


def test_without_a_fallback_a_row_without_an_owner_is_rejected_naming_its_coach(
    doc: dict[str, Any], schema: TargetSchema
) -> None:
    doc["owners"]["fallback"] = doc["owners"]["fallback_id"] = None
    t = transformer(doc, schema)
    (r,) = t.transform(CLIENTS[-1])
    assert isinstance(r, Reject)
    assert (r.column, r.value) == ("coach_id", None)
    assert r.reason.startswith("a record without a coach has no system user")
    (r,) = t.transform(client("stranger", coach_email="Zed@Nowhere.example"))
    assert isinstance(r, Reject)
    assert r.value == "zed@nowhere.example"
    assert "coach e-mail 'zed@nowhere.example' is not listed under owners.coaches" in r.reason
    assert "no fallback owner (owners.fallback)" in r.reason


def test_sessions_activities_and_notes_inherit_the_coach(
    doc: dict[str, Any], schema: TargetSchema
) -> None:
    t = transformer(doc, schema)
    got = {s.id: owner(ops(t.transform(s))[0]) for s in SESSIONS}
    assert got == {
        "own-email": USERS["coach1"],  # its own coach, not its client's
        "inherits": USERS["coach2"],  # its client's, named by e-mail
        "inherits-nobody": USERS["admin"],
    }
    call = Activity(
        id="a1",
        provenance=P,
        client_id="by-email",
        kind="call",
        subject="Scheduling",
        direction="outbound",
        occurred_at=START,
        duration_minutes=5,
    )
    (row, _close) = ops(t.transform(call))
    assert owner(row) == USERS["coach2"]
    parties = row.payload["phonecall_activity_parties"]
    assert {
        p["partyid_systemuser@odata.bind"] for p in parties if "partyid_systemuser@odata.bind" in p
    } == {f"/systemusers({USERS['coach2']})"}
    n = SessionNote(
        id="n1", provenance=P, session_id="inherits", title="Kick-off", body_html="<p>x</p>"
    )
    (text,) = ops(t.transform(n))
    assert owner(text) == USERS["coach2"]  # the session's owner
    assert text.payload["subject"] == "2024-03-05 Session Note: Kick-off"


def test_a_note_subject_keeps_the_seed_form_within_the_column(
    doc: dict[str, Any], schema: TargetSchema
) -> None:
    t = transformer(doc, schema)
    long = SessionNote(
        id="n2", provenance=P, session_id="inherits", title="word " * 200, body_html=""
    )
    (text,) = ops(t.transform(long))
    subject = text.payload["subject"]
    limit = schema.tables["annotation"].columns["subject"].max_length
    assert limit is not None
    assert subject.startswith("2024-03-05 Session Note: word word")
    assert len(subject) <= limit
    untitled = SessionNote(id="n3", provenance=P, session_id="inherits", title="  ", body_html="")
    (text,) = ops(t.transform(untitled))
    assert text.payload["subject"] == "2024-03-05 Session Note"
    assert note_subject(None, "Intake\n call") == "Undated Session Note: Intake call"
    assert note_subject(START.date(), "Kick-off", 20) == "2024-03-05 Session N"


def test_a_table_that_cannot_take_the_owner_rejects_the_note(
    doc: dict[str, Any], schema: TargetSchema
) -> None:
    """Not a note loaded without its owner: the record is rejected, naming why."""
    notes = schema.tables["annotation"]
    navigation = {k: v for k, v in notes.navigation.items() if k[0] != "ownerid"}
    crippled = replace(
        schema, tables={**schema.tables, "annotation": replace(notes, navigation=navigation)}
    )
    t = transformer(doc, crippled)
    n = SessionNote(id="n4", provenance=P, session_id="inherits", title="", body_html="")
    (r,) = t.transform(n)
    assert isinstance(r, Reject)
    assert (r.column, r.value) == ("session_id", "inherits")
    assert "no relationship from annotation.ownerid to systemuser" in r.reason
    assert "annotation cannot take an owner" in r.reason


def test_the_owners_section_finds_coaches_by_id_email_and_user() -> None:
    plain = {
        "version": 1,
        "status": "proposed",
        "targets": {"c": {"source": "clients", "table": "contact"}},
    }
    plain["owners"] = owners_section()
    owners = MapDocument.from_plain(plain).spec().owners
    assert owners.owner_of("usr_0002") == USERS["coach2"]
    assert owners.owner_of(None, " Robin@practice.example ") == USERS["coach2"]
    assert owners.owner_of(None, "robin.mentor@crmferry.onmicrosoft.com") == USERS["coach2"]
    assert owners.owner_of(None, "PAT@partner.example") == USERS["coach1"]
    assert owners.owner_of("usr_0003", "casey@practice.example") == USERS["coach1"]
    assert owners.owner_of("usr_0003") == USERS["admin"]
    assert owners.owner_of("nobody-knows") == USERS["admin"]
    listed = owners.named_by(CoachRef.of("usr_0003"))
    assert listed is not None
    assert listed.status == "fallback"
    assert owners.coach_for(CoachRef.of("usr_0003")) is None
    assert owners.named_by(CoachRef.of(None, "zed@nowhere.example")) is None
