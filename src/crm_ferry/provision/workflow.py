"""``crm-ferry provision``: plan, apply or reverse the schema of a project's confirmed map.

The licence tier and its custom-table limit come from the arguments, else from ``ferry.toml``::

    [dataverse]
    tier = "professional"          # professional (15 custom tables), enterprise, premium
    custom_table_limit = 15        # overrides the tier's limit
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.errors import ConfigError
from crm_ferry.provision.apply import ApplyResult, RollbackResult, apply_plan, rollback_schema
from crm_ferry.provision.journal import JOURNAL_FILE
from crm_ferry.provision.plan import Plan, plan_schema
from crm_ferry.settings import Settings

Action = Literal["dry-run", "apply", "rollback"]


@dataclass(frozen=True, slots=True)
class ProvisionResult:
    action: Action
    plan: Plan | None = None
    applied: ApplyResult | None = None
    rolled_back: RollbackResult | None = None
    journal: Path | None = None
    verbose: bool = False

    @property
    def changed(self) -> bool:
        if self.applied is not None:
            return bool(self.applied.applied)
        if self.rolled_back is not None:
            return bool(self.rolled_back.reversed)
        return False

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "plan": None if self.plan is None else self.plan.as_dict(verbose=self.verbose),
            "applied": None if self.applied is None else self.applied.as_dict(),
            "rolled_back": None if self.rolled_back is None else self.rolled_back.as_dict(),
            "journal": None if self.journal is None else str(self.journal),
        }


def journal_path(settings: Settings) -> Path:
    return settings.project_dir / JOURNAL_FILE


def tier_settings(settings: Settings) -> tuple[str | None, int | None]:
    """``[dataverse] tier`` and ``custom_table_limit`` from ``ferry.toml``, if set."""
    section = settings.raw.get("dataverse") if isinstance(settings.raw, Mapping) else None
    if not isinstance(section, Mapping):
        return None, None
    tier = section.get("tier")
    limit = section.get("custom_table_limit")
    if tier is not None and not isinstance(tier, str):
        raise ConfigError(f"[dataverse] tier must be text, not {tier!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise ConfigError(f"[dataverse] custom_table_limit must be a whole number, not {limit!r}")
    return tier, limit


@contextmanager
def _client(settings: Settings, client: DataverseClient | None) -> Iterator[DataverseClient]:
    if client is not None:
        yield client
        return
    from crm_ferry.dataverse.connect import client_from_settings

    built = client_from_settings(settings)
    try:
        yield built
    finally:
        built.close()


def provision_project(
    settings: Settings,
    *,
    dry_run: bool = False,
    rollback_: bool = False,
    force: bool = False,
    verbose: bool = False,
    tier: str | None = None,
    table_limit: int | None = None,
    client: DataverseClient | None = None,
) -> ProvisionResult:
    """Plan (``dry_run``), apply, or reverse (``rollback_``) the schema the map needs."""
    path = journal_path(settings)
    if rollback_:
        with _client(settings, client) as c:
            done = rollback_schema(c, journal_path=path, force=force)
        return ProvisionResult("rollback", rolled_back=done, journal=path, verbose=verbose)
    from crm_ferry.mapping.check import require_loadable_map

    spec = require_loadable_map(settings)
    toml_tier, toml_limit = tier_settings(settings)
    with _client(settings, client) as c:
        the_plan = plan_schema(
            spec,
            c.metadata,
            tier=tier or toml_tier,
            table_limit=table_limit if table_limit is not None else toml_limit,
        )
        if dry_run:
            return ProvisionResult("dry-run", plan=the_plan, verbose=verbose)
        result = apply_plan(the_plan, c, journal_path=path, solution=settings.solution)
    return ProvisionResult("apply", plan=the_plan, applied=result, journal=path, verbose=verbose)
