"""``crm-ferry init`` and ``crm-ferry map ...`` through click's CliRunner, against the emulator."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import crm_ferry.commands._project as connect
from crm_ferry.cli import cli
from crm_ferry.commands.emulator import embedded_client
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.emulator import EmulatorApp
from crm_ferry.mapping.spec import MapDocument
from crm_ferry.settings import Settings
from crm_ferry.sources.generator import generate_bundle


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "bundle"
    generate_bundle(out, clients=20, seed=4)
    return out


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorApp]:
    """Every client the commands build talks to one in-process emulator."""
    with EmulatorApp() as emulator:

        def client_from_settings(settings: Settings, **_: Any) -> DataverseClient:
            return embedded_client(emulator)

        monkeypatch.setattr(connect, "client_from_settings", client_from_settings)
        yield emulator


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def project(tmp_path: Path, bundle: Path) -> Path:
    root = tmp_path / "migration"
    shutil.copytree(bundle, root / "bundle")  # init --source refuses a bundle not there
    result = invoke("init", str(root), "--source", str(root / "bundle"), "--json")
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)["created"]) == {"ferry.toml", ".gitignore", "runs/"}
    return root


def finish(root: Path) -> None:
    """The person's review: a fallback owner and an option for every open value."""
    doc = MapDocument.load(root / "mapping.yaml")
    doc.data["owners"]["fallback"] = "alex.admin@crmferry.onmicrosoft.com"
    for vm in doc.data["value_maps"].values():
        for key in list(vm.get("values") or {}):
            if vm["values"][key] is None:
                vm["values"][key] = 1
    doc.save()


def test_init_prints_what_it_created(tmp_path: Path) -> None:
    result = invoke("init", str(tmp_path / "m"))
    assert result.exit_code == 0, result.output
    assert "created  ferry.toml" in result.stdout
    again = invoke("init", str(tmp_path / "m"))
    assert "kept     ferry.toml (already there)" in again.stdout


def test_the_map_workflow_through_the_cli(app: EmulatorApp, project: Path) -> None:
    root = str(project)
    proposed = invoke("-C", root, "map", "propose", "--json")
    assert proposed.exit_code == 0, proposed.output
    body = json.loads(proposed.stdout)
    assert body["created"] is True
    assert body["status"] == "proposed"
    assert body["unresolved_owners"]

    shown = invoke("-C", root, "map", "show", "--json")
    assert shown.exit_code == 0
    lines = json.loads(shown.stdout)["lines"]
    assert any(ln["source"] == "clients.email" for ln in lines)
    table = invoke("-C", root, "map", "show")
    assert "clients.email" in table.stdout
    assert "Owners" in table.stdout

    checked = invoke("-C", root, "map", "check")
    assert checked.exit_code == 4  # the map's code
    assert "mapping.yaml:" in checked.stdout
    assert "owners.coaches.usr_0001" in checked.stdout

    refused = invoke("-C", root, "map", "confirm", "--by", "Pat")
    assert refused.exit_code == 4
    assert "cannot be confirmed" in refused.stderr
    assert "what to do:" in refused.stderr

    refused_json = invoke("-C", root, "map", "confirm", "--by", "Pat", "--json")
    assert refused_json.exit_code == 4
    error = json.loads(refused_json.stdout)["error"]
    assert error["type"] == "MapError"
    assert "owners.fallback" in error["hint"]

    finish(project)
    checked = invoke("-C", root, "map", "check", "--json")
    assert checked.exit_code == 0, checked.stdout
    assert json.loads(checked.stdout)["ok"] is True

    doubtful = invoke("-C", root, "map", "confirm", "--by", "Pat", "--json")
    assert doubtful.exit_code == 4  # lines under the threshold nobody accepted
    assert json.loads(doubtful.stdout)["error"]["type"] == "LowConfidence"
    args = ("-C", root, "map", "confirm", "--by", "Pat", "--accept-low-confidence", "--json")
    confirmed = invoke(*args)
    assert confirmed.exit_code == 0, confirmed.output
    assert json.loads(confirmed.stdout)["confirmed_by"] == "Pat"

    again = invoke("-C", root, "map", "propose")
    assert again.exit_code == 0, again.output
    assert "Unchanged:" in again.stdout
    assert MapDocument.load(project / "mapping.yaml").data["status"] == "confirmed"


def test_map_show_without_a_map_says_what_to_do(tmp_path: Path) -> None:
    invoke("init", str(tmp_path))  # a project, without a map
    result = invoke("-C", str(tmp_path), "map", "show")
    assert result.exit_code == 4
    assert "crm-ferry map propose" in result.stderr
