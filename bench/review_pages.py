"""Benchmark: the review page on a large practice.

Builds a project as ``crm-ferry demo`` does (generate ``--clients`` clients, default 5,000;
invite the coaches; ``map propose``) against the embedded emulator, serves its review page
on loopback and measures, over HTTP as a browser asks:

- the background read at start (the export's profile and its search index, the tenant),
  which every page needing the export would otherwise pay on each request;
- the overview (``GET /``, no export needed: the baseline of the server's own cost);
- the map page, a value-map edit (save, re-check, the review area rendered again), a search
  by name and a client's preview, each the median of ``--repeat`` requests after the read,
  with its ratio to the baseline.

The browser's own time to open the map page (parse and layout included) is asserted in
``tests/review/test_large_project_browser.py`` (under 2 s).

    python bench/review_pages.py                  # 5,000 clients
    python bench/review_pages.py --clients 1000 --repeat 9
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from crm_ferry import commands
from crm_ferry.commands.demo import invite_coaches
from crm_ferry.commands.emulator import embedded_client
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.emulator import EmulatorApp
from crm_ferry.mapping.spec import MapDocument
from crm_ferry.review import ReviewServer, ReviewState
from crm_ferry.review.guard import TOKEN_HEADER
from crm_ferry.settings import Settings
from crm_ferry.sources.generator import generate_bundle
from machine import machine


def timed(fn: Callable[[], httpx.Response], repeat: int) -> float:
    """The median seconds of ``repeat`` calls of ``fn`` (each must answer 2xx)."""
    took = []
    for _ in range(repeat):
        t = time.perf_counter()
        answer = fn()
        took.append(time.perf_counter() - t)
        answer.raise_for_status()
    return statistics.median(took)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory(prefix="review-bench-") as tmp:
        base = Path(tmp)
        t = time.perf_counter()
        generate_bundle(base / "bundle", clients=args.clients, seed=5)
        with EmulatorApp(data_dir=base / "data") as app, embedded_client(app) as client:
            invite_coaches(app, base / "bundle")
            commands.init(Settings.load(base), directory=base / "project", source="../bundle")
            settings = Settings.load(base / "project")
            commands.map_propose(settings, client=client)
            took = time.perf_counter() - t
            print(f"{args.clients:,} clients generated and proposed in {took:.0f} s")
            measure(settings, client, args.repeat, args.clients)


def measure(settings: Settings, client: DataverseClient, repeat: int, last: int) -> None:
    """The timings of the review page of ``settings``' project (``last``: the number of
    its export's last client)."""
    doc = MapDocument.load(settings.project_dir / "mapping.yaml")
    vm_name, vm = next(
        (name, node)
        for name, node in (doc.data.get("value_maps") or {}).items()
        if node.get("values")
    )
    value, option = next(iter(vm["values"].items()))
    state = ReviewState(settings, client)
    t = time.perf_counter()
    with ReviewServer(state) as server:
        warm = state.wait_warm(600)
        read = time.perf_counter() - t
        assert warm, "the background read did not end"
        headers = {TOKEN_HEADER: state.token}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=120) as web:
            baseline = timed(lambda: web.get("/"), repeat)
            rows = [
                ("the map page", lambda: web.get("/map")),
                (
                    f"a value-map edit ({vm_name})",
                    lambda: web.post(
                        "/map/value",
                        data={"value_map": vm_name, "value": str(value), "option": str(option)},
                        headers={"accept": "text/html; fragment=1"},  # as review.js asks
                    ),
                ),
                ("a search by name", lambda: web.get("/preview", params={"q": "nelson"})),
                ("a client's preview (the 43rd)", lambda: web.get("/preview/clients/cli_000042")),
                (
                    "the last client's preview",
                    lambda: web.get(f"/preview/clients/cli_{last:06d}"),
                ),
            ]
            print(f"background read at start (profile, index, tenant) {read:8.2f} s")
            print(f"{'the overview (baseline)':<40} {baseline * 1000:8.0f} ms")
            for name, fn in rows:
                took = timed(fn, repeat)
                print(f"{name:<40} {took * 1000:8.0f} ms {took / baseline:7.1f}x baseline "
                      f"{took / read:7.1%} of the read")  # fmt: skip


if __name__ == "__main__":
    main()
