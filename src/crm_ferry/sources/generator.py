"""Synthetic, realistic, deterministic export bundles of any size."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class GenerateResult:
    out: Path
    """The bundle folder, or the zip file with ``as_zip``."""
    clients: int
    seed: int
    files: dict[str, int] = field(default_factory=dict)
    """File name inside the bundle -> records written."""
    bytes: int = 0
    ground_truth: Path | None = None
    """The file listing every planted edge case (outside the bundle)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "clients": self.clients,
            "seed": self.seed,
            "files": dict(self.files),
            "bytes": self.bytes,
            "ground_truth": str(self.ground_truth) if self.ground_truth else None,
        }


def generate_bundle(
    out: Path,
    *,
    clients: int,
    seed: int = 1,
    as_zip: bool = False,
    with_large_files: bool = False,
) -> GenerateResult:
    raise NotImplementedError
