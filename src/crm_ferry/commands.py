"""One public function per CLI verb. Settings come first; each returns a typed result.

``crm_ferry.cli`` only parses flags, calls these and renders what they return, so
``commands.discover(settings, source=...)`` from Python does exactly what
``crm-ferry discover --source ...`` does.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crm_ferry.errors import ConfigError
from crm_ferry.settings import Settings
from crm_ferry.sources.discover import SourceDiscovery, discover_source
from crm_ferry.sources.generator import GenerateResult, generate_bundle


def generate(
    settings: Settings,
    *,
    out: Path,
    clients: int,
    seed: int = 1,
    as_zip: bool = False,
    with_large_files: bool = False,
) -> GenerateResult:
    """Write a synthetic The Practice export bundle with ``clients`` clients."""
    if clients < 1:
        raise ConfigError(f"--clients must be at least 1, not {clients}")
    return generate_bundle(
        settings.resolve(out),
        clients=clients,
        seed=seed,
        as_zip=as_zip,
        with_large_files=with_large_files,
    )


def discover(
    settings: Settings, *, source: Path | None = None, rejects: Path | None = None
) -> SourceDiscovery:
    """Profile the export bundle: objects, counts, rejects, custom properties, dangling links."""
    path = source if source is not None else settings.source
    if path is None:
        raise ConfigError(
            "no source bundle given",
            hint="pass --source PATH or set [source] path in ferry.toml",
        )
    return discover_source(
        settings.resolve(path),
        settings,
        rejects_path=settings.resolve(rejects) if rejects is not None else None,
    )


@dataclass(frozen=True, slots=True)
class DemoResult:
    workdir: Path
    generated: GenerateResult
    discovery: SourceDiscovery

    def as_dict(self) -> dict[str, Any]:
        return {
            "workdir": str(self.workdir),
            "generated": self.generated.as_dict(),
            "discovery": self.discovery.as_dict(),
        }


def demo(settings: Settings, *, workdir: Path | None = None, clients: int = 200) -> DemoResult:
    """Generate a bundle and run the pipeline on it against the embedded emulator."""
    base = (
        settings.resolve(workdir)
        if workdir is not None
        else Path(tempfile.mkdtemp(prefix="crm-ferry-demo-"))
    )
    base.mkdir(parents=True, exist_ok=True)
    generated = generate(settings, out=base / "bundle", clients=clients, seed=7)
    discovery = discover(settings, source=generated.out, rejects=base / "rejects.jsonl")
    return DemoResult(workdir=base, generated=generated, discovery=discovery)
