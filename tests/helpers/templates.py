"""A template built once per test session and shared by the pytest-xdist workers.

The first worker that needs it builds it under a file lock, the others wait and use it,
as they share the session's temporary root. A template half-built by a worker that died is
built again. Tests copy it (leaving out the ``.built`` marker) and never change it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

BUILT = ".built"
"""The marker of a finished template (leave it out of copies)."""


def shared_template(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], object]
) -> Path:
    """The folder ``name`` of the session's shared root, ``build(folder)`` run into it once."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    target = shared / name
    with (shared / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / BUILT).exists():
            if target.exists():
                shutil.rmtree(target)
            target.mkdir()
            build(target)
            (target / BUILT).touch()
    return target
