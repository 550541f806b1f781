"""The acceptance test of workbook bundles: the CSV variant and the workbook variants of the
same generated bundle read to the same records, the same rejects, the same discovery and
the same proposed map.

Three variants of one practice (same seed, a few hundred clients, planted edge cases and
planted bad rows): the CSV folder, the ``single`` workbook (``bundle.xlsx`` with a sheet
per object and ``files/`` beside it) and the ``mixed`` folder (clients, sessions and
invoices as ``.xlsx`` next to CSVs). Records are compared field by field (the canonical
records of :mod:`crm_ferry.model`, provenance aside); rejects by object, column, value,
source id and reason, where the place differs (a CSV line against a sheet's row, e.g.
``first seen on line N``) and is mapped from one to the other through the rows both read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from crm_ferry.cli import cli
from crm_ferry.commands.emulator import embedded_client
from crm_ferry.emulator import EmulatorApp
from crm_ferry.mapping.matcher import propose
from crm_ferry.mapping.profile import profile_source
from crm_ferry.model import Record, Reject
from crm_ferry.sources import open_bundle
from crm_ferry.sources.discover import discover_source
from crm_ferry.sources.generator import generate_bundle, truth_path_for

CLIENTS = 300
SEED = 5
VARIANTS = ("single", "mixed")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("variants")
    out = {"csv": root / "csv"}
    generate_bundle(out["csv"], clients=CLIENTS, seed=SEED, bad_rows=True)
    for layout in VARIANTS:
        out[layout] = root / layout
        generate_bundle(out[layout], clients=CLIENTS, seed=SEED, workbook=layout, bad_rows=True)
    return out


Items = dict[str, list[Record | Reject]]


def read_everything(path: Path) -> Items:
    with open_bundle(path) as bundle:
        items: Items = {obj: list(bundle.read(obj)) for obj in bundle.objects}
        for obj, counts in bundle.counts.items():
            assert counts.read == counts.accepted + counts.rejected == len(items[obj])
    return items


@pytest.fixture(scope="module")
def csv_items(bundles: dict[str, Path]) -> Items:
    return read_everything(bundles["csv"])


def test_the_ground_truth_is_the_csv_variant_s(bundles: dict[str, Path]) -> None:
    truth = truth_path_for(bundles["csv"]).read_bytes()
    for layout in VARIANTS:
        assert truth_path_for(bundles[layout]).read_bytes() == truth
    assert b'"planted_rejects"' in truth


def test_the_layouts_are_what_they_say(bundles: dict[str, Path]) -> None:
    assert sorted(p.name for p in bundles["single"].iterdir()) == ["bundle.xlsx", "files"]
    mixed = {p.name for p in bundles["mixed"].iterdir()}
    assert {"clients.xlsx", "sessions.xlsx", "invoices.xlsx", "users.csv"} <= mixed
    assert "clients.csv" not in mixed


@pytest.mark.parametrize("layout", VARIANTS)
def test_same_records_and_same_rejects(
    bundles: dict[str, Path], csv_items: Items, layout: str
) -> None:
    book_items = read_everything(bundles[layout])
    assert list(book_items) == list(csv_items)
    rejected = 0
    for obj, expected in csv_items.items():
        got = book_items[obj]
        assert len(got) == len(expected), obj
        lines = {a.provenance.line if isinstance(a, Record) else a.line:
                 b.provenance.line if isinstance(b, Record) else b.line
                 for a, b in zip(expected, got, strict=True)}  # fmt: skip
        for a, b in zip(expected, got, strict=True):
            assert type(a) is type(b), (obj, a, b)
            if isinstance(a, Reject):
                assert isinstance(b, Reject)
                rejected += 1
                assert (a.object, a.column, a.value, a.source_id) == (
                    b.object, b.column, b.value, b.source_id,
                )  # fmt: skip
                assert _mapped(a.reason, lines) == b.reason, (obj, a, b)
            else:
                assert isinstance(b, Record)
                assert _without_place(a) == _without_place(b), (obj, a.id)
    assert rejected >= 10  # the planted bad rows: bad values, duplicates, an empty row


def _without_place(record: Record) -> Record:
    return dataclasses.replace(record, provenance=None)  # type: ignore[arg-type]


def _mapped(reason: str, lines: dict[int, int]) -> str:
    return re.sub(r"\bline (\d+)", lambda m: f"line {lines[int(m[1])]}", reason)


def _comparable(summary: dict[str, Any]) -> dict[str, Any]:
    """A discovery without what names the place (files, sheets, examples' lines)."""
    out = dict(summary)
    for key in ("source", "bundle_kind", "ignored_sheets", "rejects_path"):
        out.pop(key)
    out["objects"] = {
        obj: {k: v for k, v in o.items() if k in ("read", "accepted", "rejected")}
        for obj, o in summary["objects"].items()
    }
    out["dangling"] = {
        k: {**d, "examples": len(d["examples"])} for k, d in summary["dangling"].items()
    }
    if summary.get("linked_files"):
        linked = summary["linked_files"]
        problems = [{k: v for k, v in p.items() if k != "where"} for p in linked["problems"]]
        out["linked_files"] = {**linked, "problems": problems}
    return out


def test_discovery_is_the_same_and_names_the_sheets(bundles: dict[str, Path]) -> None:
    csv = discover_source(bundles["csv"])
    assert csv.bundle_kind == "folder"
    assert not csv.ignored_sheets
    single = discover_source(bundles["single"])
    assert _comparable(single.as_dict()) == _comparable(csv.as_dict())
    clients = single.objects["clients"]
    assert (clients.file, clients.format, clients.sheet) == ("bundle.xlsx", "xlsx", "Clients")
    assert [(s.file, s.sheet) for s in single.ignored_sheets] == [("bundle.xlsx", "Read me")]
    alone = discover_source(bundles["single"] / "bundle.xlsx")
    assert alone.bundle_kind == "workbook"
    files = alone.objects["files"]
    assert (
        files.rejected
        == files.read - csv.findings["files.linked"].count - csv.objects["files"].rejected
    )


def test_the_proposed_map_is_the_same(bundles: dict[str, Path]) -> None:
    with EmulatorApp() as app, embedded_client(app) as client:
        maps = {}
        for variant in ("csv", *VARIANTS):
            with open_bundle(bundles[variant]) as bundle:
                profile = profile_source(bundle)
            maps[variant] = propose(profile, client.metadata, prefix="new").document
    for layout in VARIANTS:
        assert maps[layout] == maps["csv"], layout


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    digests = set()
    for n in range(2):
        out = tmp_path / f"b{n}"
        generate_bundle(out, clients=20, seed=SEED, workbook=True)
        digests.add(hashlib.sha256((out / "bundle.xlsx").read_bytes()).hexdigest())
    assert len(digests) == 1


@pytest.mark.parametrize(
    ("flag", "expected"),
    [("--workbook", "bundle.xlsx"), ("--workbook=mixed", "clients.xlsx")],
)
def test_cli_generate_workbook(tmp_path: Path, flag: str, expected: str) -> None:
    out = tmp_path / "bundle"
    args = ["--project", str(tmp_path), "generate", flag, "--out", str(out), "--clients", "5"]
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert (out / expected).is_file()
    with open_bundle(out) as bundle:
        assert bundle.files["clients"].name == expected
