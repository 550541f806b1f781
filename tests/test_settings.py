from __future__ import annotations

from pathlib import Path

import pytest

from crm_ferry.errors import ConfigError
from crm_ferry.settings import Settings, client_secret, secret_env_name


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "ferry.toml").write_text(text, encoding="utf-8")
    return tmp_path


def test_defaults_without_a_file(tmp_path: Path) -> None:
    s = Settings.load(tmp_path, env={})
    assert s.publisher_prefix == "new"
    assert s.batch_size == 500
    assert s.source is None


def test_file_then_env_then_flags(tmp_path: Path) -> None:
    write(
        tmp_path,
        '[source]\npath = "export.zip"\n[source.columns.clients]\n"Client Ref" = "id"\n'
        '[dataverse]\nurl = "https://a.crm.dynamics.com"\n[load]\nbatch_size = 100\n',
    )
    s = Settings.load(tmp_path, env={"CRM_FERRY_LOAD_BATCH_SIZE": "200"})
    assert s.source == tmp_path / "export.zip"
    assert s.column_map == {"clients": {"Client Ref": "id"}}
    assert s.environment_url == "https://a.crm.dynamics.com"
    assert s.batch_size == 200
    s = Settings.load(tmp_path, env={"CRM_FERRY_LOAD_BATCH_SIZE": "200"}, batch_size=300)
    assert s.batch_size == 300


def test_secret_in_file_is_refused(tmp_path: Path) -> None:
    write(tmp_path, '[dataverse]\nclient_secret = "hunter2"\n')
    with pytest.raises(ConfigError, match="secret") as info:
        Settings.load(tmp_path, env={})
    assert "hunter2" not in str(info.value)
    assert info.value.hint
    assert "CRM_FERRY_CLIENT_SECRET" in info.value.hint


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[load]\nbatch_size = 5000\n", "1,000"),
        ("[load]\nmax_concurrency = 80\n", "52"),
        ("[load]\nbatch_size = 'many'\n", "batch_size"),
        ("[load\n", "not valid TOML"),
    ],
)
def test_invalid_settings_name_the_problem(tmp_path: Path, text: str, match: str) -> None:
    write(tmp_path, text)
    with pytest.raises(ConfigError, match=match):
        Settings.load(tmp_path, env={})


def test_secret_from_environment() -> None:
    assert client_secret("abc", env={"CRM_FERRY_CLIENT_SECRET": "s3"}) == "s3"


def test_each_application_user_may_have_its_own_secret_variable() -> None:
    cid = "22222222-0000-4000-8000-00000000000a"
    env = {"CRM_FERRY_CLIENT_SECRET": "main", secret_env_name(cid): "own"}
    assert secret_env_name(cid) == "CRM_FERRY_CLIENT_SECRET_22222222_0000_4000_8000_00000000000A"
    assert client_secret(cid, env=env) == "own"
    assert client_secret(cid.upper(), env=env) == "own"
    assert client_secret("other", env=env) == "main"
    # an extra user never borrows the main user's secret
    assert client_secret("other", env={"CRM_FERRY_CLIENT_SECRET": "main"}, shared=False) is None
