"""The device-code verification page (issue 15, point 21): opening
``/devicelogin?otc=<code>`` signs nobody in. A code is approved only by a person the
emulator was started with (``AuthConfig.device_users``) posting their name and password,
or in process by whoever holds the app (the tests, the demo)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_ferry.emulator.app import EmulatorConfig
from crm_ferry.emulator.auth import AuthConfig, DeviceUser

ADA = DeviceUser("ada@contoso.example", "correct horse battery staple")
GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def _start(client: httpx.Client, app: Any) -> dict[str, Any]:
    start: dict[str, Any] = client.post(
        f"{app.authority}/oauth2/v2.0/devicecode",
        data={"client_id": app.default_client[0], "scope": app.scope},
    ).json()
    return start


def _poll(client: httpx.Client, app: Any, start: dict[str, Any]) -> httpx.Response:
    return client.post(
        app.token_url,
        data={
            "grant_type": GRANT,
            "client_id": app.default_client[0],
            "device_code": start["device_code"],
        },
    )


def test_opening_the_page_with_the_code_signs_nobody_in(make_serving_app: Any) -> None:
    app = make_serving_app(EmulatorConfig(auth=AuthConfig(device_users=(ADA,))))
    with httpx.Client(transport=app.transport()) as client:
        start = _start(client, app)
        page = client.get(start["verification_uri"], params={"otc": start["user_code"]})
        assert page.status_code == 200
        assert 'method="post"' in page.text
        assert 'name="password"' in page.text
        assert app.sign_in.pending_user_codes() == [start["user_code"]]
        assert _poll(client, app, start).json()["error"] == "authorization_pending"


def test_without_device_users_the_page_approves_nothing(make_serving_app: Any) -> None:
    app = make_serving_app()
    with httpx.Client(transport=app.transport()) as client:
        start = _start(client, app)
        for page in (
            client.get(start["verification_uri"], params={"otc": start["user_code"]}),
            client.post(
                start["verification_uri"],
                data={"otc": start["user_code"], "username": ADA.name, "password": ADA.password},
            ),
        ):
            assert page.status_code == 403
            assert "off" in page.text
        assert app.sign_in.pending_user_codes() == [start["user_code"]]
        # the in-process approval (what a test or the demo does) still works
        app.sign_in.approve_device_code(start["user_code"])
        assert _poll(client, app, start).status_code == 200


def test_a_configured_user_approves_with_name_and_password(make_serving_app: Any) -> None:
    app = make_serving_app(EmulatorConfig(auth=AuthConfig(device_users=(ADA,))))
    with httpx.Client(transport=app.transport()) as client:
        start = _start(client, app)
        wrong = client.post(
            start["verification_uri"],
            data={"otc": start["user_code"], "username": ADA.name, "password": "guess"},
        )
        assert wrong.status_code == 401
        assert app.sign_in.pending_user_codes() == [start["user_code"]]
        bad_code = client.post(
            start["verification_uri"],
            data={"otc": "NOPE", "username": ADA.name, "password": ADA.password},
        )
        assert bad_code.status_code == 400
        ok = client.post(
            start["verification_uri"],
            data={"otc": start["user_code"], "username": ADA.name, "password": ADA.password},
        )
        assert ok.status_code == 200, ok.text
        assert ADA.name in ok.text
        assert app.sign_in.pending_user_codes() == []
        token = _poll(client, app, start)
        assert token.status_code == 200
        assert token.json()["token_type"] == "Bearer"


def test_the_page_escapes_what_it_echoes(make_serving_app: Any) -> None:
    app = make_serving_app(EmulatorConfig(auth=AuthConfig(device_users=(ADA,))))
    with httpx.Client(transport=app.transport()) as client:
        page = client.get(f"{app.base_url}/devicelogin", params={"otc": '"><script>x</script>'})
    assert "<script>x" not in page.text


def test_no_other_name_and_password_approves(make_serving_app: Any) -> None:
    app = make_serving_app(EmulatorConfig(auth=AuthConfig(device_users=(ADA,))))
    with httpx.Client(transport=app.transport()) as client:

        @settings(max_examples=60, deadline=None)
        @given(
            name=st.sampled_from([ADA.name, ADA.name.upper(), ""]) | st.text(max_size=30),
            password=st.sampled_from([ADA.password[:-1], ""]) | st.text(max_size=30),
            method=st.sampled_from(["GET", "POST"]),
        )
        def attempt(name: str, password: str, method: str) -> None:
            start = _start(client, app)
            form = {"otc": start["user_code"], "username": name, "password": password}
            if method == "GET":
                client.get(start["verification_uri"], params=form)
            else:
                client.post(start["verification_uri"], data=form)
            assert start["user_code"] in app.sign_in.pending_user_codes()

        attempt()


@pytest.mark.parametrize(("name", "password"), [("", "pw"), (" ", "pw"), ("ada", "")])
def test_device_users_need_a_name_and_password(name: str, password: str) -> None:
    with pytest.raises(ValueError, match="name and a password"):
        DeviceUser(name, password)
