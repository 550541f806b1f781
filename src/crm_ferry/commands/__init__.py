"""One public function per CLI verb: settings first, a typed result back.

``crm_ferry.cli`` only parses flags, calls these and renders what they return, so
``commands.discover(settings, source=...)`` from Python does exactly what
``crm-ferry discover --source ...`` does. Each verb's whole orchestration lives in its own
module here; the stage packages below hold the mechanisms and know nothing of settings
files or the command line. What every verb needs once (the project folder, the source path,
the client or pool) is in :mod:`crm_ferry.commands._project`; :func:`require_project` is
what a verb that works in a project checks first.

==================  ===========================================================
module              verbs
==================  ===========================================================
``generate``        :func:`generate`
``discover``        :func:`discover`, :func:`scope` (``discover --target``)
``mapping``         :func:`init`, :func:`map_propose`, :func:`map_show`,
                    :func:`map_check`, :func:`map_confirm`
``provision``       :func:`provision`
``preview``         :func:`preview`, :func:`preview_search`
``sample``          :func:`sample`, :func:`sample_accept`
``migrate``         :func:`migrate`, :func:`delta` (``--workers N``)
``worker``          :func:`run_worker` (``crm-ferry worker``: sends slices of a run)
``verify``          :func:`verify`, :func:`verify_pending`, :func:`verify_accept`
``rollback``        :func:`rollback`, :func:`runs`, :func:`purge`
``references``      :func:`references`
``journal``         :func:`journal_copy`
``doctor``          :func:`doctor`
``demo``            :func:`demo`
``snapshot``        :func:`snapshot`
``rehearse``        :func:`rehearse`
``emulator``        :func:`emulator_serve`, :func:`emulator_connection`,
                    :func:`emulator_dump`, :func:`snapshot_tenant`
==================  ===========================================================
"""

from crm_ferry.commands._project import require_project
from crm_ferry.commands.demo import DemoFlow, DemoStep, demo
from crm_ferry.commands.discover import discover, scope
from crm_ferry.commands.doctor import DoctorResult, doctor
from crm_ferry.commands.emulator import (
    EmulatorConnection,
    embedded_client,
    emulator_connection,
    emulator_dump,
    emulator_serve,
    snapshot_tenant,
)
from crm_ferry.commands.generate import generate
from crm_ferry.commands.journal import JournalCopyResult, journal_copy
from crm_ferry.commands.mapping import (
    CheckResult,
    ConfirmResult,
    InitResult,
    LowConfidence,
    MapLine,
    ProposeResult,
    ShowResult,
    init,
    map_check,
    map_confirm,
    map_propose,
    map_show,
)
from crm_ferry.commands.migrate import delta, migrate
from crm_ferry.commands.preview import PreviewResult, preview, preview_search
from crm_ferry.commands.provision import ProvisionResult, provision
from crm_ferry.commands.references import ReferencesResult, references
from crm_ferry.commands.rehearse import Rehearsal, RehearsalStep, rehearse
from crm_ferry.commands.rollback import (
    PurgeResult,
    RollbackReport,
    RunsResult,
    purge,
    rollback,
    runs,
)
from crm_ferry.commands.sample import AcceptResult, SampleResult, sample, sample_accept
from crm_ferry.commands.snapshot import SnapshotResult, snapshot
from crm_ferry.commands.verify import (
    PendingDifferences,
    VerifyResult,
    verify,
    verify_accept,
    verify_pending,
)
from crm_ferry.commands.worker import WorkerResult, run_worker
from crm_ferry.load.engine import LoadResult
from crm_ferry.reconcile.acceptance import AcceptOutcome
from crm_ferry.reconcile.scoping import ScopingReport
from crm_ferry.sources.discover import SourceDiscovery
from crm_ferry.sources.generator import GenerateResult

__all__ = [
    "AcceptOutcome",
    "AcceptResult",
    "CheckResult",
    "ConfirmResult",
    "DemoFlow",
    "DemoStep",
    "DoctorResult",
    "EmulatorConnection",
    "GenerateResult",
    "InitResult",
    "JournalCopyResult",
    "LoadResult",
    "LowConfidence",
    "MapLine",
    "PendingDifferences",
    "PreviewResult",
    "ProposeResult",
    "ProvisionResult",
    "PurgeResult",
    "ReferencesResult",
    "Rehearsal",
    "RehearsalStep",
    "RollbackReport",
    "RunsResult",
    "SampleResult",
    "ScopingReport",
    "ShowResult",
    "SnapshotResult",
    "SourceDiscovery",
    "VerifyResult",
    "WorkerResult",
    "delta",
    "demo",
    "discover",
    "doctor",
    "embedded_client",
    "emulator_connection",
    "emulator_dump",
    "emulator_serve",
    "generate",
    "init",
    "journal_copy",
    "map_check",
    "map_confirm",
    "map_propose",
    "map_show",
    "migrate",
    "preview",
    "preview_search",
    "provision",
    "purge",
    "references",
    "rehearse",
    "require_project",
    "rollback",
    "run_worker",
    "runs",
    "sample",
    "sample_accept",
    "scope",
    "snapshot",
    "snapshot_tenant",
    "verify",
    "verify_accept",
    "verify_pending",
]
