"""Writing a generated bundle: :func:`generate_bundle`, its result and its ground truth.

The bundle is assembled in a temporary folder beside the requested place (the practice
simulation of :class:`~crm_ferry.sources.generator._practice.Practice` writes it), zipped
reproducibly when asked, and moved into place at the end; the ground truth is written
beside it, outside the bundle, and so are the downloads of its linked files, when asked
for (:func:`downloads_path_for`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crm_ferry.errors import ConfigError
from crm_ferry.sources.generator import _binary
from crm_ferry.sources.generator._outputs import OBJECT_FILES
from crm_ferry.sources.generator._practice import Practice
from crm_ferry.sources.generator._workbook import LAYOUTS, Books, WorkbookLayout


@dataclass(frozen=True, slots=True)
class GenerateResult:
    """What :func:`generate_bundle` wrote."""

    out: Path
    """The bundle folder, or the zip file with ``as_zip``."""
    clients: int
    seed: int
    files: dict[str, int] = field(default_factory=dict)
    """File name inside the bundle -> records written."""
    bytes: int = 0
    ground_truth: Path | None = None
    """The file listing every planted edge case (outside the bundle)."""
    downloads: Path | None = None
    """The folder of the linked files' downloads (beside the bundle), when asked for."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "clients": self.clients,
            "seed": self.seed,
            "files": dict(self.files),
            "bytes": self.bytes,
            "ground_truth": str(self.ground_truth) if self.ground_truth else None,
            "downloads": str(self.downloads) if self.downloads else None,
        }


def truth_path_for(bundle: Path) -> Path:
    """Where the ground truth of ``bundle`` (a folder or a .zip) lives: beside it."""
    return bundle.with_name(bundle.name + ".truth.json")


def downloads_path_for(bundle: Path) -> Path:
    """Where the downloads of the linked files of ``bundle`` are written: beside it
    (``<bundle>.downloads/``), as a practice would download them separately."""
    return bundle.with_name(bundle.name + ".downloads")


def generate_bundle(
    out: Path,
    *,
    clients: int,
    seed: int = 1,
    as_zip: bool = False,
    with_large_files: bool = False,
    documents: bool = False,
    linked_files: bool = False,
    groups: bool = False,
    workbook: bool | WorkbookLayout = False,
    bad_rows: bool = False,
) -> GenerateResult:
    """Write a bundle of ``clients`` clients to ``out`` (a folder, or ``out.zip`` with
    ``as_zip``) and its ground truth beside it. ``with_large_files`` plants one attachment
    over Dataverse's default upload limit; ``documents`` plants files of 6, 40 and 150 MB
    and one of a blocked type (see ``_documents.py``); ``linked_files``: add linked files (a
    URL or only a name, no path) and write their downloads beside the bundle, all but one
    (:func:`downloads_path_for`); ``groups``: add client groups with tags.

    ``workbook``: the same bundle with Excel workbooks (see :mod:`._workbook`): ``True`` or
    ``"single"``, one ``bundle.xlsx`` with a sheet per object (and ``files/`` beside it);
    ``"mixed"``, clients, sessions and invoices as ``.xlsx`` next to the other files. Its
    ground truth is the CSV variant's. ``bad_rows``: plant rows the reader must reject
    (a bad value, a duplicate id, an empty row; counted in the truth's
    ``planted_rejects``), in either variant alike.

    An existing ``out`` is replaced only if it is empty or was itself generated (its
    ``.truth.json`` is beside it); anything else is refused rather than overwritten. The
    bundle is assembled in a temporary folder next to ``out`` and moved into place at the
    end, so an interrupted run never leaves half a bundle under the requested name.
    """
    if clients < 1:
        raise ConfigError(f"clients must be at least 1, not {clients}")
    layout: WorkbookLayout | None = "single" if workbook is True else workbook or None
    if layout is not None and layout not in LAYOUTS:
        raise ConfigError(
            f"workbook layout {layout!r} is not one of {', '.join(LAYOUTS)}",
            hint="use single (one bundle.xlsx) or mixed (workbooks beside CSVs)",
        )
    out = Path(os.path.abspath(out))  # "." and ".." get a real name, the truth file a place
    target = out
    if as_zip and out.suffix.lower() != ".zip":
        target = out.with_name(out.name + ".zip")
    truth_path = truth_path_for(target)
    _check_replaceable(target, truth_path, as_zip=as_zip)
    target.parent.mkdir(parents=True, exist_ok=True)

    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        bundle = staging / "bundle"
        practice = Practice(
            clients,
            seed,
            with_large_files=with_large_files,
            documents=documents,
            linked_files=linked_files,
            groups=groups,
        )
        books = None if layout is None else Books(bundle, layout, staging)
        practice.write(bundle, books, bad_rows=bad_rows, downloads=staging / "downloads")
        entries = sorted(
            (p.relative_to(bundle).as_posix(), p) for p in bundle.rglob("*") if p.is_file()
        )
        if as_zip:
            built = staging / "bundle.zip"
            with built.open("wb") as fh:
                _binary.write_zip(fh, entries)
            size = built.stat().st_size
            os.replace(built, target)
        else:
            size = sum(p.stat().st_size for _, p in entries)
            if target.is_dir():
                shutil.rmtree(target)
            os.replace(bundle, target)
        downloads = downloads_path_for(target)
        if downloads.is_dir():  # ours: the truth beside the bundle said so
            shutil.rmtree(downloads)
        if linked_files:
            os.replace(staging / "downloads", downloads)
        truth = _truth_document(practice, clients, seed)
        if bad_rows:
            truth["planted_rejects"] = dict(sorted(practice.planted.items()))
        tmp_truth = staging / "truth.json"
        tmp_truth.write_text(
            json.dumps(truth, sort_keys=True, indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8",
            newline="\n",
        )
        os.replace(tmp_truth, truth_path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    return GenerateResult(
        out=target,
        clients=clients,
        seed=seed,
        files={
            (books.where.get(obj) if books else None) or OBJECT_FILES[obj]: n
            for obj, n in sorted(practice.counts.items())
        },
        bytes=size,
        ground_truth=truth_path,
        downloads=downloads if linked_files else None,
    )


def _check_replaceable(target: Path, truth_path: Path, *, as_zip: bool) -> None:
    downloads = downloads_path_for(target)
    ours = truth_path.is_file()
    if downloads.exists() and not ours and (not downloads.is_dir() or any(downloads.iterdir())):
        raise ConfigError(
            f"{downloads} already exists and was not written with a generated bundle "
            f"(no {truth_path.name} beside it); refusing to overwrite it",
            hint="choose another --out, or remove it first",
        )
    if not target.exists():
        return
    kind = "a folder" if target.is_dir() else "a file"
    if as_zip != target.is_file():
        raise ConfigError(
            f"{target} already exists and is {kind}; the bundle would be "
            f"{'a zip file' if as_zip else 'a folder'}",
            hint="choose another --out",
        )
    if target.is_dir() and not any(target.iterdir()):
        return
    if truth_path.is_file():
        return
    raise ConfigError(
        f"{target} already exists and is not a generated bundle "
        f"(no {truth_path.name} beside it); refusing to overwrite it",
        hint="choose another --out, or remove it first",
    )


def _truth_document(practice: Practice, clients: int, seed: int) -> dict[str, Any]:
    truth = practice.truth
    return {
        "seed": seed,
        "clients": clients,
        "counts": dict(sorted(practice.counts.items())),
        "dangling": {k: list(v) for k, v in sorted(truth.dangling.items())},
        "findings": {k: list(v) for k, v in sorted(truth.findings.items())},
        # a key no row gives a value for is not a property of this bundle
        "custom_properties": {k: t.kind() for k, t in sorted(truth.types.items()) if t.count},
        **({"linked_files": practice.linked_truth()} if practice.with_linked else {}),
        **({"groups": practice.groups_truth()} if practice.with_groups else {}),
    }
