"""Plan the schema a map needs: the ordered, reversible operations that make the tenant fit it.

:func:`plan_schema` compares the map with the live metadata
(:class:`~crm_ferry.provision.compare.Planner`) and returns a :class:`Plan`: an ordered list
of :class:`~crm_ferry.provision.ops.SchemaOp` (create table, create column, add option values
to a choice, create lookup, create alternate key), each carrying its
:class:`~crm_ferry.provision.ops.Reverse` (delete table, column, option, relationship, key)
and a sentence a person can review, like an alembic migration before it runs. What already
exists is skipped (and listed in :attr:`Plan.skipped`); what cannot be reconciled (a column of
another type, a table the map does not say how to create) is a conflict that stops
:func:`crm_ferry.provision.apply.apply_plan`.

Order: tables, then columns and choice options, then lookups (their target tables exist by
then), then alternate keys (their columns exist by then).

The licence's custom-table limit (Dynamics 365 Sales Professional: 15 custom tables) is
checked against the tenant's custom tables plus the planned ones before anything is created:
an over-limit plan raises :class:`TableLimitExceeded` naming the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crm_ferry.dataverse.metadata import Metadata
from crm_ferry.errors import ConfigError, MapError
from crm_ferry.mapping.spec import MappingSpec
from crm_ferry.provision.compare import Planner, Skip
from crm_ferry.provision.ops import SchemaOp

__all__ = [
    "DEFAULT_TIER",
    "TIER_LIMITS",
    "Plan",
    "TableLimitExceeded",
    "check_table_limit",
    "plan_schema",
    "table_limit_for",
]

_STAGE: dict[str, int] = {
    "create_table": 0,
    "create_column": 1,
    "add_option": 1,
    "create_lookup": 2,
    "create_key": 3,
}

TIER_LIMITS: dict[str, int | None] = {
    "professional": 15,
    "enterprise": None,
    "premium": None,
}
"""Custom tables a Dynamics 365 Sales licence allows (``None``: no licence limit)."""
DEFAULT_TIER = "professional"


def table_limit_for(tier: str | None = None, limit: int | None = None) -> tuple[str, int | None]:
    """``(tier, custom-table limit)``: an explicit ``limit`` wins over the tier's."""
    name = (tier or DEFAULT_TIER).strip().lower()
    if name not in TIER_LIMITS:
        raise ConfigError(
            f"unknown licence tier {tier!r}",
            hint=f"use one of {', '.join(TIER_LIMITS)}, or give the custom-table limit itself",
        )
    if limit is not None and limit < 0:
        raise ConfigError(f"custom-table limit must not be negative, not {limit}")
    return name, limit if limit is not None else TIER_LIMITS[name]


class TableLimitExceeded(MapError):
    """The plan would take the tenant over its licence's custom-table limit."""

    def __init__(self, *, tier: str, limit: int, existing: int, planned: tuple[str, ...]) -> None:
        self.tier = tier
        self.limit = limit
        self.existing = existing
        self.planned = list(planned)
        total = existing + len(planned)
        super().__init__(
            f"the map needs {len(planned)} new custom table(s) ({', '.join(planned)}); with the "
            f"{existing} the tenant already has that makes {total}, over the {limit} custom "
            f"tables the {tier} licence allows",
            hint="map those roles to existing tables or switch them off in mapping.yaml, delete "
            "unused custom tables, or set the tenant's real tier ([dataverse] tier / "
            "custom_table_limit in ferry.toml, or --tier / --table-limit)",
        )


@dataclass(frozen=True, slots=True)
class Plan:
    """The ordered operations that make the tenant fit the map."""

    ops: tuple[SchemaOp, ...]
    skipped: tuple[Skip, ...] = ()
    warnings: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    """Problems that stop :func:`~crm_ferry.provision.apply.apply_plan` (a column of another type,
    a missing table the map does not create, a lookup without a target ...)."""
    tier: str = DEFAULT_TIER
    table_limit: int | None = TIER_LIMITS[DEFAULT_TIER]
    custom_tables: int = 0
    """Custom tables the tenant had when the plan was made."""

    @property
    def empty(self) -> bool:
        return not self.ops

    @property
    def new_tables(self) -> tuple[str, ...]:
        return tuple(op.table for op in self.ops if op.kind == "create_table")

    def tables(self) -> tuple[str, ...]:
        """Every table the plan changes, in first-touched order."""
        return tuple(dict.fromkeys(op.table for op in self.ops))

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for op in self.ops:
            out[op.kind] = out.get(op.kind, 0) + 1
        return out

    def as_dict(self, *, verbose: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ops": [op.as_dict() for op in self.ops],
            "counts": self.counts(),
            "warnings": list(self.warnings),
            "conflicts": list(self.conflicts),
            "tier": self.tier,
            "table_limit": self.table_limit,
            "custom_tables": self.custom_tables,
            "new_tables": list(self.new_tables),
        }
        if verbose:
            out["skipped"] = [s.as_dict() for s in self.skipped]
        return out


# ---------------------------------------------------------------------------
# Planning


def plan_schema(
    spec: MappingSpec,
    metadata: Metadata,
    *,
    tier: str | None = None,
    table_limit: int | None = None,
    check_limit: bool = True,
) -> Plan:
    """Compare ``spec`` with the live metadata; the operations in the order they must run.

    ``tier`` (default ``professional``) gives the custom-table limit unless ``table_limit``
    is given. With ``check_limit`` (the default) an over-limit plan raises
    :class:`TableLimitExceeded` before anything could be created.
    """
    tier_name, limit = table_limit_for(tier, table_limit)
    metadata.forget()  # plan from fresh metadata, never from what an earlier step cached
    planner = Planner(spec, metadata)
    planner.run()
    custom = len(metadata.tables(custom_only=True))
    result = Plan(
        ops=tuple(sorted(planner.ops, key=lambda op: _STAGE[op.kind])),
        skipped=tuple(planner.skipped),
        warnings=tuple(planner.warnings),
        conflicts=tuple(planner.conflicts),
        tier=tier_name,
        table_limit=limit,
        custom_tables=custom,
    )
    if check_limit:
        check_table_limit(result)
    return result


def check_table_limit(p: Plan) -> None:
    """Raise :class:`TableLimitExceeded` when ``p`` would exceed its custom-table limit."""
    planned = p.new_tables
    if p.table_limit is not None and planned and p.custom_tables + len(planned) > p.table_limit:
        raise TableLimitExceeded(
            tier=p.tier, limit=p.table_limit, existing=p.custom_tables, planned=planned
        )
