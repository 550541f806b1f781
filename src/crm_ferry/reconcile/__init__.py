"""Reconciliation: the field-level diff of ``sample`` and ``verify``, the classification of
what differs (:mod:`~crm_ferry.reconcile.classify`), the reconciliation a client signs
(:mod:`~crm_ferry.reconcile.reconciliation`) and its reports."""

from crm_ferry.reconcile.classify import (
    CLASSES,
    Acceptance,
    CheckRow,
    Classification,
    Difference,
)
from crm_ferry.reconcile.diff import VERDICTS, DiffRow, Verdict, compare_row, count_verdicts
from crm_ferry.reconcile.reconciliation import Reconciliation
from crm_ferry.reconcile.report import ReportPaths, write_report

__all__ = [
    "CLASSES",
    "VERDICTS",
    "Acceptance",
    "CheckRow",
    "Classification",
    "DiffRow",
    "Difference",
    "Reconciliation",
    "ReportPaths",
    "Verdict",
    "compare_row",
    "count_verdicts",
    "write_report",
]
