"""A tenant that must not be contacted: an HTTP server on 127.0.0.1 that answers every
request with 503 and keeps what it was asked, and a project configured to reach it (its
``[dataverse]`` URL and sign-in authority, and a client secret in the environment), so a
test can show that a command never talks to the configured tenant."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


@dataclass
class WatchedTenant:
    url: str
    requests: list[str] = field(default_factory=list)
    """``METHOD path`` of every request the server was sent."""


@contextmanager
def watched_tenant() -> Iterator[WatchedTenant]:
    """A server that records every request (and refuses it) while the block runs."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            seen.append(f"{self.command} {self.path}")
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _record

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield WatchedTenant(f"http://127.0.0.1:{server.server_address[1]}", seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def configure(project: Path, tenant: WatchedTenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point ``project``'s ``[dataverse]`` table at ``tenant`` (URL and authority) and give
    its application user a secret, as a project connected to a real tenant is."""
    config = project / "ferry.toml"
    table = (
        "[dataverse]\n"
        f'url = "{tenant.url}"\n'
        'tenant = "contoso.onmicrosoft.com"\n'
        'client_id = "11111111-2222-3333-4444-555555555555"\n'
        f'authority = "{tenant.url}/contoso"\n'
    )
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("[dataverse]\n", table, 1), encoding="utf-8")
    monkeypatch.setenv("CRM_FERRY_CLIENT_SECRET", "a-secret-nobody-may-use")
