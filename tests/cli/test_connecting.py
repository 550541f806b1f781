"""Connecting a project to its sign-in service (issue 15, point 1): ``[dataverse] authority``
is in the template ``init`` writes and takes ``init --authority``; ``emulator serve`` prints
the ferry.toml block and the environment lines that connect a project to it (and they do);
a sign-in that fails names the authority it tried and the setting that changes it."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_ferry import commands
from crm_ferry.cli import cli
from crm_ferry.dataverse.auth import MsalCredential, authority_for
from crm_ferry.dataverse.errors import DataverseError
from crm_ferry.emulator import EmulatorApp
from crm_ferry.settings import SECRET_ENV, Settings

CLIENT = "11111111-0000-4000-8000-000000000001"
URL = "https://contoso.crm.dynamics.com"


def test_init_authority_is_written_and_read_back(tmp_path: Path) -> None:
    root = tmp_path / "p"
    authority = "http://127.0.0.1:8765/emulator-tenant"
    result = CliRunner().invoke(cli, ["init", str(root), "--authority", authority])
    assert result.exit_code == 0, result.output
    assert Settings.load(root, env={}).authority == authority


def test_the_template_says_what_authority_is(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "p" / "ferry.toml").read_text("utf-8")
    dataverse = text.split("[dataverse]", 1)[1].split("\n[", 1)[0]
    assert "# authority = " in dataverse
    assert "https://login.microsoftonline.com/<tenant>" in dataverse
    assert "crm-ferry emulator serve" in dataverse
    assert Settings.load(tmp_path / "p", env={}).authority is None  # only documented


# ---------------------------------------------------------------------------
# What `emulator serve` prints connects a project to it


def _serve(*extra: str) -> Iterator[list[str]]:
    """``crm-ferry emulator serve`` in its own process: the lines it printed before
    ``Ctrl-C to stop.`` (or its one JSON line with ``--json``)."""
    command = [sys.executable, "-c", "from crm_ferry.cli import main; main()"]
    proc = subprocess.Popen(
        [*command, "emulator", "serve", *extra],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "80"},
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith(("Ctrl-C to stop.", "{")):
                break
        yield lines
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        proc.stdout.close()


@pytest.fixture(scope="module")
def served() -> Iterator[list[str]]:
    yield from _serve("--users", "2")


def _block(lines: list[str], opening: str) -> list[str]:
    """The indented lines under the line that starts with ``opening``."""
    start = next(i for i, line in enumerate(lines) if line.startswith(opening)) + 1
    block: list[str] = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        block.append(line[2:])
    return block


def _exports(block: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in block:
        word, assignment = shlex.split(line)
        assert word == "export", line
        name, _, value = assignment.partition("=")
        env[name] = value
    return env


def _doctor(project: Path, env: dict[str, str]) -> tuple[int, str]:
    result = CliRunner(env=env).invoke(cli, ["--project", str(project), "doctor"])
    return result.exit_code, result.output


def test_the_printed_ferry_toml_block_and_secret_connect_a_project(
    served: list[str], tmp_path: Path
) -> None:
    toml = _block(served, "In the project's ferry.toml (replacing its [dataverse] table)")
    assert toml[0] == "[dataverse]"
    keys = {line.split(" = ", 1)[0] for line in toml[1:]}
    assert {"url", "tenant", "client_id", "authority", "extra_client_ids"} <= keys
    secrets = _exports(_block(served, "And in the shell"))
    assert SECRET_ENV in secrets
    assert len(secrets) == 2  # the second user's secret has its own variable
    (tmp_path / "ferry.toml").write_text("\n".join(toml) + "\n", encoding="utf-8")
    loaded = Settings.load(tmp_path, env={})
    assert loaded.authority is not None
    assert loaded.authority.startswith(loaded.environment_url or "?")
    code, output = _doctor(tmp_path, secrets)
    assert code == 0, output
    assert "ready to migrate" in output


def test_the_printed_environment_lines_alone_connect_a_project(
    served: list[str], tmp_path: Path
) -> None:
    env = _exports(_block(served, "Or, leaving ferry.toml as it is"))
    assert {
        "CRM_FERRY_DATAVERSE_URL",
        "CRM_FERRY_DATAVERSE_TENANT",
        "CRM_FERRY_DATAVERSE_CLIENT_ID",
        "CRM_FERRY_DATAVERSE_AUTHORITY",
        SECRET_ENV,
    } <= set(env)
    assert CliRunner().invoke(cli, ["init", str(tmp_path)]).exit_code == 0
    code, output = _doctor(tmp_path, env)
    assert code == 0, output
    assert "ready to migrate" in output


def test_the_printed_init_line_makes_a_connected_project(served: list[str], tmp_path: Path) -> None:
    (line,) = _block(served, "Or a new project")
    words = shlex.split(line.replace("DIR", str(tmp_path / "new"), 1))
    assert words[:2] == ["crm-ferry", "init"]
    assert CliRunner().invoke(cli, words[1:]).exit_code == 0
    secrets = _exports(_block(served, "And in the shell"))
    code, output = _doctor(tmp_path / "new", {SECRET_ENV: secrets[SECRET_ENV]})
    assert code == 0, output


def test_serve_json_carries_the_same_connection() -> None:
    (line,) = next(iter(_serve("--json")))
    info = json.loads(line)
    connect = info["connect"]
    assert connect["ferry_toml"].startswith("[dataverse]\n")
    assert f'authority = "{info["authority"]}"' in connect["ferry_toml"]
    assert connect["env"]["CRM_FERRY_DATAVERSE_AUTHORITY"] == info["authority"]
    assert connect["env"][SECRET_ENV] == info["clients"][0]["client_secret"]
    assert connect["secrets"] == {SECRET_ENV: info["clients"][0]["client_secret"]}


# ---------------------------------------------------------------------------
# A failed sign-in names the authority it tried and the setting that changes it


def _unreachable_sign_in(request: httpx.Request) -> httpx.Response:
    if request.url.host == "contoso.crm.dynamics.com":
        return httpx.Response(401)  # the Web API is there; the sign-in service is not
    raise httpx.ConnectError("no route", request=request)


def test_doctor_names_the_default_authority_it_could_not_reach(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a new user met: a project pointed at the emulator, its authority left out."""
    monkeypatch.setenv(SECRET_ENV, "emulator-secret")
    project = Settings(
        project_dir=tmp_path, environment_url=URL, tenant="contoso", client_id=CLIENT
    )
    result = commands.doctor(project, transport=httpx.MockTransport(_unreachable_sign_in))
    checks = {c.name: c for c in result.checks}
    assert not result.ok
    assert checks["reachability"].status == "pass"
    sign_in = checks["sign-in"]
    assert sign_in.status == "fail"
    assert "https://login.microsoftonline.com/contoso" in sign_in.detail
    assert sign_in.hint is not None
    assert "[dataverse] authority" in sign_in.hint
    assert "crm-ferry emulator serve" in sign_in.hint
    assert checks["WhoAmI"].status == "skip"


def test_a_refused_sign_in_names_the_authority_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "not-the-secret")
    with EmulatorApp() as app:
        client_id, _ = app.default_client
        project = Settings(
            project_dir=tmp_path,
            environment_url=app.base_url,
            tenant=app.tenant,
            client_id=client_id,
            authority=app.authority,
        )
        result = commands.doctor(project, transport=app.transport())
    (sign_in,) = [c for c in result.checks if c.name == "sign-in"]
    assert sign_in.status == "fail"
    assert "invalid_client" in sign_in.detail
    assert app.authority in sign_in.detail
    assert sign_in.hint is not None
    assert "[dataverse] authority" in sign_in.hint


_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)


@settings(max_examples=25, deadline=None)
@given(
    host=st.builds(lambda a, b: f"{a}.{b}.example", _label, _label),
    port=st.none() | st.integers(min_value=1, max_value=65535),
    scheme=st.sampled_from(["https", "http"]),
    path=st.sampled_from(["", "/", "/tenant-x", "/a/b"]),
    tenant=st.none() | _label,
)
def test_any_unreachable_authority_is_named_with_its_setting(
    host: str, port: int | None, scheme: str, path: str, tenant: str | None
) -> None:
    """Whatever authority is configured, a sign-in that cannot reach it says which URL it
    tried (the one the settings make) and that ``[dataverse] authority`` changes it."""
    authority = f"{scheme}://{host}{f':{port}' if port else ''}{path}"
    tried = authority_for(tenant, authority)
    transport = httpx.MockTransport(_unreachable_sign_in)

    def sign_in() -> str:
        credential = MsalCredential.client_secret(
            environment_url=URL,
            client_id=CLIENT,
            secret="s3cr3t",
            tenant=tenant,
            authority=authority,
            http=httpx.Client(transport=transport),
        )
        return credential.token()

    with pytest.raises(DataverseError) as info:
        sign_in()
    assert tried in info.value.message
    assert info.value.hint is not None
    assert "[dataverse] authority" in info.value.hint
    assert "s3cr3t" not in info.value.message + info.value.hint
