"""Sign-in through MSAL against the emulator's Entra-like token service.

The emulator's sign-in layer is real; behind it sits the small fake data plane, so these
tests exercise MSAL, the httpx adapter, token caching and the 401 path end to end.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from crm_ferry.dataverse import AuthError, DataverseClient, MsalCredential
from crm_ferry.dataverse.auth import authority_for, scope_for
from crm_ferry.emulator import EmulatorApp, EmulatorConfig
from crm_ferry.emulator.auth import AuthConfig, ClientApp
from helpers.dataverse_fakes import CLIENT_ID, SECRET, FakeClock, FakeDataverse, Plane


@pytest.fixture
def emu_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(fake: FakeDataverse, emu_clock: FakeClock) -> Iterator[EmulatorApp]:
    config = EmulatorConfig(auth=AuthConfig(clients=(ClientApp(CLIENT_ID, SECRET, "loader"),)))
    with EmulatorApp(config, backend=Plane(fake), clock=emu_clock) as a:
        yield a


def credential(app: EmulatorApp, secret: str = SECRET) -> MsalCredential:
    return MsalCredential.client_secret(
        environment_url=app.base_url,
        client_id=CLIENT_ID,
        secret=secret,
        tenant=app.tenant,
        authority=app.base_url,
        http=httpx.Client(transport=app.transport()),
    )


def test_client_secret_sign_in_and_token_cache(app: EmulatorApp, clock: FakeClock) -> None:
    cred = credential(app)
    with DataverseClient(
        app.base_url, cred, transport=app.transport(), clock=clock, sleep=clock.sleep
    ) as client:
        me = client.who_am_i()
        client.who_am_i()
        client.who_am_i()
    assert me.user_id == "u-1"
    assert cred.acquired == 1  # one token for three calls


def test_expired_token_is_refreshed_once_on_401(
    app: EmulatorApp, clock: FakeClock, emu_clock: FakeClock
) -> None:
    cred = credential(app)
    with DataverseClient(
        app.base_url, cred, transport=app.transport(), clock=clock, sleep=clock.sleep
    ) as client:
        client.who_am_i()
        emu_clock.now += 7200  # the emulator's token has expired; ours does not know
        client.who_am_i()
        assert client.stats.auth_refreshes == 1
    assert cred.acquired == 2


def test_wrong_secret_is_an_auth_error_that_does_not_leak_it(app: EmulatorApp) -> None:
    wrong = "Wrong-" + SECRET
    cred = credential(app, secret=wrong)
    with pytest.raises(AuthError) as info:
        cred.token()
    err = info.value
    assert "invalid_client" in str(err)
    for text in (str(err), repr(err), repr(err.attrs()), repr(cred), err.hint or ""):
        assert wrong not in text
        assert SECRET not in text
    assert not any(wrong in str(v) for v in vars(cred).values() if isinstance(v, str))


def test_disabled_application_user_is_refused(app: EmulatorApp, clock: FakeClock) -> None:
    app.sign_in.set_disabled(CLIENT_ID)
    with (
        DataverseClient(
            app.base_url, credential(app), transport=app.transport(), clock=clock, sleep=clock.sleep
        ) as client,
        pytest.raises(AuthError, match="disabled"),
    ):
        client.who_am_i()


def test_device_code_sign_in(app: EmulatorApp, clock: FakeClock) -> None:
    prompts: list[str] = []

    def approve(message: str) -> None:
        prompts.append(message)
        for code in app.sign_in.pending_user_codes():
            app.sign_in.approve_device_code(code)

    cred = MsalCredential.device_code(
        environment_url=app.base_url,
        client_id=CLIENT_ID,
        tenant=app.tenant,
        authority=app.base_url,
        http=httpx.Client(transport=app.transport()),
        prompt=approve,
    )
    with DataverseClient(
        app.base_url, cred, transport=app.transport(), clock=clock, sleep=clock.sleep
    ) as client:
        assert client.who_am_i().user_id == "u-1"
    assert prompts
    assert cred.acquired == 1


def test_authority_and_scope() -> None:
    assert (
        scope_for("https://contoso.crm.dynamics.com/")
        == "https://contoso.crm.dynamics.com/.default"
    )
    assert authority_for("contoso.onmicrosoft.com", None) == (
        "https://login.microsoftonline.com/contoso.onmicrosoft.com"
    )
    assert authority_for("t1", "https://emu.local") == "https://emu.local/t1"
    assert authority_for("t1", "https://emu.local/t2") == "https://emu.local/t2"
    with pytest.raises(AuthError):
        authority_for(None, None)


def test_sign_in_to_an_emulator_served_over_loopback_http(app: EmulatorApp) -> None:
    from crm_ferry.emulator.server import serve

    with serve(app) as server:
        assert server.url.startswith("http://127.0.0.1:")
        cred = MsalCredential.client_secret(
            environment_url=server.url,
            client_id=CLIENT_ID,
            secret=SECRET,
            tenant=app.tenant,
            authority=server.url,
        )
        with DataverseClient(server.url, cred) as client:
            assert client.who_am_i().user_id == "u-1"
