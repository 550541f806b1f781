"""A whole ``migrate`` over a bundle an attacker or a sloppy export planted things in
(issue 15, points 12, 13 and 24): refused paths are rejects and the run goes on; values
cut under ``truncate: true`` are counted per column in the run summary and listed one by
one in the run folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crm_ferry.commands.emulator import embedded_client
from crm_ferry.commands.migrate import run_load
from crm_ferry.emulator import EmulatorApp
from crm_ferry.load.engine import LoadResult
from crm_ferry.mapping.spec import MapDocument
from crm_ferry.settings import Settings
from helpers.load import bundle_file, read_rows, rewrite_rows
from helpers.project import build_provisioned

LONG = "N" * 10_000


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LoadResult]:
    base = build_provisioned(tmp_path_factory.mktemp("hardening"), clients=6, seed=5)
    bundle = base / "bundle"
    outside = base / "passwd"
    outside.write_text("root:x:0:0:outside the bundle\n")
    first = read_rows(bundle, "clients")[0]
    (bundle / "files").mkdir(exist_ok=True)
    (bundle / "files" / "planted.txt").symlink_to(outside)
    planted = [
        ("PLANT1", "files/planted.txt"),
        ("PLANT2", "../passwd"),
        ("PLANT3", "C:\\Windows\\win.ini"),
        ("PLANT4", "/etc/passwd"),
    ]
    head = list(read_rows(bundle, "files")[0]) if _has(bundle, "files") else None
    if head is None:
        (bundle / "files.csv").write_text(
            "id,client_id,filename,path\n"
            + "".join(f'{fid},{first["id"]},x.txt,"{p}"\n' for fid, p in planted)
        )
    else:
        blank = dict.fromkeys(head, "")
        rewrite_rows(
            bundle,
            "files",
            add=[
                {**blank, "id": fid, "client_id": first["id"], "filename": "x.txt", "path": p}
                for fid, p in planted
            ],
        )
    rewrite_rows(
        bundle, "clients", edit=lambda r: {**r, "first_name": LONG} if r is not None else r
    )
    doc = MapDocument.load(base / "project" / "mapping.yaml")
    doc.data["targets"]["contact"]["fields"]["first_name"]["truncate"] = True
    doc.save()
    settings = Settings.load(base / "project")
    with EmulatorApp(data_dir=base / "data") as app, embedded_client(app) as client:
        result = run_load(settings, client=client, skip_sample_gate=True, check_source=False)
    return base, result


def _has(bundle: Path, obj: str) -> bool:
    try:
        bundle_file(bundle, obj)
    except AssertionError:
        return False
    return True


def test_refused_paths_are_rejects_and_the_run_goes_on(run: tuple[Path, LoadResult]) -> None:
    base, result = run
    assert result.state == "done"
    files = result.objects["files"]
    assert files.rejected >= 4
    assert files.balanced
    assert result.objects["clients"].written == result.objects["clients"].read
    rejects = [
        json.loads(line)
        for line in (base / "project" / "runs" / result.run_id / "rejects.jsonl")
        .read_text()
        .splitlines()
    ]
    planted = {r["source_id"]: r for r in rejects if str(r["source_id"]).startswith("PLANT")}
    assert set(planted) == {"PLANT1", "PLANT2", "PLANT3", "PLANT4"}
    assert "symlink" in planted["PLANT1"]["reason"]
    assert ".." in planted["PLANT2"]["reason"]
    assert "drive" in planted["PLANT3"]["reason"]
    assert "absolute" in planted["PLANT4"]["reason"]
    assert all(r["column"] == "path" for r in planted.values())


def test_truncations_are_counted_per_column_and_listed(run: tuple[Path, LoadResult]) -> None:
    base, result = run
    clients = result.objects["clients"].read
    assert result.truncated == {"contact.firstname": clients}
    folder = base / "project" / "runs" / result.run_id
    listed = [json.loads(line) for line in (folder / "truncations.jsonl").read_text().splitlines()]
    assert len(listed) == clients
    assert {(t["field"], t["table"], t["column"]) for t in listed} == {
        ("first_name", "contact", "firstname")
    }
    assert all(t["length"] == 10_000 and t["kept"] == 50 for t in listed)
    assert json.loads((folder / "load.json").read_text())["truncated"] == result.truncated
    assert result.as_dict()["truncated"] == {"contact.firstname": clients}
