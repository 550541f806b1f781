"""Reconciliation: the field-level diff of ``sample`` and ``verify`` and its reports."""

from crm_ferry.reconcile.diff import VERDICTS, DiffRow, Verdict, compare_row, count_verdicts
from crm_ferry.reconcile.report import CheckRow, ReportPaths, write_report

__all__ = [
    "VERDICTS",
    "CheckRow",
    "DiffRow",
    "ReportPaths",
    "Verdict",
    "compare_row",
    "count_verdicts",
    "write_report",
]
