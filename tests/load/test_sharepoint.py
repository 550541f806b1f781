"""Documents the map sends to SharePoint: uploaded through Microsoft Graph into the folder
the Dynamics 365 SharePoint integration keeps for the record, linked from its Documents tab
(``sharepointsite`` / ``sharepointdocumentlocation``), read back by verify, removed by
rollback; a 150 MB upload cut off mid-way resumes where it stopped.

The bundle (``documents=True``) has files of 6, 40 and 150 MB and a ``.url`` shortcut; the
tenant takes notes of up to 128 MB, so with ``documents.files: sharepoint_over_limit`` the
video (over even that) and the shortcut (a blocked type) go to SharePoint, the rest to notes.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from crm_ferry import commands
from crm_ferry.commands._project import open_journal
from crm_ferry.commands.emulator import embedded_sharepoint
from crm_ferry.commands.migrate import run_load
from crm_ferry.emulator import EmulatorApp
from crm_ferry.emulator.app import EmulatorConfig, LatencyConfig
from crm_ferry.emulator.server import serve
from crm_ferry.emulator.tenant import add_column_relationships
from crm_ferry.mapping.spec import MapDocument
from crm_ferry.sharepoint import SharePointClient
from crm_ferry.transform.roles.sharepoint import folder_name
from helpers.load import Project, comparable

pytestmark = pytest.mark.slow

SITE = "https://crmferry.sharepoint.com/sites/crm"
MB = 1_000_000


def enable_document_management(app: EmulatorApp, table: str) -> None:
    """What an administrator does in Document Management Settings for ``table``: its rows
    may now be the regarding record of a document location (the reference lists accounts,
    not contacts, as that lookup's targets)."""
    tenant = app.backend
    schema = tenant.schema
    location = schema.entity("sharepointdocumentlocation")
    assert location is not None
    regarding = location.attributes["regardingobjectid"]
    regarding.targets = (*regarding.targets, table)
    add_column_relationships(schema, location, regarding, targets=(table,))
    schema.invalidate()
    tenant.save_schema()


@pytest.fixture
def project(documents_project: Project) -> Project:
    enable_document_management(documents_project.app, "contact")
    doc = MapDocument.load(documents_project.settings.project_dir / "mapping.yaml")
    doc.data["documents"]["files"] = "sharepoint_over_limit"
    doc.save()
    documents_project.settings = dataclasses.replace(
        documents_project.settings, sharepoint_site=SITE
    )
    return documents_project


@pytest.fixture
def graph(project: Project) -> Iterator[SharePointClient]:
    client = embedded_sharepoint(project.app)
    yield client
    client.close()


def _files(bundle: Path) -> dict[str, dict[str, Any]]:
    with (bundle / "files.csv").open(newline="", encoding="utf-8") as fh:
        return {row["id"]: row for row in csv.DictReader(fh)}


def _in_sharepoint(project: Project) -> dict[str, dict[str, Any]]:
    return _in_sharepoint_of(project.app)


def _in_sharepoint_of(app: EmulatorApp) -> dict[str, dict[str, Any]]:
    """Path under the site → its item, files only."""
    out = {}
    for site in app.graph_dump()["sites"]:
        for library in site["libraries"]:
            for item in library["items"]:
                if item.get("sha256"):
                    out[f"{library['name']}/{str(item['path']).lstrip('/')}"] = item
    return out


def test_files_over_the_limit_go_to_the_records_folder_verify_reads_them_rollback_removes_them(
    project: Project, graph: SharePointClient
) -> None:
    records, documents = comparable(project.dump()), project.app.graph_dump()
    files = _files(project.bundle)
    result = run_load(
        project.settings, client=project.client, sharepoint=graph, skip_sample_gate=True
    )
    assert result.ok, result.failures
    video = next(f for f in files.values() if f["filename"].endswith(".mp4"))
    shortcut = next(f for f in files.values() if f["filename"].endswith(".url"))
    stored = _in_sharepoint(project)
    contacts = {r["contactid"]: r for r in project.dump()["contact"]}
    with open_journal(project.settings) as j:
        rows = {(e.source_object, e.source_id, e.table): e.row_id for e in j.idmap()}
        rejected = [r.reason for r in j.rejects(result.run_id) if r.object == "files"]
    assert rejected == []  # (its linked file, not downloaded, is skipped)
    for f in (video, shortcut):
        contact_id = rows[("clients", f["client_id"], "contact")]
        name = f"{contacts[contact_id]['firstname']} {contacts[contact_id]['lastname']}"
        where = f"contact/{folder_name(name, contact_id)}/{f['filename']}"
        assert stored[where]["sha256"] == f["sha256"], where
        assert stored[where]["size"] == int(f["size_bytes"])
    # the record's Documents tab: a location under the library under the site
    locations = project.dump()["sharepointdocumentlocation"]
    folders = [r for r in locations if r.get("regardingobjectid")]
    libraries = [r for r in locations if r.get("relativeurl") == "contact"]
    assert {r["regardingobjectid"] for r in folders} == {
        rows[("clients", video["client_id"], "contact")],
        rows[("clients", shortcut["client_id"], "contact")],
    }
    assert len(libraries) == 1
    assert {r["parentsiteorlocation"] for r in folders} == {
        libraries[0]["sharepointdocumentlocationid"]
    }
    (site,) = project.dump()["sharepointsite"]
    assert site["absoluteurl"] == SITE
    # the rest are notes, the 6 and 40 MB ones in blocks
    assert len([f for f in files.values() if int(f["size_bytes"] or 0) > 3 << 20]) == 3

    proof = commands.verify(project.settings, client=project.client, sharepoint=graph).proof
    put = [r for r in proof.rows if r.table == "sharepoint"]
    assert len(put) == 2
    assert {r.verdict for r in put} == {"match"}
    assert proof.counts["sharepoint"] == {"written": 2, "found": 2}
    report = commands.rollback(
        project.settings, all_runs=True, client=project.client, sharepoint=graph
    )
    assert not report.failures
    assert not report.conflicts
    assert comparable(project.dump()) == records
    assert _items(project.app.graph_dump()) == _items(documents)  # no file, no folder left


def _items(dump: Any) -> list[tuple[str, str, str]]:
    """Every file and folder of every library (a library the load made stays, empty)."""
    return sorted(
        (site["url"], library["name"], str(item["path"]))
        for site in dump["sites"]
        for library in site["libraries"]
        for item in library["items"]
    )


class _Counting(EmulatorApp):
    """The emulator, counting the upload sessions it starts and the bytes they receive."""

    sessions = 0
    received = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(":/createUploadSession"):
            type(self).sessions += 1
        elif request.method == "PUT" and "/_files/upload/" in request.url.path:
            type(self).received += len(request.content)
        return super().__call__(request)


def _migrate(project: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "crm_ferry", "--project", str(project), "migrate",
         "--skip-sample-gate", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def test_migrate_killed_during_a_150_mb_upload_continues_the_session(project: Project) -> None:
    """SIGKILL while the video is going up; the next migrate asks the journaled session how
    far it got and sends the rest: one session, the bytes before the kill not sent again."""
    project.client.close()
    project.app.close()
    app = _Counting(
        EmulatorConfig(latency=LatencyConfig(per_request_ms=30)), data_dir=project.data_dir
    )
    server = serve(app)
    try:
        info = server.as_dict()
        client = info["clients"][0]
        env = {
            **os.environ,
            "CRM_FERRY_DATAVERSE_URL": info["url"],
            "CRM_FERRY_DATAVERSE_TENANT": info["tenant"],
            "CRM_FERRY_DATAVERSE_CLIENT_ID": client["client_id"],
            "CRM_FERRY_DATAVERSE_AUTHORITY": info["url"],
            "CRM_FERRY_CLIENT_SECRET": client["client_secret"],
            "CRM_FERRY_SHAREPOINT_SITE": SITE,
            "CRM_FERRY_SHAREPOINT_GRAPH_URL": info["graph_url"],
        }
        proc = _migrate(project.settings.project_dir, env)
        deadline = time.monotonic() + 240
        while _Counting.received < 40 * MB and proc.poll() is None:
            assert time.monotonic() < deadline, "the upload did not get 40 MB in"
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        before = _Counting.received
        assert _Counting.sessions == 1
        again = _migrate(project.settings.project_dir, env)
        out, err = again.communicate(timeout=300)
        assert again.returncode == 0, err[-3000:]
        assert json.loads(out)["state"] == "done"
        files = _files(project.bundle)
        video = next(f for f in files.values() if f["filename"].endswith(".mp4"))
        assert _Counting.sessions == 1  # the session went on: no new one from byte 0
        resent = _Counting.received - before
        assert resent <= int(video["size_bytes"]) - before + 10 * (1 << 20)  # a fragment at most
        stored = [i for p, i in _in_sharepoint_of(app).items() if p.endswith(".mp4")]
        assert [i["sha256"] for i in stored] == [video["sha256"]]  # one copy, the right bytes
        with open_journal(project.settings) as j:
            (run,) = [r for r in j.runs() if r.kind == "migrate"]
            assert j.state_counts(run.run_id).get("pending", 0) == 0
    finally:
        server.shutdown()
        app.close()
