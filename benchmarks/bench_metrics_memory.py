"""Memory of the store: 100 runs x 20 tags x 1M points each, RSS after.

    python benchmarks/bench_metrics_memory.py [--runs 100] [--tags 20] [--points 1000000]
        [--quick]

Two billion points cannot come from files in a benchmark of reasonable length, so they are
appended straight into :class:`MetricStore` in batches of ``--batch`` points (a random walk per
series, the shape a reader's poll hands over). The store keeps the newest points exact and
decimates older history by min/max, so its memory does not grow with the run length. RSS is
read from ``/proc/self/status`` (the whole process: Python, numpy, the store). Goal: <= 300 MB.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui.core.metrics import MetricStore  # noqa: E402

from markdown_table import markdown_table  # noqa: E402


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size in MB."""
    cur = peak = 0.0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    return cur, peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--tags", type=int, default=20)
    ap.add_argument("--points", type=int, default=1_000_000, help="points per series")
    ap.add_argument("--batch", type=int, default=100_000)
    ap.add_argument("--quick", action="store_true",
                    help="tiny sizes (2 runs x 2 tags x 20k points): checks it runs")
    args = ap.parse_args()
    if args.quick:
        args.runs, args.tags, args.points, args.batch = 2, 2, 20_000, 5_000
    base, _ = rss_mb()
    store = MetricStore()
    rng = np.random.default_rng(0)
    walk = rng.normal(size=args.batch).cumsum()
    steps = np.arange(args.batch, dtype=np.int64)
    t0 = time.perf_counter()
    total = 0
    for r in range(args.runs):
        run = "run%03d" % r
        for t in range(args.tags):
            tag = "group%d/tag%02d" % (t % 4, t)
            done = 0
            while done < args.points:
                n = min(args.batch, args.points - done)
                store.extend(run, tag, steps[:n] + done, walk[:n] + t,
                             1.7e9 + (steps[:n] + done) * 0.01)
                done += n
            total += done
        if r % 10 == 9:
            cur, _ = rss_mb()
            print("  %3d runs, %.2e points, RSS %.0f MB, %.0f s" % (
                r + 1, total, cur, time.perf_counter() - t0), flush=True)
    secs = time.perf_counter() - t0
    cur, peak = rss_mb()
    infos = store.tag_infos("run000")
    held = sum(i.held for i in infos) / len(infos)
    print()
    print(markdown_table(["measure", "value"], [
        ("runs x tags x points", "%d x %d x %d" % (args.runs, args.tags, args.points)),
        ("points appended", "{:,}".format(total)),
        ("points held per series", "%.0f" % held),
        ("series arrays (store)", "%.1f MB" % (store.memory_bytes() / 2 ** 20)),
        ("RSS before the store", "%.1f MB" % base),
        ("RSS after", "%.1f MB" % cur),
        ("peak RSS", "%.1f MB" % peak),
        ("time", "%.1f s (%s points/s appended)" % (secs, "{:,.0f}".format(total / secs))),
    ], right=(1,)))
    print()
    print("goal RSS <= 300 MB: %s (%.0f MB)" % ("met" if cur <= 300 else "NOT met", cur))
    t = min(5, args.tags - 1)
    snap = store.snapshot("run%03d" % (args.runs // 2), "group%d/tag%02d" % (t % 4, t))
    assert snap is not None and snap.seen == args.points and snap.steps[-1] == args.points - 1


if __name__ == "__main__":
    main()
