"""The map proposer against the labelled set (``helpers.mapping_variants``) and the emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crm_ferry.commands.emulator import embedded_client
from crm_ferry.emulator import EmulatorApp
from crm_ferry.mapping.defaults import default_document
from crm_ferry.mapping.matcher import Proposal, propose
from crm_ferry.mapping.profile import profile_source
from crm_ferry.mapping.spec import MapDocument
from crm_ferry.model import Client, Reject
from crm_ferry.sources.bundle import open_bundle
from crm_ferry.sources.generator import generate_bundle
from helpers.mapping_variants import VARIANTS, BuiltVariant, Score, build_variant, score

THRESHOLD = 0.8


@pytest.fixture(scope="module")
def metadata() -> Iterator[Any]:
    with EmulatorApp() as app, embedded_client(app) as client:
        yield client.metadata


@pytest.fixture(scope="module")
def results(
    tmp_path_factory: pytest.TempPathFactory, metadata: Any
) -> list[tuple[BuiltVariant, Proposal, Score]]:
    root = tmp_path_factory.mktemp("variants")
    out = []
    for v in VARIANTS:
        built = build_variant(v, root)
        with open_bundle(built.path) as bundle:
            prof = profile_source(bundle)
        proposal = propose(prof, metadata, threshold=THRESHOLD)
        out.append((built, proposal, score(v.name, proposal, built.expected)))
    return out


def test_labelled_set_has_enough_variants(results: list[Any]) -> None:
    assert len(results) >= 8
    formats = set()
    for built, _, _ in results:
        formats |= {p.suffix for p in built.path.iterdir()}
    assert {".csv", ".jsonl"} <= formats


def test_precision_and_recall(results: list[tuple[BuiltVariant, Proposal, Score]]) -> None:
    proposals = sum(s.proposals for _, _, s in results)
    correct = sum(s.correct for _, _, s in results)
    expected = sum(s.expected_mapped for _, _, s in results)
    precision, recall = correct / proposals, correct / expected
    detail = [w for _, _, s in results for w in s.wrong] + [
        m for _, _, s in results for m in s.missed
    ]
    assert precision >= 0.95, detail
    assert recall >= 0.90, detail


def test_wrong_proposals_are_below_the_threshold(
    results: list[tuple[BuiltVariant, Proposal, Score]],
) -> None:
    for _, _, s in results:
        for obj, header, got, want, conf, reason in s.wrong:
            assert conf < THRESHOLD, (s.name, obj, header, got, want, conf, reason)


def test_every_decision_has_a_confidence_and_a_reason(
    results: list[tuple[BuiltVariant, Proposal, Score]],
) -> None:
    for _, proposal, _ in results:
        for d in proposal.decisions:
            assert 0.0 <= d.confidence <= 1.0
            assert d.reason
            assert "\n" not in d.reason


def test_proposed_map_parses_and_its_header_map_reads_the_variant(
    results: list[tuple[BuiltVariant, Proposal, Score]],
) -> None:
    for i, (built, proposal, _) in enumerate(results):
        doc = MapDocument.from_plain(proposal.document)
        if i == 0:  # the YAML round trip is slow (about 1 s): once is enough
            doc = MapDocument.loads(doc.dumps())
        spec, problems = doc.parse()
        assert spec is not None
        errors = [p for p in problems if p.severity == "error" and "pick one" not in p.message]
        assert not errors, (built.variant.name, errors)
        with open_bundle(built.path, column_map=spec.header_map()) as bundle:
            rows = list(bundle.read("clients"))
            if "sessions" in built.variant.changes:
                assert any(not isinstance(r, Reject) for r in bundle.read("sessions"))
        clients = [r for r in rows if isinstance(r, Client)]
        rejects = [r for r in rows if isinstance(r, Reject)]
        assert clients
        assert len(rejects) <= 2, (built.variant.name, rejects[:3])
        assert sum(1 for c in clients if c.first_name) >= len(clients) * 0.8
        assert sum(1 for c in clients if c.email) >= len(clients) * 0.8
        assert all(not k.startswith(("Client First", "Frist")) for c in clients for k in c.extra)


def test_plain_bundle_arrives_at_the_default_map(tmp_path: Path, metadata: Any) -> None:
    generate_bundle(tmp_path / "b", clients=30, seed=1)
    with open_bundle(tmp_path / "b") as bundle:
        prof = profile_source(bundle)
    proposal = propose(prof, metadata)
    default = default_document("new")
    got = proposal.document
    assert set(got) == set(default)
    assert got["owners"] == default["owners"]
    assert got["fingerprint"] == default["fingerprint"]
    assert set(got["targets"]) == set(default["targets"])
    for role, target in default["targets"].items():
        mine = got["targets"][role]
        assert (mine["source"], mine["table"], mine["rows"]) == (
            target["source"],
            target["table"],
            target["rows"],
        )
        for name, fd in target["fields"].items():
            assert (mine["fields"][name]["column"], mine["fields"][name].get("type")) == (
                fd["column"],
                fd.get("type"),
            ), (role, name)
        added = set(mine["fields"]) - set(target["fields"])
        assert all(k.startswith("custom:") for k in added), (role, added)
    # every header the reader knows follows the default map with full confidence
    for d in proposal.decisions:
        if not d.field_key.startswith(("custom:", "extra:")) and d.field_key != "vertical":
            assert d.confidence == 1.0, d
    truth = json.loads((tmp_path / "b.truth.json").read_text())
    kinds = {
        "date": "DateTime",
        "number": "Decimal",
        "boolean": "Boolean",
        "choice": "Picklist",
        "text": ("String", "Memo"),
    }
    for key, kind in truth["custom_properties"].items():
        fd = got["targets"]["contact"]["fields"][f"custom:{key}"]
        assert fd["type"] in kinds[kind], (key, kind, fd)
        assert fd["create"]["schema_name"].lower() == fd["column"]
        if kind == "choice":
            assert fd["create"]["options"]
            assert min(fd["create"]["options"]) == 100_000_000
    vm = got["value_maps"]
    assert vm["gender"]["values"]["female"] == 2
    assert vm["gender"]["values"]["male"] == 1
    assert vm["tags"]["values"], vm["tags"]
    assert all(v is None or isinstance(v, int) for v in vm["vertical"]["values"].values())


def test_custom_columns_have_unique_valid_names(
    results: list[tuple[BuiltVariant, Proposal, Score]],
) -> None:
    for _, proposal, _ in results:
        for role in ("contact", "account"):
            fields = proposal.document["targets"][role]["fields"]
            columns = [fd["column"] for fd in fields.values() if fd.get("column")]
            assert len(columns) == len(set(columns)), role
            for key, fd in fields.items():
                if key.startswith("custom:"):
                    assert len(fd["create"]["schema_name"]) <= 50
                    assert fd["create"]["schema_name"].startswith("new_")


class _NoInvoice:
    """The emulator's metadata, minus the Sales invoice tables."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def has_table(self, table: str) -> bool:
        return table not in ("invoice", "invoicedetail") and bool(self.inner.has_table(table))

    def columns(self, table: str) -> Any:
        return self.inner.columns(table)

    def table(self, table: str) -> Any:
        return self.inner.table(table)


def test_missing_invoice_table_falls_back_to_a_custom_table(tmp_path: Path, metadata: Any) -> None:
    generate_bundle(tmp_path / "b", clients=30, seed=1)
    with open_bundle(tmp_path / "b") as bundle:
        prof = profile_source(bundle)
    proposal = propose(prof, _NoInvoice(metadata), prefix="new")  # type: ignore[arg-type]
    inv = proposal.document["targets"]["invoice"]
    assert inv["table"] == "new_invoice"
    assert inv["create"]["schema_name"] == "new_Invoice"
    assert proposal.document["targets"]["invoice_line"]["table"] == "new_invoicelineitem"
    assert any("no invoice table" in n for n in proposal.notes)
    reasons = [d.reason for d in proposal.decisions if d.table == "new_invoice"]
    assert reasons
    assert all("no invoice table" in r for r in reasons)
    spec = MapDocument.from_plain(proposal.document).parse()[0]
    assert spec is not None
    assert spec.value_maps["invoice_status"].values["paid"] >= 100_000_000


def test_unmatched_verticals_need_a_person(results: list[Any], metadata: Any) -> None:
    industry = metadata.columns("account")["industrycode"].options
    for _, proposal, _ in results:
        values = proposal.document["value_maps"]["vertical"]["values"]
        for vertical, option in values.items():
            if option is not None:
                assert industry[option].lower() == vertical
        for vd in proposal.value_decisions:
            if vd.value_map == "vertical" and vd.option is None:
                assert vd.confidence < THRESHOLD
