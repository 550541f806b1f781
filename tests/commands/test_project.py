"""Clients and pools from settings; secrets only from the environment or the keyring."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_ferry.commands._project import client_from_settings, pool_from_settings
from crm_ferry.dataverse.pool import ClientPool
from crm_ferry.emulator import EmulatorApp, EmulatorConfig
from crm_ferry.emulator.auth import AuthConfig, ClientApp
from crm_ferry.errors import ConfigError
from crm_ferry.settings import Settings, secret_env_name
from helpers.dataverse_fakes import CLIENT_ID, SECRET, FakeDataverse, Plane


def settings_for(app: EmulatorApp, tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        project_dir=tmp_path,
        environment_url=app.base_url,
        tenant=app.tenant,
        client_id=CLIENT_ID,
        authority=app.base_url,
        batch_size=250,
        max_concurrency=8,
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
def fake() -> FakeDataverse:
    return FakeDataverse()


@pytest.fixture
def app(fake: FakeDataverse) -> EmulatorApp:
    config = EmulatorConfig(
        auth=AuthConfig(
            clients=(
                ClientApp(CLIENT_ID, SECRET, "loader"),
                ClientApp("22222222-0000-4000-8000-000000000002", "second-secret", "loader 2"),
            )
        )
    )
    return EmulatorApp(config, backend=Plane(fake))


def test_client_from_settings_uses_the_env_secret(
    app: EmulatorApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_FERRY_CLIENT_SECRET", SECRET)
    with client_from_settings(settings_for(app, tmp_path), transport=app.transport()) as client:
        assert client.options.batch_size == 250
        assert client.options.max_concurrency == 8
        assert client.who_am_i().user_id == "u-1"


def test_missing_secret_or_url_is_a_config_error(app: EmulatorApp, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no client secret") as info:
        client_from_settings(settings_for(app, tmp_path), transport=app.transport(), env={})
    assert info.value.hint is not None
    assert "CRM_FERRY_CLIENT_SECRET" in info.value.hint
    with pytest.raises(ConfigError, match="url"):
        client_from_settings(Settings(project_dir=tmp_path, client_id="x"), env={})


def test_pool_spreads_over_extra_users_from_the_keyring(
    app: EmulatorApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keyring

    stored = {CLIENT_ID: SECRET, "22222222-0000-4000-8000-000000000002": "second-secret"}
    monkeypatch.setattr(keyring, "get_password", lambda service, user: stored.get(user))
    raw = {"dataverse": {"extra_client_ids": ["22222222-0000-4000-8000-000000000002"]}}
    with pool_from_settings(
        settings_for(app, tmp_path, raw=raw), transport=app.transport()
    ) as pool:
        assert isinstance(pool, ClientPool)
        assert [c.user for c in pool.clients] == [CLIENT_ID, "22222222-0000-4000-8000-000000000002"]
        rows = [{"contactid": f"00000000-0000-0000-0000-{i:012d}"} for i in range(1, 2001)]
        report = pool.write_many("contact", rows)
        assert report.written == 2000
        assert all(c.stats.requests > 0 for c in pool.clients)
        assert pool.pick() in pool.clients


def test_extra_users_take_their_own_secret_variable_never_the_main_one(
    app: EmulatorApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    second = "22222222-0000-4000-8000-000000000002"
    raw = {"dataverse": {"extra_client_ids": [second]}}
    monkeypatch.setenv("CRM_FERRY_CLIENT_SECRET", SECRET)
    monkeypatch.delenv(secret_env_name(second), raising=False)
    import keyring

    monkeypatch.setattr(keyring, "get_password", lambda service, user: None)
    with pytest.raises(ConfigError, match=f"no client secret for client {second}") as info:
        pool_from_settings(settings_for(app, tmp_path, raw=raw), transport=app.transport())
    assert secret_env_name(second) in (info.value.hint or "")
    assert "CRM_FERRY_CLIENT_SECRET or" not in (info.value.hint or "")
    monkeypatch.setenv(secret_env_name(second), "second-secret")
    with pool_from_settings(
        settings_for(app, tmp_path, raw=raw), transport=app.transport()
    ) as pool:
        rows = [{"contactid": f"00000000-0000-0000-0000-{i:012d}"} for i in range(1, 1001)]
        assert pool.write_many("contact", rows).written == 1000
        assert all(c.stats.requests > 0 for c in pool.clients)
