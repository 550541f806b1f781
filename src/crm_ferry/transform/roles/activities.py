"""Activities → phone calls, e-mails and appointments, completed.

Each activity target of the map (one per kind, through its ``rows`` filter) writes its
row: the direction, the start and end (from ``occurred_at`` and the duration), a subject,
and the parties (the coach's system user and the client's contact, as sender and
recipient by direction, or organizer and attendee of a meeting). The coach is the
activity's own (``coach_id``), else its client's; its system user owns the row. The activity is then
closed as completed (:data:`ACTIVITY_STATUS`) once every row is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from crm_ferry.mapping.spec import FieldMap, Target
from crm_ferry.model import Activity
from crm_ferry.transform.build import Builder, rows_match
from crm_ferry.transform.ops import Operation
from crm_ferry.transform.row import Rejected, Row
from crm_ferry.transform.values import BadValue, option_by_label, wire_datetime

__all__ = ["ACTIVITY_STATUS", "PARTICIPATION", "activity"]

PARTICIPATION: Mapping[str, int] = {
    "Sender": 1,
    "To Recipient": 2,
    "Required attendee": 5,
    "Organizer": 7,
}
"""Standard ``activityparty.participationtypemask`` values, used when the tenant's metadata
does not list the option labels."""
ACTIVITY_STATUS: Mapping[tuple[str, str], int] = {
    ("phonecall", "outbound"): 2,  # Completed / Made
    ("phonecall", "inbound"): 4,  # Completed / Received
    ("email", "outbound"): 3,  # Completed / Sent
    ("email", "inbound"): 4,  # Completed / Received
    ("appointment", "outbound"): 3,  # Completed / Completed
    ("appointment", "inbound"): 3,
}
"""statuscode of a completed activity (statecode 1), by table and direction."""

_SUBJECTS: Mapping[str, str] = {"call": "Call", "email": "Email", "meeting": "Meeting"}
"""The subject of an activity that has none, by kind."""


def activity(b: Builder, record: Activity) -> list[Operation]:
    ops: list[Operation] = []
    for target in b.spec.targets_for("activities"):
        if target.role == "opportunity" or not rows_match(target.rows, record):
            continue
        ops.extend(_one_activity(b, target, record))
    return ops


def _one_activity(b: Builder, target: Target, record: Activity) -> list[Operation]:
    info = b.table(target)
    table = info.logical_name
    row = Row(info)
    skip = frozenset({"direction", "occurred_at", "duration_minutes"})
    b.fields(target, row, record, skip=skip)
    direction = record.direction or "outbound"
    dir_col = target.column_of("direction")
    if dir_col and info.column(dir_col) is not None and record.direction:
        row.set(dir_col, record.direction == "outbound")
    start = record.occurred_at or record.created_at
    minutes = record.duration_minutes
    if minutes is not None:
        dur_col = target.column_of("duration_minutes") or "actualdurationminutes"
        if info.column(dur_col) is not None:
            fm = FieldMap("duration_minutes", dur_col)
            try:
                row.set(dur_col, b.convert(fm, info.column(dur_col), minutes, table))
            except BadValue as exc:
                raise Rejected("duration_minutes", minutes, str(exc)) from None
    if start is not None:
        try:
            end = start + timedelta(minutes=minutes or 0)
        except OverflowError:
            raise Rejected(
                "duration_minutes", minutes, "the activity would end after year 9999"
            ) from None
        try:
            start_text, end_text = wire_datetime(start), wire_datetime(end)
        except BadValue as exc:
            raise Rejected("occurred_at", start, str(exc)) from None
        start_col = target.column_of("occurred_at") or "actualstart"
        for col, text in ((start_col, start_text), ("actualend", end_text)):
            if info.column(col) is not None:
                row.set(col, text)
        if table == "appointment":
            row.set("scheduledstart", start_text)
            row.set("scheduledend", end_text)
    elif table == "appointment":
        raise Rejected("occurred_at", None, "a meeting needs its time (scheduledstart)")
    subject_col = target.column_of("subject") or "subject"
    if not row.payload.get(subject_col) and info.column(subject_col) is not None:
        row.set(subject_col, _SUBJECTS[record.kind])
    _parties(b, row, record, direction)
    activity_id = b.id(target.role, record.id)
    ops = [b.op(target, row, activity_id, record.key)]
    status = ACTIVITY_STATUS.get((table, direction))
    if status is not None:
        b.check_status(target, 1, status, "direction")
        payload = {"statecode": 1, "statuscode": status}
        ops.append(b.after_rows(target, activity_id, record.key, "close", payload))
    return ops


def _participation(b: Builder, label: str) -> int:
    party = b.schema.table("activityparty")
    col = party.column("participationtypemask") if party is not None else None
    if col is not None:
        found = option_by_label(col, {}, label)
        if found is not None:
            return found
    return PARTICIPATION[label]


def _parties(b: Builder, row: Row, record: Activity, direction: str) -> None:
    table = row.table.logical_name
    collection = row.table.collections.get("activityparty")
    party = b.schema.table("activityparty")
    if collection is None or party is None:
        return
    parties: list[dict[str, Any]] = []
    coach = b.owner_id(b.coach_of(record))
    client = b.context.clients.get(record.client_id or "")
    if table == "appointment":
        coach_role, client_role = "Organizer", "Required attendee"
    elif direction == "outbound":
        coach_role, client_role = "Sender", "To Recipient"
    else:
        coach_role, client_role = "To Recipient", "Sender"
    for kind, party_id, role in (
        ("systemuser", coach, coach_role),
        ("contact", b.id("contact", client.id) if client else None, client_role),
    ):
        if party_id is None:
            continue
        nav = party.nav("partyid", kind)
        target_set = b.schema.entity_set(kind)
        if nav is None or target_set is None:
            continue
        parties.append(
            {
                f"{nav}@odata.bind": f"/{target_set}({party_id})",
                "participationtypemask": _participation(b, role),
            }
        )
        if kind == "contact":
            row.depends.append(("contact", party_id))
    if parties:
        row.payload[collection] = parties
        row.create_only.append(collection)
