"""``commands.preview``: what one source record becomes, on a generated project whose map
is proposed (not confirmed, not provisioned), computed from the map as it is on disk."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from rich.console import Console

from crm_ferry import commands
from crm_ferry.cli import cli, render
from crm_ferry.commands import _project
from crm_ferry.commands.emulator import embedded_client
from crm_ferry.errors import SourceError
from crm_ferry.journal import Journal
from crm_ferry.model import RecordKey
from crm_ferry.sources.search import Entry
from crm_ferry.transform.ops import target_id
from helpers.review import ReviewProject, build_proposed, open_copy


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_proposed(tmp_path_factory.mktemp("preview-template"))


@pytest.fixture
def project(template: Path, tmp_path: Path) -> Iterator[ReviewProject]:
    made = open_copy(template, tmp_path / "p")
    yield made
    made.close()


def _clients(project: ReviewProject, kind: str) -> list[Entry]:
    found = commands.preview_search(project.settings, "cli_", objects=["clients"], limit=1000)
    return [e for e in found if e.kind == kind]


def _namespace(project: ReviewProject) -> object:
    with Journal.for_project(project.settings.project_dir) as j:
        return j.namespace


def test_a_person_becomes_a_contact_with_its_owner_resolved(project: ReviewProject) -> None:
    person = _clients(project, "individual")[0]
    result = commands.preview(project.settings, "clients", person.key.id, client=project.client)
    assert result.status == "operations"
    assert result.map_status == "proposed"
    assert [(op.op.table, op.kind) for op in result.operations] == [("contact", "upsert")]
    contact = result.operations[0]
    assert contact.op.id == target_id(_namespace(project), "contact", person.key.id)  # type: ignore[arg-type]
    assert contact.shown["new_practiceid"] == person.key.id
    assert contact.shown["lastname"]
    owner = next(b for b in contact.lookups if b.column == "ownerid")
    assert owner.table == "systemuser"
    assert "(coach usr_" in owner.name
    # not provisioned: the columns provision creates are named, and the map said so
    assert "new_practiceid" in contact.missing
    assert any("new_session" in p for p in result.fit_problems)
    body = result.as_dict()
    assert body["operations"][0]["payload"]["new_practiceid"] == person.key.id
    assert {"path", "column", "table", "id", "name", "source"} <= set(
        body["operations"][0]["lookups"][0]
    )


def test_an_organization_becomes_an_account_its_contact_and_the_link(
    project: ReviewProject,
) -> None:
    org = _clients(project, "organization")[0]
    result = commands.preview(project.settings, "clients", org.key.id, client=project.client)
    kinds = [(op.op.table, op.kind) for op in result.operations]
    assert kinds == [("account", "upsert"), ("contact", "upsert"), ("account", "link")]
    account, contact, link = result.operations
    parent = next(b for b in contact.lookups if b.column == "parentcustomerid")
    assert (parent.table, parent.row_id, parent.source) == ("account", account.op.id, str(org.key))
    primary = link.lookups[0]
    assert (primary.column, primary.table, primary.row_id) == (
        "primarycontactid",
        "contact",
        contact.op.id,
    )
    assert primary.source == str(org.key)
    industry = next(c for c in account.choices if c.column == "industrycode")
    assert industry.labels[0][1]  # the tenant's label of the option
    children = {e.key.object for e in result.children}
    assert {"sessions", "invoices"} <= children


def test_a_lookup_points_to_the_record_its_row_is_made_of(project: ReviewProject) -> None:
    invoice = commands.preview_search(project.settings, "inv_", objects=["invoices"])[0]
    result = commands.preview(project.settings, "invoices", invoice.key.id, client=project.client)
    (op,) = result.operations
    customer = next(b for b in op.lookups if b.column == "customerid")
    client = next(p for p in result.parents if p.key.object == "clients")
    assert customer.source == str(client.key)
    assert customer.name == client.name
    currency = next(b for b in op.lookups if b.column == "transactioncurrencyid")
    assert currency.name == "USD"


def test_a_value_the_map_rejects_shows_the_reject_and_its_reason(project: ReviewProject) -> None:
    text = project.map_path.read_text(encoding="utf-8")
    edited = text.replace(
        "  gender:\n    column: contact.gendercode\n    policy: keep_text",
        "  gender:\n    column: contact.gendercode\n    policy: fail",
    )
    assert edited != text
    project.map_path.write_text(edited, encoding="utf-8")
    memo = project.state.memo  # the export read once for all the previews below
    found = commands.preview_search(
        project.settings, "cli_", objects=["clients"], limit=1000, memo=memo
    )
    previews = (
        commands.preview(project.settings, "clients", e.key.id, client=project.client, memo=memo)
        for e in found
        if e.kind == "individual"
    )
    rejected = next((r for r in previews if r.status == "rejected"), None)
    assert rejected is not None, "a non-binary client is rejected once the gender map fails"
    reject = rejected.rejects[0]
    assert reject.column == "gender"
    assert reject.value == "non-binary"
    assert "non-binary" in reject.reason
    assert rejected.operations == []


def test_the_map_is_read_afresh(project: ReviewProject) -> None:
    person = _clients(project, "individual")[0]
    before = commands.preview(project.settings, "clients", person.key.id, client=project.client)
    assert "emailaddress1" in before.operations[0].shown
    text = project.map_path.read_text(encoding="utf-8")
    project.map_path.write_text(
        text.replace("email: {column: emailaddress1,", "email: {column: emailaddress2,"),
        encoding="utf-8",
    )
    after = commands.preview(project.settings, "clients", person.key.id, client=project.client)
    assert "emailaddress2" in after.operations[0].shown
    assert "emailaddress1" not in after.operations[0].shown


def test_a_child_of_a_rejected_record_is_rejected_as_the_load_would(
    project: ReviewProject,
) -> None:
    """Sessions go to new_session, which the tenant lacks before provisioning: the session
    is rejected for it, and its note for pointing at the rejected session."""
    note = commands.preview_search(project.settings, "note_", objects=["session_notes"])[0]
    result = commands.preview(project.settings, "session_notes", note.key.id, client=project.client)
    assert result.status == "rejected"
    session = next(p for p in result.parents if p.key.object == "sessions")
    assert result.rejects[0].reason == (
        f"session {session.key.id!r} was rejected, so this row cannot point to it"
    )


def test_an_object_the_map_does_not_migrate(project: ReviewProject) -> None:
    user = commands.preview_search(project.settings, "usr_0001", objects=["users"])[0]
    result = commands.preview(project.settings, "users", user.key.id, client=project.client)
    assert result.status == "not migrated"
    assert result.key == RecordKey("users", "usr_0001")
    assert any(e.key.object == "clients" for e in result.children)


def test_an_unknown_record_says_what_the_export_has(project: ReviewProject) -> None:
    with pytest.raises(SourceError) as raised:
        commands.preview(project.settings, "clients", "cli_999999", client=project.client)
    assert "'cli_999999' is not in the export" in raised.value.message
    assert "clients" in (raised.value.hint or "")


def test_search_finds_by_name_and_by_id(project: ReviewProject) -> None:
    person = _clients(project, "individual")[0]
    last = person.name.split()[-1]
    by_name = commands.preview_search(project.settings, last.upper())
    assert person.key in [e.key for e in by_name]
    by_id = commands.preview_search(project.settings, person.key.id)
    assert by_id[0].key == person.key
    assert commands.preview_search(project.settings, "   ") == []


# ---------------------------------------------------------------------------
# crm-ferry preview: the same result, at 80 columns and as JSON


def _cli(project: ReviewProject, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.setattr(
        _project, "client_from_settings", lambda settings, **_: embedded_client(project.app)
    )
    monkeypatch.setattr(render, "console", Console(width=80, highlight=False, color_system=None))
    return CliRunner().invoke(
        cli, ["--project", str(project.settings.project_dir), "preview", *args]
    )


def test_the_command_prints_the_same_in_80_columns_and_as_json(
    project: ReviewProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = _clients(project, "organization")[0]
    expected = commands.preview(project.settings, "clients", org.key.id, client=project.client)
    as_json = _cli(project, monkeypatch, "clients", org.key.id, "--json")
    assert as_json.exit_code == 0, as_json.output
    body = json.loads(as_json.output)
    assert body == json.loads(json.dumps(expected.as_dict(), default=str))
    printed = _cli(project, monkeypatch, "clients", org.key.id)
    assert printed.exit_code == 0, printed.output
    lines = printed.output.splitlines()
    for op in expected.operations:  # every id whole on a line of at most 80 columns
        assert any(op.op.id in line for line in lines)
        for b in op.lookups:
            assert any(b.row_id in line for line in lines)
    assert "1. upsert account (role account)" in lines
    assert f'     "new_practiceid": "{org.key.id}",' in lines
    prose = [ln for ln in lines if not ln.lstrip().startswith(('"', "{", "}"))]
    assert all(len(line) <= 80 for line in prose), [ln for ln in prose if len(ln) > 80]


def test_the_command_refuses_an_unknown_record(
    project: ReviewProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = _cli(project, monkeypatch, "sessions", "ses_9999999")
    assert refused.exit_code == SourceError.exit_code
    assert "'ses_9999999' is not in the export" in refused.output
