"""``crm-ferry demo``: the whole migration on a generated practice, against the emulator.

generate → tenant with the coaches invited → init → propose → confirm (a demo shortcut,
said so) → provision → sample and accept (shortcut) → migrate → verify → delta on a second
bundle with changes → rollback preview → references. Every step is the library call the
CLI verb makes; the emulator runs in process behind the real client.
"""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crm_ferry.commands.discover import discover
from crm_ferry.commands.emulator import embedded_client
from crm_ferry.commands.mapping import init, map_confirm, map_propose
from crm_ferry.commands.migrate import delta, migrate
from crm_ferry.commands.provision import provision
from crm_ferry.commands.references import references
from crm_ferry.commands.rollback import rollback
from crm_ferry.commands.sample import sample, sample_accept
from crm_ferry.commands.verify import verify
from crm_ferry.emulator import EmulatorApp
from crm_ferry.mapping.spec import MAP_FILE, MapDocument
from crm_ferry.model import User
from crm_ferry.progress import NO_PROGRESS, Progress
from crm_ferry.settings import Settings
from crm_ferry.sources.bundle import open_bundle
from crm_ferry.sources.generator import generate_bundle

__all__ = [
    "DemoFlow",
    "DemoStep",
    "demo",
    "invite_coaches",
    "shortcut_confirm",
    "write_changed_bundle",
]

SHORTCUT_BY = "crm-ferry demo (shortcut: no person reviewed this)"
FALLBACK_OWNER = "casey.coach@crmferry.onmicrosoft.com"


@dataclass
class DemoStep:
    name: str
    seconds: float
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.name, "seconds": round(self.seconds, 2), "detail": self.detail}


@dataclass
class DemoFlow:
    workdir: Path
    steps: list[DemoStep] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    reports: dict[str, str] = field(default_factory=dict)
    shortcuts: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "workdir": str(self.workdir),
            "steps": [s.as_dict() for s in self.steps],
            "shortcuts": self.shortcuts,
            "reports": self.reports,
            "results": {k: v.as_dict() for k, v in self.results.items()},
        }


def invite_coaches(app: EmulatorApp, bundle: Path) -> list[str]:
    """Make the tenant look like one whose administrator invited the practice's coaches:
    most by the same e-mail, one only under a different mailbox with the coach's address as
    UPN, one disabled, and the rest (and coaches without an e-mail) not invited at all."""
    notes: list[str] = []
    with open_bundle(bundle) as b:
        users = [u for u in b.read("users") if isinstance(u, User) and u.email]
    for i, u in enumerate(users):
        email = str(u.email)
        first, last = u.first_name or "Coach", u.last_name or str(i)
        if i % 5 == 1:
            app.add_user(first, last, f"{first.lower()}@crmferry.onmicrosoft.com", upn=email)
            notes.append(f"{email}: invited under another mailbox, UPN = their address")
        elif i % 5 == 3:
            app.add_user(first, last, email, disabled=True)
            notes.append(f"{email}: invited, account disabled")
        elif i % 5 == 4:
            notes.append(f"{email}: not invited")
        else:
            app.add_user(first, last, email)
    return notes


def shortcut_confirm(project: Path) -> list[str]:
    """What a person would decide, decided by the demo and said so: a fallback owner for
    coaches without a usable user, and an industry for verticals without a matching label."""
    path = project / MAP_FILE
    doc = MapDocument.load(path)
    done: list[str] = []
    owners = doc.data.get("owners")
    if owners is not None and not owners.get("fallback"):
        owners["fallback"] = FALLBACK_OWNER
        done.append(f"owners.fallback = {FALLBACK_OWNER}")
    vertical = doc.data.get("value_maps", {}).get("vertical", {}).get("values", {})
    for key in list(vertical):
        if vertical[key] is None:
            vertical[key] = 6  # Business Services
            done.append(f"vertical {key!r} → industrycode 6 (Business Services)")
    doc.save(path)
    return done


def write_changed_bundle(src: Path, dst: Path, *, changes: int = 5) -> dict[str, list[str]]:
    """A copy of a generated bundle as it would look at cutover: some clients and sessions
    changed (with a later ``updated_at``), new clients, and activities gone."""
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    what: dict[str, list[str]] = {"changed": [], "added": [], "removed": []}
    stamp = "2026-11-20T09:00:00"
    with (dst / "clients.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    head = rows[0]
    col = {name: i for i, name in enumerate(head)}
    body = rows[1:]
    for row in body[:changes]:
        row[col["phone"]] = "(555) 010-" + row[col["id"]][-4:]
        row[col["updated_at"]] = stamp
        what["changed"].append(f"clients/{row[col['id']]}")
    for n in range(2):
        clone = list(body[n])
        clone[col["id"]] = f"cli_9{n:05d}"
        clone[col["email"]] = f"new.client{n}@example.com"
        clone[col["created_at"]] = stamp
        clone[col["updated_at"]] = stamp
        body.append(clone)
        what["added"].append(f"clients/{clone[col['id']]}")
    with (dst / "clients.csv").open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh, lineterminator="\r\n").writerows([head, *body])
    acts = dst / "activities.jsonl"
    if acts.exists():
        lines = acts.read_text(encoding="utf-8").splitlines()
        kept = lines[2:]
        for line in lines[:2]:
            what["removed"].append(f"activities/{json.loads(line)['id']}")
        acts.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    return what


def demo(
    settings: Settings,
    *,
    workdir: Path | None = None,
    clients: int = 200,
    progress: Progress = NO_PROGRESS,
    on_step: Callable[[DemoStep], None] | None = None,
) -> DemoFlow:
    """The whole migration on a generated bundle against the embedded emulator:
    generate, discover, propose, confirm (a demo shortcut), provision, sample, migrate,
    verify, delta, rollback preview and references."""
    base = (
        settings.resolve(workdir)
        if workdir is not None
        else Path(tempfile.mkdtemp(prefix="crm-ferry-demo-"))
    )
    base.mkdir(parents=True, exist_ok=True)
    flow = DemoFlow(base)
    clock = time.perf_counter()

    def step(name: str, detail: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        s = DemoStep(name, now - clock, detail)
        clock = now
        flow.steps.append(s)
        if on_step is not None:
            on_step(s)

    bundle = base / "bundle"
    generated = generate_bundle(bundle, clients=clients, seed=7)
    flow.results["generate"] = generated
    step("generate", f"{clients} clients, {sum(generated.files.values()):,} rows → {bundle}")
    project = base / "project"
    with EmulatorApp() as app, embedded_client(app) as client:
        notes = invite_coaches(app, bundle)
        step("tenant", f"emulator at {app.base_url}; coaches invited ({len(notes)} special)")
        init(settings, directory=project, source=str(bundle))
        ps = Settings.load(project)
        discovery = discover(ps, progress=progress)
        flow.results["discover"] = discovery
        step("discover", f"{sum(o.accepted for o in discovery.objects.values()):,} records read")
        proposed = map_propose(ps, client=client)
        flow.results["propose"] = proposed
        step("propose", f"map written to {project / MAP_FILE}")
        flow.shortcuts = shortcut_confirm(project)
        confirmed = map_confirm(ps, by=SHORTCUT_BY, client=client, accept_low_confidence=True)
        if confirmed.low_confidence:
            flow.shortcuts.append(
                f"{len(confirmed.low_confidence)} line(s) under the threshold accepted as they are"
            )
        flow.results["confirm"] = confirmed
        step("confirm", "demo shortcut: " + ("; ".join(flow.shortcuts) or "nothing to decide"))
        provisioned = provision(ps, client=client)
        flow.results["provision"] = provisioned
        step("provision", "custom tables, columns, choices and keys created")
        sampled = sample(ps, client=client, progress=progress)
        flow.results["sample"] = sampled
        flow.reports["sample"] = str(sampled.report.html)
        sample_accept(ps, by=SHORTCUT_BY)
        step("sample", f"{sampled.selection.size} records; accepted (demo shortcut)")
        migrated = migrate(ps, client=client, progress=progress)
        flow.results["migrate"] = migrated
        step("migrate", f"{migrated.records:,} records, {migrated.requests:,} requests")
        verified = verify(ps, client=client)
        flow.results["verify"] = verified
        flow.reports["verify"] = str(verified.report.html)
        step("verify", f"{verified.proof.differences} difference(s)")
        changed = base / "bundle-cutover"
        what = write_changed_bundle(bundle, changed)
        delta_run = delta(ps, source=changed, client=client, progress=progress)
        flow.results["delta"] = delta_run
        step(
            "delta",
            f"{len(what['changed'])} changed, {len(what['added'])} added, "
            f"{len(what['removed'])} removed in the source",
        )
        preview = rollback(ps, all_runs=True, preview=True, client=client)
        flow.results["rollback_preview"] = preview
        step("rollback preview", "what `crm-ferry rollback --all` would undo (nothing undone)")
        refs = references(ps)
        flow.results["references"] = refs
        flow.reports["references"] = str(refs.out_dir)
        step("references", f"rebuild guides and data dictionary in {refs.out_dir}")
    return flow
