"""The emulator over real HTTP: in a thread, and as a process (`crm-ferry emulator serve`).

Limits encoded: https://learn.microsoft.com/power-apps/developer/data-platform/api-limits
(concurrency errors at once, 0x80072326); sign-in as in
https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from crm_ferry.emulator.app import EmulatorConfig, LatencyConfig
from crm_ferry.emulator.faults import FaultSchedule
from crm_ferry.emulator.protection import ProtectionLimits
from crm_ferry.emulator.server import serve


def _token(client: httpx.Client, info: dict[str, Any]) -> str:
    cid, secret = info["client_id"], info["client_secret"]
    response = client.post(
        info["token_url"],
        data={
            "grant_type": "client_credentials",
            "client_id": cid,
            "client_secret": secret,
            "scope": info["scope"],
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


# -- in a thread, over the tiny data plane ------------------------------------------------


def test_served_app_speaks_http_with_its_own_urls(make_serving_app: Any) -> None:
    app = make_serving_app(sleep=lambda _s: None)
    with serve(app) as server, httpx.Client(base_url=server.url) as client:
        assert server.url.startswith("http://127.0.0.1:")
        assert app.base_url == server.url
        config = client.get(f"/{app.tenant}/v2.0/.well-known/openid-configuration").json()
        assert config["token_endpoint"] == f"{server.url}/{app.tenant}/oauth2/v2.0/token"
        cid, secret = app.default_client
        info = {
            "client_id": cid,
            "client_secret": secret,
            "token_url": app.token_url,
            "scope": app.scope,
        }
        token = _token(client, info)
        headers = {"Authorization": f"Bearer {token}"}
        # keep-alive: several requests on one connection, a chunked body among them
        who = [client.get("/api/data/v9.2/WhoAmI", headers=headers) for _ in range(3)]
        chunked = client.post(
            "/api/data/v9.2/contacts",
            headers=headers,
            content=iter([b'{"lastname":', b'"Lovelace"}']),
        )
        missing = client.get("/api/data/v9.2/WhoAmI")
    assert [r.status_code for r in who] == [200, 200, 200]
    assert who[0].headers["x-ms-dop-hint"] == "4"
    assert chunked.status_code == 204
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith(
        f"Bearer authorization_uri={server.url}/{app.tenant}/oauth2/authorize"
    )


def test_served_timeout_drops_the_connection(make_serving_app: Any) -> None:
    app = make_serving_app(EmulatorConfig(faults=FaultSchedule(at={"timeout": frozenset({1})})))
    with serve(app) as server, httpx.Client(base_url=server.url) as client:
        cid, secret = app.default_client
        token = _token(
            client,
            {
                "client_id": cid,
                "client_secret": secret,
                "token_url": app.token_url,
                "scope": app.scope,
            },
        )
        headers = {"Authorization": f"Bearer {token}"}
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/api/data/v9.2/WhoAmI", headers=headers)
        assert client.get("/api/data/v9.2/WhoAmI", headers=headers).status_code == 200


def test_parallel_http_requests_trip_the_concurrency_limit(
    make_serving_app: Any, tiny_plane: Any
) -> None:
    gate = threading.Event()
    started = threading.Semaphore(0)

    def working(_: float) -> None:
        started.release()
        assert gate.wait(10)

    app = make_serving_app(
        EmulatorConfig(
            protection=ProtectionLimits(max_concurrent=2),
            latency=LatencyConfig(per_request_ms=1),
        ),
        sleep=working,
    )
    with serve(app) as server:
        limits = httpx.Limits(max_connections=10)
        with httpx.Client(base_url=server.url, limits=limits) as client:
            cid, secret = app.default_client
            token = _token(
                client,
                {
                    "client_id": cid,
                    "client_secret": secret,
                    "token_url": app.token_url,
                    "scope": app.scope,
                },
            )
            headers = {"Authorization": f"Bearer {token}"}
            with ThreadPoolExecutor(max_workers=6) as pool:
                admitted = [
                    pool.submit(client.get, "/api/data/v9.2/WhoAmI", headers=headers)
                    for _ in range(2)
                ]
                for _ in range(2):
                    assert started.acquire(timeout=10)
                refused = [
                    pool.submit(client.get, "/api/data/v9.2/WhoAmI", headers=headers)
                    for _ in range(4)
                ]
                refusals = [f.result(timeout=10) for f in refused]
                gate.set()
                successes = [f.result(timeout=10) for f in admitted]
    assert [r.status_code for r in successes] == [200, 200]
    assert {r.status_code for r in refusals} == {429}
    assert {r.json()["error"]["code"] for r in refusals} == {"0x80072326"}


# -- as a process: `crm-ferry emulator serve` ----------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[Any]:
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
        port = _free_port()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "crm_ferry",
                "emulator",
                "serve",
                "--port",
                str(port),
                "--json",
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        started.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            proc.wait(10)
            pytest.fail(f"emulator did not start: {proc.stderr.read() if proc.stderr else ''}")
        info = json.loads(line)
        assert info["url"] == f"http://127.0.0.1:{port}"
        client = info["clients"][0]
        info.update(client_id=client["client_id"], client_secret=client["client_secret"])
        return proc, info

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=10)
    return proc.returncode


@pytest.mark.slow
def test_serve_command_signs_in_and_throttles_parallel_requests(serve_process: Any) -> None:
    proc, info = serve_process("--max-concurrent", "2", "--latency-ms", "400")
    assert "not secrets" in info["note"]
    with httpx.Client(limits=httpx.Limits(max_connections=10), timeout=10) as client:
        token = _token(client, info)
        headers = {"Authorization": f"Bearer {token}"}
        who = client.get(f"{info['api_url']}/WhoAmI", headers=headers)
        assert who.status_code == 200
        assert who.headers["x-ms-dop-hint"] == "4"
        barrier = threading.Barrier(6)

        def call() -> httpx.Response:
            barrier.wait()
            return client.get(f"{info['api_url']}/WhoAmI", headers=headers)

        with ThreadPoolExecutor(max_workers=6) as pool:
            responses = list(pool.map(lambda _: call(), range(6)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(429) >= 1
    assert 1 <= statuses.count(200) <= 4
    for r in responses:
        if r.status_code == 429:
            assert r.json()["error"]["code"] == "0x80072326"
            assert r.headers["Retry-After"] == "1"
    assert _stop(proc) == 0


@pytest.mark.slow
def test_served_data_survives_in_the_data_folder(serve_process: Any, tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc, info = serve_process("--data", str(data))
    with httpx.Client(timeout=10) as client:
        token = _token(client, info)
        created = client.post(
            f"{info['api_url']}/contacts",
            json={"firstname": "Ada", "lastname": "Lovelace"},
            headers={"Authorization": f"Bearer {token}", "OData-Version": "4.0"},
        )
        assert created.status_code == 204, created.text
        entity_id = created.headers["OData-EntityId"]
    assert entity_id.startswith(f"{info['api_url']}/contacts(")
    assert _stop(proc) == 0
    dump = subprocess.run(
        [
            sys.executable,
            "-m",
            "crm_ferry",
            "emulator",
            "dump",
            "--data",
            str(data),
            "--table",
            "contact",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert "Lovelace" in dump.stdout
    assert entity_id.rsplit("(", 1)[1].rstrip(")") in dump.stdout


@pytest.mark.slow
def test_doctor_passes_against_the_served_emulator(serve_process: Any, tmp_path: Path) -> None:
    """`crm-ferry doctor` over real HTTP: passes, and names a wrong secret."""
    proc, info = serve_process()
    project = tmp_path / "project"
    project.mkdir()
    (project / "ferry.toml").write_text(
        "[dataverse]\n"
        f'url = "{info["url"]}"\n'
        f'tenant = "{info["tenant"]}"\n'
        f'client_id = "{info["client_id"]}"\n'
        f'authority = "{info["url"]}"\n',
        encoding="utf-8",
    )

    def doctor(secret: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "crm_ferry", "--project", str(project), "doctor", "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "CRM_FERRY_CLIENT_SECRET": secret},
            check=False,
        )

    ok = doctor(info["client_secret"])
    assert ok.returncode == 0, ok.stdout + ok.stderr
    result = json.loads(ok.stdout)
    assert {c["status"] for c in result["checks"]} == {"pass"}
    bad = doctor("not-the-secret")
    assert bad.returncode != 0
    assert "invalid_client" in bad.stdout
    assert "not-the-secret" not in bad.stdout + bad.stderr
    assert _stop(proc) == 0
