"""``crm-ferry snapshot`` of a real tenant, unchanged from the emulator's (issue 17, point 2).

Marked ``live``: deselected by default, and skipped without the four ``CRM_FERRY_LIVE_*``
variables (see conftest.py; read here when the file is imported, before the suite-wide
fixture hides every ``CRM_FERRY_*`` variable). It only reads the tenant.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from crm_ferry import commands
from crm_ferry.settings import SECRET_ENV, Settings
from crm_ferry.snapshot import FORMAT, VERSION

_LIVE = {
    name: os.environ.get(name, "")
    for name in (
        "CRM_FERRY_LIVE_URL",
        "CRM_FERRY_LIVE_TENANT",
        "CRM_FERRY_LIVE_CLIENT_ID",
        "CRM_FERRY_LIVE_CLIENT_SECRET",
    )
}


@pytest.mark.live
def test_a_snapshot_of_the_live_tenant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = [name for name, value in _LIVE.items() if not value]
    if missing:
        pytest.skip(f"live tenant not configured: {', '.join(missing)} not set")
    (tmp_path / "ferry.toml").write_text(
        "[dataverse]\n"
        f'url = "{_LIVE["CRM_FERRY_LIVE_URL"].rstrip("/")}"\n'
        f'tenant = "{_LIVE["CRM_FERRY_LIVE_TENANT"]}"\n'
        f'client_id = "{_LIVE["CRM_FERRY_LIVE_CLIENT_ID"]}"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv(SECRET_ENV, _LIVE["CRM_FERRY_LIVE_CLIENT_SECRET"])
    result = commands.snapshot(Settings.load(tmp_path))
    text = result.path.read_text("utf-8")
    assert _LIVE["CRM_FERRY_LIVE_CLIENT_SECRET"] not in text
    doc = json.loads(text)
    assert (doc["format"], doc["version"]) == (FORMAT, VERSION)
    assert {"contact", "account", "systemuser", "transactioncurrency"} <= set(doc["tables"])
    contact = {c["LogicalName"]: c for c in doc["tables"]["contact"]["Attributes"]}
    assert contact["lastname"]["AttributeType"] == "String"
    assert contact["statecode"]["OptionSet"]["Options"]
    assert all("DefaultStatus" in o for o in contact["statecode"]["OptionSet"]["Options"])
    assert doc["users"]
    assert doc["business_units"]
    assert doc["currencies"]
    assert doc["organization"]["basecurrency_isocode"]
    assert doc["publishers"]
    assert doc["solutions"]
