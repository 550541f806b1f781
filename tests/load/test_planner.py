"""The load order: parents before children, by the lookups of the tenant's tables."""

from __future__ import annotations

import pytest

from crm_ferry.errors import MapError
from crm_ferry.load.planner import plan_order
from crm_ferry.mapping.defaults import default_document
from crm_ferry.mapping.spec import MapDocument


def test_load_order_follows_the_lookups() -> None:
    spec = MapDocument.from_plain(default_document()).spec()
    refs = {
        ("contact", "parentcustomerid"): ("account",),
        ("annotation", "objectid"): ("new_session",),
        ("invoice", "customerid"): ("contact", "account"),
        ("invoicedetail", "invoiceid"): ("invoice",),
        ("phonecall", "regardingobjectid"): ("contact", "account"),
        ("email", "regardingobjectid"): ("contact", "account"),
        ("appointment", "regardingobjectid"): ("contact", "account"),
    }
    plan = plan_order(spec, lambda t, c: refs.get((t, c), ()))
    order = plan.roles
    for before, after in [
        ("household", "contact"),
        ("account", "contact"),
        ("contact", "session"),
        ("service_type", "session"),
        ("session", "note"),
        ("invoice", "invoice_line"),
        ("invoice", "payment"),
        ("contact", "activity_call"),
    ]:
        assert order.index(before) < order.index(after), (before, after, order)


def test_a_cycle_is_named() -> None:
    doc = default_document()
    doc["targets"]["account"]["fields"]["primary"] = {
        "column": "primarycontactid",
        "type": "Lookup",
        "create": {"kind": "Lookup", "schema_name": "primarycontactid", "target_table": "contact"},
    }
    spec = MapDocument.from_plain(doc).spec()
    refs = {("contact", "parentcustomerid"): ("account",)}
    with pytest.raises(MapError, match=r"cycle: .*account.*contact"):
        plan_order(spec, lambda t, c: refs.get((t, c), ()))
