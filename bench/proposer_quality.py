"""Map proposer quality on the labelled set (``helpers.mapping_variants``), against the emulator.

    .venv/bin/python bench/proposer_quality.py

Prints one line per variant (headers scored, expected mappings, proposals made, correct,
precision, recall, the headers the reader does not resolve by itself, wrong proposals at or
above the confirm threshold) and the totals, then every wrong or missed decision.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the labelled set

from crm_ferry.commands.emulator import embedded_client
from crm_ferry.emulator import EmulatorApp
from crm_ferry.mapping.matcher import propose
from crm_ferry.mapping.profile import profile_source
from crm_ferry.sources.bundle import open_bundle
from helpers.mapping_variants import VARIANTS, build_variant, score

THRESHOLD = 0.8


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp, EmulatorApp() as app, embedded_client(app) as c:
        for v in VARIANTS:
            built = build_variant(v, Path(tmp))
            t0 = time.perf_counter()
            with open_bundle(built.path) as bundle:
                prof = profile_source(bundle)
            t1 = time.perf_counter()
            proposal = propose(prof, c.metadata, threshold=THRESHOLD)
            t2 = time.perf_counter()
            hard = {
                (obj, col.header)
                for obj, op in prof.objects.items()
                for col in op.columns
                if col.field is None
            }
            s = score(v.name, proposal, built.expected, hard)
            rows.append((v, built, s, t1 - t0, t2 - t1))
    head = (
        f"{'variant':24} {'headers':>7} {'expected':>8} {'proposed':>8} {'correct':>7} "
        f"{'precision':>9} {'recall':>6} {'unknown hdrs ok':>15} {'wrong>=thr':>10} "
        f"{'profile ms':>10} {'propose ms':>10}"
    )
    print(head)
    print("-" * len(head))
    tot = [0, 0, 0, 0, 0, 0, 0]
    for v, built, s, tp, tq in rows:
        bad = sum(1 for w in s.wrong if w[4] >= THRESHOLD)
        print(
            f"{v.name:24} {len(built.expected):7d} {s.expected_mapped:8d} {s.proposals:8d} "
            f"{s.correct:7d} {s.precision:9.3f} {s.recall:6.3f} "
            f"{f'{s.hard_correct}/{s.hard_expected}':>15} {bad:10d} "
            f"{tp * 1000:10.0f} {tq * 1000:10.0f}"
        )
        for i, n in enumerate(
            (
                len(built.expected),
                s.expected_mapped,
                s.proposals,
                s.correct,
                s.hard_correct,
                s.hard_expected,
                bad,
            )
        ):
            tot[i] += n
    print("-" * len(head))
    precision = tot[3] / tot[2] if tot[2] else 1.0
    recall = tot[3] / tot[1] if tot[1] else 1.0
    print(
        f"{'total':24} {tot[0]:7d} {tot[1]:8d} {tot[2]:8d} {tot[3]:7d} {precision:9.3f} "
        f"{recall:6.3f} {f'{tot[4]}/{tot[5]}':>15} {tot[6]:10d}"
    )
    for _, _, s, _, _ in rows:
        for obj, header, got, want, conf, reason in s.wrong:
            print(
                f"wrong  {s.name}: {obj}.{header!r} -> {got} (expected {want}) {conf:.2f} {reason}"
            )
        for obj, header, want, reason in s.missed:
            print(f"missed {s.name}: {obj}.{header!r} (expected {want}) {reason}")


if __name__ == "__main__":
    main()
