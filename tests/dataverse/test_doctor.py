"""crm-ferry doctor against the emulator's sign-in service and the fake data plane."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from crm_ferry import commands
from crm_ferry.emulator import EmulatorApp, EmulatorConfig
from crm_ferry.emulator.auth import AuthConfig, ClientApp
from crm_ferry.settings import Settings
from helpers.dataverse_fakes import ALL_PRIVILEGES, CLIENT_ID, SECRET, FakeDataverse, Plane


@pytest.fixture
def app(fake: FakeDataverse) -> Iterator[EmulatorApp]:
    config = EmulatorConfig(auth=AuthConfig(clients=(ClientApp(CLIENT_ID, SECRET, "loader"),)))
    with EmulatorApp(config, backend=Plane(fake)) as a:
        yield a


@pytest.fixture
def settings(app: EmulatorApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("CRM_FERRY_CLIENT_SECRET", SECRET)
    return Settings(
        project_dir=tmp_path,
        environment_url=app.base_url,
        tenant=app.tenant,
        client_id=CLIENT_ID,
        authority=app.base_url,
    )


def statuses(result: commands.DoctorResult) -> dict[str, str]:
    return {c.name: c.status for c in result.checks}


def test_doctor_passes(app: EmulatorApp, settings: Settings) -> None:
    result = commands.doctor(settings, transport=app.transport(), bypass_custom_logic=True)
    assert result.ok, result.as_dict()
    assert statuses(result) == {
        "reachability": "pass",
        "sign-in": "pass",
        "WhoAmI": "pass",
        "privileges": "pass",
        "upload size": "pass",
        "invoice table": "pass",
        "custom tables": "pass",
    }
    assert result.facts["dop_hint"] == app.config.protection.dop_hint
    assert result.facts["maxuploadfilesize"] == 5242880
    assert result.facts["business_unit_name"] == "businessunits bu-1"
    (who,) = [c for c in result.checks if c.name == "WhoAmI"]
    assert who.detail.startswith("user systemusers u-1 (u-1), business unit businessunits bu-1")
    assert result.facts["custom_tables"] == ["new_session"]
    as_json = json.dumps(result.as_dict())
    assert SECRET not in as_json


def test_wrong_secret_fails_sign_in_clearly(
    app: EmulatorApp, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_FERRY_CLIENT_SECRET", "not-the-secret")
    result = commands.doctor(settings, transport=app.transport())
    assert not result.ok
    st = statuses(result)
    assert st["reachability"] == "pass"
    assert st["sign-in"] == "fail"
    assert st["WhoAmI"] == "skip"
    (sign_in,) = [c for c in result.checks if c.name == "sign-in"]
    assert "invalid_client" in sign_in.detail
    assert "not-the-secret" not in json.dumps(result.as_dict())


def test_disabled_application_user_fails_who_am_i(app: EmulatorApp, settings: Settings) -> None:
    app.sign_in.set_disabled(CLIENT_ID)
    result = commands.doctor(settings, transport=app.transport())
    assert not result.ok
    (check,) = [c for c in result.checks if c.name == "WhoAmI"]
    assert check.status == "fail"
    assert "disabled" in check.detail
    assert check.hint is not None
    assert "enable" in check.hint


def test_missing_privilege_is_named(
    app: EmulatorApp, settings: Settings, fake: FakeDataverse
) -> None:
    fake.privileges = ALL_PRIVILEGES - {"prvCreateInvoice"}
    result = commands.doctor(settings, transport=app.transport())
    assert not result.ok
    (check,) = [c for c in result.checks if c.name == "privileges"]
    assert check.status == "fail"
    assert "prvCreateInvoice (for invoice)" in check.detail  # no invoicedetail table here
    assert result.facts["privileges_missing"] == ["prvCreateInvoice"]


def test_cli_doctor_exit_codes(
    app: EmulatorApp, settings: Settings, monkeypatch: pytest.MonkeyPatch, fake: FakeDataverse
) -> None:
    from crm_ferry import cli

    original = commands.doctor

    def with_transport(s: Settings, **kw: object) -> commands.DoctorResult:
        return original(settings, transport=app.transport(), **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(commands, "doctor", with_transport)
    runner = CliRunner()
    ok = runner.invoke(cli.cli, ["doctor", "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["ok"] is True
    fake.privileges = frozenset()
    bad = runner.invoke(cli.cli, ["doctor"])
    assert bad.exit_code == 5
    assert "FAIL" in bad.output
    assert "privileges" in bad.output
