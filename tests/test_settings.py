from __future__ import annotations

import copy
import json
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_ferry.errors import ConfigError
from crm_ferry.references.credentials import secret_key, soft_secret_key
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


# ---------------------------------------------------------------------------
# Secrets anywhere in ferry.toml (issue 15, point 20)

_JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbkBjb250b3NvIn0.c2lnbmF0dXJlLXZhbHVlLTEyMzQ1Njc4"
_RANDOM = "q8ZxT2vLm9KpR4sWn7YbC3dF6hJ1"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('[[dataverse.users]]\nclient_id = "a"\nclient_secret = "hunter2"\n', "users[0]"),
        ('[dataverse]\nextra = {client_credential = "hunter2"}\n', "extra.client_credential"),
        ('[dataverse]\napi_key = "abc"\n', "dataverse.api_key"),
        ('[dataverse]\npassword = "abc"\n', "dataverse.password"),
        ('[dataverse]\ntoken = "abc"\n', "dataverse.token"),
        ('[dataverse]\naccessToken = "abc"\n', "dataverse.accessToken"),
        ('[[hooks]]\nname = "x"\n[[hooks]]\nnote = "' + _JWT + '"\n', "hooks[1].note"),
        ('[dataverse]\nsigning = {hmac = "' + _RANDOM + '"}\n', "signing.hmac"),
        ('[load]\nnotes = ["fine", "sk_live_51HxYzAbCdEfGhIjKl"]\n', "load.notes[1]"),
    ],
)
def test_secret_anywhere_in_the_file_is_refused(tmp_path: Path, text: str, where: str) -> None:
    write(tmp_path, text)
    with pytest.raises(ConfigError, match="looks like a secret") as info:
        Settings.load(tmp_path, env={})
    assert where in info.value.message
    for value in ("hunter2", _JWT, _RANDOM, "sk_live_51HxYzAbCdEfGhIjKl"):
        assert value not in info.value.message
    assert info.value.hint
    assert "CRM_FERRY_CLIENT_SECRET" in info.value.hint


def test_settings_that_only_name_a_secret_are_accepted(tmp_path: Path) -> None:
    write(
        tmp_path,
        '[source]\npath = "export.zip"\n'
        '[source.columns.client_properties]\n"Key" = "key"\n"Token" = "value"\n'
        '[dataverse]\nurl = "https://a.crm.dynamics.com"\n'
        'tenant = "7e1f5a3c-0c4b-4d2e-9f6a-5b8d2c1e0a47"\n'
        'client_id = "51f81489-12ee-4a9e-aaae-a2591f45987d"\n'
        'authority = "https://login.microsoftonline.com/contoso.onmicrosoft.com"\n'
        'secret_env = "CRM_FERRY_CLIENT_SECRET"\n'
        'extra_client_ids = ["22222222-0000-4000-8000-00000000000a"]\n'
        'solution = "PracticeMigration"\n',
    )
    s = Settings.load(tmp_path, env={})
    assert s.client_id == "51f81489-12ee-4a9e-aaae-a2591f45987d"
    assert s.column_map["client_properties"] == {"Key": "key", "Token": "value"}


_bare_keys = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda k: not secret_key(k) and not soft_secret_key(k)
)
_plain_values = st.one_of(
    st.integers(-1000, 1000),
    st.booleans(),
    st.text(alphabet="abcdefghij klmno.-/", max_size=12),
)


def _tree(depth: int) -> st.SearchStrategy[Any]:
    """Nested tables, arrays of tables and arrays of values with harmless names."""
    leaf = _plain_values | st.lists(_plain_values, max_size=3)
    if depth == 0:
        return leaf
    table = st.dictionaries(_bare_keys, _tree(depth - 1), max_size=3)
    return leaf | table | st.lists(table, min_size=1, max_size=2)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return "[" + ", ".join(_toml_value(v) for v in value) + "]"


def _toml(doc: dict[str, dict[str, Any] | list[dict[str, Any]]]) -> str:
    """Top-level tables as ``[section]`` or ``[[section]]``; everything deeper inline."""
    out: list[str] = []
    for section, body in doc.items():
        tables = body if isinstance(body, list) else [body]
        for table in tables:
            out.append(f"[[{section}]]" if isinstance(body, list) else f"[{section}]")
            out.extend(f"{k} = {_toml_value(v)}" for k, v in table.items())
    return "\n".join(out) + "\n"


def _places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every table inside ``value`` (a place a key can be added)."""
    found = [path] if isinstance(value, dict) else []
    if isinstance(value, dict):
        for k, v in value.items():
            found.extend(_places(v, (*path, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found.extend(_places(v, (*path, i)))
    return found


_SECRETS = st.sampled_from(
    [
        ("client_secret", "hunter2"),
        ("client_credential", "cr3d-value"),
        ("api_key", "ap1-value"),
        ("password", "pa55-value"),
        ("token", "t0ken-value"),
        ("webhookSecret", "wh-s3cret"),
        ("note", _JWT),
        ("hmac", _RANDOM),
        ("link", "https://admin:pa55word@example.com/"),
        ("comment", "uses sk_test_4eC39HqLyjWDarjtT1zdp7dc"),
    ]
)
_names = st.sampled_from(["source", "dataverse", "load", "delta", "custom", "hooks"])
_docs = st.dictionaries(
    _names,
    st.dictionaries(_bare_keys, _tree(2), max_size=3)
    | st.lists(st.dictionaries(_bare_keys, _tree(2), max_size=3), min_size=1, max_size=2),
    min_size=1,
    max_size=3,
)


def _load(text: str) -> Settings:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "ferry.toml").write_text(text, encoding="utf-8")
        return Settings.load(folder, env={})


def _harmless(doc: dict[str, Any]) -> dict[str, Any]:
    """Sections crm-ferry reads itself lose what it would refuse for other reasons."""
    doc = copy.deepcopy(doc)
    for name in ("source", "dataverse", "load", "delta"):
        if name in doc:
            doc[f"x_{name}"] = doc.pop(name)
    return doc


@settings(max_examples=80, deadline=None)
@given(doc=_docs, secret=_SECRETS, data=st.data())
def test_a_secret_anywhere_in_a_nested_document_is_refused(
    doc: dict[str, Any], secret: tuple[str, str], data: st.DataObject
) -> None:
    doc = _harmless(doc)
    assert tomllib.loads(_toml(doc)) == doc  # the document is what the test thinks it is
    _load(_toml(doc))  # harmless names and values are accepted
    place = data.draw(st.sampled_from([p for p in _places(doc) if p]))  # not top level
    table: Any = doc
    for step in place:
        table = table[step]
    key, value = secret
    table[key] = value
    with pytest.raises(ConfigError, match="looks like a secret") as info:
        _load(_toml(doc))
    assert value not in info.value.message
    assert key in info.value.message
