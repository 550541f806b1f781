"""``crm-ferry provision``: plan, apply or reverse the schema of a project's confirmed map.

The licence tier and its custom-table limit come from the arguments, else from ``ferry.toml``::

    [dataverse]
    tier = "professional"          # professional (15 custom tables), enterprise, premium
    custom_table_limit = 15        # overrides the tier's limit
    solution = "PracticeMigration" # the unmanaged solution what it creates joins

Without a solution it still runs, and warns (in the result, so ``--json`` too) that what it
creates lands outside any solution. Before it applies or reverses anything it closes the
schema runs a killed provision left ``running`` (:func:`~crm_ferry.provision.apply.recover_runs`)
and says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from crm_ferry.commands._project import confirmed_map, connected, journal_target, writing
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.errors import ConfigError, Incomplete
from crm_ferry.journal import PostgresTarget
from crm_ferry.provision.apply import (
    ApplyResult,
    ProvisionIncomplete,
    Recovered,
    RollbackResult,
    apply_plan,
    recover_runs,
    rollback_schema,
)
from crm_ferry.provision.plan import Plan, plan_schema
from crm_ferry.settings import Settings

__all__ = ["Action", "ProvisionResult", "no_solution_warning", "provision", "tier_settings"]

Action = Literal["dry-run", "apply", "rollback"]


@dataclass(frozen=True, slots=True)
class ProvisionResult:
    action: Action
    plan: Plan | None = None
    applied: ApplyResult | None = None
    rolled_back: RollbackResult | None = None
    journal: Path | PostgresTarget | None = None
    verbose: bool = False
    failure: ProvisionIncomplete | None = None
    """The operation that failed part-way (what ran before it is in ``applied`` or
    ``rolled_back``), when one did."""
    warnings: tuple[str, ...] = ()
    """What a person should know before trusting the result (no solution configured, a
    killed run closed), each saying what to do."""
    recovered: tuple[Recovered, ...] = ()
    """Schema runs a killed process had left ``running``, closed before this one."""

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
            "journal": None
            if self.journal is None
            else self.journal.where
            if isinstance(self.journal, PostgresTarget)
            else str(self.journal),
            "failure": None if self.failure is None else self.failure.message,
            "warnings": list(self.warnings),
            "recovered": [r.as_dict() for r in self.recovered],
        }


def journal_path(settings: Settings) -> Path | PostgresTarget:
    return journal_target(settings)


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


def no_solution_warning(plan: Plan, prefix: str) -> str:
    """The warning that ``plan`` would be created outside any solution, saying how to set one."""
    return (
        f"no solution is configured: the {len(plan.ops)} operation(s) create tables, columns "
        "and keys outside any solution (only the environment's Default Solution holds them, "
        "so they cannot be exported or moved as one); to create them in one, set "
        '[dataverse] solution = "<unique name>" in ferry.toml (or CRM_FERRY_DATAVERSE_SOLUTION) '
        f"to an unmanaged solution whose publisher has the prefix {prefix!r}"
    )


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
            recovered = recover_runs(c, journal_path=path)
            done = rollback_schema(c, journal_path=path, force=force)
        return ProvisionResult(
            "rollback",
            rolled_back=done,
            journal=path,
            verbose=verbose,
            warnings=tuple(r.message for r in recovered),
            recovered=recovered,
        )
    spec = confirmed_map(settings)
    toml_tier, toml_limit = tier_settings(settings)
    with connected(settings, client) as c:
        recovered = () if dry_run else recover_runs(c, journal_path=path)
        the_plan = plan_schema(
            spec,
            c.metadata,
            tier=tier or toml_tier,
            table_limit=table_limit if table_limit is not None else toml_limit,
        )
        warnings = [r.message for r in recovered]
        if not (settings.solution or c.options.solution) and not the_plan.empty:
            warnings.append(no_solution_warning(the_plan, spec.publisher_prefix))
        planned = ProvisionResult(
            "dry-run",
            plan=the_plan,
            verbose=verbose,
            warnings=tuple(warnings),
            recovered=recovered,
        )
        if dry_run:
            return planned
        try:
            result = apply_plan(the_plan, c, journal_path=path, solution=settings.solution)
        except ProvisionIncomplete as exc:
            applied = exc.done if isinstance(exc.done, ApplyResult) else None
            return dataclasses.replace(
                planned, action="apply", applied=applied, journal=path, failure=exc
            )
    return dataclasses.replace(planned, action="apply", applied=result, journal=path)
