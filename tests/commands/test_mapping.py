"""The map workflow end to end: propose, edit, re-propose, check, confirm, and the load gate."""

from __future__ import annotations

import csv
import shutil
import stat
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from crm_ferry.commands._project import confirmed_map as require_loadable_map
from crm_ferry.commands.emulator import embedded_client
from crm_ferry.commands.mapping import init, read_source
from crm_ferry.commands.mapping import map_confirm as confirm_map
from crm_ferry.commands.mapping import map_propose as propose_map
from crm_ferry.commands.mapping import map_show as show_map
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.dataverse.metadata import ColumnInfo
from crm_ferry.emulator import EmulatorApp
from crm_ferry.errors import MapError
from crm_ferry.mapping.merge import last_proposal_path
from crm_ferry.mapping.spec import MapDocument
from crm_ferry.settings import Settings
from crm_ferry.sources.generator import generate_bundle

FALLBACK = "alex.admin@crmferry.onmicrosoft.com"


@pytest.fixture(scope="module")
def client() -> Iterator[DataverseClient]:
    """One emulator for the module: these tests read the tenant, they never change it."""
    with EmulatorApp() as app, embedded_client(app) as c:
        yield c


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory, client: DataverseClient) -> dict[str, Path]:
    """Projects to copy: ``fresh`` (no map yet) and ``proposed`` (map proposed once)."""
    base = tmp_path_factory.mktemp("templates")
    fresh = base / "fresh"
    generate_bundle(fresh / "bundle", clients=30, seed=1)
    init(Settings(), directory=fresh, source="bundle")
    proposed = base / "proposed"
    shutil.copytree(fresh, proposed)
    propose_map(Settings.load(proposed, env={}), client=client)
    return {"fresh": fresh, "proposed": proposed}


def _copy(templates: dict[str, Path], name: str, tmp_path: Path) -> Settings:
    root = tmp_path / "proj"
    shutil.copytree(templates[name], root)
    return Settings.load(root, env={})


@pytest.fixture
def project(templates: dict[str, Path], tmp_path: Path) -> Settings:
    return _copy(templates, "fresh", tmp_path)


@pytest.fixture
def proposed(templates: dict[str, Path], tmp_path: Path) -> Settings:
    return _copy(templates, "proposed", tmp_path)


def rewrite_clients(
    bundle: Path, *, drop: str | None = None, add: tuple[str, list[str]] | None = None
) -> None:
    """Drop a column from clients.csv and/or add one (values cycle over the rows)."""
    path = bundle / "clients.csv"
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    if drop is not None:
        i = header.index(drop)
        header = header[:i] + header[i + 1 :]
        body = [r[:i] + r[i + 1 :] for r in body]
    if add is not None:
        name, values = add
        header = [*header, name]
        body = [[*r, values[n % len(values)]] for n, r in enumerate(body)]
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([header, *body])


def edit(settings: Settings, pairs: list[tuple[str, str]], *, after: str = "") -> None:
    """Replace text in mapping.yaml as a person would (the first match after ``after``)."""
    path = settings.project_dir / "mapping.yaml"
    text = path.read_text(encoding="utf-8")
    for old, new in pairs:
        start = text.index(after) if after else 0
        at = text.index(old, start)
        text = text[:at] + new + text[at + len(old) :]
    path.write_text(text, encoding="utf-8")


def make_loadable(settings: Settings) -> None:
    """What a person does to a fresh proposal: a fallback owner, options for open values."""
    doc = MapDocument.load(settings.project_dir / "mapping.yaml")
    doc.data["owners"]["fallback"] = FALLBACK
    for vm in doc.data["value_maps"].values():
        values = vm.get("values") or {}
        for key in list(values):
            if values[key] is None:
                vm["policy"] = "fail"
                values[key] = 1  # "Accounting" in the tenant's industrycode, good enough
    doc.save()


# ---------------------------------------------------------------------------
# propose


def test_first_proposal_writes_the_map_and_the_last_proposal(
    project: Settings, client: DataverseClient
) -> None:
    result = propose_map(project, client=client)
    assert result.created
    assert result.status == "proposed"
    assert (project.project_dir / "mapping.yaml").is_file()
    last = last_proposal_path(project.project_dir)
    assert stat.S_IMODE(last.stat().st_mode) == 0o600
    assert stat.S_IMODE(last.parent.stat().st_mode) == 0o700
    spec, _ = MapDocument.load(project.project_dir / "mapping.yaml").parse()
    assert spec is not None
    assert spec.fingerprint.source
    assert spec.fingerprint.target
    assert set(spec.owners.coaches) >= {"usr_0001", "usr_0002"}
    assert result.unresolved  # no coach of the generated bundle is a tenant user
    assert all(p.line is not None for p in result.problems)


def test_reproposing_unchanged_source_changes_nothing(
    proposed: Settings, client: DataverseClient
) -> None:
    project = proposed
    before = (project.project_dir / "mapping.yaml").read_text(encoding="utf-8")
    again = propose_map(project, client=client)
    assert not again.diff
    assert not again.created
    assert (project.project_dir / "mapping.yaml").read_text(encoding="utf-8") == before


def test_reproposing_after_a_source_change_keeps_edits_and_comments(
    proposed: Settings, client: DataverseClient
) -> None:
    """Acceptance: the person's edits and comments survive; the source's changes arrive."""
    project = proposed
    edit(
        project,
        [
            (
                "      phone: {column: telephone1,",
                "      # phone: the office number goes in telephone2\n"
                "      phone: {column: telephone2,",
            ),
        ],
        after="\n  contact:\n",
    )
    edit(project, [("owners:\n", "owners:  # coaches are matched by email\n")])
    doc = MapDocument.load(project.project_dir / "mapping.yaml")
    doc.set_status("confirmed", by="Pat", at="2026-01-01T00:00:00Z")
    doc.save()
    assert "custom:session_goal" in doc.data["targets"]["contact"]["fields"]

    rewrite_clients(
        project.project_dir / "bundle",
        drop="custom:session_goal",
        add=("custom:favorite_color", ["red", "green", "blue", "red"]),
    )
    result = propose_map(project, client=client)

    text = (project.project_dir / "mapping.yaml").read_text(encoding="utf-8")
    assert "# phone: the office number goes in telephone2" in text
    assert "# coaches are matched by email" in text
    doc = MapDocument.load(project.project_dir / "mapping.yaml")
    contact = doc.data["targets"]["contact"]["fields"]
    assert contact["phone"]["column"] == "telephone2"  # the person's decision
    assert "custom:session_goal" not in contact  # its source column disappeared
    assert "custom:favorite_color" in contact  # new in the source
    assert doc.data["status"] == "proposed"
    assert doc.data["confirmed_by"] is None
    assert doc.data["confirmed_at"] is None
    assert any(
        line.startswith("- targets.contact.fields.custom:session_goal") for line in result.diff
    )
    assert any(
        line.startswith("+ targets.contact.fields.custom:favorite_color") for line in result.diff
    )
    assert any(line.startswith("~ fingerprint") for line in result.diff)
    assert "~ status: confirmed → proposed" in result.diff


def test_propose_needs_a_source(tmp_path: Path, client: DataverseClient) -> None:
    from crm_ferry.errors import ConfigError

    with pytest.raises(ConfigError, match=f"no ferry.toml in {tmp_path}"):
        propose_map(Settings.load(tmp_path, env={}), client=client)  # outside a project
    (tmp_path / "ferry.toml").write_text("[dataverse]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no source bundle given"):
        propose_map(Settings.load(tmp_path, env={}), client=client)


# ---------------------------------------------------------------------------
# show, check, confirm


def test_show_lists_doubtful_lines_first(proposed: Settings, client: DataverseClient) -> None:
    project = proposed
    doc = MapDocument.load(project.project_dir / "mapping.yaml")
    doc.data["targets"]["contact"]["fields"]["email"]["confidence"] = 0.3
    doc.save()
    shown = show_map(project)
    assert shown.lines[0].source == "clients.email"
    assert shown.lines[0].below_threshold
    flags = [ln.below_threshold for ln in shown.lines]
    assert flags == sorted(flags, reverse=True)
    assert shown.as_dict()["lines"][0]["confidence"] == 0.3


def test_confirm_refuses_with_unresolved_owners_then_confirms(
    proposed: Settings, client: DataverseClient
) -> None:
    project = proposed
    with pytest.raises(MapError, match="cannot be confirmed") as info:
        confirm_map(project, by="Pat", client=client)
    assert "owners.coaches.usr_0001" in info.value.message
    assert "owners.fallback" in (info.value.hint or "")
    make_loadable(project)
    result = confirm_map(project, by="Pat", client=client, accept_low_confidence=True)
    assert result.confirmed_by == "Pat"
    assert result.confirmed_at.endswith("Z")
    doc = MapDocument.load(project.project_dir / "mapping.yaml")
    spec = doc.spec()
    assert spec.confirmed
    assert spec.confirmed_by == "Pat"
    assert spec.owners.fallback_id  # resolved when confirming
    assert spec.owners.owner_of("usr_0001") == spec.owners.fallback_id


def test_confirm_refuses_an_unknown_explicit_user(
    proposed: Settings, client: DataverseClient
) -> None:
    project = proposed
    make_loadable(project)
    doc = MapDocument.load(project.project_dir / "mapping.yaml")
    doc.data["owners"]["coaches"]["usr_0002"]["user"] = "nobody@example.com"
    doc.save()
    with pytest.raises(MapError) as info:
        confirm_map(project, by="Pat", client=client)
    assert "owners.coaches.usr_0002.user" in info.value.message
    assert "nobody@example.com is not a user of the tenant" in info.value.message


# ---------------------------------------------------------------------------
# the gate (acceptance)


def test_gate_without_a_map(project: Settings) -> None:
    with pytest.raises(MapError, match="no map") as info:
        require_loadable_map(project)
    assert "crm-ferry map propose" in (info.value.hint or "")


def test_gate_refuses_an_unconfirmed_map(proposed: Settings, client: DataverseClient) -> None:
    project = proposed
    with pytest.raises(MapError, match="not confirmed") as info:
        require_loadable_map(project)
    assert "crm-ferry map show" in (info.value.hint or "")
    assert "crm-ferry map confirm --by NAME" in (info.value.hint or "")


class _ShrunkEmail:
    """The tenant's metadata, except contact.emailaddress1 is now 50 characters long."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def has_table(self, table: str) -> bool:
        return bool(self.inner.has_table(table))

    def columns(self, table: str) -> Mapping[str, ColumnInfo]:
        cols = dict(self.inner.columns(table))
        if table == "contact":
            cols["emailaddress1"] = replace(cols["emailaddress1"], max_length=50)
        return cols


def test_gate_refuses_a_stale_map_and_passes_a_fresh_one(
    proposed: Settings, client: DataverseClient
) -> None:
    project = proposed
    make_loadable(project)
    confirm_map(project, by="Pat", client=client, accept_low_confidence=True)
    profile, _ = read_source(project)
    spec = require_loadable_map(project, profile=profile, metadata=client.metadata)
    assert spec.confirmed

    with pytest.raises(MapError, match="stale: the target tenant changed") as info:
        require_loadable_map(project, profile=profile, metadata=_ShrunkEmail(client.metadata))
    assert "re-run `crm-ferry map propose`" in (info.value.hint or "")

    rewrite_clients(project.project_dir / "bundle", drop="mobile")
    changed, _ = read_source(project)
    with pytest.raises(MapError, match="stale: the source export changed") as info:
        require_loadable_map(project, profile=changed, metadata=client.metadata)
    assert "confirm again" in (info.value.hint or "")


def test_gate_refuses_unresolved_owners(proposed: Settings, client: DataverseClient) -> None:
    """A confirmed map whose owners were emptied afterwards does not load."""
    project = proposed
    make_loadable(project)
    confirm_map(project, by="Pat", client=client, accept_low_confidence=True)
    doc = MapDocument.load(project.project_dir / "mapping.yaml")
    doc.data["owners"]["fallback"] = None
    doc.data["owners"]["fallback_id"] = None
    doc.save()
    with pytest.raises(MapError, match="without a usable owner") as info:
        require_loadable_map(project)
    assert "owners.fallback" in (info.value.hint or "")
    assert "owners.coaches.<id>.user" in (info.value.hint or "")


# ---------------------------------------------------------------------------
# init


def test_init_creates_a_project_without_secrets(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "export.zip").write_bytes(b"")  # init --source wants it there
    result = init(
        Settings(), directory=tmp_path / "m", source="export.zip", environment_url="https://x.crm"
    )
    root = tmp_path / "m"
    assert set(result.created) == {"ferry.toml", ".gitignore", "runs/"}
    assert stat.S_IMODE((root / "runs").stat().st_mode) == 0o700
    gitignore = (root / ".gitignore").read_text(encoding="utf-8")
    assert "journal.sqlite" in gitignore
    assert "runs/" in gitignore
    settings = Settings.load(root, env={})
    assert settings.source == root / "export.zip"
    assert settings.environment_url == "https://x.crm"
    assert "secret" not in (root / "ferry.toml").read_text(encoding="utf-8").split("[source]")[1]
    again = init(Settings(), directory=root)
    assert again.created == ()
    assert "ferry.toml" in again.kept
