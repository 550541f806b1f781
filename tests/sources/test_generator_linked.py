"""The generator's linked files and client groups: deterministic, planted as the ground truth
says (the downloads beside the bundle, all but one; two pairs of one name told apart by
size and by hash; the members' effective tags), and nothing else in the bundle changed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from crm_ferry.cli import cli
from crm_ferry.errors import ConfigError
from crm_ferry.model import Client
from crm_ferry.sources import open_bundle
from crm_ferry.sources.discover import discover_source
from crm_ferry.sources.downloads import Downloads, match_linked, read_linked
from crm_ferry.sources.generator import GenerateResult, downloads_path_for, generate_bundle

OPTIONAL = {"files.csv", "groups.csv", "group_members.csv"}


def tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def truth(result: GenerateResult) -> dict[str, Any]:
    assert result.ground_truth is not None
    data: dict[str, Any] = json.loads(result.ground_truth.read_text("utf-8"))
    return data


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> GenerateResult:
    base = tmp_path_factory.mktemp("linked")
    return generate_bundle(base / "b", clients=60, seed=3, linked_files=True, groups=True)


def test_the_downloads_sit_beside_the_bundle_all_but_the_planted_one(both: GenerateResult) -> None:
    assert both.downloads == downloads_path_for(both.out) == both.out.with_name("b.downloads")
    planted = truth(both)["linked_files"]
    assert len(planted["missing"]) == 1
    assert planted["ambiguous"] == []
    on_disk = {p.relative_to(both.downloads).as_posix() for p in both.downloads.rglob("*.*")}
    assert on_disk == {m["path"] for m in planted["matched"].values()}
    hows = sorted(m["how"] for m in planted["matched"].values())
    assert hows.count("size") == hows.count("hash") == 2
    pair = sorted(p for p in on_disk if p.endswith("/recording.m4a"))
    assert len(pair) == 2
    assert len({(both.downloads / p).stat().st_size for p in pair}) == 2
    memos = sorted(p for p in on_disk if p.endswith("/voice memo.m4a"))
    assert len({(both.downloads / p).stat().st_size for p in memos}) == 1
    assert len({(both.downloads / p).read_bytes() for p in memos}) == 2
    for p in pair:
        assert (both.downloads / p).read_bytes()[4:12] == b"ftypM4A "


def test_discovery_finds_what_was_planted(both: GenerateResult) -> None:
    assert both.downloads is not None
    found = discover_source(both.out, downloads=Downloads(both.downloads))
    planted = truth(both)
    linked = found.linked_files
    assert linked is not None
    assert linked.linked == len(planted["findings"]["files.linked"])
    assert [p.file_id for p in linked.problems] == planted["linked_files"]["missing"]
    (missing,) = linked.problems
    assert missing.client_name
    assert (missing.url or "").startswith("https://")
    assert {k: v for k, v in linked.matched.items() if v} == {
        how: sum(1 for m in planted["linked_files"]["matched"].values() if m["how"] == how)
        for how in ("name", "size", "hash")
    }
    assert {o: s.rejected for o, s in found.objects.items() if s.rejected} == {}
    planted_dangling = {k: set(v) for k, v in planted["dangling"].items()}
    assert {k: set(d.source_ids) for k, d in found.dangling.items()} == planted_dangling
    assert "groups.members -> clients" in planted_dangling
    assert found.groups is not None
    assert found.groups.clients_gained == planted["groups"]["clients_gained"]
    assert found.groups.tags_added == planted["groups"]["tags_added"]


def test_every_linked_row_is_matched_as_the_truth_says(both: GenerateResult) -> None:
    assert both.downloads is not None
    with open_bundle(both.out) as bundle:
        matches = match_linked(read_linked(bundle), Downloads(both.downloads))
    planted = truth(both)["linked_files"]["matched"]
    got = {fid: {"path": m.path, "how": m.how} for fid, m in matches.items() if m.matched}
    assert got == planted


def test_the_reader_gives_the_members_the_effective_tags_of_the_truth(both: GenerateResult) -> None:
    expected = truth(both)["groups"]["effective_tags"]
    with open_bundle(both.out) as bundle:
        tags = {c.id: list(c.tags) for c in bundle.read("clients") if isinstance(c, Client)}
    assert {cid: tags[cid] for cid in expected} == expected
    # a member with its own "leadership" keeps that spelling: the cohort's adds no second one
    assert any("leadership" in t and "Leadership" not in t for t in expected.values())


def test_same_seed_same_bytes_and_the_rest_of_the_bundle_unchanged(tmp_path: Path) -> None:
    a = generate_bundle(tmp_path / "a", clients=30, seed=5, linked_files=True, groups=True)
    b = generate_bundle(tmp_path / "b", clients=30, seed=5, linked_files=True, groups=True)
    plain = generate_bundle(tmp_path / "c", clients=30, seed=5)
    assert tree(a.out) == tree(b.out)
    assert a.downloads is not None
    assert b.downloads is not None
    assert tree(a.downloads) == tree(b.downloads)
    assert truth(a) == truth(b)
    ours, theirs = tree(a.out), tree(plain.out)
    assert {k: v for k, v in ours.items() if k not in OPTIONAL} == {
        k: v for k, v in theirs.items() if k not in OPTIONAL
    }
    assert plain.downloads is None
    assert not downloads_path_for(plain.out).exists()
    assert "linked_files" not in truth(plain)
    assert "groups" not in truth(plain)


def test_a_zip_bundle_gets_its_downloads_beside_it_and_stale_ones_go(tmp_path: Path) -> None:
    zipped = generate_bundle(tmp_path / "z", clients=12, seed=2, as_zip=True, linked_files=True)
    assert zipped.downloads == tmp_path / "z.zip.downloads"
    assert zipped.downloads.is_dir()
    again = generate_bundle(tmp_path / "z", clients=12, seed=2, as_zip=True)
    assert again.downloads is None
    assert not (tmp_path / "z.zip.downloads").exists()


def test_a_downloads_folder_it_did_not_write_is_kept(tmp_path: Path) -> None:
    mine = tmp_path / "b.downloads"
    mine.mkdir()
    (mine / "keep.pdf").write_bytes(b"mine")
    with pytest.raises(ConfigError, match="not written with a generated bundle"):
        generate_bundle(tmp_path / "b", clients=5, linked_files=True)
    assert (mine / "keep.pdf").read_bytes() == b"mine"


def test_cli_generate_linked_files_and_groups(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    res = CliRunner().invoke(
        cli,
        ["generate", "--out", str(out), "--clients", "15", "--linked-files", "--groups", "--json"],
    )
    assert res.exit_code == 0, res.output
    body = json.loads(res.output)
    assert body["downloads"] == str(tmp_path / "cli.downloads")
    assert body["files"]["groups.csv"] == 3
    assert body["files"]["group_members.csv"] >= 1
