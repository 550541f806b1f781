"""``crm-ferry snapshot`` (issue 17, point 2) on a provisioned project against the embedded
emulator: what the file captures, what it never holds, that it is deterministic, and the
errors that say what failed and what to do."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from rich.console import Console

from crm_ferry import commands
from crm_ferry.cli import cli, render
from crm_ferry.commands.emulator import embedded_client
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.dataverse.errors import NotFound, PrivilegeError
from crm_ferry.emulator import EmulatorApp
from crm_ferry.errors import ConfigError
from crm_ferry.mapping.spec import MAP_FILE, MapDocument
from crm_ferry.settings import SECRET_ENV, Settings
from crm_ferry.snapshot import FORMAT, SNAPSHOT_FILE, VERSION
from helpers.project import build_provisioned

CUSTOMER = "Quokkaberg-Zanzibar"
"""A record value that must never reach the snapshot."""


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_provisioned(tmp_path_factory.mktemp("snapshot"), clients=8, seed=3)


@pytest.fixture
def base(template: Path, tmp_path: Path) -> Path:
    for part in ("bundle", "project", "data"):
        shutil.copytree(template / part, tmp_path / part)
    return tmp_path


@pytest.fixture
def app(base: Path) -> Iterator[EmulatorApp]:
    with EmulatorApp(data_dir=base / "data") as emulator:
        yield emulator


@pytest.fixture
def client(app: EmulatorApp) -> Iterator[DataverseClient]:
    with embedded_client(app, key_poll_interval=0.0) as c:
        yield c


@pytest.fixture
def settings(base: Path) -> Settings:
    return Settings.load(base / "project", env={})


def _customise(client: DataverseClient) -> None:
    """What a customer's tenant has beyond the provisioned map: a currency of its own, an
    alternate key of its own, a record of customer data."""
    client.create(
        "transactioncurrency",
        {
            "isocurrencycode": "CHF",
            "currencyname": "Swiss Franc",
            "currencysymbol": "CHF",
            "currencyprecision": 2,
            "exchangerate": 0.88,
        },
    )
    client.metadata.create_key("contact", "new_contact_email", ["emailaddress1"])
    client.create("contact", {"firstname": CUSTOMER, "lastname": CUSTOMER})


def _columns(doc: dict[str, Any], table: str) -> dict[str, dict[str, Any]]:
    return {c["LogicalName"]: c for c in doc["tables"][table]["Attributes"]}


def test_the_snapshot_captures_the_map_s_tenant(
    settings: Settings, client: DataverseClient, app: EmulatorApp
) -> None:
    _customise(client)
    result = commands.snapshot(settings, client=client)
    assert result.path == settings.project_dir / SNAPSHOT_FILE
    doc = json.loads(result.path.read_text("utf-8"))
    assert (doc["format"], doc["version"]) == (FORMAT, VERSION)
    assert doc["environment_url"] == app.base_url.rstrip("/")
    assert doc["crm_ferry_version"]
    assert doc["taken_at"] == result.taken_at
    spec = MapDocument.load(settings.project_dir / MAP_FILE).spec()
    mapped = {t.table for t in spec.targets.values() if t.enabled}
    assert mapped <= set(doc["map_tables"]) <= set(doc["tables"])
    # one level out: contact points at account and systemuser, and those are read too
    assert {"account", "systemuser", "transactioncurrency"} <= set(doc["tables"])
    custom_tables = [n for n in mapped if n.startswith("new_")]
    assert custom_tables
    for name in custom_tables:
        assert doc["tables"][name]["IsCustomEntity"] is True
    contact = _columns(doc, "contact")
    assert contact["new_practiceid"]["IsCustomAttribute"] is True
    assert contact["new_practiceid"]["AttributeType"] == "String"
    assert isinstance(contact["new_practiceid"]["MaxLength"], int)
    # choices with their labels, state/status pairs with the default status
    choices = [c for t in custom_tables for c in _columns(doc, t).values() if "OptionSet" in c]
    assert any(c["OptionSet"].get("Options") for c in choices)
    states = contact["statecode"]["OptionSet"]["Options"]
    assert {o["Value"]: o["DefaultStatus"] for o in states} == {0: 1, 1: 2}
    statuses = contact["statuscode"]["OptionSet"]["Options"]
    assert all(isinstance(o["State"], int) and o["Label"] for o in statuses)
    # relationships with navigation names and cascades; the key just made
    parent = next(
        r
        for r in doc["tables"]["contact"]["ManyToOneRelationships"]
        if r["ReferencingAttribute"] == "parentcustomerid" and r["ReferencedEntity"] == "account"
    )
    assert parent["ReferencingEntityNavigationPropertyName"] == "parentcustomerid_account"
    assert parent["CascadeConfiguration"]["Delete"]
    keys = {tuple(k["KeyAttributes"]): k for k in doc["tables"]["contact"]["Keys"]}
    assert {("new_practiceid",), ("emailaddress1",)} <= set(keys)  # the map's, the tenant's
    assert keys[("emailaddress1",)]["SchemaName"] == "new_contact_email"
    # users (the coaches the demo invites among them), currencies, price lists, settings
    assert len(doc["users"]) > 1
    for user in doc["users"]:
        assert set(user) >= {"systemuserid", "internalemailaddress", "isdisabled", "accessmode"}
    codes = {c["isocurrencycode"] for c in doc["currencies"]}
    assert {"CHF", doc["organization"]["basecurrency_isocode"]} <= codes
    assert doc["price_lists"]
    assert all("items" in p for p in doc["price_lists"])
    assert doc["organization"]["maxuploadfilesize"] > 0
    assert "exe" in doc["organization"]["blockedattachments"]
    assert doc["publishers"]
    assert doc["solutions"]
    assert doc["teams"]
    assert doc["business_units"]
    assert result.counts["alternate keys"] == sum(len(t["Keys"]) for t in doc["tables"].values())
    assert result.counts["currencies"] == len(doc["currencies"])


def test_it_holds_no_record_and_no_secret(
    settings: Settings, client: DataverseClient, app: EmulatorApp
) -> None:
    _customise(client)
    text = commands.snapshot(settings, client=client).path.read_text("utf-8")
    assert CUSTOMER not in text
    _, secret = app.default_client
    assert secret not in text
    assert not re.search(r'"[^"]*(secret|password|token)[^"]*":', text, flags=re.IGNORECASE)
    doc = json.loads(text)
    record_tables = {"contact", "account", "opportunity", "invoice", "annotation"}
    assert not record_tables & {k for k in doc if k != "tables"}


def test_two_snapshots_are_the_same_but_for_the_time(
    settings: Settings, client: DataverseClient, tmp_path: Path
) -> None:
    _customise(client)
    first = commands.snapshot(settings, client=client, out=tmp_path / "a.json")
    second = commands.snapshot(settings, client=client, out=tmp_path / "b.json")

    def untimed(path: Path) -> str:
        return re.sub(r'"taken_at": "[^"]+"', '"taken_at": ""', path.read_text("utf-8"))

    assert untimed(first.path) == untimed(second.path)
    assert first.path.read_text("utf-8").count('"taken_at"') == 1


def test_progress_names_each_table(settings: Settings, client: DataverseClient) -> None:
    seen: list[str] = []

    class Recorder:
        def start(self, task: str, total: int | None = None) -> None:
            seen.append(task)

        def advance(self, task: str, amount: int = 1) -> None:
            pass

        def finish(self, task: str) -> None:
            pass

    commands.snapshot(settings, client=client, progress=Recorder())
    assert {"tables", "related tables", "users and settings"} <= set(seen)
    assert "table contact" in seen


# ---------------------------------------------------------------------------
# Errors


def test_no_tenant_configured(tmp_path: Path) -> None:
    (tmp_path / "ferry.toml").write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[dataverse\] url, client_id not set"):
        commands.snapshot(Settings.load(tmp_path, env={}))


def test_a_table_of_the_map_missing_in_the_tenant(
    settings: Settings, client: DataverseClient
) -> None:
    doc = MapDocument.load(settings.project_dir / MAP_FILE)
    role = next(r for r, t in doc.data["targets"].items() if t["table"] == "contact")
    doc.data["targets"][role]["table"] = "new_nosuchtable"
    doc.save()
    with pytest.raises(NotFound, match="the tenant has no table new_nosuchtable") as caught:
        commands.snapshot(settings, client=client)
    assert caught.value.hint
    assert "crm-ferry snapshot" in caught.value.hint
    assert not (settings.project_dir / SNAPSHOT_FILE).exists()


def test_a_missing_privilege_names_what_could_not_be_read(
    settings: Settings, app: EmulatorApp
) -> None:
    inner = app.transport()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/teams"):
            body = {
                "error": {
                    "code": "0x80040220",
                    "message": "Principal user is missing prvReadTeam privilege.",
                }
            }
            return httpx.Response(403, json=body)
        return inner.handle_request(request)

    with (
        embedded_client(app, transport=httpx.MockTransport(handler)) as client,
        pytest.raises(PrivilegeError) as caught,
    ):
        commands.snapshot(settings, client=client)
    error = caught.value
    assert "could not read the users, currencies, price lists and settings" in error.message
    assert "prvReadTeam" in error.message
    assert error.hint
    assert "security role" in error.hint
    assert error.code == "0x80040220"


# ---------------------------------------------------------------------------
# The command line


def test_the_summary_fits_80_columns(
    settings: Settings, client: DataverseClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = commands.snapshot(settings, client=client)
    narrow = Console(width=80, record=True, highlight=False, color_system=None)
    monkeypatch.setattr(render, "console", narrow)
    render.render_snapshot(result)
    lines = narrow.export_text().splitlines()
    # the path is never cut (it is typed back): the terminal folds that one line whole
    assert lines[0] == f"Tenant snapshot written to {result.path}"
    assert all(len(line) <= 80 for line in lines[1:])
    assert any("alternate keys" in line for line in lines)
    assert any(line.rstrip().endswith(f"{result.counts['tables']:,}") for line in lines)


def test_the_cli_says_what_to_set_without_a_tenant(tmp_path: Path) -> None:
    (tmp_path / "ferry.toml").write_text("", encoding="utf-8")
    run = CliRunner().invoke(cli, ["--project", str(tmp_path), "snapshot", "--json"])
    assert run.exit_code == ConfigError.exit_code
    body = json.loads(run.output)
    assert body["error"]["type"] == "ConfigError"
    assert "CRM_FERRY_DATAVERSE_URL" in body["error"]["hint"]


def test_the_cli_snapshots_a_served_emulator(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = commands.emulator_serve(settings)
    try:
        connection = commands.emulator_connection(server)
        project = tmp_path / "served"
        project.mkdir()
        (project / "ferry.toml").write_text(
            "[dataverse]\n"
            f'url = "{connection.url}"\n'
            f'tenant = "{connection.tenant}"\n'
            f'authority = "{connection.authority}"\n'
            f'client_id = "{connection.client_id}"\n',
            encoding="utf-8",
        )
        monkeypatch.setenv(SECRET_ENV, connection.users[0][1])
        run = CliRunner().invoke(cli, ["--project", str(project), "snapshot", "--json"])
    finally:
        server.shutdown()
        server.app.close()
    assert run.exit_code == 0, run.output
    body = json.loads(run.output)
    assert body["map"] == "the default map"
    assert Path(body["path"]) == project / SNAPSHOT_FILE
    assert body["counts"]["tables"] > body["counts"]["map tables"] > 0
    assert "new_session" in body["absent"]  # the default map creates it; not provisioned here
