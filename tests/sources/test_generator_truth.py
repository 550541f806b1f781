"""Acceptance: discovery on a generated bundle finds exactly what the generator planted.

The generator and the reader are written from the same contract and must meet on it: the
same rows accepted, nothing rejected, the same dangling references and data-quality
findings (by id), the same custom property types.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crm_ferry.sources.discover import SourceDiscovery, discover_source
from crm_ferry.sources.generator import generate_bundle


def _truth(path: Path | None) -> dict[str, Any]:
    assert path is not None
    value = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(value, dict)
    return value


def _assert_agrees(found: SourceDiscovery, truth: dict[str, Any]) -> None:
    rejected = {name: o.rejected for name, o in found.objects.items() if o.rejected}
    assert rejected == {}, (rejected, found.top_reject_reasons)
    accepted = {name: found.objects[name].accepted for name in truth["counts"]}
    assert accepted == truth["counts"]

    planted_dangling = {k: set(v) for k, v in truth["dangling"].items() if v}
    found_dangling = {k: set(d.source_ids) for k, d in found.dangling.items() if d.count}
    for kind in planted_dangling.keys() | found_dangling.keys():
        assert found_dangling.get(kind, set()) == planted_dangling.get(kind, set()), kind
    for kind, d in found.dangling.items():
        assert d.count == len(planted_dangling.get(kind, ())), kind

    planted = {k: set(v) for k, v in truth["findings"].items() if v}
    found_findings = {k: set(f.source_ids) for k, f in found.findings.items() if f.count}
    for kind in planted.keys() | found_findings.keys():
        assert found_findings.get(kind, set()) == planted.get(kind, set()), kind

    assert found.custom_properties == truth["custom_properties"]


@pytest.mark.parametrize(("clients", "seed"), [(50, 11), (7, 3), (1, 4)])
def test_discovery_reports_exactly_what_was_planted_in_a_folder(
    tmp_path: Path, clients: int, seed: int
) -> None:
    result = generate_bundle(tmp_path / "bundle", clients=clients, seed=seed)
    truth = _truth(result.ground_truth)
    found = discover_source(result.out)
    _assert_agrees(found, truth)
    assert found.manifest.get("platform") == "practice.do"


def test_discovery_reports_exactly_what_was_planted_in_a_zip(tmp_path: Path) -> None:
    result = generate_bundle(
        tmp_path / "bundle", clients=260, seed=3, as_zip=True, with_large_files=True
    )
    truth = _truth(result.ground_truth)
    assert truth["findings"]["files.over_upload_limit"]
    found = discover_source(result.out)
    _assert_agrees(found, truth)
