"""Checkpoint saved -> in the TUI's checkpoint listing of the run in view.

    python benchmarks/bench_checkpoint_listed.py [--saves 100] [--quick]

A run directory as the launcher makes it; the TUI's ``CheckpointIndex`` tracks it as it tracks
the run in view (watchdog on a local filesystem). A writer saves checkpoints with the protocol's
atomic ``save_checkpoint`` (100 kB each) at random 50-150 ms intervals; for each, the time from
``save_checkpoint`` returning to the index's change callback with a listing that holds it (the
UI redraws the list on that callback). Goal: p95 <= 200 ms (the run view shows a new checkpoint
within 200 ms of its save).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import logging
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runners.protocol import (ProcessSpec, RunRecord, create_run_dir,  # noqa: E402
                              save_checkpoint, write_run_record)
from tui.core.checkpoint_index import CheckpointIndex  # noqa: E402

from markdown_table import markdown_table  # noqa: E402

GOAL_P95_S = 0.2


def make_run(root: Path) -> Path:
    when = _dt.datetime.now()
    run = create_run_dir(root, "Bench", when)
    spec = ProcessSpec(role="train", argv=["python", "-m", "runners.mujoco", "train"],
                       cwd=str(run))
    write_run_record(run, RunRecord(name=run.name, experiment="Bench",
                                    profile_name="mujoco/inverted_pendulum", backend="mujoco",
                                    params={}, processes=[spec], created_at=when.isoformat()))
    return run


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--saves", type=int, default=100)
    ap.add_argument("--quick", action="store_true", help="10 saves")
    a = ap.parse_args()
    saves = 10 if a.quick else a.saves
    logging.getLogger("watchdog").setLevel(logging.ERROR)   # its note on stopping an observer
    tmp = Path(tempfile.mkdtemp(prefix="pitwall-bench-ckpt-"))
    run = make_run(tmp / "runs")
    listed: dict[str, float] = {}
    changed = threading.Condition()

    def on_change(run_dir: Path) -> None:
        now = time.monotonic()
        snap = index.get(run_dir)
        with changed:
            for c in snap.history if snap else []:
                listed.setdefault(c.name, now)
            changed.notify_all()

    index = CheckpointIndex(on_change=on_change).start()
    lat = []
    missed = 0
    try:
        index.track(run)
        rng = random.Random(0)
        for k in range(saves):
            time.sleep(rng.uniform(0.05, 0.15))
            name = save_checkpoint(run, lambda f: f.write(b"\0" * 100_000), 1000 + k).name
            saved = time.monotonic()
            with changed:
                if not changed.wait_for(lambda: name in listed, timeout=5.0):
                    missed += 1
                    continue
            lat.append(max(0.0, listed[name] - saved))
    finally:
        index.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    ms = [x * 1e3 for x in lat]
    p95 = pct(ms, 95) if ms else float("nan")
    print("checkpoint saved -> listed by the TUI's index (watchdog), %d saves of 100 kB, "
          "%d not listed within 5 s\n" % (saves, missed))
    print(markdown_table(["measure", "n", "p50 ms", "p95 ms", "max ms", "goal", "met"],
                         [["save -> listed", len(ms),
                           "%.1f" % statistics.median(ms) if ms else "-", "%.1f" % p95,
                           "%.1f" % max(ms) if ms else "-", "p95 <= %d ms" % (GOAL_P95_S * 1e3),
                           "yes" if ms and not missed and p95 <= GOAL_P95_S * 1e3 else "NO"]],
                         right=(1, 2, 3, 4)))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
