"""An emulator served from a tenant snapshot (issue 17, point 3): the round trip (a snapshot
of the served emulator is the snapshot it was served from, its ``EntityDefinitions`` answers
are the original's), a migration against it, and the refusals at start-up of what the
emulator cannot represent."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from crm_ferry import commands
from crm_ferry.cli import cli
from crm_ferry.commands.emulator import embedded_client
from crm_ferry.commands.migrate import run_load
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.dataverse.metadata import ColumnSpec
from crm_ferry.emulator import EmulatorApp, EmulatorConfig
from crm_ferry.errors import ConfigError
from crm_ferry.settings import Settings
from helpers.project import build_provisioned

VOLATILE = frozenset({"MetadataId", "CreatedOn", "ModifiedOn", "ColumnNumber"})
"""What a snapshot does not keep: ids and times of the definitions, the columns' order."""
EXPAND = "Attributes,Keys,OneToManyRelationships,ManyToOneRelationships,ManyToManyRelationships"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A provisioned project whose tenant has more than the map: a custom table related to
    contact (with a global choice), a column and a choice on contact, a user, a currency."""
    base = build_provisioned(tmp_path_factory.mktemp("served"), clients=8, seed=5)
    with EmulatorApp(data_dir=base / "data") as app:
        app.add_user("Quinn", "Reviewer", "quinn.reviewer@crmferry.onmicrosoft.com")
        with embedded_client(app, key_poll_interval=0.0) as client:
            _customise(client)
            commands.snapshot(Settings.load(base / "project", env={}), client=client)
    return base


def _customise(client: DataverseClient) -> None:
    meta = client.metadata
    meta.create_global_choice(
        "new_referralsource", label_text="Referral source", options=[(None, "Web"), (None, "GP")]
    )
    meta.create_table(
        "new_Referral", display_name="Referral", plural_name="Referrals", primary_name="new_name"
    )
    meta.create_column(
        "new_referral",
        ColumnSpec(
            kind="Picklist",
            schema_name="new_Source",
            label="Source",
            global_choice="new_referralsource",
        ),
    )
    meta.create_lookup("new_referral", "new_ContactId", target_table="contact", label_text="Client")
    meta.create_column(
        "contact",
        ColumnSpec(kind="String", schema_name="new_Nickname", label="Nickname", max_length=60),
    )
    meta.create_column(
        "contact",
        ColumnSpec(
            kind="Picklist",
            schema_name="new_Tier",
            label="Tier",
            options=[(None, "Bronze"), (None, "Gold")],
        ),
    )
    client.create(
        "transactioncurrency",
        {
            "isocurrencycode": "CHF",
            "currencyname": "Swiss Franc",
            "currencysymbol": "CHF",
            "currencyprecision": 2,
            "exchangerate": 0.88,
        },
    )


@pytest.fixture
def base(template: Path, tmp_path: Path) -> Path:
    for part in ("bundle", "project", "data"):
        shutil.copytree(template / part, tmp_path / part)
    return tmp_path


@pytest.fixture
def snapshot(base: Path) -> Path:
    return base / "project" / "tenant-snapshot.json"


@pytest.fixture
def served(snapshot: Path) -> Iterator[EmulatorApp]:
    with EmulatorApp(snapshot=snapshot) as app:
        yield app


def _doc(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text("utf-8")))


def _untimed(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "taken_at"}


def test_the_snapshot_holds_what_was_added(snapshot: Path) -> None:
    doc = _doc(snapshot)
    assert doc["tables"]["new_referral"]["IsCustomEntity"] is True
    contact = {c["LogicalName"]: c for c in doc["tables"]["contact"]["Attributes"]}
    assert contact["new_nickname"]["MaxLength"] == 60
    assert [o["Label"] for o in contact["new_tier"]["OptionSet"]["Options"]] == ["Bronze", "Gold"]
    assert "new_referralsource" in doc["global_option_sets"]
    assert "CHF" in {c["isocurrencycode"] for c in doc["currencies"]}
    assert "Quinn Reviewer" in {u["fullname"] for u in doc["users"]}


def test_a_snapshot_of_the_served_emulator_is_the_snapshot(
    base: Path, snapshot: Path, served: EmulatorApp, tmp_path: Path
) -> None:
    with embedded_client(served, key_poll_interval=0.0) as client:
        again = commands.snapshot(
            Settings.load(base / "project", env={}), client=client, out=tmp_path / "again.json"
        )
    assert _untimed(_doc(again.path)) == _untimed(_doc(snapshot))


def _definitions(app: EmulatorApp, tables: list[str]) -> dict[str, Any]:
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in VOLATILE}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    out: dict[str, Any] = {}
    backend: Any = app.backend
    with httpx.Client(
        transport=httpx.MockTransport(backend.handle), base_url=f"{app.api_url}/"
    ) as api:
        for name in tables:
            response = api.get(
                f"EntityDefinitions(LogicalName='{name}')", params={"$expand": EXPAND}
            )
            assert response.status_code == 200, response.text
            body = response.json()
            body["Attributes"].sort(key=lambda a: a["LogicalName"])
            for part in EXPAND.split(",")[1:]:
                body[part].sort(key=lambda r: r["SchemaName"])
            out[name] = strip(body)
    return out


def test_entity_definitions_answer_as_the_original(
    base: Path, snapshot: Path, served: EmulatorApp
) -> None:
    tables = [*_doc(snapshot)["map_tables"], "new_referral"]
    with EmulatorApp(data_dir=base / "data") as original:
        expected = _definitions(original, tables)
    answered = _definitions(served, tables)
    for name in tables:
        assert answered[name] == expected[name], name


def test_a_migration_runs_against_the_served_emulator(
    base: Path, snapshot: Path, tmp_path: Path
) -> None:
    project = tmp_path / "rehearsal"
    shutil.copytree(base / "project", project)
    with EmulatorApp(snapshot=snapshot) as app, embedded_client(app) as client:
        settings = Settings.load(project, env={})
        result = run_load(settings, client=client, skip_sample_gate=True)
        assert result.ok
        assert app.dump("contact")["records"]["contact"]


def test_the_served_tenant_keeps_its_data_folder(snapshot: Path, tmp_path: Path) -> None:
    with EmulatorApp(EmulatorConfig(snapshot=snapshot), data_dir=tmp_path / "d") as app:
        users = len(app.dump("systemuser")["records"]["systemuser"])
    with EmulatorApp(snapshot=snapshot, data_dir=tmp_path / "d") as again:
        assert len(again.dump("systemuser")["records"]["systemuser"]) == users
    with pytest.raises(ConfigError, match="is not the tenant of the snapshot"):
        EmulatorApp(data_dir=tmp_path / "d", snapshot=_changed(snapshot, tmp_path, _rename_user))


# ---------------------------------------------------------------------------
# Refusals at start-up


def _changed(snapshot: Path, tmp_path: Path, change: Any) -> Path:
    doc = _doc(snapshot)
    change(doc)
    out = tmp_path / "changed.json"
    out.write_text(json.dumps(doc), encoding="utf-8")
    return out


def _rename_user(doc: dict[str, Any]) -> None:
    doc["users"][0]["fullname"] = "Someone Else"


def _column(doc: dict[str, Any], table: str, name: str) -> dict[str, Any]:
    return next(c for c in doc["tables"][table]["Attributes"] if c["LogicalName"] == name)


def _secured(doc: dict[str, Any]) -> None:
    _column(doc, "contact", "new_nickname")["IsSecured"] = True


def _unknown_type(doc: dict[str, Any]) -> None:
    _column(doc, "phonecall", "subject").update(
        AttributeType="RichText", AttributeTypeName="RichTextType"
    )


def _pending_key(doc: dict[str, Any]) -> None:
    doc["tables"]["contact"]["Keys"][0]["EntityKeyIndexStatus"] = "Pending"


def _managed(doc: dict[str, Any]) -> None:
    doc["tables"]["account"]["IsManaged"] = True


def _team_owned(doc: dict[str, Any]) -> None:
    doc["tables"]["new_referral"]["OwnershipType"] = "TeamOwned"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_secured, r"column contact\.new_nickname: IsSecured True: Column-level security"),
        (_unknown_type, r"column phonecall\.subject: AttributeType 'RichText'"),
        (_pending_key, r"key contact\.new_practiceidkey: EntityKeyIndexStatus 'Pending'"),
        (_managed, r"table account: IsManaged is True in the snapshot; the emulator can only"),
        (_team_owned, r"table new_referral: OwnershipType 'TeamOwned'"),
    ],
)
def test_what_the_emulator_cannot_represent_is_refused(
    snapshot: Path, tmp_path: Path, change: Any, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        EmulatorApp(snapshot=_changed(snapshot, tmp_path, change))


def test_a_file_that_is_no_snapshot_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"format": "something"}', encoding="utf-8")
    with pytest.raises(ConfigError, match="is not a tenant snapshot"):
        EmulatorApp(snapshot=path)
    with pytest.raises(ConfigError, match="no tenant snapshot at"):
        EmulatorApp(snapshot=tmp_path / "missing.json")


def test_serve_documents_the_snapshot_option() -> None:
    result = CliRunner().invoke(cli, ["emulator", "serve", "--help"])
    assert result.exit_code == 0
    assert "--snapshot FILE" in result.output


def test_a_whole_rehearsal_runs_against_the_served_emulator(
    base: Path, snapshot: Path, tmp_path: Path
) -> None:
    """provision → sample → migrate → verify → rollback on the tenant the snapshot describes:
    the schema is already there, the load proves out, and rolling everything back leaves the
    served tenant's rows as they were."""
    project = tmp_path / "rehearsal"
    shutil.copytree(base / "project", project)
    tables = ("contact", "account", "new_session", "annotation", "phonecall", "invoice")
    with EmulatorApp(snapshot=snapshot) as app, embedded_client(app, key_poll_interval=0.0) as c:
        settings = Settings.load(project, env={})
        before = {t: app.dump(t)["records"].get(t, []) for t in tables}
        provisioned = commands.provision(settings, client=c)
        assert provisioned.failure is None
        assert provisioned.plan is not None
        assert provisioned.plan.ops == ()  # the snapshot tenant has the schema already
        assert provisioned.plan.conflicts == ()
        sampled = commands.sample(settings, size=40, client=c)
        assert sampled.report.html.exists()
        assert run_load(settings, client=c, skip_sample_gate=True).ok
        assert len(app.dump("contact")["records"]["contact"]) >= 8
        verified = commands.verify(settings, client=c)
        assert [d for d in verified.differences if d.classification == "migration difference"] == []
        report = commands.rollback(settings, all_runs=True, client=c)
        assert report.failures == 0
        assert report.conflicts == 0
        after = {t: app.dump(t)["records"].get(t, []) for t in tables}
    assert {t: len(rows) for t, rows in after.items()} == {
        t: len(rows) for t, rows in before.items()
    }
