"""The synthetic bundle generator: reproducible, complete, realistic, streaming, honest.

The checks read the generated files with the standard library only (csv, json, zipfile),
independently of the bundle reader, and re-derive every planted edge case from the data
with the definitions discovery uses, so the ground truth is tested against the bytes.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import re
import struct
import subprocess
import sys
import tracemalloc
import zipfile
import zlib
from collections import Counter, defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from crm_ferry.cli import cli
from crm_ferry.errors import ConfigError
from crm_ferry.sources.generator import GenerateResult, generate_bundle, truth_path_for

OBJECTS = (
    "users", "clients", "client_properties", "families", "service_types", "packages",
    "sessions", "session_notes", "invoices", "invoice_items", "payments", "activities",
    "files", "automations", "email_templates", "integrations", "reports",
)  # fmt: skip
CONFIG_OBJECTS = ("automations", "email_templates", "integrations", "reports")
INDUSTRY_LABELS = {
    "Accounting", "Consulting", "Financial", "Legal Services", "Doctor's Offices and Clinics",
    "Insurance", "Business Services", "Social Services", "Transportation",
}  # fmt: skip
INTENDED_TYPES = {
    "intake_date": "date",
    "session_goal": "number",
    "newsletter_opt_in": "boolean",
    "referral_source": "choice",
    "coaching_goals": "text",
    "last_assessment_date": "date",
    "monthly_budget": "number",
    "prefers_video": "boolean",
    "communication_preference": "choice",
    "background_notes": "text",
}
UPLOAD_LIMIT_B64 = 5_242_880


# ---------------------------------------------------------------------------
# helpers: read a bundle without the reader


def tree_hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def object_file(root: Path, obj: str) -> Path:
    found = [p for p in root.iterdir() if p.is_file() and p.stem == obj]
    assert len(found) == 1, f"{obj}: expected one file, found {found}"
    return found[0]


def load_rows(root: Path, obj: str) -> list[dict[str, Any]]:
    path = object_file(root, obj)
    if path.suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            return [{k: (v if v != "" else None) for k, v in r.items()} for r in csv.DictReader(fh)]
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    value = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(value, list)
    return value


def load_bundle(root: Path) -> dict[str, list[dict[str, Any]]]:
    return {obj: load_rows(root, obj) for obj in OBJECTS}


def truth_of(result: GenerateResult) -> dict[str, Any]:
    assert result.ground_truth is not None
    value = json.loads(result.ground_truth.read_text(encoding="utf-8"))
    assert isinstance(value, dict)
    return value


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


REFERENCES = (
    ("clients", "coach_id", "users"),
    ("clients", "family_id", "families"),
    ("client_properties", "client_id", "clients"),
    ("packages", "client_id", "clients"),
    ("sessions", "client_id", "clients"),
    ("sessions", "coach_id", "users"),
    ("sessions", "service_type_id", "service_types"),
    ("sessions", "package_id", "packages"),
    ("session_notes", "session_id", "sessions"),
    ("session_notes", "client_id", "clients"),
    ("session_notes", "author_id", "users"),
    ("invoices", "client_id", "clients"),
    ("invoice_items", "invoice_id", "invoices"),
    ("invoice_items", "session_id", "sessions"),
    ("invoice_items", "service_type_id", "service_types"),
    ("payments", "invoice_id", "invoices"),
    ("activities", "client_id", "clients"),
    ("activities", "coach_id", "users"),
    ("files", "client_id", "clients"),
    ("files", "session_id", "sessions"),
)


def audit(root: Path, data: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, set[str]]]:
    """Every dangling reference and finding in the bundle, by the contract's definitions."""
    ids = {obj: {r["id"] for r in rows if "id" in r} for obj, rows in data.items()}
    dangling: dict[str, set[str]] = defaultdict(set)
    for obj, fld, target in REFERENCES:
        for r in data[obj]:
            ref = r.get(fld)
            if ref and ref not in ids[target]:
                dangling[f"{obj}.{fld} -> {target}"].add(r.get("id") or r["client_id"])
    findings: dict[str, set[str]] = defaultdict(set)
    by_email: dict[str, list[str]] = defaultdict(list)
    for c in data["clients"]:
        first, last, full, org = (
            c[k] or "" for k in ("first_name", "last_name", "full_name", "organization")
        )
        if not c["email"]:
            findings["clients.missing_email"].add(c["id"])
        else:
            by_email[c["email"].lower()].append(c["id"])
        if not first and not last and full:
            findings["clients.full_name_only"].add(c["id"])
            if "," in full:
                last, first = full.split(",", 1)
            else:
                first, _, last = full.rpartition(" ")
        if any(ord(ch) > 127 for ch in first + last + full + org):
            findings["clients.non_ascii_name"].add(c["id"])
        if any(ch in s for s in (first, last, org) for ch in "'’,"):
            findings["clients.name_punctuation"].add(c["id"])
    for members in by_email.values():
        if len(members) > 1:
            findings["clients.duplicate_email"].update(members)
    coached = {c["coach_id"] for c in data["clients"]}
    for u in data["users"]:
        if u["active"] == "false" and u["id"] in coached:
            findings["users.inactive_with_clients"].add(u["id"])
    for n in data["session_notes"]:
        if re.search(r"<img[^>]*src=\"data:", n["body_html"]):
            findings["session_notes.inline_images"].add(n["id"])
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for it in data["invoice_items"]:
        sums[it["invoice_id"]] += Decimal(it["amount"])
    for inv in data["invoices"]:
        tax = Decimal(inv["tax"] or 0)
        if inv["id"] in sums and sums[inv["id"]] + tax != Decimal(inv["total_amount"]):
            findings["invoices.items_total_mismatch"].add(inv["id"])
    for f in data["files"]:
        if not f["path"] and (f["url"] or f["filename"]):
            findings["files.linked"].add(f["id"])
        if f["path"]:
            p = root / f["path"]
            if not p.is_file():
                findings["files.missing_in_bundle"].add(f["id"])
            elif 4 * -(-p.stat().st_size // 3) > UPLOAD_LIMIT_B64:
                findings["files.over_upload_limit"].add(f["id"])
    return {"dangling": dict(dangling), "findings": dict(findings)}


def as_sets(section: dict[str, list[str]]) -> dict[str, set[str]]:
    return {k: set(v) for k, v in section.items() if v}


# ---------------------------------------------------------------------------
# shared bundles (generated once per module)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> GenerateResult:
    return generate_bundle(tmp_path_factory.mktemp("small") / "b", clients=50, seed=11)


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> GenerateResult:
    return generate_bundle(tmp_path_factory.mktemp("medium") / "b", clients=500, seed=5)


@pytest.fixture(scope="module")
def medium_data(medium: GenerateResult) -> dict[str, list[dict[str, Any]]]:
    return load_bundle(medium.out)


# ---------------------------------------------------------------------------
# determinism


def test_same_seed_and_size_give_identical_bytes(tmp_path: Path) -> None:
    a = generate_bundle(tmp_path / "a", clients=120, seed=3)
    b = generate_bundle(tmp_path / "b", clients=120, seed=3)
    ha, hb = tree_hashes(a.out), tree_hashes(b.out)
    assert ha == hb
    assert any(name.startswith("files/") for name in ha)
    assert a.ground_truth is not None
    assert b.ground_truth is not None
    assert a.ground_truth.read_bytes() == b.ground_truth.read_bytes()
    assert a.files == b.files
    assert a.bytes == b.bytes == sum((a.out / n).stat().st_size for n in ha)

    za = generate_bundle(tmp_path / "za", clients=120, seed=3, as_zip=True)
    zb = generate_bundle(tmp_path / "zb", clients=120, seed=3, as_zip=True)
    assert za.out.name == "za.zip"
    assert za.out.read_bytes() == zb.out.read_bytes()


def test_output_does_not_depend_on_the_process(tmp_path: Path) -> None:
    """Another interpreter with another hash seed writes the same bytes (no set order,
    no ``hash()``, no clock leaks into the output)."""
    here = generate_bundle(tmp_path / "here", clients=60, seed=8)
    there = tmp_path / "there"
    code = (
        "import sys; from pathlib import Path; "
        "from crm_ferry.sources.generator import generate_bundle; "
        "generate_bundle(Path(sys.argv[1]), clients=60, seed=8)"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", code, str(there)], check=True, env=env)
    assert tree_hashes(there) == tree_hashes(here.out)
    assert truth_path_for(there).read_bytes() == truth_path_for(here.out).read_bytes()


def test_a_different_seed_gives_a_different_bundle(tmp_path: Path) -> None:
    a = generate_bundle(tmp_path / "a", clients=60, seed=1)
    b = generate_bundle(tmp_path / "b", clients=60, seed=2)
    ha, hb = tree_hashes(a.out), tree_hashes(b.out)
    for name in ("clients.csv", "sessions.csv", "session_notes.jsonl", "manifest.json"):
        assert ha[name] != hb[name], name


# ---------------------------------------------------------------------------
# completeness


def test_every_contract_file_is_present(small: GenerateResult) -> None:
    root = small.out
    for obj in OBJECTS:
        object_file(root, obj)
    for obj in CONFIG_OBJECTS:
        assert (root / f"{obj}.json").is_file()
    assert (root / "files").is_dir()
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["platform"] == "practice.do"
    assert manifest["timezone"] == "America/New_York"
    assert manifest["currency"] == "USD"
    assert manifest["date_format"] == "iso"
    assert when(manifest["exported_at"]).tzinfo is not None
    truth = truth_of(small)
    assert truth["seed"] == 11
    assert truth["clients"] == 50
    assert set(truth["counts"]) == set(OBJECTS)
    data = load_bundle(root)
    assert truth["counts"] == {obj: len(rows) for obj, rows in data.items()}
    assert {name.split(".")[0]: n for name, n in small.files.items()} == truth["counts"]
    assert small.ground_truth == truth_path_for(small.out)
    assert small.ground_truth.parent == root.parent


def test_canonical_headers_and_custom_columns(small: GenerateResult) -> None:
    with (small.out / "clients.csv").open(encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh))
    for name in ("id", "type", "first_name", "last_name", "full_name", "organization", "email",
                 "coach_id", "vertical", "family_id", "tags", "created_at"):  # fmt: skip
        assert name in header
    custom = {h.removeprefix("custom:") for h in header if h.startswith("custom:")}
    assert custom == {"intake_date", "session_goal", "newsletter_opt_in", "referral_source",
                      "coaching_goals"}  # fmt: skip
    props = load_rows(small.out, "client_properties")
    assert {p["key"] for p in props} == set(INTENDED_TYPES) - custom
    assert len({(p["client_id"], p["key"]) for p in props}) == len(props)


def test_config_objects_have_their_shape(small: GenerateResult) -> None:
    data = load_bundle(small.out)
    assert all(a["trigger"] and a["steps"] for a in data["automations"])
    assert all("<p>" in t["body_html"] and t["subject"] for t in data["email_templates"])
    assert {"calendar", "payment", "zapier"} <= {i["kind"] for i in data["integrations"]}
    assert all(r["metrics"] for r in data["reports"])


# ---------------------------------------------------------------------------
# realism on 500 clients


def test_proportions_like_a_real_practice(
    medium: GenerateResult, medium_data: dict[str, list[dict[str, Any]]]
) -> None:
    d = medium_data
    clients, users, sessions = d["clients"], d["users"], d["sessions"]
    assert len(clients) == 500
    roles = Counter(u["role"] for u in users)
    assert roles["owner"] == 1
    assert roles["assistant"] >= 1
    coaches = roles["coach"] + roles["owner"]
    assert 30 <= len(clients) / coaches <= 50
    orgs = [c for c in clients if c["type"] == "organization"]
    assert 0.05 <= len(orgs) / len(clients) <= 0.16
    assert all(c["organization"] and c["vertical"] for c in orgs)
    verticals = {c["vertical"] for c in orgs}
    assert verticals & INDUSTRY_LABELS
    assert verticals - INDUSTRY_LABELS
    families = Counter(c["family_id"] for c in clients if c["family_id"])
    assert len(d["families"]) >= 5
    assert sum(n >= 2 for n in families.values()) >= 5
    assert all(c["type"] == "individual" for c in clients if c["family_id"])
    assert 4 <= len(sessions) / len(clients) <= 6.5

    export = when(
        json.loads((medium.out / "manifest.json").read_text(encoding="utf-8"))["exported_at"]
    ).replace(tzinfo=None)
    status = Counter(s["status"] for s in sessions)
    assert status["completed"] / len(sessions) > 0.6
    assert min(status[k] for k in ("scheduled", "cancelled", "no_show")) > 0
    for s in sessions:
        future = when(s["start_at"]) > export
        assert future == (s["status"] == "scheduled"), s
        assert when(s["end_at"]) > when(s["start_at"])
        if s["status"] == "scheduled":
            assert s["billing_status"] == "unbilled"
    notes = {n["session_id"] for n in d["session_notes"]}
    completed = [s for s in sessions if s["status"] == "completed"]
    assert sum(s["id"] in notes for s in completed) / len(completed) >= 0.7
    assert all("<p>" in n["body_html"] and "<li>" in n["body_html"] for n in d["session_notes"])
    assert any("&amp;" in n["body_html"] or "&#8217;" in n["body_html"] for n in d["session_notes"])

    kinds = Counter(a["kind"] for a in d["activities"])
    assert set(kinds) == {"call", "email", "meeting"}
    assert {a["direction"] for a in d["activities"]} == {"inbound", "outbound"}
    assert d["packages"]
    assert d["service_types"]
    assert {f["content_type"] for f in d["files"]} >= {
        "application/pdf",
        "image/png",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    }
    assert any(f["session_id"] for f in d["files"])
    assert any(not f["session_id"] for f in d["files"])


def test_billing_is_consistent(
    medium: GenerateResult, medium_data: dict[str, list[dict[str, Any]]]
) -> None:
    d = medium_data
    truth = truth_of(medium)
    invoices = {i["id"]: i for i in d["invoices"]}
    assert set(Counter(i["status"] for i in invoices.values())) == {
        "draft", "sent", "viewed", "paid", "overdue", "failed", "void",
    }  # fmt: skip
    items: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for it in d["invoice_items"]:
        items[it["invoice_id"]].append(it)
        assert Decimal(it["quantity"]) * Decimal(it["unit_price"]) == Decimal(it["amount"])
    mismatched = set(truth["findings"]["invoices.items_total_mismatch"])
    assert mismatched
    for inv_id, inv in invoices.items():
        total = sum(Decimal(it["amount"]) for it in items[inv_id])
        assert items[inv_id], inv_id
        tax = Decimal(inv["tax"] or 0)
        assert (total + tax != Decimal(inv["total_amount"])) == (inv_id in mismatched)
    paid: dict[str, Decimal] = defaultdict(Decimal)
    for p in d["payments"]:
        paid[p["invoice_id"]] += Decimal(p["amount"])
    partly = 0
    for inv_id, inv in invoices.items():
        assert paid[inv_id] == Decimal(inv["amount_paid"])
        if inv["status"] == "paid":
            assert Decimal(inv["amount_paid"]) == Decimal(inv["total_amount"])
            assert inv["paid_at"]
        elif paid[inv_id]:
            partly += 1
            assert inv["status"] in {"sent", "viewed", "overdue"}
            assert Decimal(inv["amount_paid"]) < Decimal(inv["total_amount"])
    assert partly > 0
    session_invoice = {
        it["session_id"]: it["invoice_id"] for it in d["invoice_items"] if it["session_id"]
    }
    for s in d["sessions"]:
        inv_id = session_invoice.get(s["id"])
        if inv_id is None:
            assert s["billing_status"] in {"unbilled", "waived"} or s["package_id"], s
        else:
            expected = {"paid": "paid", "void": "waived"}.get(
                invoices[inv_id]["status"], "invoiced"
            )
            assert s["billing_status"] == expected, s


def test_local_timestamps_fall_in_the_day(
    medium_data: dict[str, list[dict[str, Any]]],
) -> None:
    """Naive timestamps are read in the manifest's time zone; none may fall in the night,
    where a DST change makes a local time missing or ambiguous."""
    seen = 0
    for obj, rows in medium_data.items():
        for row in rows:
            for key, value in row.items():
                if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:]{8}", value):
                    assert 7 <= when(value).hour <= 23, (obj, row.get("id"), key, value)
                    seen += 1
    assert seen > 10_000


def test_custom_property_types_cover_every_kind(
    medium: GenerateResult, small: GenerateResult
) -> None:
    assert truth_of(medium)["custom_properties"] == INTENDED_TYPES
    assert truth_of(small)["custom_properties"] == INTENDED_TYPES
    clients = load_rows(medium.out, "clients")
    goals = [c["custom:coaching_goals"] for c in clients if c["custom:coaching_goals"]]
    assert len(set(goals)) > 12
    assert max(map(len, goals)) > 200
    assert len({c["custom:referral_source"] for c in clients} - {None}) <= 12


# ---------------------------------------------------------------------------
# edge cases: planted, counted, and nothing else


def test_small_bundle_has_every_edge_case_and_truth_matches_the_data(
    small: GenerateResult,
) -> None:
    truth = truth_of(small)
    found = audit(small.out, load_bundle(small.out))
    assert found["dangling"] == as_sets(truth["dangling"])
    assert found["findings"] == as_sets(truth["findings"])
    assert set(found["dangling"]) == {
        "sessions.client_id -> clients",
        "session_notes.session_id -> sessions",
        "invoice_items.invoice_id -> invoices",
        "clients.coach_id -> users",
    }
    assert set(found["findings"]) == {
        "clients.missing_email", "clients.duplicate_email", "clients.full_name_only",
        "clients.non_ascii_name", "clients.name_punctuation", "users.inactive_with_clients",
        "session_notes.inline_images", "invoices.items_total_mismatch", "files.linked",
    }  # fmt: skip


def test_medium_bundle_truth_matches_the_data(
    medium: GenerateResult, medium_data: dict[str, list[dict[str, Any]]]
) -> None:
    truth = truth_of(medium)
    found = audit(medium.out, medium_data)
    assert found["dangling"] == as_sets(truth["dangling"])
    assert found["findings"] == as_sets(truth["findings"])
    # one of each per hundred clients, and nothing by accident: ordinary rows trip no rule
    sizes = {k: len(v) for k, v in (truth["dangling"] | truth["findings"]).items()}
    assert sizes == {
        "clients.coach_id -> users": 5,
        "sessions.client_id -> clients": 5,
        "session_notes.session_id -> sessions": 5,
        "invoice_items.invoice_id -> invoices": 5,
        "clients.missing_email": 5,
        "clients.duplicate_email": 2 + 3 + 2 + 3 + 2,
        "clients.full_name_only": 10,
        "clients.non_ascii_name": sizes["clients.non_ascii_name"],
        "clients.name_punctuation": 10,
        "users.inactive_with_clients": sizes["users.inactive_with_clients"],
        "session_notes.inline_images": 5,
        "invoices.items_total_mismatch": 5,
        "files.linked": 5,
        "files.over_upload_limit": 0,
        "files.missing_in_bundle": 0,
        "files.over_largest_upload_limit": 0,
        "files.blocked_type": 0,
    }
    # accented names, plus planted punctuation that is itself outside ASCII (O’Neil)
    assert 5 <= sizes["clients.non_ascii_name"] <= 15
    assert 1 <= sizes["users.inactive_with_clients"] <= 2


def test_planted_names_have_both_full_name_forms(small: GenerateResult) -> None:
    clients = {c["id"]: c for c in load_rows(small.out, "clients")}
    only = [clients[i]["full_name"] for i in truth_of(small)["findings"]["clients.full_name_only"]]
    assert any("," in n for n in only)
    assert any("," not in n for n in only)
    dup = truth_of(small)["findings"]["clients.duplicate_email"]
    emails = {clients[i]["email"] for i in dup}
    assert len(emails) > len({e.lower() for e in emails}) or len(dup) >= 2


def test_inline_image_is_a_real_png(small: GenerateResult) -> None:
    notes = {n["id"]: n for n in load_rows(small.out, "session_notes")}
    for note_id in truth_of(small)["findings"]["session_notes.inline_images"]:
        m = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', notes[note_id]["body_html"])
        assert m is not None
        check_png(base64.b64decode(m.group(1)))


def test_large_file_option_plants_one_oversized_attachment(tmp_path: Path) -> None:
    result = generate_bundle(tmp_path / "big", clients=30, seed=4, with_large_files=True)
    truth = truth_of(result)
    over = truth["findings"]["files.over_upload_limit"]
    assert len(over) == 1
    files = {f["id"]: f for f in load_rows(result.out, "files")}
    big = files[over[0]]
    data = (result.out / big["path"]).read_bytes()
    assert len(data) > 5 * 1024 * 1024
    assert 4 * -(-len(data) // 3) > UPLOAD_LIMIT_B64
    assert int(big["size_bytes"]) == len(data)
    assert big["sha256"] == hashlib.sha256(data).hexdigest()
    check_pdf(data)
    plain = truth_of(generate_bundle(tmp_path / "plain", clients=30, seed=4))
    assert plain["findings"]["files.over_upload_limit"] == []


# ---------------------------------------------------------------------------
# attachments


def check_pdf(data: bytes) -> None:
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    startxref = int(data.rstrip().split(b"\n")[-2])
    assert data[startxref:].startswith(b"xref")
    count = int(data[startxref:].split(b"\n")[1].split()[1])
    offsets = data[startxref:].split(b"\n")[3 : 2 + count]
    for number, line in enumerate(offsets, start=1):
        off = int(line.split()[0])
        assert data[off:].startswith(b"%d 0 obj" % number)


def check_png(data: bytes) -> None:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR"
    assert length == 13
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert width > 0
    assert height > 0
    assert depth == 8
    assert colour == 2
    assert struct.unpack(">I", data[29:33])[0] == zlib.crc32(data[12:29]) & 0xFFFFFFFF
    assert data.endswith(b"IEND\xaeB`\x82")


def check_docx(data: bytes, path: Path) -> None:
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        names = set(zf.namelist())
        assert {"[Content_Types].xml", "_rels/.rels", "word/document.xml"} <= names
        assert b"<w:document" in zf.read("word/document.xml")
    assert data[:2] == b"PK"


def test_attachments_are_valid_files(medium: GenerateResult) -> None:
    rows = [f for f in load_rows(medium.out, "files") if f["path"]]
    seen = Counter()
    for f in rows:
        path = medium.out / f["path"]
        data = path.read_bytes()
        assert int(f["size_bytes"]) == len(data), f
        assert f["sha256"] == hashlib.sha256(data).hexdigest(), f
        if f["content_type"] == "application/pdf":
            check_pdf(data)
        elif f["content_type"] == "image/png":
            check_png(data)
        else:
            check_docx(data, path)
        seen[f["content_type"]] += 1
    assert len(seen) == 3
    on_disk = {p.name for p in (medium.out / "files").iterdir()}
    assert on_disk == {Path(f["path"]).name for f in rows}


def test_zip_holds_the_same_files_as_the_folder(tmp_path: Path) -> None:
    folder = generate_bundle(tmp_path / "f", clients=80, seed=9)
    zipped = generate_bundle(tmp_path / "z.zip", clients=80, seed=9, as_zip=True)
    assert zipped.out == tmp_path / "z.zip"
    assert zipped.ground_truth == tmp_path / "z.zip.truth.json"
    with zipfile.ZipFile(zipped.out) as zf:
        names = zf.namelist()
        assert names == sorted(names)
        assert {n: hashlib.sha256(zf.read(n)).hexdigest() for n in names} == tree_hashes(folder.out)
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert zipped.bytes == zipped.out.stat().st_size
    assert truth_of(zipped) == truth_of(folder)


# ---------------------------------------------------------------------------
# streaming, safety, CLI


def test_memory_stays_flat_while_streaming(tmp_path: Path) -> None:
    """Peak memory does not grow with the bundle: four times the clients, about the same
    peak (the first, small run also pays for warming caches that other tests may share)."""

    def peak_of(clients: int) -> tuple[int, int]:
        tracemalloc.start()
        try:
            result = generate_bundle(tmp_path / f"s{clients}", clients=clients, seed=6)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return peak, result.bytes

    small_peak, small_bytes = peak_of(300)
    large_peak, large_bytes = peak_of(1200)
    assert large_bytes > 3.5 * small_bytes
    # holding the rows would grow with the output; streaming needs the same few buffers
    assert large_peak < small_peak + 1_000_000, (small_peak, large_peak)
    assert large_peak < large_bytes / 2, (large_peak, large_bytes)


def test_refuses_to_overwrite_what_it_did_not_write(tmp_path: Path) -> None:
    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "thesis.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a generated bundle"):
        generate_bundle(precious, clients=5)
    assert (precious / "thesis.txt").read_text(encoding="utf-8") == "keep me"
    with pytest.raises(ConfigError, match="at least 1"):
        generate_bundle(tmp_path / "none", clients=0)

    again = tmp_path / "again"
    first = generate_bundle(again, clients=20, seed=1)
    second = generate_bundle(again, clients=25, seed=1)
    assert truth_of(second)["counts"]["clients"] == 25
    assert first.out == second.out
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_cli_generate(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "cli"
    res = runner.invoke(
        cli,
        ["generate", "--out", str(out), "--clients", "40", "--seed", "2", "--zip", "--json"],
    )
    assert res.exit_code == 0, res.output
    body = json.loads(res.output)
    assert body["out"] == str(tmp_path / "cli.zip")
    assert body["files"]["clients.csv"] == 40
    assert Path(body["ground_truth"]).is_file()
