"""At 80 columns nothing a user must type back is cut (issue 15, point 7): run ids in
``runs`` and ``rollback``, report paths printed by ``sample``, ``verify`` and ``discover``.
Each is rendered on a console 80 columns wide and the whole id or path must be on one line."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from crm_ferry import commands
from crm_ferry.cli import render
from crm_ferry.commands.emulator import embedded_client
from crm_ferry.commands.rollback import RollbackReport, RunsResult
from crm_ferry.emulator import EmulatorApp
from crm_ferry.journal.types import RunInfo
from crm_ferry.load.rollback.runner import RollbackResult
from crm_ferry.settings import Settings
from helpers.project import build_provisioned

WIDTH = 80


def rendered(monkeypatch: pytest.MonkeyPatch, draw: object, *args: object) -> list[str]:
    """The lines ``draw(*args)`` prints on an 80-column console."""
    narrow = Console(width=WIDTH, record=True, highlight=False, color_system=None)
    monkeypatch.setattr(render, "console", narrow)
    assert callable(draw)
    draw(*args)
    return narrow.export_text().splitlines()


def whole(text: str, lines: list[str]) -> bool:
    return any(text in line for line in lines)


# ---------------------------------------------------------------------------
# Run ids, whatever the counts and notes beside them

_kinds = st.sampled_from(["migrate", "delta", "sample", "rollback"])
_run_ids = st.builds(
    lambda stamp, kind, tail: f"2026{stamp:010d}-{kind}-{tail}",
    st.integers(min_value=0, max_value=9_999_999_999),
    _kinds,
    st.text(alphabet="0123456789abcdef", min_size=6, max_size=6),
)
_counts = st.integers(min_value=0, max_value=10**12)


def _run(run_id: str, counts: list[int], note: str | None) -> RunInfo:
    outcome = dict(zip(("written", "unchanged", "rejected", "failed"), counts, strict=True))
    return RunInfo(
        run_id,
        "migrate",
        "done",
        "2026-11-20T09:00:00+00:00",
        "2026-11-20T09:10:00+00:00",
        None,
        None,
        note,
        {"objects": {"clients": outcome}},
        None,
        None,
    )


@settings(max_examples=30, deadline=None)
@given(
    ids=st.lists(_run_ids, min_size=1, max_size=4, unique=True),
    counts=st.lists(_counts, min_size=4, max_size=4),
    note=st.none()
    | st.text(st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=200),
)
def test_runs_never_cuts_a_run_id_or_a_count(
    ids: list[str], counts: list[int], note: str | None
) -> None:
    with pytest.MonkeyPatch.context() as mp:
        lines = rendered(mp, render.render_runs, RunsResult([_run(i, counts, note) for i in ids]))
    assert all(len(line) <= WIDTH for line in lines)
    for run_id in ids:
        assert whole(run_id, lines), (run_id, lines)
    for n in counts:
        assert whole(f"{n:,}", lines), (n, lines)


@settings(max_examples=30, deadline=None)
@given(
    ids=st.lists(_run_ids, min_size=1, max_size=3, unique=True),
    counts=st.lists(_counts, min_size=4, max_size=4),
    preview=st.booleans(),
)
def test_rollback_never_cuts_a_run_id(ids: list[str], counts: list[int], preview: bool) -> None:
    deleted, restored, recreated, gone = counts
    results = [
        RollbackResult(
            i,
            f"{i}-rollback",
            deleted=deleted,
            restored=restored,
            recreated=recreated,
            already_gone=gone,
            preview=preview,
            planned={"contact": {"delete": deleted, "restore": restored, "recreate": recreated}},
        )
        for i in ids
    ]
    with pytest.MonkeyPatch.context() as mp:
        lines = rendered(mp, render.render_rollback, RollbackReport(results, preview=preview))
    assert all(len(line) <= WIDTH for line in lines)
    for run_id in ids:
        assert whole(run_id, lines), (run_id, lines)


# ---------------------------------------------------------------------------
# Report paths of a real sample, migrate and verify in a folder with a long name

DEEP = "a-migration-folder-whose-name-alone-is-wider-than-the-terminal-it-is-shown-on-x"


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    base = tmp_path_factory.mktemp("narrow") / DEEP / DEEP
    build_provisioned(base, clients=4, seed=3)
    settings = Settings.load(base / "project")
    with EmulatorApp(data_dir=base / "data") as app, embedded_client(app) as client:
        results: dict[str, object] = {
            "sample": commands.sample(settings, client=client, size=40),
            "migrate": commands.migrate(settings, client=client, skip_sample_gate=True),
            "verify": commands.verify(settings, client=client),
            "discover": commands.discover(
                settings, rejects=base / DEEP / "rejected-rows-of-the-export.jsonl"
            ),
        }
        yield results
    shutil.rmtree(base, ignore_errors=True)


def test_sample_prints_its_whole_report_path(
    flow: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = flow["sample"]
    assert isinstance(result, commands.SampleResult)
    assert len(str(result.report.html)) > WIDTH
    lines = rendered(monkeypatch, render.render_sample, result)
    assert whole(str(result.report.html), lines), lines
    assert whole(result.run_id, lines)


def test_migrate_prints_its_whole_run_id(
    flow: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = flow["migrate"]
    assert isinstance(result, commands.LoadResult)
    lines = rendered(monkeypatch, render.render_load, result)
    assert whole(f"runs/{result.run_id}/", lines), lines


def test_verify_prints_its_whole_report_path(
    flow: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = flow["verify"]
    assert isinstance(result, commands.VerifyResult)
    lines = rendered(monkeypatch, render.render_verify, result)
    assert whole(str(result.report.html), lines), lines


def test_discover_prints_its_whole_rejects_path(
    flow: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = flow["discover"]
    assert isinstance(result, commands.SourceDiscovery)
    assert result.rejects_path is not None
    lines = rendered(monkeypatch, render.render_discovery, result)
    assert whole(str(result.rejects_path), lines), lines
    assert whole(str(result.source), lines), lines
