"""Every encoding and format variant of the contract reads to the same records."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from crm_ferry.errors import ConfigError, SourceError
from crm_ferry.model import Client, ClientProperty, Invoice, Record, Reject, Session, User
from crm_ferry.sources import open_bundle


def read_all(root: Path, obj: str, **kwargs: object) -> list[Record | Reject]:
    with open_bundle(root, **kwargs) as bundle:  # type: ignore[arg-type]
        items = list(bundle.read(obj))
        counts = bundle.counts[obj]
        assert counts.read == counts.accepted + counts.rejected == len(items)
    return items


def clients_of(root: Path, **kwargs: object) -> dict[str, Client]:
    items = read_all(root, "clients", **kwargs)
    assert not [i for i in items if isinstance(i, Reject)], items
    return {c.id: c for c in items if isinstance(c, Client)}


@pytest.mark.parametrize(
    "case", ["plain.csv", "bom.csv", "crlf.csv", "semicolon.csv"], ids=lambda c: c[:-4]
)
def test_encoding_variants_read_the_same(make_bundle, case: str) -> None:
    root = make_bundle(**{"clients.csv": f"clients/{case}"})
    clients = clients_of(root)
    ann, bob = clients["C1"], clients["C2"]
    assert (ann.first_name, ann.last_name, ann.email) == ("Ann", "Lee", "ann@example.com")
    assert ann.birth_date == date(1990, 2, 3)
    assert (ann.status, bob.status) == ("active", "prospect")
    assert ann.tags == ("vip", "newsletter")
    assert ann.created_at == datetime(2024, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=1)))
    assert ann.coach_id == "U1"
    assert ann.provenance.file == "clients.csv"
    assert [c.provenance.line for c in clients.values()] == [2, 3]


def test_quoted_newlines_keep_the_line_the_row_starts_on(make_bundle) -> None:
    clients = clients_of(make_bundle(**{"clients.csv": "clients/quoted_newlines.csv"}))
    assert clients["C1"].address_line1 == "12 Long Road\nFlat 3"
    assert clients["C2"].address_line1 == '4 "Quoted" Street'
    assert clients["C3"].address_line1 == "a\n\nb"
    assert [c.provenance.line for c in clients.values()] == [2, 4, 5]
    assert clients["C3"].city == "Hull"


def test_duplicate_headers_are_kept_by_position(make_bundle) -> None:
    c = clients_of(make_bundle(**{"clients.csv": "clients/duplicate_headers.csv"}))["C1"]
    assert c.extra == {"paid": "yes", "paid_2": "no", "email_2": "other@example.com"}
    assert c.email == "ann@example.com"


def test_column_map_is_applied_before_aliases(make_bundle) -> None:
    root = make_bundle(**{"clients.csv": "clients/column_map.csv"})
    cmap = {
        "clients": {
            "Client Ref": "id",
            "given": "first_name",  # matched like any header: case ignored
            "Practice Coach": "coach_email",
            "Referral": "custom:referral_source",
        }
    }
    c = clients_of(root, column_map=cmap)["C1"]
    assert (c.first_name, c.coach_email) == ("Ann", "coach.one@example.com")
    assert c.custom == {"referral_source": "web"}


def test_column_map_to_an_unknown_field_is_a_config_error(make_bundle) -> None:
    root = make_bundle(**{"clients.csv": "clients/plain.csv"})
    with pytest.raises(ConfigError, match=r"\[source.columns.clients\] 'Ref' = 'ref_no'"):
        open_bundle(root, column_map={"clients": {"Ref": "ref_no"}})


def test_file_without_id_column_names_the_headers(make_bundle) -> None:
    root = make_bundle(**{"clients.csv": "clients/column_map.csv"})
    with pytest.raises(SourceError, match=r"clients\.csv: no id column") as err:
        read_all(root, "clients")
    assert "Client Ref" in err.value.message


def test_custom_columns_go_to_client_custom_and_unknown_ones_to_extra(make_bundle) -> None:
    clients = clients_of(make_bundle(**{"clients.csv": "clients/custom_columns.csv"}))
    assert clients["C1"].custom == {
        "referral_source": "web",
        "intake_date": "2024-01-05",
        "Budget": "1,200.50",
    }
    assert clients["C1"].extra == {"Favourite Colour": "blue"}
    assert clients["C2"].extra == {}
    assert clients["C3"].custom == {"referral_source": "friend"}


def test_full_name_first_last(make_bundle) -> None:
    clients = clients_of(make_bundle(**{"clients.csv": "clients/full_name_first_last.csv"}))
    names = {cid: (c.first_name, c.last_name) for cid, c in clients.items()}
    assert names == {
        "C1": ("Ann", "Lee"),
        "C2": ("Ludwig", "van Beethoven"),
        "C3": ("Martin Luther", "King Jr."),
        "C4": (None, "Cher"),
        "C5": ("Mary Ann", "O'Neil"),
    }
    assert clients["C2"].full_name == "Ludwig van Beethoven"


def test_full_name_last_comma_first(make_bundle) -> None:
    clients = clients_of(make_bundle(**{"clients.csv": "clients/full_name_last_first.csv"}))
    assert (clients["C1"].first_name, clients["C1"].last_name) == ("Ann", "Lee")
    assert (clients["C2"].first_name, clients["C2"].last_name) == ("Ludwig", "van Beethoven")


def test_client_type_follows_organization_when_missing(make_bundle) -> None:
    clients = clients_of(make_bundle(**{"clients.csv": "clients/organization.csv"}))
    assert clients["C1"].type == "organization"
    assert clients["C1"].organization == "Acme, Inc."
    assert clients["C2"].type == "individual"
    assert clients["C3"].type == "individual"  # given explicitly, kept


def test_us_dates_with_a_us_manifest(make_bundle) -> None:
    root = make_bundle(
        **{
            "clients.csv": "clients/us_dates.csv",
            "manifest.json": '{"timezone": "America/New_York", "date_format": "us"}',
        }
    )
    clients = clients_of(root)
    ny = ZoneInfo("America/New_York")
    assert clients["C1"].birth_date == date(1990, 2, 3)
    assert clients["C1"].created_at == datetime(2024, 3, 1, 9, 30, tzinfo=ny)
    assert clients["C1"].updated_at == datetime(2024, 3, 10, 14, 5, tzinfo=ny)
    # ISO stays readable in a US bundle: it is unambiguous.
    assert clients["C2"].birth_date == date(1990, 12, 31)
    assert clients["C2"].created_at == datetime(2024, 3, 1, 9, 30, tzinfo=UTC)


def test_us_dates_are_rejected_in_an_iso_bundle(make_bundle) -> None:
    items = read_all(make_bundle(**{"clients.csv": "clients/us_dates.csv"}), "clients")
    reject = items[0]
    assert isinstance(reject, Reject)
    assert (reject.line, reject.column, reject.value) == (2, "birth_date", "2/3/1990")
    assert reject.reason.startswith("not a date (expected YYYY-MM-DD)")
    assert "also bad: created_at, updated_at" in reject.reason


def test_naive_timestamps_are_read_in_the_manifest_zone(make_bundle) -> None:
    root = make_bundle(
        **{
            "clients.csv": "clients/naive_ts.csv",
            "manifest.json": '{"timezone": "Europe/Paris"}',
        }
    )
    clients = clients_of(root)
    paris = ZoneInfo("Europe/Paris")
    summer = clients["C1"].created_at
    winter = clients["C1"].updated_at
    assert summer == datetime(2024, 7, 1, 9, 30, tzinfo=paris)
    assert summer is not None
    assert winter is not None
    assert summer.utcoffset() == timedelta(hours=2)
    assert winter.utcoffset() == timedelta(hours=1)
    assert clients["C2"].created_at == datetime(2024, 7, 1, 9, 30, tzinfo=UTC)
    assert clients["C2"].updated_at == datetime(2024, 7, 1, 13, 30, tzinfo=UTC)


def test_naive_timestamps_default_to_utc_without_manifest(make_bundle) -> None:
    clients = clients_of(make_bundle(**{"clients.csv": "clients/naive_ts.csv"}))
    assert clients["C1"].created_at == datetime(2024, 7, 1, 9, 30, tzinfo=UTC)


def test_money_with_thousands_separators(make_bundle) -> None:
    root = make_bundle(
        **{"clients.csv": "clients/plain.csv", "invoices.csv": "aliases/invoices.total_amount.csv"}
    )
    (invoice,) = read_all(root, "invoices")
    assert isinstance(invoice, Invoice)
    assert invoice.total_amount == Decimal("1234.50")
    assert invoice.subtotal == Decimal("1234.5")


@pytest.mark.parametrize("case", ["clients.jsonl", "clients.json"])
def test_json_lines_and_json_array(make_bundle, case: str) -> None:
    clients = clients_of(make_bundle(**{case: f"clients/{case}"}))
    ann, bob = clients["C1"], clients["C2"]
    assert (ann.first_name, ann.last_name, ann.birth_date) == ("Ann", "Lee", date(1990, 2, 3))
    assert ann.tags == ("vip", "newsletter")
    assert ann.custom == {"referral_source": "web"}
    assert ann.extra == {"loyalty": '{"tier": 2}'}
    assert (bob.first_name, bob.last_name, bob.status) == ("Bob", "Ray", "active")
    assert bob.custom == {"referral_source": "friend"}
    lines = [c.provenance.line for c in clients.values()]
    assert lines == ([1, 3] if case.endswith("jsonl") else [1, 2])


def test_client_properties_long_form(make_bundle) -> None:
    root = make_bundle(
        **{
            "clients.csv": "clients/plain.csv",
            "client_properties.csv": "client_id,key,value\nC1,referral,web\nC1,Budget, 1,200 \n"
            "C2,referral,\nC1,referral,ad\n,referral,x\n",
        }
    )
    items = read_all(root, "client_properties")
    props = [i for i in items if isinstance(i, ClientProperty)]
    assert [(p.id, p.client_id, p.key_name, p.value) for p in props] == [
        ("C1/referral", "C1", "referral", "web"),
        ("C2/referral", "C2", "referral", None),
    ]
    rejects = [i for i in items if isinstance(i, Reject)]
    assert [(r.line, r.column, r.reason) for r in rejects] == [
        (3, None, "expected 3 cells, found 4"),
        (5, "key", "duplicate client_id and key (first seen on line 2)"),
        (6, "client_id", "client_id is required"),
    ]


@pytest.mark.parametrize("top", ["", "export-2024/"])
def test_zip_with_and_without_a_top_folder(make_bundle, tmp_path: Path, top: str) -> None:
    root = make_bundle(
        **{
            "clients.csv": "clients/quoted_newlines.csv",
            "sessions.jsonl": '{"id": "S1", "client_id": "C1"}\n',
            "files__doc.txt": "hello",
            "manifest.json": '{"timezone": "Europe/Paris"}',
        }
    )
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                zf.write(path, top + path.relative_to(root).as_posix())
        zf.writestr("__MACOSX/._clients.csv", b"junk")
    with open_bundle(archive) as bundle:
        assert bundle.manifest.timezone == "Europe/Paris"
        assert list(bundle.files) == ["users", "clients", "sessions"]
        assert bundle.files["sessions"].format == "jsonl"
        clients = [c for c in bundle.read("clients") if isinstance(c, Client)]
        assert [c.provenance.line for c in clients] == [2, 4, 5]
        assert [s.id for s in bundle.read("sessions") if isinstance(s, Session)] == ["S1"]
        assert bundle.has_attachment("files/doc.txt")
        assert not bundle.has_attachment("files/nope.txt")
        assert not bundle.has_attachment("../clients.csv")
        assert bundle.attachment_size("files/doc.txt") == 5
        with bundle.open_attachment("files/doc.txt") as f:
            assert f.read() == b"hello"


def test_folder_attachments(make_bundle) -> None:
    root = make_bundle(**{"clients.csv": "clients/plain.csv", "files__x.pdf": "%PDF"})
    with open_bundle(root) as bundle:
        assert bundle.has_attachment("files/x.pdf")
        assert bundle.attachment_size("files/x.pdf") == 4
        assert not bundle.has_attachment("/etc/passwd")
        with pytest.raises(SourceError, match="not inside the bundle"):
            bundle.open_attachment("../users.csv")


def test_two_files_for_one_object_is_an_error(make_bundle) -> None:
    root = make_bundle(
        **{"clients.csv": "clients/plain.csv", "clients.jsonl": "clients/clients.jsonl"}
    )
    with pytest.raises(
        SourceError, match=r"two files for clients: clients\.csv and clients\.jsonl"
    ):
        open_bundle(root)


@pytest.mark.parametrize("missing", ["users.csv", "clients.csv"])
def test_missing_required_file(make_bundle, missing: str) -> None:
    files: dict[str, str | None] = {"clients.csv": "clients/plain.csv", missing: None}
    root = make_bundle(**files)
    with pytest.raises(SourceError, match=f"no {missing[:-4]} file") as err:
        open_bundle(root)
    assert err.value.exit_code == 3


def test_not_a_bundle(tmp_path: Path) -> None:
    (tmp_path / "x.zip").write_bytes(b"not a zip")
    with pytest.raises(SourceError, match="not a readable zip"):
        open_bundle(tmp_path / "x.zip")
    with pytest.raises(SourceError, match="no such folder"):
        open_bundle(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("manifest", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"date_format": "dmy"}, "date_format"),
        ({"currency": "dollars"}, "currency"),
        ({"exported_at": "last tuesday"}, "exported_at"),
        ({"platform": 7}, "platform"),
    ],
)
def test_invalid_manifest_names_the_field(make_bundle, manifest: dict, field: str) -> None:
    root = make_bundle(
        **{"clients.csv": "clients/plain.csv", "manifest.json": json.dumps(manifest)}
    )
    with pytest.raises(SourceError, match=rf"manifest.json \[{field}\]"):
        open_bundle(root)


def test_manifest_is_read(make_bundle) -> None:
    manifest = {
        "platform": "practice.do",
        "exported_at": "2025-02-07T23:00:00",
        "timezone": "America/New_York",
        "currency": "usd",
        "date_format": "US",
    }
    root = make_bundle(
        **{"clients.csv": "clients/plain.csv", "manifest.json": json.dumps(manifest)}
    )
    with open_bundle(root) as bundle:
        m = bundle.manifest
    assert (m.platform, m.timezone, m.currency, m.date_format) == (
        "practice.do",
        "America/New_York",
        "USD",
        "us",
    )
    assert m.exported_at == datetime(2025, 2, 7, 23, tzinfo=ZoneInfo("America/New_York"))


def test_users_are_typed(make_bundle) -> None:
    root = make_bundle(**{"clients.csv": "clients/plain.csv"})
    users = [u for u in read_all(root, "users") if isinstance(u, User)]
    assert [(u.id, u.active, u.role) for u in users] == [
        ("U1", True, "coach"),
        ("U2", False, "coach"),
    ]


def test_zip_top_folder_next_to_other_files(make_bundle, tmp_path: Path) -> None:
    root = make_bundle(**{"clients.csv": "clients/plain.csv"})
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("README.txt", "exported by The Practice")
        for path in root.iterdir():
            zf.write(path, f"practice-export/{path.name}")
    with open_bundle(archive) as bundle:
        assert list(bundle.files) == ["users", "clients"]


def test_folder_holding_one_export_folder(make_bundle, tmp_path: Path) -> None:
    root = make_bundle(**{"clients.csv": "clients/plain.csv", "files__a.txt": "a"})
    outer = tmp_path / "unzipped"
    outer.mkdir()
    root.rename(outer / "export-2024")
    (outer / "notes.txt").write_text("not part of the export")
    with open_bundle(outer) as bundle:
        assert [c.id for c in bundle.read("clients")] == ["C1", "C2"]
        assert bundle.has_attachment("files/a.txt")


def test_long_values_are_shortened_in_rejects(make_bundle) -> None:
    root = make_bundle(**{"clients.csv": "id,last_name,birth_date\nC1,Lee," + "9" * 500 + "\n"})
    (reject,) = read_all(root, "clients")
    assert isinstance(reject, Reject)
    assert reject.value is not None
    assert len(reject.value) == 200
    assert reject.value.endswith("...")


def test_jsonl_line_with_trailing_garbage_is_rejected(make_bundle) -> None:
    root = make_bundle(
        **{
            "clients.csv": "clients/plain.csv",
            "sessions.jsonl": '  {"id": "S1"}  \r\n{"id": "S2"} {"id": "S3"}\n'
            '{"id": 4, "price": 12.5}\n',
        }
    )
    items = read_all(root, "sessions")
    assert [getattr(i, "id", None) for i in items] == ["S1", None, "4"]
    reject = items[1]
    assert isinstance(reject, Reject)
    assert reject.line == 2
    assert reject.reason.startswith("not valid JSON (Extra data")
    assert items[2].price == Decimal("12.5")  # type: ignore[union-attr]
