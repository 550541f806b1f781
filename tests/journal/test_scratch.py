"""The transform context on disk: a mapping like a dictionary, private, gone after the run."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from datetime import date
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from crm_ferry.journal import scratch as refstore
from crm_ferry.journal.scratch import RefStore
from crm_ferry.transform.context import ContextBuilder, SessionRef

keys = st.text(min_size=1, max_size=12)
refs = st.builds(
    SessionRef,
    id=keys,
    client_id=st.none() | keys,
    day=st.none() | st.dates(min_value=date(1990, 1, 1)),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(keys, refs), max_size=60), st.lists(keys, max_size=10))
def test_a_table_on_disk_answers_like_a_dictionary(
    tmp_path_factory: object, items: list[tuple[str, SessionRef]], probes: list[str]
) -> None:
    folder = tmp_path_factory.mktemp("runs")  # type: ignore[attr-defined]
    old = (refstore.SPILL_ABOVE, refstore.WRITE_BATCH, refstore.CACHE_SIZE)
    # small enough that the examples go to disk, flush and empty the cache
    refstore.SPILL_ABOVE, refstore.WRITE_BATCH, refstore.CACHE_SIZE = 10, 7, 5
    try:
        with RefStore(folder) as store:
            table = store.table("sessions")
            expected: dict[str, SessionRef] = {}
            for k, v in items:
                table[k] = v
                expected[k] = v
            for k in [*probes, *expected]:
                assert (k in table) == (k in expected)
                assert table.get(k) == expected.get(k)
            assert len(table) == len(expected)
            assert sorted(table) == sorted(expected)
    finally:
        refstore.SPILL_ABOVE, refstore.WRITE_BATCH, refstore.CACHE_SIZE = old


def test_the_store_is_private_and_removed_after_the_run(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    with RefStore(runs) as store:
        assert stat.S_IMODE(runs.stat().st_mode) == 0o700
        assert stat.S_IMODE(store.folder.stat().st_mode) == 0o700
        assert stat.S_IMODE((store.folder / "context.sqlite").stat().st_mode) == 0o600
        builder = ContextBuilder(store.table)
        builder.sessions["s1"] = SessionRef(id="s1", client_id="c1")
        context = builder.build()
        assert context.sessions["s1"].client_id == "c1"
        assert "s2" not in context.sessions
    assert list(runs.iterdir()) == []


def test_a_folder_left_by_a_killed_process_is_removed_by_the_next(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    orphan = runs / f"context-{gone.stdout.strip()}-abc"
    orphan.mkdir(parents=True)
    (orphan / "context.sqlite").write_bytes(b"names")
    mine = runs / f"context-{os.getpid()}-live"  # a live process's folder stays
    mine.mkdir()
    with RefStore(runs):
        assert not orphan.exists()
        assert mine.exists()
