"""Open the HTML report in headless Chromium: the summary shows, the verdict filter works.

Uses Debian's ``chromium`` (``make test`` installs it when apt-get is available) driven by
the ``playwright`` package, never a browser downloaded by ``playwright install``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from crm_ferry.reconcile.diff import DiffRow
from crm_ferry.reconcile.report import CheckRow, write_report
from helpers.reconcile import CHROMIUM_ARGS, chromium_binary


def test_report_in_headless_chromium(
    tmp_path: Path,
    sample_rows: list[DiffRow],
    sample_checks: list[CheckRow],
    artifacts_dir: Path,
) -> None:
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no chromium binary found (apt-get install chromium; `make test` does it)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is not installed (dev extra)"
    )
    paths = write_report(
        tmp_path,
        title="Sample diff",
        summary={"read": 3},
        rows=sample_rows,
        checks=sample_checks,
        meta={"run": "r1"},
    )
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path)
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=binary,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1366, "height": 768},
            offline=True,
        )
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(paths.html.as_uri())

            summary = page.locator("#verdict-summary")
            assert summary.is_visible()
            assert "Fields compared, by table and verdict" in summary.inner_text()
            assert page.locator("[data-total=mismatch]").inner_text() == "1"

            rows = page.locator("#rows tbody tr")
            assert rows.count() == len(sample_rows)
            assert page.locator("#rows tbody tr:visible").count() == len(sample_rows)

            page.get_by_label("Verdict").select_option("mismatch")
            visible = page.locator("#rows tbody tr:visible")
            assert visible.count() == 1
            assert visible.first.get_attribute("data-verdict") == "mismatch"
            assert "1 of 5 rows shown" in page.locator("#shown-count").inner_text()
            page.screenshot(path=str(tmp_path / "report-mismatch.png"), full_page=True)

            page.get_by_label("Verdict").select_option("")
            page.get_by_label("Table").select_option("new_session")
            assert page.locator("#rows tbody tr:visible").count() == 2
            page.get_by_label("Table").select_option("")
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
            assert errors == []
        finally:
            context.close()
    for name in ("report.png", "report-mismatch.png"):
        assert (tmp_path / name).stat().st_size > 0
        shutil.copy2(tmp_path / name, artifacts_dir / name)
