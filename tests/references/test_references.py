from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from crm_ferry.cli import cli
from crm_ferry.mapping.defaults import default_document
from crm_ferry.mapping.spec import MapDocument, MappingSpec
from crm_ferry.model import Automation, EmailTemplate, Integration, Report
from crm_ferry.references import data_dictionary, html_to_text, write_references
from crm_ferry.sources.bundle import open_bundle
from crm_ferry.sources.generator import generate_bundle


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("refs") / "bundle"
    generate_bundle(out, clients=30, seed=1)
    return out


@pytest.fixture(scope="module")
def spec() -> MappingSpec:
    return MapDocument.from_plain(default_document()).spec()


def _ids(bundle_dir: Path, obj: str, cls: type) -> list[str]:
    with open_bundle(bundle_dir) as b:
        return [r.id for r in b.read(obj) if isinstance(r, cls)]


def test_references_cover_every_record_of_the_bundle(
    bundle_dir: Path, spec: MappingSpec, tmp_path: Path
) -> None:
    with open_bundle(bundle_dir) as b:
        result = write_references(b, spec, tmp_path / "refs")
    truth = json.loads(bundle_dir.with_suffix(".truth.json").read_text())["counts"]
    assert result.automations == truth["automations"] > 0
    assert result.templates == truth["email_templates"] > 0
    assert result.integrations == truth["integrations"] > 0
    assert result.reports == truth["reports"] > 0

    out = tmp_path / "refs"
    for stem, key, obj, cls in (
        ("automations", "automations", "automations", Automation),
        ("email_templates", "email_templates", "email_templates", EmailTemplate),
        ("integrations", "integrations", "integrations", Integration),
        ("reports", "reports", "reports", Report),
    ):
        data = json.loads((out / f"{stem}.json").read_text())
        ids = _ids(bundle_dir, obj, cls)
        assert [e["id"] for e in data[key]] == ids
        md = (out / f"{stem}.md").read_text()
        for ident in ids:
            assert f"`{ident}`" in md, (stem, ident)


def test_automation_guide_names_trigger_steps_and_replacement(
    bundle_dir: Path, spec: MappingSpec, tmp_path: Path
) -> None:
    with open_bundle(bundle_dir) as b:
        write_references(b, spec, tmp_path)
    autos = json.loads((tmp_path / "automations.json").read_text())["automations"]
    for a in autos:
        assert {"name", "trigger", "steps", "active", "rebuild"} <= a.keys()
        assert len(a["rebuild"]["actions"]) == len(a["steps"])
        assert a["rebuild"]["trigger"]["trigger"]
    created = next(a for a in autos if a["trigger"] == "client.created")
    assert "When a row is added" in created["rebuild"]["trigger"]["trigger"]
    assert "contact" in created["rebuild"]["trigger"]["trigger"]
    no_show = next(a for a in autos if a["trigger"] == "session.no_show")
    assert "new_sessionstatus eq 100000003" in no_show["rebuild"]["trigger"]["trigger"]
    monthly = next(a for a in autos if a["trigger"] == "schedule.monthly")
    assert "Recurrence" in monthly["rebuild"]["trigger"]["trigger"]
    assert monthly["active"] is False


def test_templates_have_plain_text_and_html(
    bundle_dir: Path, spec: MappingSpec, tmp_path: Path
) -> None:
    with open_bundle(bundle_dir) as b:
        write_references(b, spec, tmp_path)
    templates = json.loads((tmp_path / "email_templates.json").read_text())["email_templates"]
    for t in templates:
        assert t["subject"]
        assert t["body_html"]
        assert t["body_text"]
        assert "<" not in t["body_text"]
    assert "I’m delighted" in templates[0]["body_text"]  # entities decoded


def test_integrations_checklist_has_native_replacements(
    bundle_dir: Path, spec: MappingSpec, tmp_path: Path
) -> None:
    with open_bundle(bundle_dir) as b:
        write_references(b, spec, tmp_path)
    items = json.loads((tmp_path / "integrations.json").read_text())["integrations"]
    by_kind: dict[str, list[str]] = {}
    for i in items:
        by_kind.setdefault(i["kind"], []).append(i["replacement"])
    assert all("Outlook" in r for r in by_kind["calendar"])
    assert all("Power Automate" in r for r in by_kind["payment"])
    assert all("cloud flow" in r for r in by_kind["zapier"])
    md = (tmp_path / "integrations.md").read_text()
    assert md.count("- [ ] **") == len(items)


def test_dictionary_has_a_row_for_every_mapped_column(
    bundle_dir: Path, spec: MappingSpec, tmp_path: Path
) -> None:
    with open_bundle(bundle_dir) as b:
        result = write_references(b, spec, tmp_path)
    expected = {
        (t.role, t.table, fm.column, t.source, fm.source)
        for t, fm in spec.fields()
        if fm.column and t.enabled
    }
    with (tmp_path / "data_dictionary.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    got = {
        (r["role"], r["table"], r["column"], r["source_object"], r["source_field"]) for r in rows
    }
    assert got == expected
    assert result.dictionary_rows == len(rows) == len(data_dictionary(spec))
    data = json.loads((tmp_path / "data_dictionary.json").read_text())["columns"]
    assert len(data) == len(rows)
    status = next(
        r for r in data if r["table"] == "new_session" and r["column"] == "new_sessionstatus"
    )
    assert status["values"]["no_show"] == 100000003
    assert status["created_by_crm_ferry"] is True
    first = next(r for r in data if r["table"] == "contact" and r["column"] == "firstname")
    assert first["created_by_crm_ferry"] is False
    md = (tmp_path / "data_dictionary.md").read_text()
    assert "## new_session" in md
    assert "no_show=100000003" in md


def test_html_to_text_keeps_paragraphs_and_list_items() -> None:
    text = html_to_text("<p>One &amp; two</p><ul><li>a</li><li>b</li></ul><p>x<br>y</p>")
    assert text.splitlines() == ["One & two", "- a", "- b", "x", "y"]


def test_cli_references(bundle_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "ferry.toml").write_text(f'[source]\npath = "{bundle_dir}"\n')
    MapDocument.from_plain(default_document()).save(tmp_path / "mapping.yaml")
    res = CliRunner().invoke(cli, ["-C", str(tmp_path), "references", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["automations"] == 7
    assert Path(data["out_dir"]) == tmp_path / "references"
    assert (tmp_path / "references" / "data_dictionary.csv").exists()


def test_cli_references_without_map(bundle_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "ferry.toml").write_text(f'[source]\npath = "{bundle_dir}"\n')
    res = CliRunner().invoke(cli, ["-C", str(tmp_path), "references"])
    assert res.exit_code == 4
