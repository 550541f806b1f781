"""``crm-ferry references``: what does not migrate, written down to rebuild it.

Automations as a Power Automate rebuild guide, email templates, an integrations checklist,
reports, and a data dictionary of every migrated column (CSV, JSON, Markdown).
"""

from __future__ import annotations

from pathlib import Path

from crm_ferry.commands._project import map_file, source_path
from crm_ferry.mapping.spec import MapDocument
from crm_ferry.references import REFERENCES_DIR, write_references
from crm_ferry.references.writer import ReferencesResult
from crm_ferry.settings import Settings
from crm_ferry.sources.bundle import open_bundle

__all__ = ["ReferencesResult", "references"]


def references(settings: Settings, *, out: Path | None = None) -> ReferencesResult:
    """Write the rebuild guides, the email template reference and the data dictionary.

    Reads the source bundle from the settings and the map from ``mapping.yaml`` (which need
    not be confirmed); writes into ``out`` (default: ``<project>/references``).
    """
    path = source_path(settings)
    spec = MapDocument.load(map_file(settings)).spec()
    target = settings.resolve(out) if out is not None else settings.project_dir / REFERENCES_DIR
    with open_bundle(path, column_map=settings.column_map, line_limit=settings.line_limit) as b:
        return write_references(b, spec, target)
