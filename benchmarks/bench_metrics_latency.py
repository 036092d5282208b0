"""Append -> visible in the store: latency of each source kind under the watcher thread.

    python benchmarks/bench_metrics_latency.py [--points 200] [--idle-runs 50] [--quick]

One run directory (a ``run.json`` declaring a jsonl, a tensorboard, a csv and a stdout source)
gets points appended by a writer, one at a time at random 10-60 ms intervals, round-robin over
the four kinds; ``--idle-runs`` other runs are watched too (their sources polled as well). For
each point the time from the end of the write (flushed to the file) until ``store.latest()``
shows it is recorded. The watcher runs with its default configuration (local filesystem).
Goal: p95 <= 100 ms.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runners.protocol import MetricRecord, ProcessSpec, RunRecord, write_run_record  # noqa: E402
from runners.protocol.atomic import append_line  # noqa: E402
from tui.core.metric_specs import (CsvSource, JsonlSource, StdoutSource,  # noqa: E402
                                   TensorBoardSource)
from tui.core.metrics import MetricStore, MetricsWatcher, RunMetrics, WatchConfig  # noqa: E402

from markdown_table import markdown_table  # noqa: E402

KINDS = ["jsonl", "tensorboard", "csv", "stdout"]
TAGS = {"jsonl": "j/x", "tensorboard": "tb/x", "csv": "c/x", "stdout": "critic_loss"}


def make_run(root: Path, name: str) -> Path:
    d = root / name
    (d / "logs").mkdir(parents=True)
    specs = [JsonlSource(kind="jsonl"), TensorBoardSource(kind="tensorboard"),
             CsvSource(kind="csv", path="log.csv", prefix="c/"),
             StdoutSource(kind="stdout", preset="hybrid_sac")]
    write_run_record(d, RunRecord(
        name=name, experiment="Bench", profile_name="bench", backend="bench", params={},
        created_at="2026-01-01T00:00:00",
        processes=[ProcessSpec(role="train", argv=["true"], cwd=str(d))],
        profile={"metrics": [s.model_dump(mode="json") for s in specs]}))
    (d / "log.csv").write_text("step,x\n")
    (d / "metrics.jsonl").write_text("")
    (d / "logs" / "train.log").write_text("")
    return d


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=200, help="points per kind")
    ap.add_argument("--idle-runs", type=int, default=50)
    ap.add_argument("--quick", action="store_true",
                    help="tiny sizes (5 points per kind, 2 idle runs): checks it runs")
    args = ap.parse_args()
    if args.quick:
        args.points, args.idle_runs = 5, 2
    from torch.utils.tensorboard import SummaryWriter

    root = Path(tempfile.mkdtemp(prefix="pitwall-bench-latency-"))
    try:
        active = make_run(root, "Active_2026-01-01_00-00-00")
        store = MetricStore()
        watcher = MetricsWatcher(store, WatchConfig())
        for i in range(args.idle_runs):
            watcher.add(RunMetrics.for_run_dir(make_run(root, "Idle%03d_2026-01-01_00-00-00" % i)))
        run = RunMetrics.for_run_dir(active)
        watcher.add(run)
        tbw = SummaryWriter(str(active / "tb"), flush_secs=3600)
        lat: dict[str, list[float]] = {k: [] for k in KINDS}
        rnd = random.Random(0)
        with watcher:
            for i in range(1, args.points * len(KINDS) + 1):
                kind = KINDS[i % len(KINDS)]
                time.sleep(rnd.uniform(0.010, 0.060))
                if kind == "jsonl":
                    append_line(active / "metrics.jsonl",
                                MetricRecord(i, time.time(), "train", {"j/x": i}).to_line())
                elif kind == "tensorboard":
                    tbw.add_scalar("tb/x", i, i)
                    tbw.flush()
                elif kind == "csv":
                    append_line(active / "log.csv", "%d,%d" % (i, i))
                else:
                    append_line(active / "logs" / "train.log", "Step %d: critic_loss=%d" % (i, i))
                t0 = time.perf_counter()
                tag = TAGS[kind]
                while True:
                    p = store.latest(run.name, tag)
                    if p is not None and p.step == i:
                        break
                    if time.perf_counter() - t0 > 10:
                        raise SystemExit("point %d (%s) not visible after 10 s" % (i, kind))
                    time.sleep(0.0002)
                lat[kind].append((time.perf_counter() - t0) * 1000)
        tbw.close()
        problems = store.status(run.name).problems()
        print("watched runs: %d (1 active, %d idle); poll interval %.0f ms (active), %.1f s "
              "(idle)" % (args.idle_runs + 1, args.idle_runs, watcher.config.interval * 1000,
                          watcher.config.idle_interval))
        print()
        everything: list[float] = []
        rows = []
        for k in KINDS + ["all"]:
            xs = lat[k] if k != "all" else everything
            rows.append([k, len(xs)] + ["%.1f" % v for v in (pct(xs, 50), pct(xs, 95),
                                                             pct(xs, 99), max(xs))])
            if k != "all":
                everything += xs
        print(markdown_table(["source", "points", "p50 ms", "p95 ms", "p99 ms", "max ms"], rows,
                             right=(1, 2, 3, 4, 5)))
        print()
        p95 = pct(everything, 95)
        print("goal p95 <= 100 ms: %s (%.1f ms)" % ("met" if p95 <= 100 else "NOT met", p95))
        if problems:
            print("source problems:", problems)
        print("cpu: %s, load average %s" % (os.cpu_count(),
                                            " ".join("%.2f" % x for x in os.getloadavg())))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
