"""``crm-ferry provision``: plan, apply or reverse the schema of a project's confirmed map.

The licence tier and its custom-table limit come from the arguments, else from ``ferry.toml``::

    [dataverse]
    tier = "professional"          # professional (15 custom tables), enterprise, premium
    custom_table_limit = 15        # overrides the tier's limit
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from crm_ferry.commands._project import confirmed_map, connected, writing
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.errors import ConfigError, Incomplete
from crm_ferry.journal import JOURNAL_FILE
from crm_ferry.provision.apply import (
    ApplyResult,
    ProvisionIncomplete,
    RollbackResult,
    apply_plan,
    rollback_schema,
)
from crm_ferry.provision.plan import Plan, plan_schema
from crm_ferry.settings import Settings

__all__ = ["Action", "ProvisionResult", "provision", "tier_settings"]

Action = Literal["dry-run", "apply", "rollback"]


@dataclass(frozen=True, slots=True)
class ProvisionResult:
    action: Action
    plan: Plan | None = None
    applied: ApplyResult | None = None
    rolled_back: RollbackResult | None = None
    journal: Path | None = None
    verbose: bool = False
    failure: ProvisionIncomplete | None = None
    """The operation that failed part-way (what ran before it is in ``applied`` or
    ``rolled_back``), when one did."""

    def incomplete(self) -> Incomplete | None:
        """The failure, saying what to do, when an operation failed part-way."""
        return self.failure

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
            "failure": None if self.failure is None else self.failure.message,
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


@writing(lambda options: "provision --rollback" if options.get("rollback") else "provision")
def provision(
    settings: Settings,
    *,
    dry_run: bool = False,
    rollback: bool = False,
    force: bool = False,
    verbose: bool = False,
    tier: str | None = None,
    table_limit: int | None = None,
    client: DataverseClient | None = None,
) -> ProvisionResult:
    """Create what the confirmed map needs in the tenant (``dry_run``: only plan it), journaled;
    ``rollback`` reverses it, refusing to drop data unless ``force``."""
    path = journal_path(settings)
    if rollback:
        # a reverse that fails part-way raises ProvisionIncomplete (exit 8): rollback --schema
        # relies on that
        with connected(settings, client) as c:
            done = rollback_schema(c, journal_path=path, force=force)
        return ProvisionResult("rollback", rolled_back=done, journal=path, verbose=verbose)
    spec = confirmed_map(settings)
    toml_tier, toml_limit = tier_settings(settings)
    with connected(settings, client) as c:
        the_plan = plan_schema(
            spec,
            c.metadata,
            tier=tier or toml_tier,
            table_limit=table_limit if table_limit is not None else toml_limit,
        )
        if dry_run:
            return ProvisionResult("dry-run", plan=the_plan, verbose=verbose)
        try:
            result = apply_plan(the_plan, c, journal_path=path, solution=settings.solution)
        except ProvisionIncomplete as exc:
            applied = exc.done if isinstance(exc.done, ApplyResult) else None
            return ProvisionResult(
                "apply", plan=the_plan, applied=applied, journal=path, verbose=verbose, failure=exc
            )
    return ProvisionResult("apply", plan=the_plan, applied=result, journal=path, verbose=verbose)
