"""The review server's door: the token, loopback by default, and a warning elsewhere."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import crm_ferry
from crm_ferry.commands import emulator_connection, emulator_serve
from crm_ferry.review import ReviewServer, is_loopback
from crm_ferry.review.guard import TOKEN_HEADER, cookie_name
from helpers.review import ReviewProject


def test_a_request_without_the_token_is_refused(review: ReviewProject) -> None:
    with review.web(token=False) as web:
        refused = web.get("/")
        assert refused.status_code == 403
        assert "carries a token" in refused.text
        wrong = web.get("/", params={"token": "not-the-token"})
        assert wrong.status_code == 403
        assert "wrong token" in wrong.text
        assert web.get("/static/review.css").status_code == 403
        assert web.get("/", headers={TOKEN_HEADER: "nope"}).status_code == 403


def test_the_token_in_the_address_sets_a_cookie_and_leaves_the_address(
    review: ReviewProject,
) -> None:
    with review.web(token=False) as web:
        entered = web.get("/", params={"token": review.state.token}, follow_redirects=False)
        assert entered.status_code == 303
        assert entered.headers["location"] == "/"
        cookie = entered.headers["set-cookie"]
        assert cookie.startswith(f"{cookie_name(review.serve().port)}=")
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie or "samesite=strict" in cookie.lower()
        page = web.get("/")  # the cookie alone lets it in now
        assert page.status_code == 200
        assert review.settings.project_dir.name in page.text


def test_a_change_from_another_site_is_refused(review: ReviewProject) -> None:
    with review.web() as web:
        posted = web.post("/", headers={"origin": "http://evil.example"})
        assert posted.status_code == 403
        assert "another site" in posted.text


def test_a_name_that_is_not_loopback_is_refused_on_loopback(review: ReviewProject) -> None:
    """A page rebinding its own name to 127.0.0.1 sends that name as Host."""
    with review.web() as web:
        rebound = web.get("/", headers={"host": f"attacker.example:{review.serve().port}"})
        assert rebound.status_code == 403
        assert "loopback" in rebound.text


def test_the_server_listens_on_loopback_only_by_default(review: ReviewProject) -> None:
    with ReviewServer(review.state) as server:
        assert server.host == "127.0.0.1"
        assert not server.exposed
        assert server.url.startswith(f"http://127.0.0.1:{server.port}/?token=")
        listening = _listening_addresses(server.port)
        assert listening == {"127.0.0.1"}, listening
        with httpx.Client(base_url=server.base_url) as web:
            assert web.get("/").status_code == 403
            opened = web.get(server.url, follow_redirects=True)
            assert opened.status_code == 200
            assert "The map" in opened.text
        # another interface of this machine does not answer
        other = _other_address()
        if other is not None:
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"http://{other}:{server.port}/", timeout=2)


def test_listening_elsewhere_is_said() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("192.168.1.20")


def test_the_cli_warns_when_told_to_listen_on_every_interface(review: ReviewProject) -> None:
    tenant = emulator_serve(review.settings)  # the review page signs in to its tenant
    try:
        _warned(review, emulator_connection(tenant).env())
    finally:
        tenant.shutdown()
        tenant.app.close()


def _warned(review: ReviewProject, connect: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "crm_ferry", "--project", str(review.settings.project_dir)),
            *("review", "--host", "0.0.0.0"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            **connect,
            "PYTHONPATH": str(Path(crm_ferry.__file__).parents[1]),
            "COLUMNS": "200",
        },
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line:
            proc.wait(10)
            assert proc.stderr is not None
            pytest.fail(proc.stderr.read())
        assert "Review page at http://0.0.0.0:" in line, line
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "warning" in err, err
    assert "not only on this machine" in err.replace("\n", " "), err


def _listening_addresses(port: int) -> set[str]:
    """The local addresses with a TCP socket listening on ``port`` (from /proc/net/tcp)."""
    found = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        try:
            rows = Path(table).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            address, port_hex = local.rsplit(":", 1)
            if state != "0A" or int(port_hex, 16) != port:
                continue
            raw = bytes.fromhex(address)
            if family == socket.AF_INET:
                found.add(socket.inet_ntop(family, raw[::-1]))
            else:
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                found.add(socket.inet_ntop(family, words))
    return found


def _other_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: only picks the interface
            address: str = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address
