"""Sign-in: the Entra-like token service, MSAL against it, and the bearer guard of the Web API.

Behaviour encoded from:
- client credentials, errors: https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow
  and https://learn.microsoft.com/entra/identity-platform/reference-error-codes
- device code: https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code
- 401 challenge: https://learn.microsoft.com/power-apps/developer/data-platform/authenticate-oauth
- disabled users: https://learn.microsoft.com/troubleshoot/power-platform/power-apps/dataverse/dataverse-plug-ins-errors
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import msal
import pytest

from crm_ferry.emulator import EmulatorApp
from crm_ferry.emulator.app import EmulatorConfig
from crm_ferry.emulator.auth import DEFAULT_CLIENT, AuthConfig, ClientApp, DeviceUser


class HttpxForMsal:
    """MSAL's ``http_client`` interface (``get``/``post`` returning a response) over httpx."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.urls: list[str] = []

    def get(self, url: str, params: Any = None, headers: Any = None, **_: Any) -> httpx.Response:
        self.urls.append(url)
        return self.client.get(url, params=params, headers=headers)

    def post(
        self, url: str, params: Any = None, data: Any = None, headers: Any = None, **_: Any
    ) -> httpx.Response:
        self.urls.append(url)
        return self.client.post(url, params=params, data=data, headers=headers)

    def close(self) -> None:
        self.client.close()


def _token_request(client: httpx.Client, app: Any, **form: str) -> httpx.Response:
    cid, secret = app.default_client
    body = {
        "grant_type": "client_credentials",
        "client_id": cid,
        "client_secret": secret,
        "scope": app.scope,
    }
    body.update(form)
    return client.post(app.token_url, data={k: v for k, v in body.items() if v != "-"})


def _assert_entra_error(response: httpx.Response, status: int, error: str, code: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    for key in ("timestamp", "trace_id", "correlation_id"):
        assert body[key]


def test_client_credentials_token_opens_the_web_api(make_serving_app: Any, tiny_plane: Any) -> None:
    app = make_serving_app()
    with httpx.Client(transport=app.transport()) as client:
        response = _token_request(client, app)
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == body["ext_expires_in"] == 3600
        assert len(body["access_token"]) > 40
        who = client.get(
            f"{app.api_url}/WhoAmI", headers={"Authorization": f"Bearer {body['access_token']}"}
        )
        assert who.status_code == 200
        # The client id became an application user, once, and is the caller of the API.
        second = _token_request(client, app).json()["access_token"]
    systemuserid = tiny_plane.users[DEFAULT_CLIENT.client_id][0]
    assert who.json()["UserId"] == systemuserid
    assert len(tiny_plane.users) == 1
    assert second != body["access_token"]


def test_client_secret_basic_is_accepted(make_serving_app: Any) -> None:
    app = make_serving_app()
    cid, secret = app.default_client
    basic = base64.b64encode(f"{cid}:{secret}".encode()).decode()
    with httpx.Client(transport=app.transport()) as client:
        response = client.post(
            app.token_url,
            data={"grant_type": "client_credentials", "scope": app.scope},
            headers={"Authorization": f"Basic {basic}"},
        )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("form", "status", "error", "code"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client", 7000215),
        ({"client_secret": "-"}, 401, "invalid_client", 7000216),
        ({"client_id": "00000000-0000-0000-0000-00000000abcd"}, 400, "unauthorized_client", 700016),
        ({"client_id": "-"}, 400, "invalid_request", 900144),
        (
            {"scope": "https://dataverse.emulator.local/user_impersonation"},
            400,
            "invalid_scope",
            1002012,
        ),
        ({"scope": "https://other.crm.dynamics.com/.default"}, 400, "invalid_resource", 500011),
        ({"scope": "-"}, 400, "invalid_request", 900144),
        ({"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
        ({"grant_type": "-"}, 400, "invalid_request", 900144),
    ],
)
def test_token_endpoint_errors_look_like_entra(
    make_serving_app: Any, form: dict[str, str], status: int, error: str, code: int
) -> None:
    app = make_serving_app()
    with httpx.Client(transport=app.transport()) as client:
        response = _token_request(client, app, **form)
    _assert_entra_error(response, status, error, code)


def test_wrong_secret_names_the_app_and_echoes_the_correlation_id(make_serving_app: Any) -> None:
    app = make_serving_app()
    with httpx.Client(
        transport=app.transport(), headers={"client-request-id": "abc-123"}
    ) as client:
        body = _token_request(client, app, client_secret="nope").json()
    assert f"for a secret added to app '{app.default_client[0]}'" in body["error_description"]
    assert body["correlation_id"] == "abc-123"


def test_unknown_tenant_and_get_on_token_endpoint(make_serving_app: Any) -> None:
    app = make_serving_app()
    with httpx.Client(transport=app.transport()) as client:
        wrong_tenant = client.post(
            f"{app.base_url}/contoso.onmicrosoft.com/oauth2/v2.0/token",
            data={"grant_type": "client_credentials"},
        )
        get = client.get(app.token_url)
    _assert_entra_error(wrong_tenant, 400, "invalid_request", 90002)
    _assert_entra_error(get, 400, "invalid_request", 900561)


def test_openid_configuration_points_at_the_emulator(make_serving_app: Any) -> None:
    app = make_serving_app()
    with httpx.Client(transport=app.transport()) as client:
        v2 = client.get(f"{app.authority}/v2.0/.well-known/openid-configuration").json()
        v1 = client.get(f"{app.authority}/.well-known/openid-configuration").json()
    assert v2["token_endpoint"] == app.token_url
    assert v2["authorization_endpoint"] == f"{app.authority}/oauth2/v2.0/authorize"
    assert v2["device_authorization_endpoint"] == f"{app.authority}/oauth2/v2.0/devicecode"
    assert v2["issuer"] == f"{app.authority}/v2.0"
    assert v1["token_endpoint"] == f"{app.authority}/oauth2/token"


def test_msal_confidential_client_gets_a_token(make_serving_app: Any) -> None:
    app = make_serving_app()
    cid, secret = app.default_client
    http = HttpxForMsal(httpx.Client(transport=app.transport()))
    msal_app = msal.ConfidentialClientApplication(
        cid,
        client_credential=secret,
        authority=app.authority,
        validate_authority=False,
        instance_discovery=False,
        http_client=http,
    )
    result = msal_app.acquire_token_for_client(scopes=[app.scope])
    assert "access_token" in result, result
    # Discovery is exactly one document, then the token endpoint.
    assert http.urls == [f"{app.authority}/v2.0/.well-known/openid-configuration", app.token_url]
    who = http.client.get(
        f"{app.api_url}/WhoAmI", headers={"Authorization": f"Bearer {result['access_token']}"}
    )
    assert who.status_code == 200
    bad = msal.ConfidentialClientApplication(
        cid,
        client_credential="wrong",
        authority=app.authority,
        validate_authority=False,
        instance_discovery=False,
        http_client=http,
    ).acquire_token_for_client(scopes=[app.scope])
    assert bad["error"] == "invalid_client"
    assert bad["error_codes"] == [7000215]
    http.close()


def test_msal_device_flow_signs_in_after_approval(make_serving_app: Any) -> None:
    app = make_serving_app(EmulatorConfig(auth=AuthConfig(device_code_interval_s=0)))
    http = HttpxForMsal(httpx.Client(transport=app.transport()))
    public = msal.PublicClientApplication(
        app.default_client[0],
        authority=app.authority,
        validate_authority=False,
        instance_discovery=False,
        http_client=http,
    )
    flow = public.initiate_device_flow(scopes=[f"{app.base_url}/user_impersonation"])
    assert flow["user_code"] in flow["message"]
    assert app.sign_in.pending_user_codes() == [flow["user_code"]]
    app.sign_in.approve_device_code(flow["user_code"])
    result = public.acquire_token_by_device_flow(flow)
    assert "access_token" in result, result
    http.close()


def test_device_code_polling_pending_approved_consumed_expired(
    make_serving_app: Any, fake_clock: Any
) -> None:
    app = make_serving_app()
    cid = app.default_client[0]
    with httpx.Client(transport=app.transport()) as client:
        start = client.post(
            f"{app.authority}/oauth2/v2.0/devicecode",
            data={"client_id": cid, "scope": f"{app.base_url}/.default"},
        ).json()
        assert start["interval"] == 5
        assert start["expires_in"] == 900

        def poll(code: str) -> httpx.Response:
            return client.post(
                app.token_url,
                data={
                    "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                    "client_id": cid,
                    "device_code": code,
                },
            )

        _assert_entra_error(poll(start["device_code"]), 400, "authorization_pending", 70016)
        app.sign_in.approve_device_code(start["user_code"].lower())
        token = poll(start["device_code"])
        assert token.status_code == 200
        assert token.json()["token_type"] == "Bearer"
        _assert_entra_error(poll(start["device_code"]), 400, "invalid_grant", 70000)

        late = client.post(
            f"{app.authority}/oauth2/v2.0/devicecode",
            data={"client_id": cid, "scope": f"{app.base_url}/.default"},
        ).json()
        fake_clock.advance(901)
        _assert_entra_error(poll(late["device_code"]), 400, "expired_token", 70020)


def _who_am_i(client: httpx.Client, app: Any, authorization: str | None) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return client.get(f"{app.api_url}/WhoAmI", headers=headers)


def test_missing_token_is_challenged_with_the_authority(
    make_serving_app: Any, tiny_plane: Any
) -> None:
    app = make_serving_app()
    with httpx.Client(transport=app.transport()) as client:
        response = _who_am_i(client, app, None)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        f"Bearer authorization_uri={app.authority}/oauth2/authorize, resource_id={app.base_url}/"
    )
    assert response.json()["error"]["message"]
    assert tiny_plane.requests == []  # never reached the data plane


@pytest.mark.parametrize("authorization", ["Bearer not-a-token", "Basic abc", "Bearer "])
def test_invalid_tokens_are_refused(make_serving_app: Any, authorization: str) -> None:
    app = make_serving_app()
    with httpx.Client(transport=app.transport()) as client:
        response = _who_am_i(client, app, authorization)
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer error="invalid_token"')
    assert f"authorization_uri={app.authority}/oauth2/authorize" in challenge


def test_expired_token_is_refused(
    make_serving_app: Any, fake_clock: Any, sign_in_token: Any
) -> None:
    app = make_serving_app(EmulatorConfig(auth=AuthConfig(token_lifetime_s=60)))
    with httpx.Client(transport=app.transport()) as client:
        token = sign_in_token(client, app)
        assert _who_am_i(client, app, f"Bearer {token}").status_code == 200
        fake_clock.advance(59)
        assert _who_am_i(client, app, f"Bearer {token}").status_code == 200
        fake_clock.advance(1)
        expired = _who_am_i(client, app, f"Bearer {token}")
    assert expired.status_code == 401
    assert "expired" in expired.json()["error"]["message"]


def test_token_for_another_environment_is_refused(
    make_serving_app: Any, sign_in_token: Any
) -> None:
    app = make_serving_app()
    with httpx.Client(transport=app.transport()) as client:
        token = sign_in_token(client, app)
        response = client.get(
            "https://other.crm.dynamics.com/api/data/v9.2/WhoAmI",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 401


def test_disabled_application_user_is_refused(make_serving_app: Any, tiny_plane: Any) -> None:
    off = ClientApp("2b0e3c51-9d1f-4f7a-8c55-0d6a4e9b1f20", "s3", "Disabled app", disabled=True)
    app = make_serving_app(EmulatorConfig(auth=AuthConfig(clients=(DEFAULT_CLIENT, off))))
    with httpx.Client(transport=app.transport()) as client:
        token = _token_request(client, app, client_id=off.client_id, client_secret="s3")
        assert token.status_code == 200  # Entra signs the app in; Dataverse refuses the user
        auth = f"Bearer {token.json()['access_token']}"
        refused = _who_am_i(client, app, auth)
        assert refused.status_code == 401
        message = refused.json()["error"]["message"]
        assert f"SystemUserId={tiny_plane.users[off.client_id][0]}" in message
        assert "Disabled users cannot access the system" in message
        app.sign_in.set_disabled(off.client_id, False)
        assert _who_am_i(client, app, auth).status_code == 200
        # Disabled in the data plane (systemuser.isdisabled) is refused just the same.
        tiny_plane.users[off.client_id] = (tiny_plane.users[off.client_id][0], True)
        assert _who_am_i(client, app, auth).status_code == 401


def test_device_login_page_approves_a_code(make_serving_app: Any) -> None:
    # a device user signs in to approve (issue 15, point 21; see test_device_login.py)
    ada = DeviceUser("ada@contoso.example", "pw")
    app = make_serving_app(EmulatorConfig(auth=AuthConfig(device_users=(ada,))))
    with httpx.Client(transport=app.transport()) as client:
        start = client.post(
            f"{app.authority}/oauth2/v2.0/devicecode",
            data={"client_id": app.default_client[0], "scope": app.scope},
        ).json()
        assert client.get(start["verification_uri"]).status_code == 200
        login = {"username": ada.name, "password": ada.password}
        nope = client.post(start["verification_uri"], data={"otc": "NOPE", **login})
        assert nope.status_code == 400
        assert app.sign_in.pending_user_codes() == [start["user_code"]]
        page = client.post(start["verification_uri"], data={"otc": start["user_code"], **login})
        assert page.status_code == 200
        assert app.sign_in.pending_user_codes() == []


def test_disabled_client_is_a_disabled_systemuser_in_the_data_plane() -> None:
    off = ClientApp("9a4c2f10-3b7e-4d21-a6c8-1e5f0b9d7c33", "s4", "Retired loader", disabled=True)
    with EmulatorApp(EmulatorConfig(auth=AuthConfig(clients=(DEFAULT_CLIENT, off)))) as app:
        with httpx.Client(transport=app.transport()) as client:
            token = _token_request(client, app, client_id=off.client_id, client_secret="s4")
            auth = f"Bearer {token.json()['access_token']}"
            refused = _who_am_i(client, app, auth)
        users = app.dump("systemuser")["records"]["systemuser"]
    assert refused.status_code == 401
    assert "is disabled" in refused.json()["error"]["message"]
    row = next(u for u in users if u.get("applicationid") == off.client_id)
    assert row["isdisabled"] is True
