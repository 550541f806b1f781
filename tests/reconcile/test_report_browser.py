"""Open the reconciliation report in headless Chromium: the summary shows the counts, the
totals and the classification; each table's section collapses and expands; the filter in a
section filters that section's rows.

Uses Debian's ``chromium`` (``make test`` installs it when apt-get is available) driven by
the ``playwright`` package, never a browser downloaded by ``playwright install``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from crm_ferry.reconcile.reconciliation import Reconciliation
from crm_ferry.reconcile.report import write_report
from helpers.browser import chromium


def test_report_in_headless_chromium(
    tmp_path: Path, sample_recon: Reconciliation, artifacts_dir: Path
) -> None:
    paths = write_report(tmp_path, sample_recon)
    with chromium(tmp_path, height=768, offline=True) as browser:
        page, errors = browser.page, browser.errors
        page.goto(paths.html.as_uri())

        # the summary, first: counts, classification, totals, environment, runs, map
        assert page.locator("#summary").is_visible()
        assert page.locator("[data-count=differences]").inner_text() == "8"
        assert page.locator("[data-count=new]").inner_text() == "7"
        assert page.locator("[data-count=accepted]").inner_text() == "1"
        assert "7 differences not accepted yet" in page.locator("#verdict").inner_text()
        classes = page.locator("#classification")
        for cls, new, accepted, total in (
            ("source defect", "1", "1", "2"),
            ("rejected by the map", "1", "0", "1"),
            ("migration difference", "5", "0", "5"),
        ):
            cells = classes.locator(f'tr[data-class="{cls}"] td')
            assert cells.all_inner_texts() == [new, accepted, total], cls
        totals = page.locator("#totals")
        assert totals.locator('tr[data-total="invoices/source total"] td').last.inner_text() == (
            "1,234.50"
        )
        assert totals.locator('tr[data-total="invoices/Dataverse total"] td').last.inner_text() == (
            "1,244.50"
        )
        assert (
            page.locator("#records tr[data-object=clients] td[data-measure=rejected]").inner_text()
            == "1"
        )
        assert "Contoso <Coaching>" in page.locator("#environment").inner_text()
        assert "confirmed by Grace Hopper" in page.locator("#map").inner_text()
        assert "20261119T080000-migrate-abc123" in page.locator("#runs").inner_text()
        box = page.locator("#summary").bounding_box()
        first = page.locator("#differences").bounding_box()
        assert box is not None
        assert first is not None
        assert box["y"] < first["y"]

        # differences grouped by table; a section with new ones is open, and collapses
        contact = page.locator("#differences-contact")
        rows = contact.locator("tbody tr[data-row]")
        assert contact.get_attribute("open") is not None
        assert rows.count() == 4
        assert rows.first.is_visible()
        contact.locator("summary").click()
        assert contact.get_attribute("open") is None
        assert not rows.first.is_visible()
        contact.locator("summary").click()
        assert rows.first.is_visible()
        # the section's own filter, next to its rows
        contact.get_by_label("Find").fill("gendercode")
        assert contact.locator("tbody tr[data-row]:visible").count() == 1
        assert "1 of 4 shown" in contact.locator("output").inner_text()
        assert "2 Female" in contact.locator("tbody tr[data-row]:visible").inner_text()
        contact.get_by_label("Find").fill("")
        invoice = page.locator("#differences-invoice")
        assert invoice.get_attribute("open") is None  # only accepted ones: closed
        invoice.locator("summary").click()
        invoice.get_by_label("Status").select_option("new")
        assert invoice.locator("tbody tr[data-row]:visible").count() == 0
        invoice.get_by_label("Status").select_option("accepted")
        accepted = invoice.locator("tbody tr[data-row]:visible")
        assert accepted.count() == 1
        assert "accepted by Ada Lovelace" in accepted.inner_text()
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)

        # collapse all, expand all
        page.locator("#differences button", has_text="collapse all").click()
        assert page.locator("#differences details.group[open]").count() == 0
        page.locator("#differences button", has_text="expand all").click()
        assert page.locator("#differences details.group:not([open])").count() == 0

        # the field-level diff per table and column, closed until opened
        fields = page.locator("#fields-contact")
        columns = fields.locator("table.columns")
        assert not columns.is_visible()
        fields.locator("summary").first.click()
        assert columns.is_visible()
        every = fields.locator("details.all")
        every.locator("summary").click()
        every.get_by_label("Verdict").select_option("mismatch")
        assert every.locator("tbody tr[data-row]:visible").count() == 2
        page.screenshot(path=str(tmp_path / "report-fields.png"), full_page=True)
        assert errors == []
    for name in ("report.png", "report-fields.png"):
        assert (tmp_path / name).stat().st_size > 0
        shutil.copy2(tmp_path / name, artifacts_dir / name)
