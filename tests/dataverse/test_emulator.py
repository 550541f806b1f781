"""The client against the emulator's own data plane (skipped until it is available).

The emulator is written independently from the same documents; these tests make the two
meet: records, paging, $batch, bulk with bisection, metadata, and doctor.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from crm_ferry.dataverse import (
    ClientOptions,
    ColumnSpec,
    DataverseClient,
    MsalCredential,
    NotFound,
    ValidationRejected,
)
from crm_ferry.dataverse.doctor import DoctorResult
from crm_ferry.emulator import EmulatorApp
from helpers.dataverse_fakes import FakeClock


@pytest.fixture
def app(clock: FakeClock) -> Iterator[EmulatorApp]:
    with EmulatorApp(clock=clock, sleep=clock.sleep) as a:
        yield a


@pytest.fixture
def emu(app: EmulatorApp, clock: FakeClock) -> Iterator[DataverseClient]:
    with _client(app, clock, app.transport()) as c:
        yield c


def _client(app: EmulatorApp, clock: FakeClock, transport: httpx.BaseTransport) -> DataverseClient:
    client_id, secret = app.default_client
    credential = MsalCredential.client_secret(
        environment_url=app.base_url,
        client_id=client_id,
        secret=secret,
        tenant=app.tenant,
        authority=app.base_url,
        http=httpx.Client(transport=app.transport()),
    )
    options = ClientOptions(batch_size=100, visibility_delays=(0, 1, 2, 4, 8, 16, 32))
    return DataverseClient(
        app.base_url,
        credential,
        transport=transport,
        options=options,
        clock=clock,
        sleep=clock.sleep,
    )


def cid(i: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"emulator-test/{i}"))


def test_records_round_trip(emu: DataverseClient) -> None:
    info = emu.metadata.table("contact")
    assert info.entity_set_name == "contacts"
    assert info.primary_id == "contactid"
    new_id = emu.create("contact", {"firstname": "Ada", "lastname": "Lovelace"})
    assert emu.retrieve("contact", new_id, select=["lastname"])["lastname"] == "Lovelace"
    emu.update("contact", new_id, {"firstname": "Augusta"})
    emu.upsert("contact", cid(1), {"lastname": "Byron"})
    with pytest.raises(NotFound):
        emu.update("contact", cid(2), {"lastname": "missing"})
    emu.delete("contact", new_id)
    with pytest.raises(NotFound):
        emu.retrieve("contact", new_id)
    me = emu.who_am_i()
    assert me.user_id
    assert me.dop_hint == 4


def test_query_pages(emu: DataverseClient) -> None:
    report = emu.write_many(
        "contact", [{"contactid": cid(i), "lastname": f"L{i}"} for i in range(25)]
    )
    assert report.written == 25
    rows = list(emu.query("contact", select=["lastname"], page_size=10))
    assert len(rows) == 25


def test_bulk_bisection_isolates_bad_rows(emu: DataverseClient, app: EmulatorApp) -> None:
    rows: list[dict[str, object]] = [{"contactid": cid(i), "lastname": f"L{i}"} for i in range(300)]
    rows[42]["bogus_column"] = "x"
    rows[250]["bogus_column"] = "y"
    report = emu.write_many("contact", rows)
    assert {r.index for r in report.rejected} == {42, 250}
    for r in report.rejected:
        assert isinstance(r.error, ValidationRejected)
    assert report.written == 298


def test_bind_reads_navigation_properties(emu: DataverseClient) -> None:
    nav, value = emu.metadata.bind("contact", "parentcustomerid", "account", cid(9))
    assert nav == "parentcustomerid_account@odata.bind"
    assert value == f"/accounts({cid(9)})"


def test_schema_writes(emu: DataverseClient) -> None:
    info = emu.metadata.create_table(
        "new_Session", display_name="Session", plural_name="Sessions", primary_name="new_Name"
    )
    assert info.primary_id == "new_sessionid"
    emu.metadata.create_column(
        "new_session", ColumnSpec(kind="String", schema_name="new_SourceId", label="Source id")
    )
    emu.metadata.create_column(
        "new_session",
        ColumnSpec(kind="DateTime", schema_name="new_Day", label="Day", format="DateOnly"),
    )
    key = emu.metadata.create_key("new_session", "new_SourceId_Key", ["new_sourceid"])
    assert key.status == "Active"
    cols = emu.metadata.columns("new_session")
    assert cols["new_day"].datetime_behavior == "DateOnly"
    report = emu.write_many(
        "new_session",
        [{"new_sourceid": f"S-{i}", "new_name": f"Session {i}"} for i in range(5)],
        key=["new_sourceid"],
    )
    assert report.written == 5


def _doctor(app: EmulatorApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DoctorResult:
    from crm_ferry import commands
    from crm_ferry.settings import Settings

    client_id, secret = app.default_client
    monkeypatch.setenv("CRM_FERRY_CLIENT_SECRET", secret)
    settings = Settings(
        project_dir=tmp_path,
        environment_url=app.base_url,
        tenant=app.tenant,
        client_id=client_id,
        authority=app.base_url,
    )
    return commands.doctor(settings, transport=app.transport())


def test_doctor_against_the_emulator(
    app: EmulatorApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _doctor(app, tmp_path, monkeypatch)
    by_name = {c.name: c for c in result.checks}
    for name in ("reachability", "sign-in", "WhoAmI", "upload size", "invoice table"):
        assert by_name[name].status == "pass", by_name[name]
    assert by_name["custom tables"].status == "pass"
    assert result.facts["dop_hint"] == 4
    assert result.facts["maxuploadfilesize"] == 5242880
    assert result.facts["privileges_missing"] == []
    assert result.ok, [c for c in result.checks if c.status == "fail"]


def test_doctor_names_a_missing_privilege(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    from crm_ferry.emulator.app import EmulatorConfig
    from crm_ferry.emulator.auth import DEFAULT_CLIENT_ID
    from crm_ferry.emulator.core import CoreConfig

    core = CoreConfig(privileges_removed={DEFAULT_CLIENT_ID: frozenset({"prvCreateContact"})})
    with EmulatorApp(EmulatorConfig(core=core), clock=clock, sleep=clock.sleep) as app:
        result = _doctor(app, tmp_path, monkeypatch)
    assert not result.ok
    (check,) = [c for c in result.checks if c.name == "privileges"]
    assert check.status == "fail"
    assert "prvCreateContact (for contact)" in check.detail


def test_doctor_fails_for_a_disabled_user_and_a_wrong_secret(
    app: EmulatorApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_id, _ = app.default_client
    app.sign_in.set_disabled(client_id)
    result = _doctor(app, tmp_path, monkeypatch)
    (who,) = [c for c in result.checks if c.name == "WhoAmI"]
    assert who.status == "fail"
    assert "disabled" in who.detail
    app.sign_in.set_disabled(client_id, False)
    monkeypatch.setenv("CRM_FERRY_CLIENT_SECRET", "wrong")
    from crm_ferry import commands
    from crm_ferry.settings import Settings

    settings = Settings(
        project_dir=tmp_path,
        environment_url=app.base_url,
        tenant=app.tenant,
        client_id=client_id,
        authority=app.base_url,
    )
    result = commands.doctor(settings, transport=app.transport())
    (sign_in,) = [c for c in result.checks if c.name == "sign-in"]
    assert sign_in.status == "fail"
    assert "invalid_client" in sign_in.detail
    assert not result.ok


def test_lookup_choice_and_deletes(emu: DataverseClient) -> None:
    md = emu.metadata
    md.create_table(
        "new_Package", display_name="Package", plural_name="Packages", primary_name="new_Name"
    )
    md.create_global_choice(
        "new_packagekind", label_text="Package kind", options=[(None, "Single"), (None, "Bundle")]
    )
    md.create_column(
        "new_package",
        ColumnSpec(
            kind="Picklist", schema_name="new_Kind", label="Kind", global_choice="new_packagekind"
        ),
    )
    md.create_column(
        "new_package",
        ColumnSpec(kind="Money", schema_name="new_Price", label="Price"),
    )
    md.create_lookup("new_package", "new_ClientId", target_table="contact", label_text="Client")
    nav, value = md.bind("new_package", "new_clientid", "contact", cid(3))
    assert nav.endswith("@odata.bind")
    assert value == f"/contacts({cid(3)})"
    kinds = md.columns("new_package")["new_kind"].options
    assert sorted(kinds.values()) == ["Bundle", "Single"]
    emu.upsert("contact", cid(3), {"lastname": "Client"})
    pkg = emu.create(
        "new_package", {"new_name": "Gold", "new_kind": min(kinds), nav: value, "new_price": 120.5}
    )
    assert emu.retrieve("new_package", pkg, select=["new_name"])["new_name"] == "Gold"
    md.delete_column("new_package", "new_price")
    assert "new_price" not in md.columns("new_package")
    md.delete_table("new_package")
    assert not md.has_table("new_package")
    md.delete_global_choice("new_packagekind")


def test_change_set_with_content_id_reference(emu: DataverseClient) -> None:
    from crm_ferry.dataverse import BatchOperation, ChangeSet

    items = [
        ChangeSet(
            (
                BatchOperation("POST", "accounts", {"name": "Acme Coaching Ltd"}, content_id="1"),
                BatchOperation(
                    "POST",
                    "contacts",
                    {"lastname": "Lovelace", "parentcustomerid_account@odata.bind": "$1"},
                    content_id="2",
                ),
            )
        ),
        BatchOperation("PATCH", f"contacts({cid(7)})", {"lastname": "Other"}),
        BatchOperation("PATCH", f"contacts({cid(8)})", {"bogus_column": 1}),
    ]
    responses = emu.execute_batch(items)
    assert [r.status if r else None for r in responses][:3] == [204, 204, 204]
    assert responses[3] is not None
    assert isinstance(responses[3].error(), ValidationRejected)
    contact_uri = responses[1].entity_id if responses[1] else None
    assert contact_uri is not None
    contact = emu.retrieve("contact", contact_uri.rsplit("(", 1)[1].rstrip(")"))
    account_uri = responses[0].entity_id if responses[0] else ""
    assert contact["_parentcustomerid_value"] in (account_uri or "")


def test_an_emptied_lookup_is_cleared_by_its_navigation_property(
    app: EmulatorApp, clock: FakeClock
) -> None:
    """A write that empties a lookup sends ``"<nav>": null`` (Associate and disassociate
    table rows, "Disassociate table rows on update"), by update and by upsert."""
    sent: list[bytes] = []
    plane = app.transport()

    def spy(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            sent.append(request.read())
        return plane.handle_request(request)

    with _client(app, clock, httpx.MockTransport(spy)) as emu:
        account = emu.create("account", {"name": "Parent"})
        bind = {"parentcustomerid_account@odata.bind": f"/accounts({account})"}
        contact = emu.create("contact", {"lastname": "Child", **bind})
        other = emu.create("contact", {"lastname": "Other", **bind})
        emu.update("contact", contact, {"parentcustomerid_account@odata.bind": None})
        emu.upsert("contact", other, {"parentcustomerid_account@odata.bind": None, "lastname": "O"})
        bodies = [json.loads(body) for body in sent]
        assert [b.get("parentcustomerid_account", "absent") for b in bodies] == [None, None]
        assert not any(k.endswith("@odata.bind") for b in bodies for k in b)
        for row in (contact, other):
            found = emu.retrieve("contact", row, select=["_parentcustomerid_value"])
            assert found["_parentcustomerid_value"] is None
