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

from crm_ferry.dataverse.doctor import DoctorResult
from crm_ferry.emulator.app import EmulatorApp, EmulatorConfig
from crm_ferry.emulator.server import RunningServer, serve
from crm_ferry.errors import ConfigError, EmulatorError
from crm_ferry.progress import NO_PROGRESS, Progress
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
    settings: Settings,
    *,
    source: Path | None = None,
    rejects: Path | None = None,
    progress: Progress = NO_PROGRESS,
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
        progress=progress,
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


def emulator_serve(
    settings: Settings,
    *,
    config: EmulatorConfig | None = None,
    data_dir: Path | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> RunningServer:
    """Serve the Dataverse emulator over HTTP in the background; ``.shutdown()`` stops it.

    ``data_dir`` keeps the data in SQLite under that folder; without it, in memory.
    """
    app = EmulatorApp(config, data_dir=settings.resolve(data_dir) if data_dir else None)
    try:
        return serve(app, host=host, port=port)
    except BaseException:
        app.close()
        raise


def emulator_dump(
    settings: Settings, *, data_dir: Path, table: str | None = None
) -> dict[str, Any]:
    """Every row the emulator stored under ``data_dir`` (of one table, if given)."""
    folder = settings.resolve(data_dir)
    if not folder.is_dir():
        raise EmulatorError(
            f"no emulator data in {folder}",
            hint="pass the folder given to `crm-ferry emulator serve --data`",
        )
    with EmulatorApp(data_dir=folder) as app:
        return dict(app.dump(table))


def doctor(
    settings: Settings,
    *,
    transport: Any = None,
    bypass_custom_logic: bool = False,
) -> DoctorResult:
    """Check reachability, sign-in, WhoAmI, privileges and limits of the configured environment.

    ``transport`` (an ``httpx`` transport) lets tests and the demo talk to the emulator in
    process. The result's ``ok`` is false when a blocking problem was found.
    """
    from crm_ferry.dataverse.connect import (
        credential_from_settings,
        options_from_settings,
        require_environment,
    )
    from crm_ferry.dataverse.doctor import run_doctor

    url, _ = require_environment(settings)
    credential = credential_from_settings(settings, transport=transport)
    return run_doctor(
        url,
        credential,
        transport=transport,
        options=options_from_settings(settings),
        bypass_custom_logic=bypass_custom_logic,
    )
