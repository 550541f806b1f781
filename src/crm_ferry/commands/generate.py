"""``crm-ferry generate``: a synthetic The Practice export bundle (same seed, same bytes)."""

from __future__ import annotations

from pathlib import Path

from crm_ferry.errors import ConfigError
from crm_ferry.settings import Settings
from crm_ferry.sources.generator import GenerateResult, WorkbookLayout, generate_bundle

__all__ = ["generate"]


def generate(
    settings: Settings,
    *,
    out: Path,
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
    """Write a synthetic The Practice export bundle with ``clients`` clients (with
    ``linked_files``, linked files and their downloads beside it; with ``groups``, client
    groups with tags; ``workbook``: its Excel variant, see
    :func:`~crm_ferry.sources.generator.generate_bundle`)."""
    if clients < 1:
        raise ConfigError(
            f"--clients must be at least 1, not {clients}", hint="pass --clients 1 or more"
        )
    return generate_bundle(
        settings.resolve(out),
        clients=clients,
        seed=seed,
        as_zip=as_zip,
        with_large_files=with_large_files,
        documents=documents,
        linked_files=linked_files,
        groups=groups,
        workbook=workbook,
        bad_rows=bad_rows,
    )
