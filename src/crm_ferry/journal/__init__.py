"""The journal: the only code that speaks SQL to the journal.

One per migration project, the only state that matters after a crash: a SQLite file
(``journal.sqlite``, owner-only) by default, or a database on a PostgreSQL server
(``[journal] url``) that several worker processes share. Its tables:

``runs``        one row per data run: kind (migrate, delta, sample, rollback), state, counts,
                and the process (pid, host) that started or resumed it.
``ops``         one row per intended write of a run, in the order it will be sent, with the
                payload (client data; removed by ``purge``) and the state of the row before the
                write (``prev_hash``/``prev_payload``; ``existed``), which is what rollback
                restores.
``idmap``       (table, id) → the source record it holds and the hash and payload last
                written: how a later run knows a record is unchanged.
``rejects``     every record a run could not read or transform, with its reason
                (read back as :class:`crm_ferry.model.Reject`).
``watermarks``  per source object, the latest ``updated_at`` a run has loaded.
``samples``     each sample's report, verdicts, the map it was made for and who accepted it.
``reconciliations``  each verification's (and sample's) differences: id, class, table,
                record, column (no values); ``accepted_differences``: who accepted which
                difference, when and why.
``matches``     clients matched to contacts and accounts already in the tenant.
``schema_runs`` / ``schema_ops``  what provisioning changed, each with its reverse
                (:class:`~crm_ferry.journal.schema.SchemaLog`, as ``Journal.schema``).
``meta``        the project's id namespace (uuid5 keys) and the journal version.

``slices``      a run's pending operations cut into pieces that workers lease (one at a
                time each), in dependency order; ``workers``: who sends, what, how far.

:class:`Journal` is the one API of both: every result is a typed row
(:mod:`crm_ferry.journal.types`). :class:`~crm_ferry.journal.scratch.RefStore` is a run's
private scratch file (the transform context on disk), not part of the journal.
"""

from crm_ferry.journal._ddl import VERSION
from crm_ferry.journal._journal import Journal, copy_journal, journal_tables, table_counts
from crm_ferry.journal._postgres import (
    PostgresTarget,
    database_tables,
    display_url,
    is_postgres_url,
    journal_exists,
)
from crm_ferry.journal._sqlite import JOURNAL_FILE, JournalError
from crm_ferry.journal.schema import SchemaLog
from crm_ferry.journal.scratch import RefStore, SpilledRefs
from crm_ferry.journal.types import (
    OP_STATES,
    REMOVAL_MARK,
    RUN_KINDS,
    RUN_STATES,
    AcceptedDifference,
    DifferenceScope,
    IdMapEntry,
    JournalOp,
    MatchRow,
    OpState,
    ReconciliationInfo,
    RecordedDifference,
    RowEntry,
    RunInfo,
    RunKind,
    RunState,
    SampleInfo,
    SchemaEntry,
    SchemaOpOutcome,
    SchemaOpState,
    SchemaRunInfo,
    SchemaRunKind,
    SchemaRunState,
    SliceInfo,
    SliceState,
    UndoAction,
    UndoState,
    UndoStep,
    WorkerInfo,
    WorkerState,
)

__all__ = [
    "JOURNAL_FILE",
    "OP_STATES",
    "REMOVAL_MARK",
    "RUN_KINDS",
    "RUN_STATES",
    "VERSION",
    "AcceptedDifference",
    "DifferenceScope",
    "IdMapEntry",
    "Journal",
    "JournalError",
    "JournalOp",
    "MatchRow",
    "OpState",
    "PostgresTarget",
    "ReconciliationInfo",
    "RecordedDifference",
    "RefStore",
    "RowEntry",
    "RunInfo",
    "RunKind",
    "RunState",
    "SampleInfo",
    "SchemaEntry",
    "SchemaLog",
    "SchemaOpOutcome",
    "SchemaOpState",
    "SchemaRunInfo",
    "SchemaRunKind",
    "SchemaRunState",
    "SliceInfo",
    "SliceState",
    "SpilledRefs",
    "UndoAction",
    "UndoState",
    "UndoStep",
    "WorkerInfo",
    "WorkerState",
    "copy_journal",
    "database_tables",
    "display_url",
    "is_postgres_url",
    "journal_exists",
    "journal_tables",
    "table_counts",
]
