"""Serve the review application with uvicorn, in a thread of its own.

:class:`ReviewServer` listens on 127.0.0.1 unless told otherwise (and then says so:
:attr:`ReviewServer.exposed`), on the port asked for or any free one, and knows the address
with the token a person opens. ``crm-ferry review`` runs one until Ctrl-C; the tests run
one per test against a real browser.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass, field

import uvicorn

from crm_ferry.errors import ConfigError
from crm_ferry.review.app import build_app
from crm_ferry.review.guard import TOKEN_PARAM
from crm_ferry.review.state import ReviewState

__all__ = ["DEFAULT_HOST", "ReviewServer", "is_loopback"]

DEFAULT_HOST = "127.0.0.1"
_START_TIMEOUT_S = 10.0


def is_loopback(host: str) -> bool:
    """``host`` is a loopback address or ``localhost``."""
    if host.strip("[]") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class ReviewServer:
    """The review application of ``state`` served on ``host``:``port`` (0: any free port)."""

    state: ReviewState
    host: str = DEFAULT_HOST
    port: int = 0
    _server: uvicorn.Server | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _socket: socket.socket | None = field(default=None, repr=False)

    @property
    def exposed(self) -> bool:
        """Listening on an interface other machines can reach."""
        return not is_loopback(self.host)

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The address to open: the base URL with this start's token."""
        return f"{self.base_url}/?{TOKEN_PARAM}={self.state.token}"

    def start(self) -> ReviewServer:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise ConfigError(
                f"the review page cannot listen on {self.host}:{self.port}: {exc.strerror}",
                hint="pass another --port (or none, for any free port)",
            ) from exc
        self.port = sock.getsockname()[1]
        self._socket = sock
        config = uvicorn.Config(
            build_app(self.state, loopback_only=not self.exposed),
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="review", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ConfigError(
                    f"the review page did not start on {self.base_url}",
                    hint="run again with --traceback to see why",
                )
            time.sleep(0.01)
        return self

    def wait(self, timeout: float | None = None) -> None:
        """Until the server stops (or ``timeout`` seconds)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(5)
        if self._socket is not None:
            self._socket.close()

    def __enter__(self) -> ReviewServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
