"""Serve an :class:`~crm_ferry.emulator.app.EmulatorApp` over HTTP/1.1, one thread per connection.

The standard library's ``ThreadingHTTPServer`` with keep-alive is enough: the app is
thread-safe, and a thread per connection gives real concurrency, which the concurrency
limit needs to be tripped by parallel clients. Each wire request becomes an
:class:`httpx.Request` for the app and each :class:`httpx.Response` goes back on the wire.
An injected timeout (:class:`httpx.TransportError` from the app) closes the connection
without an answer, as a dropped connection does.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from crm_ferry.emulator.app import EmulatorApp
from crm_ferry.emulator.layers import odata_error
from crm_ferry.emulator.tls import TlsFiles
from crm_ferry.errors import EmulatorError

log = logging.getLogger(__name__)

_HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"date", b"server"}
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    app: EmulatorApp
    scheme = "http"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away mid-answer (killed, timed out) is its own business,
        # as on a real web server: not a traceback on the emulator's console.
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | ssl.SSLError):
            return  # includes a client that does not trust the certificate: its message
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def do_request(self) -> None:
        app = self.server.app
        try:
            body = self._body()
        except (ValueError, OSError):
            self.close_connection = True
            self.send_error(400, "unreadable request body")
            return
        host = self.headers.get("Host") or app.base_url.split("://", 1)[-1]
        headers = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in self.headers.items()
            if k.lower() not in {"transfer-encoding", "content-length"}
        ]
        request = httpx.Request(
            self.command, f"{self.server.scheme}://{host}{self.path}", headers=headers, content=body
        )
        try:
            response = app(request)
            content = response.read()
        except httpx.TransportError:
            # An injected timeout: hold was done by the app, now drop without an answer.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        except Exception:
            log.exception("the emulator failed on %s %s", self.command, self.path)
            response = odata_error(500, "0x80040216", "An unexpected error occurred.")
            content = response.read()
        self.send_response(response.status_code, response.reason_phrase or None)
        for key, value in response.headers.raw:
            if key.lower() not in _HOP_BY_HOP:
                self.send_header(key.decode("latin-1"), value.decode("latin-1"))
        self.send_header("Content-Length", str(len(content)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_request

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s " + format, self.address_string(), *args)


@dataclass(slots=True)
class RunningServer:
    """A server running in a background thread; ``shutdown()`` stops it."""

    app: EmulatorApp
    url: str
    _server: _Server
    _thread: threading.Thread
    _stopped: threading.Event = field(default_factory=threading.Event)
    tls: TlsFiles | None = None
    """The certificate it serves HTTPS with (the one clients trust), or ``None`` for HTTP."""

    def shutdown(self) -> None:
        """Stop accepting, wait for the serving thread, and close the socket (idempotent)."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()

    def as_dict(self) -> dict[str, Any]:
        """Where the emulator is and how to sign in to it (the secrets are not real ones)."""
        app = self.app
        return {
            "url": self.url,
            "api_url": app.api_url,
            "tenant": app.tenant,
            "authority": app.authority,
            "token_url": app.token_url,
            "scope": app.scope,
            "clients": [
                {
                    "client_id": c.client_id,
                    "client_secret": c.secret,
                    "name": c.name,
                    "disabled": c.disabled,
                }
                for c in app.clients
            ],
            "graph_url": f"{self.url}/v1.0",
            "graph_scope": "https://graph.microsoft.com/.default",
            "sharepoint_sites": [site.url for site in app.config.graph.sites],
            "note": "these client secrets open only this local emulator; they are not secrets",
            "certificate": None if self.tls is None else str(self.tls.certificate),
        }

    def wait(self, timeout: float | None = None) -> bool:
        """Block until :meth:`shutdown` has been called (True) or ``timeout`` passes (False)."""
        return self._stopped.wait(timeout)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def serve(
    app: EmulatorApp, host: str = "127.0.0.1", port: int = 0, *, tls: TlsFiles | None = None
) -> RunningServer:
    """Serve ``app`` on ``host:port`` (0 = any free port) in a background thread; over HTTPS
    with ``tls`` (see :mod:`.tls`).

    The app is re-based on the served URL, so every URL it hands out points there.
    """
    try:
        server = _Server((host, port), _Handler)
    except OSError as exc:
        raise EmulatorError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="choose another --port, or 0 for any free port",
        ) from exc
    server.app = app
    if tls is not None:
        # The handshake runs in the connection's own thread (on its first read), so a client
        # that stalls it holds up no one else.
        server.socket = tls.server_context().wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
        server.scheme = "https"
    bound_host, bound_port = server.server_address[:2]
    shown = bound_host if isinstance(bound_host, str) else bound_host.decode()
    url = f"{server.scheme}://{shown}:{bound_port}"
    app.bind(url)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="emulator-http"
    )
    thread.daemon = True
    thread.start()
    return RunningServer(app=app, url=url, _server=server, _thread=thread, tls=tls)
