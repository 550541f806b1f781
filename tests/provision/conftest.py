"""Fixtures of the provisioning tests: an emulator, a client on it, a project with a map."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from crm_ferry.commands.emulator import embedded_client
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.emulator import EmulatorApp
from crm_ferry.mapping.defaults import default_document
from crm_ferry.mapping.spec import MAP_FILE, MapDocument, MappingSpec
from crm_ferry.provision.compare import CURRENCY_COMPANIONS
from crm_ferry.settings import Settings


@pytest.fixture
def app() -> Iterator[EmulatorApp]:
    with EmulatorApp() as emulator:
        yield emulator


@pytest.fixture
def client(app: EmulatorApp) -> Iterator[DataverseClient]:
    with embedded_client(app, key_poll_interval=0.0) as c:
        yield c


def confirmed(doc: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(doc))
    out["status"] = "confirmed"
    out["confirmed_by"] = "Test Person"
    out["confirmed_at"] = "2024-05-01T10:00:00+00:00"
    return out


def spec_of(doc: Mapping[str, Any]) -> MappingSpec:
    return MapDocument.from_plain(doc).spec()


def write_project(folder: Path, doc: Mapping[str, Any], toml: str = "") -> Settings:
    folder.mkdir(parents=True, exist_ok=True)
    MapDocument.from_plain(doc).save(folder / MAP_FILE)
    if toml:
        (folder / "ferry.toml").write_text(toml, encoding="utf-8")
    return Settings.load(folder, env={})


@pytest.fixture
def project(tmp_path: Path) -> Settings:
    """A project whose map is the default map, confirmed."""
    return write_project(tmp_path / "project", confirmed(default_document()))


def metadata_snapshot(app: EmulatorApp) -> dict[str, Any]:
    """Every table, column, option, relationship and key the emulator holds."""
    return copy.deepcopy(dict(app.dump("systemuser")["metadata"]))


def without_companions(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    """``after`` less the currency columns a table's first Money column brought (Dataverse
    keeps them when that column is deleted, so a rollback cannot take them back)."""
    had = {
        e["logical_name"]: {a["logical_name"] for a in e["attributes"]} for e in before["entities"]
    }
    out = copy.deepcopy(after)
    added: set[tuple[str, str]] = set()
    for e in out["entities"]:
        old = had.get(e["logical_name"], set())
        keep = []
        for a in e["attributes"]:
            name = a["logical_name"]
            if name in CURRENCY_COMPANIONS and name not in old:
                added.add((e["logical_name"], name))
                continue
            keep.append(a)
        e["attributes"] = keep
    out["relationships"] = [
        r
        for r in out["relationships"]
        if (r["referencing_entity"], r["referencing_attribute"]) not in added
    ]
    return out
