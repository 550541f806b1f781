"""Provisioning: compare the map with the live metadata, produce reversible schema operations,
apply them inside the chosen solution, journal them, and reverse them.

==============  ===========================================================================
module          what it holds
==============  ===========================================================================
``ops``         the operation model: :class:`SchemaOp` (create table, column, option,
                lookup, key), each with its :class:`Reverse`; both as JSON and back
``compare``     the passes that compare a map with the live metadata: what to create,
                what exists already (:class:`Skip`), warnings and conflicts
``plan``        :func:`plan_schema`: the ordered :class:`Plan`, checked against the
                licence's custom-table limit (:func:`table_limit_for`)
``apply``       :func:`~crm_ferry.provision.apply.apply_plan` and
                :func:`~crm_ferry.provision.apply.rollback_schema`: run a plan (or its
                reverse) against the tenant, journaled
==============  ===========================================================================

::

    from crm_ferry.provision import plan_schema
    from crm_ferry.provision.apply import apply_plan, rollback_schema

    journal = project / JOURNAL_FILE  # crm_ferry.journal: the project's journal
    p = plan_schema(spec, client.metadata)  # ordered SchemaOps, each with its reverse
    done = apply_plan(p, client, journal_path=journal, solution="PracticeMigration")
    rollback_schema(client, journal_path=journal)  # newest first; force=True drops data
"""

from crm_ferry.provision.compare import Skip
from crm_ferry.provision.ops import Reverse, SchemaOp
from crm_ferry.provision.plan import (
    DEFAULT_TIER,
    TIER_LIMITS,
    Plan,
    TableLimitExceeded,
    plan_schema,
    table_limit_for,
)

__all__ = [
    "DEFAULT_TIER",
    "TIER_LIMITS",
    "Plan",
    "Reverse",
    "SchemaOp",
    "Skip",
    "TableLimitExceeded",
    "plan_schema",
    "table_limit_for",
]
