"""The SharePoint client's tests against the emulator: a tiny Dataverse data plane for
sign-in, a Graph credential by raw OAuth, a recording transport, files to upload (the fake
clock is :mod:`helpers.clock`'s)."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from crm_ferry.emulator.app import EmulatorApp
from crm_ferry.sharepoint import GRAPH_SCOPE
from helpers.graph import token_for


class TinyPlane:
    """Just enough of a Dataverse data plane for sign-in (application users)."""

    def __init__(self) -> None:
        self.users: dict[str, tuple[str, bool]] = {}

    def handle(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"UserId": request.extensions.get("crm_ferry.caller")})

    def application_user(self, client_id: str) -> tuple[str, bool] | None:
        return self.users.get(client_id)

    def register_application_user(self, client_id: str, name: str) -> str:
        return self.users.setdefault(client_id, (f"user-{len(self.users) + 1}", False))[0]

    def dump(self, table: str | None = None) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        pass


class GraphToken:
    """A credential provider: client-credentials tokens from the emulator for ``scope``."""

    def __init__(self, app: EmulatorApp, scope: str = GRAPH_SCOPE) -> None:
        self._app = app
        self._scope = scope
        self._token: str | None = None
        self.issued = 0

    @property
    def name(self) -> str:
        return self._app.default_client[0]

    def token(self, *, force_refresh: bool = False) -> str:
        if self._token is None or force_refresh:
            with httpx.Client(transport=self._app.transport()) as http:
                self._token = token_for(self._app, http, self._scope)
            self.issued += 1
        return self._token


class Recorder:
    """A transport in front of the app that counts the file bytes sent to upload URLs and
    may act before a request goes on (``before``)."""

    def __init__(self, app: EmulatorApp) -> None:
        self.app = app
        self.upload_bytes = 0
        self.requests: list[tuple[str, str]] = []
        self.before: Callable[[httpx.Request], None] | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        if self.before is not None:
            self.before(request)
        if request.method == "PUT" and request.url.path.startswith("/_files/upload/"):
            self.upload_bytes += len(request.read())
        return self.app(request)


def make_file(folder: Path, size: int, seed: int = 7, name: str = "file.bin") -> Path:
    """A file of ``size`` random bytes (written in pieces, never whole in memory)."""
    path = folder / name
    rng = random.Random(seed)
    with open(path, "wb") as out:
        left = size
        while left > 0:
            piece = min(left, 4 * 1024 * 1024)
            out.write(rng.randbytes(piece))
            left -= piece
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while piece := source.read(4 * 1024 * 1024):
            digest.update(piece)
    return digest.hexdigest()
