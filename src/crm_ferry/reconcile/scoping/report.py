"""The scoping report on disk: ``scoping.html`` and ``scoping.json``.

:func:`write_scoping` writes both into a folder of their own (:func:`scoping_dir`:
``<runs>/scoping-<UTC timestamp>/``, 0700; files 0600, written atomically: they name
clients' files and coaches). The page is the ``scoping.html.j2`` template of
``crm_ferry.reconcile``, rendered from :meth:`ScopingReport.as_dict`, which is also what
the JSON holds.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from crm_ferry.errors import ConfigError
from crm_ferry.owner_only import DIR_MODE, write_private
from crm_ferry.reconcile.report import report_environment
from crm_ferry.reconcile.scoping.complexity import Grade
from crm_ferry.reconcile.scoping.counting import SourceCounts
from crm_ferry.reconcile.scoping.duration import Estimate
from crm_ferry.reconcile.scoping.tenant import TenantAudit
from crm_ferry.sources.discover import FINDING_KINDS, SourceDiscovery

__all__ = [
    "HTML_NAME",
    "JSON_NAME",
    "ScopingReport",
    "render_html",
    "scoping_dir",
    "write_scoping",
]

HTML_NAME: Final = "scoping.html"
JSON_NAME: Final = "scoping.json"


@dataclass(frozen=True, slots=True)
class ScopingReport:
    source: SourceDiscovery
    counts: SourceCounts
    tenant: TenantAudit
    estimate: Estimate
    grade: Grade
    generated_at: str
    html_path: Path | None = None
    json_path: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": "scoping",
            "generated_at": self.generated_at,
            "grade": self.grade.as_dict(),
            "tenant": self.tenant.as_dict(),
            "estimate": self.estimate.as_dict(),
            "target_rows": self.counts.as_dict(),
            "source": self.source.as_dict(),
            "paths": {
                "html": str(self.html_path) if self.html_path else None,
                "json": str(self.json_path) if self.json_path else None,
            },
        }


def render_html(data: Mapping[str, Any]) -> str:
    """The scoping page for :meth:`ScopingReport.as_dict`'s output."""
    template = report_environment().get_template("scoping.html.j2")
    return template.render(data=data, finding_kinds=FINDING_KINDS)


def scoping_dir(runs: Path, out_dir: Path | None = None) -> Path:
    """``out_dir`` (created if need be), else a new ``scoping-<UTC timestamp>`` folder under
    ``runs`` (0700; ``-1``, ``-2`` … when the second is taken)."""
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        return out_dir
    return _new_dir(runs, datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"))


def _new_dir(runs: Path, stamp: str) -> Path:
    runs.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    for n in range(1000):
        name = f"scoping-{stamp}" if n == 0 else f"scoping-{stamp}-{n}"
        folder = runs / name
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(folder, DIR_MODE)
        return folder
    raise ConfigError(f"cannot create a scoping folder under {runs}")  # pragma: no cover


def write_scoping(report: ScopingReport, out_dir: Path) -> ScopingReport:
    """Write ``scoping.json`` and ``scoping.html`` into ``out_dir`` (files 0600)."""
    html_path, json_path = out_dir / HTML_NAME, out_dir / JSON_NAME
    done = ScopingReport(
        source=report.source,
        counts=report.counts,
        tenant=report.tenant,
        estimate=report.estimate,
        grade=report.grade,
        generated_at=report.generated_at,
        html_path=html_path,
        json_path=json_path,
    )
    data = done.as_dict()
    write_private(json_path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    write_private(html_path, render_html(data))
    return done
