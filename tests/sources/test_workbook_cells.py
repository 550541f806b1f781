"""Workbooks read through openpyxl: Excel's two calendars, stored text and the workbook's
zip, on small workbooks written here with XlsxWriter (and, where Excel writes something
XlsxWriter does not, with one part of the file rewritten).

The rules of the cells themselves are in ``test_bundle_workbooks.py``; these are the
places where a reader of the file format could go wrong: serial dates around Excel's
29 February 1900 and in the 1904 calendar, escapes in text, ISO 8601 cells, a stored
dimension that is wrong, the caps on the zip's members, damaged parts, warnings.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter

from crm_ferry.errors import SourceError
from crm_ferry.model import Client, ClientProperty, Record, Reject
from crm_ferry.sources import open_bundle

USERS = [["id", "email"], ["U1", "u1@example.com"]]


def build(path: Path, clients: list[list[Any]], *, fmt: Any = "yyyy-mm-dd", **options: Any) -> Path:
    """A workbook of a Users and a Clients sheet; numbers are written under ``fmt``."""
    wb = xlsxwriter.Workbook(str(path), options)
    number_format = wb.add_format({"num_format": fmt})
    for name, rows in (("Users", USERS), ("Clients", clients)):
        ws = wb.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, cell in enumerate(row):
                if isinstance(cell, int | float):
                    ws.write_number(r, c, cell, number_format)
                elif isinstance(cell, datetime | date):
                    ws.write_datetime(r, c, cell, number_format)
                elif cell is not None:
                    ws.write_string(r, c, cell)
    wb.close()
    return path


def rewrite(path: Path, member: str, change: Callable[[str], str]) -> Path:
    """``path`` with the text of one zip member changed."""
    with zipfile.ZipFile(path) as zf:
        parts = {info.filename: zf.read(info) for info in zf.infolist()}
    parts[member] = change(parts[member].decode("utf-8")).encode("utf-8")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return path


CLIENTS_PART = "xl/worksheets/sheet2.xml"


def read(path: Path, obj: str = "clients", **limits: Any) -> list[Record | Reject]:
    with open_bundle(path, **limits) as bundle:
        items = list(bundle.read(obj))
        counts = bundle.counts[obj]
        assert counts.read == counts.accepted + counts.rejected == len(items)
    return items


# -- the 1900 calendar: Excel's 29 February 1900 ---------------------------------------


def test_serials_around_excels_29_february_1900(tmp_path: Path) -> None:
    # Excel counts 1900 as a leap year: serial 60 is a 29 February that never was, so
    # serials 1-59 are one day later than a count from 31 December 1899, and 61 on are right.
    path = build(
        tmp_path / "export.xlsx",
        [["id", "last_name", "birth_date"],
         ["C1", "One", 1], ["C2", "Two", 59], ["C3", "Three", 60], ["C4", "Four", 61],
         ["C5", "Five", 45352]],
    )  # fmt: skip
    one, two, three, four, five = read(path)
    assert isinstance(one, Client)
    assert one.birth_date == date(1900, 1, 1)
    assert isinstance(two, Client)
    assert two.birth_date == date(1900, 2, 28)
    assert isinstance(three, Reject)
    assert (three.line, three.column, three.value) == (4, "birth_date", "60")
    assert three.reason == "cell C4 holds Excel's 29 February 1900, a day that never was"
    assert isinstance(four, Client)
    assert four.birth_date == date(1900, 3, 1)
    assert isinstance(five, Client)
    assert five.birth_date == date(2024, 3, 1)


def test_a_serial_outside_excels_dates_is_a_reject(tmp_path: Path) -> None:
    path = build(
        tmp_path / "export.xlsx",
        [["id", "last_name", "birth_date"], ["C1", "Lee", 2958466], ["C2", "Ray", -1]],
    )
    late, negative = read(path)
    assert isinstance(late, Reject)
    assert late.reason == "cell C2 holds 2958466, outside Excel's dates"
    assert isinstance(negative, Reject)
    assert negative.reason == "cell C3 holds -1, outside Excel's dates"


# -- the 1904 calendar ------------------------------------------------------------------


def test_dates_of_a_workbook_in_the_1904_calendar(tmp_path: Path) -> None:
    path = build(
        tmp_path / "export.xlsx",
        [["id", "last_name", "birth_date", "created_at"],
         ["C1", "Lee", date(2024, 3, 1), datetime(2024, 3, 1, 9, 30)],
         ["C2", "Ray", 0, None],
         ["C3", "Kim", 60, None]],
        fmt="yyyy-mm-dd hh:mm",
        date_1904=True,
    )  # fmt: skip
    with zipfile.ZipFile(path) as zf:
        assert b'date1904="1"' in zf.read("xl/workbook.xml")
    lee, ray, kim = read(path)
    assert isinstance(lee, Client)
    assert lee.birth_date == date(2024, 3, 1)
    assert lee.created_at is not None
    assert lee.created_at.replace(tzinfo=None) == datetime(2024, 3, 1, 9, 30)
    assert isinstance(ray, Client)
    assert ray.birth_date == date(1904, 1, 1)  # serial 0: the calendar's first day
    assert isinstance(kim, Client)
    assert kim.birth_date == date(1904, 3, 1)  # 1904 was a leap year: no day to skip


# -- numbers under built-in formats -----------------------------------------------------


def test_an_east_asian_built_in_date_format_reads_as_a_date(tmp_path: Path) -> None:
    # Ids 27-36 and 50-58 are dates whose code depends on Excel's locale: a workbook
    # stores only the id, and openpyxl names no code for it.
    path = build(
        tmp_path / "export.xlsx", [["id", "last_name", "birth_date"], ["C1", "Lee", 45352]], fmt=31
    )
    with zipfile.ZipFile(path) as zf:
        assert b'numFmtId="31"' in zf.read("xl/styles.xml")
    (lee,) = read(path)
    assert isinstance(lee, Client)
    assert lee.birth_date == date(2024, 3, 1)


# -- text -------------------------------------------------------------------------------


def test_escaped_control_characters_in_text_are_undone(tmp_path: Path) -> None:
    # Excel stores a carriage return as _x000D_ (XlsxWriter does the same).
    path = tmp_path / "export.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    for name, rows in (
        ("Users", USERS),
        ("Clients", [["id", "last_name"], ["C1", "Lee"]]),
        ("Client Properties", [["client_id", "key", "value"], ["C1", "goal", "run\r\nswim"]]),
    ):
        ws = wb.add_worksheet(name)
        for r, row in enumerate(rows):
            ws.write_row(r, 0, row)
    wb.close()
    with zipfile.ZipFile(path) as zf:
        assert b"run_x000D_\nswim" in zf.read("xl/sharedStrings.xml")
    (goal,) = read(path, "client_properties")
    assert isinstance(goal, ClientProperty)
    assert goal.value == "run\r\nswim"


def test_an_iso_8601_cell_reads_as_its_date_or_moment(tmp_path: Path) -> None:
    # Excel writes t="d" cells in Strict Open XML; XlsxWriter never does: one is planted.
    path = build(
        tmp_path / "export.xlsx",
        [["id", "last_name", "birth_date", "created_at"],
         ["C1", "Lee", "BIRTH", "CREATED"]],
    )  # fmt: skip
    with zipfile.ZipFile(path) as zf:
        strings = re.findall(r"<t>([^<]*)</t>", zf.read("xl/sharedStrings.xml").decode())

    def plant(xml: str) -> str:
        for ref, text in (("C2", "1990-02-03T00:00:00"), ("D2", "2024-03-01T09:30:00")):
            index = strings.index("BIRTH" if ref == "C2" else "CREATED")
            xml = xml.replace(
                f'<c r="{ref}" t="s"><v>{index}</v></c>', f'<c r="{ref}" t="d"><v>{text}</v></c>'
            )
        return xml

    (lee,) = read(rewrite(path, CLIENTS_PART, plant))
    assert isinstance(lee, Client)
    assert lee.birth_date == date(1990, 2, 3)
    assert lee.created_at is not None
    assert lee.created_at.replace(tzinfo=None) == datetime(2024, 3, 1, 9, 30)


# -- the sheet's part -------------------------------------------------------------------


def test_a_wrong_stored_dimension_does_not_cut_the_rows(tmp_path: Path) -> None:
    path = build(
        tmp_path / "export.xlsx",
        [["id", "last_name"], ["C1", "Lee"], ["C2", "Ray"], ["C3", "Kim"]],
    )
    rewrite(
        path,
        CLIENTS_PART,
        lambda xml: re.sub(r'<dimension ref="[^"]*"/>', '<dimension ref="A1"/>', xml),
    )
    assert [r.id for r in read(path)] == ["C1", "C2", "C3"]  # type: ignore[union-attr]


def test_openpyxls_warnings_about_saving_are_not_shown(tmp_path: Path) -> None:
    # A data bar writes an extension openpyxl would drop on saving, and says so.
    path = tmp_path / "export.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    users = wb.add_worksheet("Users")
    for r, row in enumerate(USERS):
        users.write_row(r, 0, row)
    ws = wb.add_worksheet("Clients")
    for r, row in enumerate(
        [["id", "last_name", "custom:score"], ["C1", "Lee", 3], ["C2", "Ray", 5]]
    ):
        ws.write_row(r, 0, row)
    ws.conditional_format("C2:C3", {"type": "data_bar", "data_bar_2010": True})
    wb.close()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert len(read(path)) == 2
    assert [str(w.message) for w in seen] == []


def test_a_chart_sheet_is_listed_as_holding_no_cells(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    users = wb.add_worksheet("Users")
    for r, row in enumerate(USERS):
        users.write_row(r, 0, row)
    clients = wb.add_worksheet("Clients")
    clients.write_row(0, 0, ["id", "last_name", "custom:score"])
    clients.write_row(1, 0, ["C1", "Lee", 3])
    chart = wb.add_chart({"type": "line"})
    chart.add_series({"values": "=Clients!$C$2:$C$2"})
    wb.add_chartsheet("Scores").set_chart(chart)
    wb.close()
    with open_bundle(path) as bundle:
        assert [(i.sheet, i.reason) for i in bundle.ignored_sheets] == [
            ("Scores", "a chart sheet: no cells")
        ]
        assert [r.id for r in bundle.read("clients")] == ["C1"]  # type: ignore[union-attr]


# -- the zip and its parts --------------------------------------------------------------


def test_the_caps_hold_for_the_workbooks_parts_before_openpyxl_reads_them(
    tmp_path: Path,
) -> None:
    rows = [["id", "last_name"], *([f"C{i}", "Lee" * 20] for i in range(20_000))]
    path = build(tmp_path / "export.xlsx", rows)
    with zipfile.ZipFile(path) as zf:
        part = zf.getinfo(CLIENTS_PART)
    assert part.file_size > 1 << 20
    with pytest.raises(SourceError, match=rf"export\.xlsx: {CLIENTS_PART} expands") as info:
        open_bundle(path, ratio_limit=2)
    assert "it was not read" in str(info.value)
    with pytest.raises(SourceError, match=rf"export\.xlsx: {CLIENTS_PART} is larger than"):
        open_bundle(path, member_limit=part.file_size - 1)


def test_a_damaged_sheet_is_a_source_error_naming_its_part(tmp_path: Path) -> None:
    path = build(tmp_path / "export.xlsx", [["id", "last_name"], ["C1", "Lee"], ["C2", "Ray"]])
    rewrite(path, CLIENTS_PART, lambda xml: xml.replace("</row>", "</rwo>", 2))
    with pytest.raises(SourceError, match=rf"export\.xlsx: {CLIENTS_PART} cannot be read") as info:
        read(path)
    assert "the workbook is damaged" in str(info.value)
    assert "save it again" in (info.value.hint or "")


def test_a_damaged_stylesheet_is_a_source_error_naming_the_workbook(tmp_path: Path) -> None:
    path = build(tmp_path / "export.xlsx", [["id", "last_name"], ["C1", "Lee"]])
    rewrite(path, "xl/styles.xml", lambda xml: xml.replace("</styleSheet>", ""))
    with pytest.raises(SourceError, match=r"export\.xlsx cannot be read \(") as info:
        open_bundle(path)
    assert "the workbook is damaged" in str(info.value)


def test_another_office_document_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"  # a Word document renamed: a zip with content types
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(
            "[Content_Types].xml",
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.'
            'openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        zf.writestr("word/document.xml", "<document/>")
    with pytest.raises(SourceError, match=r"export\.xlsx: not an Excel workbook"):
        open_bundle(path)


def test_a_strict_open_xml_workbook_is_refused_naming_the_way_out(tmp_path: Path) -> None:
    # Excel's "Strict Open XML Spreadsheet": the same parts in other namespaces.
    path = build(tmp_path / "export.xlsx", [["id", "last_name"], ["C1", "Lee"]])
    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if n.endswith((".xml", ".rels"))]
    for name in names:
        rewrite(
            path,
            name,
            lambda xml: xml.replace(
                "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
                "http://purl.oclc.org/ooxml/spreadsheetml/main",
            ).replace(
                "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
                "http://purl.oclc.org/ooxml/officeDocument/relationships",
            ),
        )
    with pytest.raises(SourceError, match=r"export\.xlsx: saved as a Strict Open XML") as info:
        open_bundle(path)
    assert "save it as an Excel Workbook (.xlsx)" in (info.value.hint or "")
