"""The scoping report: what the source holds, what the tenant offers, how long the load takes
and how hard the migration is, before anything is written (``crm-ferry discover --target``).

The source is profiled (:func:`~crm_ferry.sources.discover.discover_source`), then:

==================  =========================================================================
module              what it holds
==================  =========================================================================
``counting``        :func:`count_source`: what the default map would write per role, the
                    per-record operations after it, currencies used, the files against the
                    tenant's upload limit (:class:`SourceCounts`, :class:`FileAudit`)
``tenant``          :func:`read_tenant` (custom tables, the invoice table, organization
                    settings, system users, bulk-message support, the round-trip time) and
                    :func:`audit_tenant`, the tenant against the source (:class:`TenantAudit`;
                    read from a tenant snapshot, it says which: :class:`SnapshotOrigin`)
``duration``        :func:`estimate`: requests and wall time per step, with the arithmetic
                    and the figures it rests on (:class:`Estimate`)
``complexity``      :func:`grade`: A–D with the reasons that led to it (:class:`Grade`)
``report``          :class:`ScopingReport`, and :func:`write_scoping`: ``scoping.html`` and
                    ``scoping.json`` in ``<project>/runs/scoping-<timestamp>/`` (folder 0700,
                    files 0600: they name clients' files and coaches)
``_run``            ``scope(settings, ...)``, the orchestration of the verb (the one place
                    that reads settings; it is to move to :mod:`crm_ferry.commands.discover`)
==================  =========================================================================

Nothing here but ``_run`` knows of settings files: the mechanisms take a bundle, a client
and plain numbers.
"""

from crm_ferry.reconcile.scoping.complexity import (
    GRADES,
    QUALITY_FINDINGS,
    Grade,
    GradeReason,
    grade,
)
from crm_ferry.reconcile.scoping.counting import (
    ROW_OVERHEAD,
    FileAudit,
    SourceCounts,
    count_source,
)
from crm_ferry.reconcile.scoping.duration import (
    ASSUMED_LATENCY_MS,
    ASSUMPTIONS,
    EXECUTION_SECONDS_PER_WINDOW,
    LATENCY_BASES,
    MAX_CONCURRENT,
    METHOD_LABELS,
    MS_PER_RECORD,
    REQUESTS_PER_WINDOW,
    WINDOW_SECONDS,
    Estimate,
    LatencyBasis,
    TableEstimate,
    estimate,
)
from crm_ferry.reconcile.scoping.report import (
    HTML_NAME,
    JSON_NAME,
    ScopingReport,
    render_html,
    scoping_dir,
    write_scoping,
)
from crm_ferry.reconcile.scoping.tenant import (
    LATENCY_SAMPLES,
    CoachAudit,
    SnapshotOrigin,
    TenantAudit,
    TenantReading,
    audit_tenant,
    measure_latency,
    read_tenant,
)

__all__ = [
    "ASSUMED_LATENCY_MS",
    "ASSUMPTIONS",
    "EXECUTION_SECONDS_PER_WINDOW",
    "GRADES",
    "HTML_NAME",
    "JSON_NAME",
    "LATENCY_BASES",
    "LATENCY_SAMPLES",
    "MAX_CONCURRENT",
    "METHOD_LABELS",
    "MS_PER_RECORD",
    "QUALITY_FINDINGS",
    "REQUESTS_PER_WINDOW",
    "ROW_OVERHEAD",
    "WINDOW_SECONDS",
    "CoachAudit",
    "Estimate",
    "FileAudit",
    "Grade",
    "GradeReason",
    "LatencyBasis",
    "ScopingReport",
    "SnapshotOrigin",
    "SourceCounts",
    "TableEstimate",
    "TenantAudit",
    "TenantReading",
    "audit_tenant",
    "count_source",
    "estimate",
    "grade",
    "measure_latency",
    "read_tenant",
    "render_html",
    "scoping_dir",
    "write_scoping",
]
