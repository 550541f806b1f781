"""The exception tree of crm-ferry.

Every error the library raises on purpose derives from :class:`FerryError`, so the
command line catches one class, prints the message and exits with ``exit_code``.
Errors are either *transient* (worth retrying: throttling, timeouts, dropped
connections, 5xx) or *terminal* (retrying cannot help). The marker mixins
:class:`Transient` and :class:`Terminal` say which, independently of the kind::

    FerryError                      exit 1
    ├── ConfigError                 exit 2   ferry.toml, settings, secrets
    ├── SourceError                 exit 3   the export bundle cannot be read at all
    ├── JournalError                exit 2   crm_ferry.journal: another version, or a step
    │                                        the journal's state forbids (an unknown run)
    ├── MapError                    exit 4   the map is invalid, unconfirmed or stale
    ├── DataverseError              exit 5   see crm_ferry.dataverse (carries method, URL,
    │   │                                    status, Dataverse error code and message)
    │   ├── ThrottledError, ServerError, RequestTimeout, ConnectionLost     transient
    │   └── ValidationRejected, AuthError, PrivilegeError, NotFound,
    │       PreconditionFailed (DuplicateRecord)                            terminal
    ├── SharePointError             exit 5   see crm_ferry.sharepoint (Microsoft Graph: the
    │                                        documents' site, libraries and files)
    ├── EmulatorError               exit 6   the emulator cannot start or its data is unusable
    ├── CheckFailed                 exit 7   a check found differences (``--check`` options)
    │   └── RollbackRefused                  provision --rollback would drop data
    ├── Incomplete                  exit 8   a writing command (migrate, delta, rollback,
    │   │                                    provision) finished, but something it meant to
    │   │                                    write or undo was not: its result says what
    │   └── ProvisionIncomplete              crm_ferry.provision.apply: a schema op failed
    │                                        part-way (what ran before it is journaled)
    └── Interrupted                 exit 130 a writing command stopped by Ctrl-C: its open
                                             runs are marked interrupted, the next command
                                             of the kind continues them

Per-row problems in the data are not exceptions: they become *rejects* with a file, a
line, a column, a value and a reason, and are counted.
"""

from __future__ import annotations

from typing import Any


class FerryError(Exception):
    """Root of every error crm-ferry raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        """What the user can do about it, shown under the message by the CLI."""

    def attrs(self) -> dict[str, Any]:
        """Public attributes for structured output (``--json``) and logs."""
        return {
            k: v
            for k, v in vars(self).items()
            if not k.startswith("_") and k not in {"args"} and _is_jsonable(v)
        }

    def __str__(self) -> str:
        return self.message


def _is_jsonable(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, list, dict, tuple))


class Transient:
    """Marker: the operation may succeed if retried later."""


class Terminal:
    """Marker: retrying the same operation cannot succeed."""


class ConfigError(FerryError, Terminal):
    """A setting is missing or invalid, or a secret cannot be found."""

    exit_code = 2


class SourceError(FerryError, Terminal):
    """The export bundle cannot be read at all (not a folder or zip, required file missing)."""

    exit_code = 3


class MapError(FerryError, Terminal):
    """The map is invalid, unconfirmed, or no longer fits the source or target."""

    exit_code = 4


class EmulatorError(FerryError, Terminal):
    """The Dataverse emulator cannot start or its stored data is unusable."""

    exit_code = 6


class CheckFailed(FerryError, Terminal):
    """A check (``--check``) found differences."""

    exit_code = 7


class Incomplete(FerryError, Terminal):
    """A writing command ran to its end, but left something it meant to write or undo: a
    failed operation, a row rollback meant to remove or restore. The command's result (its
    table, or ``--json``) is printed first; this error then says what to do and sets the
    exit code."""

    exit_code = 8


class Interrupted(FerryError, Transient):
    """A writing command was stopped (Ctrl-C) before its end. The runs it had open are
    marked ``interrupted`` in the journal; running the command again continues them."""

    exit_code = 130

    def __init__(
        self, message: str, *, hint: str, runs: list[str] | None = None, command: str = ""
    ) -> None:
        super().__init__(message, hint=hint)
        self.runs = list(runs or [])
        """The runs marked interrupted (data runs and schema runs), oldest first."""
        self.command = command
        self.state = "interrupted"

    @property
    def result(self) -> dict[str, Any]:
        """What ``--json`` prints in place of the command's result."""
        return {
            "command": self.command,
            "state": self.state,
            "run_id": self.runs[-1] if self.runs else None,
            "runs": self.runs,
        }
