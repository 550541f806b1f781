"""The emulator's store holds the migrated client data: owner-only, like a project folder
(issue 15, point 19)."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx

from crm_ferry.emulator import EmulatorApp
from crm_ferry.emulator.store import DB_NAME


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_store_folder_and_files_are_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "emulator-data"
    with EmulatorApp(data_dir=data) as app:
        client_id, secret = app.default_client
        with httpx.Client(transport=app.transport()) as http:  # a write: WAL files appear
            token = http.post(
                f"{app.authority}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": client_id,
                    "client_secret": secret,
                    "scope": app.scope,
                },
            ).json()["access_token"]
            made = http.post(
                f"{app.api_url}/accounts",
                json={"name": "Contoso"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert made.status_code == 204, made.text
        files = sorted(data.iterdir())
        assert data / DB_NAME in files
        assert _mode(data) == 0o700
        for path in files:
            assert _mode(path) == 0o600, path


def test_an_existing_store_is_made_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "old"
    with EmulatorApp(data_dir=data):
        pass
    data.chmod(0o755)
    (data / DB_NAME).chmod(0o644)
    with EmulatorApp(data_dir=data):
        assert _mode(data) == 0o700
        assert _mode(data / DB_NAME) == 0o600
