"""``crm-ferry doctor`` with ``[sharepoint] site``: the site and the libraries, through the
emulator's Graph (the Dataverse side is the fake data plane of the doctor's own tests)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from crm_ferry import commands
from crm_ferry.emulator import EmulatorApp, EmulatorConfig
from crm_ferry.emulator.auth import AuthConfig, ClientApp
from crm_ferry.errors import ConfigError
from crm_ferry.settings import Settings
from helpers.dataverse_fakes import CLIENT_ID, SECRET, FakeDataverse, Plane

SITE = "https://crmferry.sharepoint.com/sites/crm"


@pytest.fixture
def app() -> Iterator[EmulatorApp]:
    config = EmulatorConfig(auth=AuthConfig(clients=(ClientApp(CLIENT_ID, SECRET, "loader"),)))
    with EmulatorApp(config, backend=Plane(FakeDataverse())) as a:
        yield a


def settings_for(app: EmulatorApp, tmp_path: Path, site: str, **raw: object) -> Settings:
    return Settings(
        project_dir=tmp_path,
        environment_url=app.base_url,
        tenant=app.tenant,
        client_id=CLIENT_ID,
        authority=app.base_url,
        sharepoint_site=site,
        raw={"sharepoint": raw},
    )


def checks(result: commands.DoctorResult) -> dict[str, tuple[str, str, str | None]]:
    return {c.name: (c.status, c.detail, c.hint) for c in result.checks}


def test_the_site_and_its_libraries(
    app: EmulatorApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_FERRY_CLIENT_SECRET", SECRET)
    settings = settings_for(app, tmp_path, SITE, libraries=["Documents", "contact"])
    result = commands.doctor(settings, transport=app.transport(), bypass_custom_logic=True)
    found = checks(result)
    assert found["SharePoint sign-in"][0] == "pass"
    assert found["SharePoint site"][0] == "pass"
    assert SITE in found["SharePoint site"][1]
    status, detail, hint = found["SharePoint libraries"]
    assert status == "warn"
    assert detail == "exist: Documents; created by the first load: contact"
    assert hint is not None
    assert "Sites.Manage.All" in hint
    assert result.ok
    assert result.facts["libraries"] == ["Documents", "contact"]
    assert SECRET not in json.dumps(result.as_dict())


def test_a_wrong_site_fails_with_what_to_do(
    app: EmulatorApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_FERRY_CLIENT_SECRET", SECRET)
    settings = settings_for(app, tmp_path, "https://crmferry.sharepoint.com/sites/other")
    result = commands.doctor(settings, transport=app.transport(), bypass_custom_logic=True)
    status, detail, hint = checks(result)["SharePoint site"]
    assert status == "fail"
    assert "no SharePoint site at https://crmferry.sharepoint.com/sites/other" in detail
    assert hint is not None
    assert "[sharepoint] site" in hint
    assert checks(result)["SharePoint libraries"][0] == "skip"
    assert not result.ok


def test_a_wrong_secret_fails_the_graph_sign_in(
    app: EmulatorApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_FERRY_CLIENT_SECRET", "not-the-secret")
    result = commands.doctor(settings_for(app, tmp_path, SITE), transport=app.transport())
    assert checks(result)["SharePoint sign-in"][0] == "fail"
    assert checks(result)["SharePoint site"][0] == "skip"


def test_without_the_setting_there_is_no_sharepoint_check(
    app: EmulatorApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_FERRY_CLIENT_SECRET", SECRET)
    settings = Settings(
        project_dir=tmp_path,
        environment_url=app.base_url,
        tenant=app.tenant,
        client_id=CLIENT_ID,
        authority=app.base_url,
    )
    result = commands.doctor(settings, transport=app.transport())
    assert not any(c.name.startswith("SharePoint") for c in result.checks)


def test_the_setting_from_ferry_toml_and_the_environment(tmp_path: Path) -> None:
    (tmp_path / "ferry.toml").write_text(
        '[sharepoint]\nsite = "https://contoso.sharepoint.com/sites/crm"\n'
        'libraries = ["contact"]\n',
        encoding="utf-8",
    )
    assert Settings.load(tmp_path, env={}).sharepoint_site == (
        "https://contoso.sharepoint.com/sites/crm"
    )
    env = {"CRM_FERRY_SHAREPOINT_SITE": "https://fabrikam.sharepoint.com/sites/x"}
    assert Settings.load(tmp_path, env=env).sharepoint_site == (
        "https://fabrikam.sharepoint.com/sites/x"
    )
    with pytest.raises(ConfigError, match="not an https:// URL"):
        Settings.load(tmp_path, env={"CRM_FERRY_SHAREPOINT_SITE": "contoso/sites/x"})
