"""``[source] line_limit_mib`` in ferry.toml sets the longest line an export file may have."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from crm_ferry import commands
from crm_ferry.errors import ConfigError
from crm_ferry.settings import Settings
from crm_ferry.sources.generator import generate_bundle


def _bundle_with_a_long_line(folder: Path, size: int) -> Path:
    generate_bundle(folder / "bundle", clients=4, seed=3)
    path = folder / "bundle" / "clients.csv"
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows[1]["address_line2"] = "x" * size
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path.parent


def _project(tmp_path: Path, bundle: Path, extra: str) -> Settings:
    project = tmp_path / "project"
    project.mkdir()
    (project / "ferry.toml").write_text(f'[source]\npath = "{bundle}"\n{extra}', encoding="utf-8")
    return Settings.load(project)


def test_a_line_over_the_configured_limit_is_a_reject_that_says_how_to_read_it(
    tmp_path: Path,
) -> None:
    bundle = _bundle_with_a_long_line(tmp_path, 1536 * 1024)
    settings = _project(tmp_path, bundle, "line_limit_mib = 1\n")
    assert settings.line_limit == 1024 * 1024
    found = commands.discover(settings, rejects=tmp_path / "rejects.jsonl")
    text = (tmp_path / "rejects.jsonl").read_text(encoding="utf-8")
    assert "line 4 is longer than 1 MiB" in text  # the first row spans lines 2-3
    assert "[source] line_limit_mib" in text
    assert found.as_dict()["objects"]["clients"]["rejected"] == 1


def test_the_default_limit_reads_the_same_line(tmp_path: Path) -> None:
    bundle = _bundle_with_a_long_line(tmp_path, 1536 * 1024)
    settings = _project(tmp_path, bundle, "")
    assert settings.line_limit == 4 * 1024 * 1024
    commands.discover(settings, rejects=tmp_path / "rejects.jsonl")
    assert "longer than" not in (tmp_path / "rejects.jsonl").read_text(encoding="utf-8")


@pytest.mark.parametrize("value", ["0", "2048", '"big"'])
def test_an_unusable_limit_is_a_config_error(tmp_path: Path, value: str) -> None:
    (tmp_path / "ferry.toml").write_text(f"[source]\nline_limit_mib = {value}\n")
    with pytest.raises(ConfigError, match="line_limit_mib"):
        Settings.load(tmp_path)
