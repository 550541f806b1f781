"""Provisioning: compare the map with the live metadata, produce reversible schema operations,
apply them inside the chosen solution, journal them, and reverse them.

::

    from crm_ferry.provision import apply_plan, plan_schema, rollback_schema

    journal = project / "journal.sqlite"
    p = plan_schema(spec, client.metadata)  # ordered SchemaOps, each with its reverse
    done = apply_plan(p, client, journal_path=journal, solution="PracticeMigration")
    rollback_schema(client, journal_path=journal)  # newest first; force=True drops data
"""

from crm_ferry.provision.apply import (
    ApplyResult,
    ProvisionIncomplete,
    RollbackRefused,
    RollbackResult,
    apply_plan,
    rollback_schema,
)
from crm_ferry.provision.journal import JOURNAL_FILE, SchemaJournal
from crm_ferry.provision.plan import (
    DEFAULT_TIER,
    TIER_LIMITS,
    Plan,
    Reverse,
    SchemaOp,
    Skip,
    TableLimitExceeded,
    plan_schema,
    table_limit_for,
)

__all__ = [
    "DEFAULT_TIER",
    "JOURNAL_FILE",
    "TIER_LIMITS",
    "ApplyResult",
    "Plan",
    "ProvisionIncomplete",
    "Reverse",
    "RollbackRefused",
    "RollbackResult",
    "SchemaJournal",
    "SchemaOp",
    "Skip",
    "TableLimitExceeded",
    "apply_plan",
    "plan_schema",
    "rollback_schema",
    "table_limit_for",
]
