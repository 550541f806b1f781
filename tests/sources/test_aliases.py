"""Header aliases of the contract: one case file per row of the alias table, and every
alias of every row through the header resolver."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_ferry.model import Reject
from crm_ferry.sources import open_bundle
from crm_ferry.sources.schema import ALIASES, CANONICAL, normalise_header

CONTRACT_TABLE: dict[str, tuple[str, ...]] = {
    "id": ("ID", "Record ID"),
    "first_name": ("First Name", "firstName", "Given Name"),
    "last_name": ("Last Name", "lastName", "Surname", "Family Name"),
    "full_name": ("Name", "Client Name", "Full Name", "Client"),
    "organization": ("Company", "Company Name", "Organisation", "Business"),
    "email": ("Email Address", "E-mail"),
    "phone": ("Phone Number", "Telephone", "Home Phone"),
    "mobile": ("Mobile Phone", "Cell", "Cell Phone"),
    "birth_date": ("DOB", "Date of Birth", "Birthday"),
    "postal_code": ("Zip", "Zip Code", "Postcode", "Postal Code"),
    "coach_email": ("Coach", "Coach Email", "Clinician", "Assigned Coach", "Primary Clinician"),
    "start_at": ("Start", "Start Time", "Date of Service", "Session Date"),
    "total_amount": ("Total", "Total Amount"),
    "created_at": ("Date Added", "Created", "createdAt"),
    "updated_at": ("Last Modified", "Modified", "updatedAt"),
}
"""The contract's alias table, copied by hand so a change to either shows up here."""

_OBJECT_OF = {"start_at": "sessions", "total_amount": "invoices"}


def _resolve(obj: str, header: str) -> str | None:
    norm = normalise_header(header)
    return CANONICAL[obj].get(norm) or ALIASES[obj].get(norm)


@pytest.mark.parametrize(
    ("field", "alias"),
    [(f, a) for f, aliases in CONTRACT_TABLE.items() for a in aliases],
)
@pytest.mark.parametrize("spelling", [str, str.upper, lambda s: s.replace(" ", "_").lower()])
def test_every_alias_resolves(field: str, alias: str, spelling) -> None:
    assert _resolve(_OBJECT_OF.get(field, "clients"), spelling(alias)) == field


def test_aliases_limited_to_one_object() -> None:
    assert _resolve("clients", "Client ID") == "id"
    assert _resolve("sessions", "Client ID") == "client_id"  # canonical there
    assert _resolve("invoices", "Amount") == "total_amount"
    assert _resolve("payments", "Amount") == "amount"
    assert _resolve("invoice_items", "Total") is None  # no total_amount field there
    assert _resolve("families", "Name") == "name"  # canonical beats the full_name alias


CASES = sorted((Path(__file__).parents[1] / "cases" / "sources" / "aliases").glob("*.csv"))


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_alias_case_file(make_bundle, case: Path) -> None:
    obj, field = case.stem.split(".")
    files: dict[str, object] = {"clients.csv": "clients/plain.csv", f"{obj}.csv": case}
    root = make_bundle(**files)
    with open_bundle(root) as bundle:
        items = list(bundle.read(obj))
    (record,) = items
    assert not isinstance(record, Reject), record
    value = getattr(record, field) if obj != "invoice_items" else record.amount
    assert value not in (None, "", ())
    if obj == "invoice_items":
        # "Amount" is the canonical amount here; "Total" is not an alias in this object.
        assert str(record.amount) == "10.00"
        assert record.extra == {"Total": "12.00"}
