"""Several application users: each signs in as its own systemuser with its own limits.

Limits are per user: https://learn.microsoft.com/power-apps/developer/data-platform/api-limits
"""

from __future__ import annotations

import httpx
import pytest

from crm_ferry.emulator import EmulatorApp
from crm_ferry.emulator.app import emulator_config
from crm_ferry.emulator.auth import DEFAULT_CLIENT, emulator_clients
from crm_ferry.errors import ConfigError


def _headers(http: httpx.Client, app: EmulatorApp, client_id: str, secret: str) -> dict[str, str]:
    r = http.post(
        app.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": app.scope,
        },
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_each_user_is_its_own_systemuser_with_its_own_request_budget() -> None:
    config = emulator_config(users=3, requests_per_window=2)
    clients = config.auth.clients
    assert clients[0] == DEFAULT_CLIENT
    assert len({c.client_id for c in clients}) == 3
    assert emulator_clients(3) == clients  # fixed: configuration written for them stays valid
    with EmulatorApp(config) as app, httpx.Client(transport=app.transport()) as http:
        first = _headers(http, app, clients[0].client_id, clients[0].secret)
        second = _headers(http, app, clients[1].client_id, clients[1].secret)
        who = f"{app.api_url}/WhoAmI"
        one = [http.get(who, headers=first) for _ in range(3)]
        assert [r.status_code for r in one] == [200, 200, 429]
        two = http.get(who, headers=second)
        assert two.status_code == 200  # the first user's budget is not the second's
        assert two.json()["UserId"] != one[0].json()["UserId"]
        made = http.post(f"{app.api_url}/contacts", headers=second, json={"lastname": "Noether"})
        assert made.status_code == 204, made.text
        wrong = http.post(
            app.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": clients[1].client_id,
                "client_secret": clients[0].secret,
                "scope": app.scope,
            },
        )
        assert wrong.status_code == 401


def test_users_must_be_at_least_one() -> None:
    with pytest.raises(ConfigError, match="users"):
        emulator_config(users=0)
