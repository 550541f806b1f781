"""Paths the bundle names never lead outside it (issue 15, points 12 and 13).

A ``files`` row whose ``path`` is absolute, climbs with ``..``, names a drive, holds a
backslash or a NUL, or leads through a symlink or a hard link to a file outside the bundle
is a reject of that row with the reason, at discover time and whenever the bundle is read;
the same holds for the member names of a zip bundle. Nothing outside the bundle is opened.
"""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_ferry.errors import SourceError
from crm_ferry.model import FileRecord, Record, Reject
from crm_ferry.sources import open_bundle
from crm_ferry.sources.bundle._storage import path_problem
from crm_ferry.sources.discover import discover_source

CLIENTS = "id,first_name,last_name\nC1,Ann,Lee\n"
SECRET = "root:x:0:0:the file outside the bundle\n"


def files_csv(*paths: str) -> str:
    rows = "".join(f'F{n},C1,f{n}.txt,"{p}"\n' for n, p in enumerate(paths, start=1))
    return "id,client_id,filename,path\n" + rows


def put(root: Path, name: str, data: bytes = b"inside") -> None:
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_bytes(data)


def read_files(root: Path) -> list[Record | Reject]:
    with open_bundle(root) as bundle:
        items = list(bundle.read("files"))
        counts = bundle.counts["files"]
        assert counts.read == counts.accepted + counts.rejected == len(items)
    return items


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "passwd"
    secret.parent.mkdir()
    secret.write_text(SECRET)
    return secret


def test_a_symlink_to_a_file_outside_is_a_reject_of_its_row(make_bundle, outside: Path) -> None:
    root = make_bundle(
        **{"clients.csv": CLIENTS, "files.csv": files_csv("files/ok.txt", "files/link.txt")}
    )
    put(root, "files/ok.txt")
    (root / "files" / "link.txt").symlink_to(outside)
    ok, link = read_files(root)
    assert isinstance(ok, FileRecord)
    assert ok.path == "files/ok.txt"
    assert isinstance(link, Reject)
    assert (link.file, link.line, link.column, link.value) == (
        "files.csv",
        3,
        "path",
        "files/link.txt",
    )
    assert "outside the bundle" in link.reason
    assert "symlink" in link.reason
    with open_bundle(root) as bundle:
        with pytest.raises(SourceError, match="outside the bundle"):
            bundle.open_attachment("files/link.txt")
        assert bundle.attachment_size("files/link.txt") is None


def test_a_symlinked_folder_leading_outside_is_refused(make_bundle, outside: Path) -> None:
    root = make_bundle(**{"clients.csv": CLIENTS, "files.csv": files_csv("files/etc/passwd")})
    (root / "files").mkdir()
    (root / "files" / "etc").symlink_to(outside.parent, target_is_directory=True)
    (item,) = read_files(root)
    assert isinstance(item, Reject)
    assert "outside the bundle" in item.reason


def test_a_symlink_inside_the_bundle_is_followed(make_bundle) -> None:
    root = make_bundle(**{"clients.csv": CLIENTS, "files.csv": files_csv("files/alias.txt")})
    put(root, "files/real.txt")
    (root / "files" / "alias.txt").symlink_to(root / "files" / "real.txt")
    (item,) = read_files(root)
    assert isinstance(item, FileRecord)
    with open_bundle(root) as bundle, bundle.open_attachment("files/alias.txt") as fh:
        assert fh.read() == b"inside"


def test_a_hard_link_is_refused(make_bundle, outside: Path) -> None:
    root = make_bundle(**{"clients.csv": CLIENTS, "files.csv": files_csv("files/hard.txt")})
    (root / "files").mkdir(exist_ok=True)
    os.link(outside, root / "files" / "hard.txt")
    (item,) = read_files(root)
    assert isinstance(item, Reject)
    assert "hard link" in item.reason


def test_an_object_file_that_is_a_symlink_outside_is_refused(make_bundle, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.csv"
    elsewhere.write_text(CLIENTS)
    root = make_bundle()
    (root / "clients.csv").symlink_to(elsewhere)
    with pytest.raises(SourceError, match="outside the bundle") as info, open_bundle(root) as b:
        list(b.read("clients"))
    assert info.value.hint


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/etc/passwd", "absolute"),
        ("files/../../outside/passwd", ".."),
        ("..", ".."),
        ("C:\\Windows\\win.ini", "drive"),
        ("C:/Windows/win.ini", "drive"),
        ("files\\a.txt", "backslash"),
        ("files/a\x00.txt", "NUL"),
        ("//server/share/a.txt", "absolute"),
    ],
)
def test_unsafe_paths_are_rejects_at_discover(
    make_bundle, tmp_path: Path, path: str, why: str
) -> None:
    root = make_bundle(**{"clients.csv": CLIENTS, "files.csv": files_csv("files/a.txt", path)})
    put(root, "files/a.txt")
    ok, bad = read_files(root)
    assert isinstance(ok, FileRecord)
    assert isinstance(bad, Reject)
    assert bad.column == "path"
    assert why in bad.reason
    found = discover_source(root, rejects_path=tmp_path / "rejects.jsonl")
    summary = found.objects["files"]
    assert (summary.read, summary.accepted, summary.rejected) == (2, 1, 1)
    assert "files.missing_in_bundle" not in found.findings
    assert why in (tmp_path / "rejects.jsonl").read_text()


_PIECES = st.sampled_from(
    ["files", "a.txt", "..", ".", "", "C:", "c:", "\\", "\x00", "/", "x\\y", "%2e%2e", "~"]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_PIECES, min_size=1, max_size=6))
def test_no_accepted_path_leaves_the_bundle(pieces: list[str]) -> None:
    """Property: a path is accepted only in plain relative POSIX form, inside the root."""
    raw = "/".join(pieces)
    problem = path_problem(raw)
    if problem is None:
        parts = raw.split("/")
        assert not raw.startswith("/")
        assert ".." not in parts
        assert "\\" not in raw
        assert "\x00" not in raw
        assert ":" not in parts[0]
        assert any(p not in ("", ".") for p in parts)


def _zip(path: Path, members: dict[str, bytes], *, links: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            "users.csv", (Path(__file__).parents[1] / "cases/sources/users.csv").read_text()
        )
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            if name in links:
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, data)
    return path


@pytest.mark.parametrize(
    ("member", "why"),
    [
        ("../evil.txt", ".."),
        ("/abs.txt", "absolute"),
        ("files\\evil.txt", "backslash"),
        ("files/link.txt", "symlink"),
    ],
)
def test_zip_members_are_checked_too(tmp_path: Path, member: str, why: str) -> None:
    bundle = _zip(
        tmp_path / "b.zip",
        {
            "clients.csv": CLIENTS.encode(),
            "files.csv": files_csv(member).encode(),
            member: b"/etc/passwd",
        },
        links=(member,) if why == "symlink" else (),
    )
    (item,) = read_files(bundle)
    assert isinstance(item, Reject), item
    assert why in item.reason


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.text(st.sampled_from("ab./\\:\x00C"), min_size=1, max_size=10))
def test_zip_member_names_never_reach_outside(tmp_path: Path, name: str) -> None:
    """Fuzz over member names: every files row is read once (a record only for a member
    in plain relative form), and nothing raises."""
    bundle = _zip(
        tmp_path / "fuzz.zip",
        {"clients.csv": CLIENTS.encode(), "files.csv": files_csv(name).encode(), name: b"x"},
    )
    (item,) = read_files(bundle)
    if isinstance(item, FileRecord):
        assert path_problem(name) is None
