"""Rollback: undo a run from its journal, exactly, or say what could not be undone.

- :mod:`.plan` — from the journal alone, what each row the run touched must become: deleted
  (the run made it), restored (it was there before), or written again (the run deleted it);
- :mod:`.tenant` — the tenant as rollback reads and writes it: rows now, who changed them,
  what points at them, state changes the service requires before a write or a delete;
- :mod:`.runner` — one run undone: written again, restored, deleted, each step journaled.
"""

from crm_ferry.load.rollback.plan import UndoRow, plan_rows, planned_counts
from crm_ferry.load.rollback.runner import Rollback, RollbackResult
from crm_ferry.load.rollback.tenant import Pointer, Tenant

__all__ = [
    "Pointer",
    "Rollback",
    "RollbackResult",
    "Tenant",
    "UndoRow",
    "plan_rows",
    "planned_counts",
]
