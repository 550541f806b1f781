"""Accepting differences: a person says that a difference a reconciliation found is known
and agreed, and why; the journal keeps who, when and why.

Acceptances are kept per scope (``verify``, ``sample``) by difference id, so a difference
accepted once stays accepted in every later reconciliation that finds it again (its id is
the same), and a new one is not. :func:`accept` takes the ids a person typed (or none: every
difference of the reconciliation not accepted yet) and refuses an id the reconciliation
does not hold, naming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crm_ferry.journal import (
    AcceptedDifference,
    DifferenceScope,
    Journal,
    JournalError,
    ReconciliationInfo,
    RecordedDifference,
)
from crm_ferry.reconcile.classify import normal_id

__all__ = ["AcceptOutcome", "accept", "unaccepted"]


@dataclass(frozen=True)
class AcceptOutcome:
    """What :func:`accept` did: the differences accepted now, those accepted before, and
    those of the reconciliation still not accepted."""

    scope: DifferenceScope
    recon_id: str
    report: str | None
    accepted: list[AcceptedDifference]
    already: list[AcceptedDifference]
    remaining: list[RecordedDifference]

    def as_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "reconciliation": self.recon_id,
            "report": self.report,
            "accepted": [a.as_dict() for a in self.accepted],
            "already_accepted": [a.as_dict() for a in self.already],
            "remaining": [d.as_dict() for d in self.remaining],
        }


def unaccepted(
    journal: Journal, scope: DifferenceScope, recon: ReconciliationInfo
) -> list[RecordedDifference]:
    """The differences of ``recon`` nobody accepted (in ``scope``)."""
    done = journal.accepted_differences(scope)
    return [d for d in recon.differences if d.diff_id not in done]


def accept(
    journal: Journal,
    scope: DifferenceScope,
    recon: ReconciliationInfo,
    *,
    by: str,
    reason: str,
    ids: Sequence[str] | None = None,
) -> AcceptOutcome:
    """Accept the differences ``ids`` of ``recon`` (all not accepted yet when None)."""
    known = {d.diff_id: d for d in recon.differences}
    before = journal.accepted_differences(scope)
    if ids is None:
        wanted = [d for d in recon.differences if d.diff_id not in before]
    else:
        unknown = [i for i in ids if normal_id(i) not in known]
        if unknown:
            command = "verify" if scope == "verify" else "sample"
            raise JournalError(
                f"{recon.recon_id} found no difference " + ", ".join(repr(i) for i in unknown),
                hint=f"copy the ids from the output of `crm-ferry {command}` or its report "
                f"({recon.report}); run `crm-ferry {command}` again if something changed",
            )
        wanted = list({normal_id(i): known[normal_id(i)] for i in ids}.values())
    fresh = [d for d in wanted if d.diff_id not in before]
    if fresh:
        journal.accept_differences(scope, fresh, by=by, reason=reason, recon_id=recon.recon_id)
    after = journal.accepted_differences(scope)
    return AcceptOutcome(
        scope=scope,
        recon_id=recon.recon_id,
        report=recon.report,
        accepted=[after[d.diff_id] for d in fresh],
        already=[before[d.diff_id] for d in wanted if d.diff_id in before],
        remaining=[d for d in recon.differences if d.diff_id not in after],
    )
