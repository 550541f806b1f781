"""HTTPS for the served emulator: a self-signed certificate made at start-up, so clients that
refuse plain HTTP (Microsoft's Python SDK insists on an https base URL) talk to it unchanged."""

from __future__ import annotations

import ssl
import stat
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from crm_ferry.commands import emulator_connection, emulator_serve
from crm_ferry.emulator.app import EmulatorApp, EmulatorConfig
from crm_ferry.emulator.server import serve
from crm_ferry.emulator.tls import make_certificate
from crm_ferry.settings import Settings


def test_the_certificate_names_the_host_and_its_key_is_owner_only(tmp_path: Path) -> None:
    files = make_certificate(tmp_path / "tls", "127.0.0.1")
    cert = x509.load_pem_x509_certificate(files.certificate.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "tls").stat().st_mode) == 0o700


def test_served_over_https_with_the_urls_it_hands_out(
    tmp_path: Path, sign_in_token: Callable[..., str]
) -> None:
    files = make_certificate(tmp_path / "tls")
    with EmulatorApp(EmulatorConfig()) as app, serve(app, tls=files) as server:
        assert server.url.startswith("https://127.0.0.1:")
        assert app.token_url.startswith("https://")
        with httpx.Client(verify=ssl.create_default_context(cafile=files.certificate)) as http:
            token = sign_in_token(http, app)
            headers = {"Authorization": f"Bearer {token}"}
            created = http.post(f"{app.api_url}/accounts", json={"name": "Acme"}, headers=headers)
            assert created.status_code == 204, created.text
            assert created.headers["OData-EntityId"].startswith(f"{server.url}/api/data/v9.2/")
            page = http.get(f"{app.api_url}/accounts?$select=name", headers=headers).json()
            assert page["@odata.context"].startswith(server.url)
            assert [r["name"] for r in page["value"]] == ["Acme"]


def test_a_client_that_does_not_trust_the_certificate_is_refused_and_others_go_on(
    tmp_path: Path, sign_in_token: Callable[..., str]
) -> None:
    files = make_certificate(tmp_path / "tls")
    with EmulatorApp(EmulatorConfig()) as app, serve(app, tls=files):
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(app.token_url)
        with pytest.raises(httpx.RemoteProtocolError):  # plain HTTP to a TLS port
            httpx.get(app.token_url.replace("https://", "http://"))
        with httpx.Client(verify=ssl.create_default_context(cafile=files.certificate)) as http:
            assert sign_in_token(http, app)


def test_the_connection_tells_clients_which_certificate_to_trust(tmp_path: Path) -> None:
    settings = Settings(project_dir=tmp_path)
    server = emulator_serve(settings, config=EmulatorConfig(), tls_dir=tmp_path / "tls")
    try:
        connection = emulator_connection(server)
        cert = str(tmp_path / "tls" / "emulator-cert.pem")
        assert server.as_dict()["certificate"] == cert
        assert connection.env()["SSL_CERT_FILE"] == cert
        assert connection.env()["REQUESTS_CA_BUNDLE"] == cert
        assert connection.as_dict()["secrets"]["REQUESTS_CA_BUNDLE"] == cert
        assert connection.settings()["url"].startswith("https://")
    finally:
        server.shutdown()
        server.app.close()


def test_over_plain_http_nothing_is_said_about_certificates(tmp_path: Path) -> None:
    settings = Settings(project_dir=tmp_path)
    server = emulator_serve(settings, config=EmulatorConfig())
    try:
        assert server.as_dict()["certificate"] is None
        assert "SSL_CERT_FILE" not in emulator_connection(server).env()
    finally:
        server.shutdown()
        server.app.close()
