"""Issue 15, point 5: ``map confirm`` lists every line under the confidence threshold and
refuses (exit 4, the map's code) unless they are accepted: ``--accept-low-confidence``, or a
yes at the terminal; with ``--json`` the refusal is machine readable."""

from __future__ import annotations

import importlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

import crm_ferry.commands._project as connect
from crm_ferry.cli import cli
from crm_ferry.commands.emulator import embedded_client
from crm_ferry.commands.mapping import (
    LowConfidence,
    MapLine,
    below_threshold,
    init,
    map_confirm,
    map_propose,
)
from crm_ferry.commands.mapping import map_show as show_map
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.emulator import EmulatorApp
from crm_ferry.errors import MapError
from crm_ferry.mapping.merge import plain_value
from crm_ferry.mapping.spec import MapDocument
from crm_ferry.settings import Settings
from crm_ferry.sources.generator import generate_bundle

FALLBACK = "alex.admin@crmferry.onmicrosoft.com"
cli_main = importlib.import_module("crm_ferry.cli.main")  # the package exports a `main` too


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorApp]:
    with EmulatorApp() as app:
        yield app


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, emulator: EmulatorApp) -> Path:
    """A project whose map is reviewed (a fallback, an option for every open value) but has
    lines under the threshold (the proposer's doubtful ones, and clients.email at 0.3)."""
    root = tmp_path_factory.mktemp("lowconf") / "project"
    generate_bundle(root / "bundle", clients=8, seed=5)
    init(Settings.load(root, env={}), directory=root, source="bundle")
    with embedded_client(emulator) as client:
        map_propose(Settings.load(root, env={}), client=client)
    doc = MapDocument.load(root / "mapping.yaml")
    doc.data["owners"]["fallback"] = FALLBACK
    for vm in doc.data["value_maps"].values():
        for key in list(vm.get("values") or {}):
            if vm["values"][key] is None:
                vm["values"][key] = 6
    doc.data["targets"]["contact"]["fields"]["email"]["confidence"] = 0.3
    doc.save()
    return root


@pytest.fixture
def project(template: Path, tmp_path: Path) -> Settings:
    shutil.copytree(template, tmp_path / "project")
    return Settings.load(tmp_path / "project", env={})


@pytest.fixture
def client(emulator: EmulatorApp) -> Iterator[DataverseClient]:
    with embedded_client(emulator) as c:
        yield c


def doubtful(settings: Settings) -> list[MapLine]:
    return [ln for ln in show_map(settings).lines if ln.below_threshold]


def status(settings: Settings) -> str:
    return str(MapDocument.load(settings.project_dir / "mapping.yaml").data["status"])


# ---------------------------------------------------------------------------
# the library


def test_confirm_refuses_while_lines_are_under_the_threshold(
    project: Settings, client: DataverseClient
) -> None:
    below = doubtful(project)
    assert any(ln.source == "clients.email" for ln in below)
    with pytest.raises(LowConfidence) as info:
        map_confirm(project, by="Pat", client=client)
    error = info.value
    assert isinstance(error, MapError)
    assert error.exit_code == 4
    assert f"{len(below)} line(s) under the confirm threshold 0.8" in error.message
    for ln in below:
        assert f"{ln.source} → {ln.table}.{ln.column} ({ln.confidence:.2f}" in error.message
    assert "--accept-low-confidence" in (error.hint or "")
    assert [ln["source"] for ln in error.lines] == [ln.source for ln in below]
    assert status(project) == "proposed"  # nothing written


def test_accepting_them_confirms_and_says_which(project: Settings, client: DataverseClient) -> None:
    below = doubtful(project)
    result = map_confirm(project, by="Pat", client=client, accept_low_confidence=True)
    assert [ln.source for ln in result.low_confidence] == [ln.source for ln in below]
    assert result.as_dict()["low_confidence"][0]["confidence"] == below[0].confidence
    assert status(project) == "confirmed"


def test_a_person_asked_sees_the_lines_and_decides(
    project: Settings, client: DataverseClient
) -> None:
    asked: list[list[str]] = []

    def no(lines: list[MapLine]) -> bool:
        asked.append([ln.source for ln in lines])
        return False

    with pytest.raises(LowConfidence):
        map_confirm(project, by="Pat", client=client, ask=no)
    assert asked == [[ln.source for ln in doubtful(project)]]
    assert status(project) == "proposed"


def test_a_person_who_says_yes_confirms(project: Settings, client: DataverseClient) -> None:
    result = map_confirm(project, by="Pat", client=client, ask=lambda lines: True)
    assert [ln.source for ln in result.low_confidence] == [ln.source for ln in doubtful(project)]
    assert status(project) == "confirmed"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=3, max_size=3))
def test_exactly_the_lines_under_the_threshold_are_listed(
    template_doc: MapDocument, confidences: list[float]
) -> None:
    """Whatever the confidences: exactly the mapped lines below the threshold, least sure
    first (a map with none has nothing to accept)."""
    doc = MapDocument.from_plain(plain_value(template_doc.data))
    for target in doc.data["targets"].values():
        for fm in target["fields"].values():
            fm["confidence"] = 1.0
    contact = doc.data["targets"]["contact"]["fields"]
    names = ("email", "phone", "city")
    for name, value in zip(names, confidences, strict=True):
        contact[name]["confidence"] = value
    spec = doc.spec()
    expected = sorted((v, n) for n, v in zip(names, confidences, strict=True) if v < 0.8)
    lines = below_threshold(spec)
    assert sorted((ln.confidence, ln.field) for ln in lines) == expected
    assert [ln.confidence for ln in lines] == sorted(ln.confidence for ln in lines)
    assert all(ln.below_threshold and ln.column for ln in lines)


@pytest.fixture(scope="module")
def template_doc(template: Path) -> MapDocument:
    return MapDocument.load(template / "mapping.yaml")


# ---------------------------------------------------------------------------
# the command line


@pytest.fixture
def wired(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorApp) -> None:
    def client_from_settings(settings: Settings, **_: Any) -> DataverseClient:
        return embedded_client(emulator)

    monkeypatch.setattr(connect, "client_from_settings", client_from_settings)


def invoke(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def test_the_cli_refuses_with_exit_4_and_lists_the_lines(project: Settings, wired: None) -> None:
    root = str(project.project_dir)
    refused = invoke("-C", root, "map", "confirm", "--by", "Pat")
    assert refused.exit_code == 4
    assert "clients.email → contact.emailaddress1 (0.30" in refused.stderr
    assert "--accept-low-confidence" in refused.stderr
    assert status(project) == "proposed"


def test_the_cli_refusal_is_machine_readable(project: Settings, wired: None) -> None:
    refused = invoke("-C", str(project.project_dir), "map", "confirm", "--by", "Pat", "--json")
    assert refused.exit_code == 4
    error = json.loads(refused.stdout)["error"]
    assert error["type"] == "LowConfidence"
    assert error["exit_code"] == 4
    assert error["threshold"] == 0.8
    email = next(ln for ln in error["lines"] if ln["source"] == "clients.email")
    assert email["column"] == "emailaddress1"
    assert email["confidence"] == 0.3


def test_the_cli_confirms_with_the_flag(project: Settings, wired: None) -> None:
    args = ("-C", str(project.project_dir), "map", "confirm", "--by", "Pat")
    confirmed = invoke(*args, "--accept-low-confidence", "--json")
    assert confirmed.exit_code == 0, confirmed.output
    body = json.loads(confirmed.stdout)
    assert any(ln["source"] == "clients.email" for ln in body["low_confidence"])
    assert status(project) == "confirmed"


@pytest.mark.parametrize(
    ("answer", "code", "state"), [("y\n", 0, "confirmed"), ("n\n", 4, "proposed")]
)
def test_at_a_terminal_the_person_is_asked(
    project: Settings,
    wired: None,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    code: int,
    state: str,
) -> None:
    monkeypatch.setattr(cli_main, "stdin_is_terminal", lambda: True)
    result = invoke("-C", str(project.project_dir), "map", "confirm", "--by", "Pat", input=answer)
    assert result.exit_code == code, result.output
    assert "clients.email" in result.stderr
    assert "under the confirm threshold" in result.stderr
    assert status(project) == state
