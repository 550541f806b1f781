"""Discovery on small hand-written bundles: dangling references, findings, custom
properties, and the ``crm-ferry discover`` command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from crm_ferry.cli import cli
from crm_ferry.sources.discover import FINDING_KINDS, REFERENCES, discover_source

BUNDLES = Path(__file__).parents[1] / "cases" / "sources" / "bundles"

DANGLING = {
    "clients.coach_id -> users": ["C2"],
    "clients.coach_email -> users": ["C4", "C6"],  # C6's coach is a rejected user
    "clients.family_id -> families": ["C2"],
    "groups.members -> clients": ["G1", "G2"],  # C9 is not in clients, C5 was rejected
    "group_members.group_id -> groups": ["G9/C1"],
    "group_members.client_id -> clients": ["G2/C8"],
    "client_properties.client_id -> clients": ["C9/referral", "C5/x"],  # C5 was rejected
    "packages.client_id -> clients": ["P2"],
    "sessions.client_id -> clients": ["S2", "S3"],
    "sessions.coach_id -> users": ["S2"],
    "sessions.coach_email -> users": ["S3"],
    "sessions.service_type_id -> service_types": ["S2"],
    "sessions.package_id -> packages": ["S2"],
    "session_notes.session_id -> sessions": ["N2"],
    "session_notes.client_id -> clients": ["N2"],
    "session_notes.author_id -> users": ["N2"],
    "invoices.client_id -> clients": ["I2"],
    "invoice_items.invoice_id -> invoices": ["II5"],
    "invoice_items.session_id -> sessions": ["II5"],
    "invoice_items.service_type_id -> service_types": ["II5"],
    "payments.invoice_id -> invoices": ["PM2"],
    "activities.client_id -> clients": ["A2"],
    "activities.coach_id -> users": ["A2"],
    "files.client_id -> clients": ["FL2"],
    "files.session_id -> sessions": ["FL2"],
}

FINDINGS = {
    "clients.missing_email": ["C3"],
    "clients.duplicate_email": ["C1", "C2", "C7"],  # trimmed and case-insensitive
    "clients.full_name_only": ["C6"],
    "clients.non_ascii_name": ["C6"],
    "clients.name_punctuation": ["C3", "C7"],
    "users.inactive_with_clients": ["U2"],  # U3 is inactive but coaches nobody
    "session_notes.inline_images": ["N1"],
    "invoices.items_total_mismatch": ["I3"],
    # FL5's real file is small; FL6 is exactly at the limit
    "files.over_upload_limit": ["FL4", "FL7"],
    "files.linked": ["FL3", "FL4", "FL6", "FL7", "FL8"],
    "files.missing_in_bundle": ["FL2"],
    "files.over_largest_upload_limit": ["FL7"],  # 4 bytes over 131,072,000 once encoded
    "files.blocked_type": ["FL8"],
}


@pytest.fixture(scope="module")
def refs() -> object:
    return discover_source(BUNDLES / "refs")


def test_every_reference_kind_is_checked(refs) -> None:
    assert {f"{o}.{f} -> {t}" for o, f, t in REFERENCES} == set(DANGLING)
    got = {kind: list(d.source_ids) for kind, d in refs.dangling.items()}
    assert got == DANGLING
    assert list(refs.dangling) == list(DANGLING)  # in the order of REFERENCES
    for kind, d in refs.dangling.items():
        assert d.count == len(DANGLING[kind])


def test_dangling_examples_name_file_line_and_target(refs) -> None:
    examples = refs.dangling["sessions.client_id -> clients"].examples
    assert examples == ("sessions.csv:3 S2 -> C9", "sessions.csv:4 S3 -> C5")


def test_findings(refs) -> None:
    assert set(FINDINGS) == set(FINDING_KINDS)
    got = {kind: list(f.source_ids) for kind, f in refs.findings.items()}
    assert got == FINDINGS


def test_counts_and_custom_properties(refs) -> None:
    assert list(refs.objects) == [
        "users",
        "families",
        "clients",
        "groups",
        "group_members",
        "client_properties",
        "service_types",
        "packages",
        "sessions",
        "session_notes",
        "invoices",
        "invoice_items",
        "payments",
        "activities",
        "files",
    ]
    for summary in refs.objects.values():
        assert summary.read == summary.accepted + summary.rejected
    assert (refs.objects["users"].accepted, refs.objects["users"].rejected) == (3, 1)
    assert refs.custom_properties == {"referral": "text", "x": "number"}


def test_only_objects_present_are_checked() -> None:
    result = discover_source(BUNDLES / "no_parents")
    assert set(result.dangling) == {"sessions.client_id -> clients"}
    assert result.dangling["sessions.client_id -> clients"].source_ids == ("S2",)


def test_same_result_from_a_zip(tmp_path: Path, refs) -> None:
    archive = shutil.make_archive(str(tmp_path / "refs"), "zip", BUNDLES, "refs")
    zipped = discover_source(Path(archive))
    assert zipped.bundle_kind == "zip"
    same = {"source": None, "bundle_kind": None}
    assert zipped.as_dict() | same == refs.as_dict() | same


def test_custom_property_inference_over_both_forms(make_bundle) -> None:
    root = make_bundle(
        **{
            "clients.csv": "clients/custom_columns.csv",
            "client_properties.csv": "client_id,key,value\nC1,intake_date,2024-03-01\n"
            "C2,newsletter,Yes\nC3,newsletter,no\nC1,tier,gold\nC2,tier,gold\nC3,tier,silver\n",
        }
    )
    result = discover_source(root)
    assert result.custom_properties == {
        "Budget": "number",
        "intake_date": "date",
        "newsletter": "boolean",
        "referral_source": "choice",
        "tier": "choice",
    }
    details = result.custom_property_details
    assert details["referral_source"]["choices"] == ["web", "friend"]
    assert details["Budget"]["max_length"] == len("1,200.50")


def test_cli_discover_json(tmp_path: Path) -> None:
    rejects = tmp_path / "rejects.jsonl"
    result = CliRunner().invoke(
        cli,
        [
            "--project",
            str(tmp_path),
            "discover",
            "--source",
            str(BUNDLES / "refs"),
            "--rejects",
            str(rejects),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert set(body) >= {
        "source",
        "manifest",
        "objects",
        "dangling",
        "findings",
        "custom_properties",
        "top_reject_reasons",
        "rejects_path",
    }
    assert body["objects"]["clients"] == {
        "file": "clients.csv",
        "format": "csv",
        "read": 7,
        "accepted": 6,
        "rejected": 1,
    }
    assert body["dangling"]["files.session_id -> sessions"]["count"] == 1
    assert body["findings"]["clients.duplicate_email"]["source_ids"] == ["C1", "C2", "C7"]
    assert body["custom_properties"] == {"referral": "text", "x": "number"}
    assert len(rejects.read_text().splitlines()) == 3


def test_cli_discover_table_and_missing_file_exit_code(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli, ["discover", "--source", str(BUNDLES / "salted")])
    assert ok.exit_code == 0, ok.output
    assert "clients.csv" in ok.output
    (tmp_path / "users.csv").write_text("id\nU1\n")
    bad = runner.invoke(cli, ["discover", "--source", str(tmp_path)])
    assert bad.exit_code == 3
    assert "no clients file" in bad.output
