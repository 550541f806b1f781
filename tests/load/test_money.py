"""Revenue and invoice totals, record by record, on a small hand-written bundle and on
generated ones: every completed, paid session adds its price to an opportunity (grouped by
client, and by service type where the session has one), and an invoice whose lines and tax
agree with its total arrives with that total and that tax.

The hand-written bundle (``tests/cases/promises/money``):

- C1 has two paid sessions of Executive Coaching and one without a service type; C2 two
  without a service type (and one invoiced, not paid); C3, an organization, one workshop
  without a service type; S8, paid, names no client at all;
- I1 (300 + 39 tax = 339) and I2 (100 + 10 = 110, three lines the tax does not divide
  evenly) agree with themselves; I3 does not (its one line is 150, its subtotal 200);
  I4 has no tax; I5 is tax only, without a line.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from crm_ferry import commands
from crm_ferry.commands._project import open_journal
from crm_ferry.commands.demo import invite_coaches, shortcut_confirm
from crm_ferry.commands.emulator import embedded_client
from crm_ferry.commands.migrate import run_load
from crm_ferry.commands.verify import VerifyResult
from crm_ferry.emulator import EmulatorApp
from crm_ferry.load.engine import LoadResult
from crm_ferry.model import Invoice, InvoiceItem, Session
from crm_ferry.reconcile.classify import MIGRATION, SOURCE_DEFECT
from crm_ferry.reconcile.scoping import ScopingReport
from crm_ferry.settings import Settings
from crm_ferry.sources.bundle import open_bundle
from crm_ferry.sources.generator import generate_bundle
from helpers.backend import JournalHomes
from helpers.load import Row, rewrite_rows

MONEY = Path(__file__).parents[1] / "cases" / "promises" / "money"
CENT = Decimal("0.01")


@dataclass
class Loaded:
    """A bundle migrated into a fresh emulator: the tenant's rows, the run and (when asked
    for) the verification and the scoping report."""

    bundle: Path
    load: LoadResult
    dump: Mapping[str, list[dict[str, Any]]]
    verified: VerifyResult | None = None
    scoping: ScopingReport | None = None

    def rows(self, table: str) -> list[dict[str, Any]]:
        return list(self.dump.get(table, []))

    def practice_ids(self) -> dict[str, str]:
        """Row id of every contact and account → the source client it was made from."""
        out: dict[str, str] = {}
        for table, key in (("contact", "contactid"), ("account", "accountid")):
            for row in self.rows(table):
                if row.get("new_practiceid"):
                    out[str(row[key])] = str(row["new_practiceid"])
        return out


def _migrate(
    base: Path,
    bundle: Path,
    *,
    coaches: list[tuple[str, str, str]] | None,
    check: bool,
    place: Callable[[Path], Settings],
) -> Loaded:
    """Init, propose, confirm (fallback owner set, as a consultant would), provision, the
    journal put where the load tests' journals go (``place``), migrate; with ``check``,
    also scope (discover against the tenant) and verify."""
    with EmulatorApp(data_dir=base / "data") as app, embedded_client(app) as client:
        if coaches is None:
            invite_coaches(app, bundle)
        else:
            for first, last, email in coaches:
                app.add_user(first, last, email)
        commands.init(Settings.load(base), directory=base / "project", source=str(bundle))
        project = Settings.load(base / "project")
        scoping = commands.scope(project, client=client, latency_ms=0) if check else None
        commands.map_propose(project, client=client)
        shortcut_confirm(base / "project")
        commands.map_confirm(project, by="tests", client=client, accept_low_confidence=True)
        commands.provision(project, client=client)
        project = place(base / "project")
        load = run_load(project, client=client, skip_sample_gate=True)
        verified = commands.verify(project, client=client, full=True) if check else None
        dump = {t: list(rows) for t, rows in app.dump()["records"].items()}
    return Loaded(bundle, load, dump, verified, scoping)


@pytest.fixture(scope="module")
def money(tmp_path_factory: pytest.TempPathFactory, journal_homes: JournalHomes) -> Loaded:
    base = tmp_path_factory.mktemp("money")
    bundle = shutil.copytree(MONEY, base / "bundle")
    coaches = [("Cora", "One", "cora.one@example.com"), ("Carl", "Two", "carl.two@example.com")]
    return _migrate(base, bundle, coaches=coaches, check=True, place=journal_homes.place)


def _dec(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


# -- revenue: opportunities from paid sessions ---------------------------------------------


def _opportunities(loaded: Loaded) -> dict[str, list[tuple[Decimal, int]]]:
    """Per source client: (amount, sessions) of each of its opportunities, sorted."""
    clients = loaded.practice_ids()
    out: dict[str, list[tuple[Decimal, int]]] = {}
    for row in loaded.rows("opportunity"):
        client = clients[str(row["customerid"])]
        out.setdefault(client, []).append((_dec(row["actualvalue"]), int(row["new_sessioncount"])))
    return {k: sorted(v) for k, v in sorted(out.items())}


def test_every_paid_session_of_a_client_contributes_with_or_without_a_service_type(
    money: Loaded,
) -> None:
    assert money.load.ok, money.load.as_dict()
    assert _opportunities(money) == {
        "C1": [(Decimal("150.00"), 1), (Decimal("300.00"), 2)],
        "C2": [(Decimal("300.00"), 2)],
        "C3": [(Decimal("200.00"), 1)],
    }
    assert {row["statecode"] for row in money.rows("opportunity")} == {1}  # won
    account = {row["accountid"] for row in money.rows("account")}
    org = next(r for r in money.rows("opportunity") if r["customerid"] in account)
    assert org["name"] == "Sessions with Dana Moss"


def test_a_paid_session_that_adds_nothing_is_reported_with_its_reason(money: Loaded) -> None:
    tally = money.load.aggregated["opportunity"]
    assert tally == {"sessions": 7, "added": 6, "skipped": 1}
    assert tally["sessions"] == tally["added"] + tally["skipped"]
    [skip] = money.load.skips
    assert (skip.object, skip.source_id, skip.file, skip.line) == (
        "sessions",
        "S8",
        "sessions.csv",
        9,
    )
    assert skip.role == "opportunity"
    assert "no client" in skip.reason
    data = money.load.as_dict()
    assert data["skips"][0]["source_id"] == "S8"
    assert data["aggregated"]["opportunity"]["skipped"] == 1


def test_discover_expects_the_opportunities_the_load_writes(money: Loaded) -> None:
    assert money.scoping is not None
    assert money.scoping.counts.rows["opportunity"] == len(money.rows("opportunity")) == 4


# -- totals: invoices with tax ---------------------------------------------------------------


def _invoices(loaded: Loaded) -> dict[str, tuple[Decimal, Decimal]]:
    """Per invoice number: (totalamount, totaltax) in the tenant."""
    return {
        str(r["invoicenumber"]): (_dec(r["totalamount"]), _dec(r["totaltax"]))
        for r in loaded.rows("invoice")
    }


def test_invoice_totals_carry_the_tax(money: Loaded) -> None:
    assert _invoices(money) == {
        "INV-2024-000001": (Decimal("339.00"), Decimal("39.00")),
        "INV-2024-000002": (Decimal("110.00"), Decimal("10.00")),
        "INV-2024-000003": (Decimal("176.00"), Decimal("26.00")),  # the export's line: 150
        "INV-2024-000004": (Decimal("200.00"), Decimal("0.00")),
        "INV-2024-000005": (Decimal("5.00"), Decimal("5.00")),
    }
    by_number = {r["invoiceid"]: r["invoicenumber"] for r in money.rows("invoice")}
    taxes = sorted(
        _dec(line.get("tax"))
        for line in money.rows("invoicedetail")
        if by_number[line["invoiceid"]] == "INV-2024-000002"
    )
    assert taxes == [Decimal("3.33"), Decimal("3.33"), Decimal("3.34")]


def test_verify_blames_the_export_only_where_it_disagrees_with_itself(money: Loaded) -> None:
    assert money.verified is not None
    found = money.verified.differences
    invoices = {r["invoiceid"]: r["invoicenumber"] for r in money.rows("invoice")}
    assert [d for d in found if d.classification == MIGRATION] == []
    defects = [(invoices.get(d.record), d.column) for d in found if d.table == "invoice"]
    assert defects == [("INV-2024-000003", "totalamount")]
    [defect] = [d for d in found if d.table == "invoice"]
    assert defect.classification == SOURCE_DEFECT
    assert "the tax is 26.00" in defect.detail
    sums = money.verified.proof.sums["invoices"]
    assert sums["invoices whose lines agree with their total"] == 4


# -- the same promises on generated bundles ---------------------------------------------------


def _plant(bundle: Path, *, untyped: int, taxed: int, rate: Decimal) -> None:
    """Sessions without a service type and taxed invoices, in a generated bundle."""
    count = {"sessions": 0, "invoices": 0}

    def every(obj: str, n: int) -> bool:
        count[obj] += 1
        return n > 0 and count[obj] % n == 0

    def session(row: Row) -> Row:
        if every("sessions", untyped):
            row["service_type_id"] = ""
        return row

    def invoice(row: Row) -> Row:
        if every("invoices", taxed) and row.get("total_amount"):
            tax = (Decimal(row["subtotal"] or row["total_amount"]) * rate).quantize(CENT)
            row["tax"] = str(tax)
            row["total_amount"] = str(Decimal(row["total_amount"]) + tax)
        return row

    rewrite_rows(bundle, "sessions", edit=session)
    rewrite_rows(bundle, "invoices", edit=invoice)


def _source(bundle: Path) -> tuple[list[Session], dict[str, Invoice], list[InvoiceItem]]:
    with open_bundle(bundle) as b:
        sessions = [r for r in b.read("sessions") if isinstance(r, Session)]
        invoices = {r.id: r for r in b.read("invoices") if isinstance(r, Invoice)}
        items = [r for r in b.read("invoice_items") if isinstance(r, InvoiceItem)]
    return sessions, invoices, items


@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@example(seed=11, clients=12, untyped=2, taxed=2, rate="0.13")
@given(
    seed=st.integers(1, 10_000),
    clients=st.integers(8, 30),
    untyped=st.integers(0, 3),
    taxed=st.integers(0, 3),
    rate=st.sampled_from(["0.13", "0.0825", "0.07", "0.2"]),
)
def test_revenue_and_invoice_totals_hold_on_generated_bundles(
    tmp_path_factory: pytest.TempPathFactory,
    seed: int,
    clients: int,
    untyped: int,
    taxed: int,
    rate: str,
    journal_home: Callable[[Path], Settings],
) -> None:
    """The sum of the opportunities is the sum of the completed, paid sessions loaded (less
    those reported as skipped, each with a reason); every invoice whose source lines and
    tax add up to its total has that total, and that tax, in Dataverse.

    Whatever the generator plants, and more: every ``untyped``-th session loses its service
    type, and every ``taxed``-th invoice gets tax at ``rate`` on top of its total (0: none)."""
    base = tmp_path_factory.mktemp(f"gen-{seed}-{clients}")
    generate_bundle(base / "bundle", clients=clients, seed=seed)
    _plant(base / "bundle", untyped=untyped, taxed=taxed, rate=Decimal(rate))
    loaded = _migrate(base, base / "bundle", coaches=None, check=False, place=journal_home)
    assert loaded.load.ok, loaded.load.as_dict()
    sessions, invoices, items = _source(loaded.bundle)
    with open_journal(Settings.load(base / "project")) as j:
        rejected = {r.source_id for r in j.rejects(loaded.load.run_id) if r.object == "sessions"}
    paid = {
        s.id: s.price or Decimal(0)
        for s in sessions
        if s.status == "completed" and s.billing_status == "paid" and s.id not in rejected
    }
    skipped = {s.source_id: s.reason for s in loaded.load.skips}
    assert all(skipped.values())
    assert set(skipped) <= set(paid)
    tally = loaded.load.aggregated.get("opportunity", {"sessions": 0, "added": 0, "skipped": 0})
    assert tally["sessions"] == len(paid) == tally["added"] + tally["skipped"]
    expected = sum((p for sid, p in paid.items() if sid not in skipped), Decimal(0))
    opportunities = loaded.rows("opportunity")
    assert sum((_dec(r["actualvalue"]) for r in opportunities), Decimal(0)) == expected
    assert sum(int(r["new_sessioncount"]) for r in opportunities) == tally["added"]

    lines: dict[str, Decimal] = {}
    for item in items:
        if item.invoice_id:
            amount = item.amount
            if amount is None and item.quantity is not None and item.unit_price is not None:
                amount = item.quantity * item.unit_price
            lines[item.invoice_id] = lines.get(item.invoice_id, Decimal(0)) + (amount or 0)
    loaded_invoices = {str(r["new_practiceid"]): r for r in loaded.rows("invoice")}
    agreeing = 0
    for inv_id, inv in invoices.items():
        row = loaded_invoices.get(inv_id)
        if row is None or inv.total_amount is None:
            continue
        tax = inv.tax or Decimal(0)
        if lines.get(inv_id, Decimal(0)) + tax == inv.total_amount:
            assert _dec(row["totalamount"]) == inv.total_amount, inv.number
            assert _dec(row["totaltax"]) == tax, inv.number
            agreeing += 1
    assert agreeing > 0
