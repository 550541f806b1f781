"""A small progress protocol, so the library reports progress without knowing how it is shown.

The CLI passes a rich-backed implementation (records/s and ETA); library callers and tests
use :data:`NO_PROGRESS` or their own.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def start(self, task: str, total: int | None = None) -> None:
        """Begin (or restart) a task, with its total number of units if known."""

    def advance(self, task: str, amount: int = 1) -> None:
        """``amount`` more units of ``task`` are done."""

    def finish(self, task: str) -> None:
        """The task is complete."""


class NullProgress:
    def start(self, task: str, total: int | None = None) -> None:
        pass

    def advance(self, task: str, amount: int = 1) -> None:
        pass

    def finish(self, task: str) -> None:
        pass


NO_PROGRESS: Progress = NullProgress()
