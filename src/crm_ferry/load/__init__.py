"""The load: journaled, resumable writes of a bundle to Dataverse, and their undoing.

- :mod:`~crm_ferry.load.planner`: the order tables are loaded in (parents before children);
- :mod:`~crm_ferry.load.snapshot`: the tenant's metadata and organization settings, read
  once into the frozen snapshot transform works against;
- :mod:`~crm_ferry.load.context`: the transform context, from a first pass over the bundle;
- :mod:`~crm_ferry.load.match`: clients matched to contacts and accounts already there;
- :mod:`~crm_ferry.load.engine`: plan (transform, journal the intent), send (bulk messages
  and ``$batch``, throttle-aware, over every application user), settle (counts that add up);
- :mod:`~crm_ferry.load.rollback`: a run undone in reverse load order, edits since kept.

The verbs that run a load (``migrate``, ``delta``, the sample) are in
:mod:`crm_ferry.commands.migrate`.
"""

from crm_ferry.load.context import build_context
from crm_ferry.load.engine import (
    LoadContext,
    Loader,
    LoadResult,
    ObjectCounts,
    TransformerLike,
    open_for_load,
)
from crm_ferry.load.match import Matches, Remap, existing_rows, match_existing
from crm_ferry.load.planner import LoadPlan, plan_order
from crm_ferry.load.rollback import Rollback, RollbackResult
from crm_ferry.load.snapshot import read_org_settings, read_target_schema

__all__ = [
    "LoadContext",
    "LoadPlan",
    "LoadResult",
    "Loader",
    "Matches",
    "ObjectCounts",
    "Remap",
    "Rollback",
    "RollbackResult",
    "TransformerLike",
    "build_context",
    "existing_rows",
    "match_existing",
    "open_for_load",
    "plan_order",
    "read_org_settings",
    "read_target_schema",
]
