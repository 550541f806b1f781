from __future__ import annotations

from collections import Counter
from pathlib import Path

from crm_ferry.sources.discover import discover_source
from crm_ferry.sources.generator import generate_bundle


class Recorder:
    def __init__(self) -> None:
        self.done: Counter[str] = Counter()
        self.started: list[str] = []
        self.finished: list[str] = []

    def start(self, task: str, total: int | None = None) -> None:
        self.started.append(task)

    def advance(self, task: str, amount: int = 1) -> None:
        self.done[task] += amount

    def finish(self, task: str) -> None:
        self.finished.append(task)


def test_progress_counts_every_row_read(tmp_path: Path) -> None:
    bundle = generate_bundle(tmp_path / "b", clients=60, seed=3).out
    rec = Recorder()
    result = discover_source(bundle, progress=rec)
    assert rec.started == rec.finished == list(result.objects)
    assert {o: n for o, n in rec.done.items() if n} == {
        name: s.read for name, s in result.objects.items() if s.read
    }
