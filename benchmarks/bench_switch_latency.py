"""State-file write → viewer ack latency of the mujoco runner's play process.

Makes a run the control center's way (profile → run.json), trains it briefly with the real
runner so that nn/ holds several checkpoints, starts a real ``play`` process, then makes N manual
switches between existing checkpoints: ``write_state(run_dir, "manual", ckpt)`` and a 1 ms poll
of ``.viewer/<id>.json`` until the viewer acks that ``seq``. Prints p50/p95/p99/max.

    python benchmarks/bench_switch_latency.py [--switches 100] [--no-realtime] [--keep]
        [--quick]

Exits 1 when a viewer acked the wrong checkpoint, or (full size only) when the goal is missed.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from runners.protocol import (ProcessSpec, RunPaths, RunRecord, create_run_dir,  # noqa: E402
                              list_checkpoints, now_iso, read_viewer_status, write_run_record,
                              write_state)
from tui.core.profiles import resolve_profile  # noqa: E402

PROFILE = REPO / "configs" / "mujoco" / "inverted_pendulum.yaml"
TRAIN = ["total_steps=4096", "num_envs=4", "rollout_steps=64", "save_every=2",
         "ppo.epochs=2", "ppo.minibatches=2"]
GOAL_P95_MS = 25.0    # the toolkit's player notices a write within an env step, loads off-loop
GOAL_P99_MS = 50.0


def make_run(root: Path, overrides: list[str]) -> Path:
    rp = resolve_profile(str(PROFILE), overrides)
    run_dir = create_run_dir(root, rp.experiment)
    argv = [sys.executable, "-m", "runners.mujoco", "train", "--run-dir", str(run_dir)]
    write_run_record(run_dir, RunRecord(
        name=run_dir.name, experiment=rp.experiment, profile_name=rp.name,
        backend=rp.profile.backend, params=rp.params,
        processes=[ProcessSpec(role="train", argv=argv, cwd=str(REPO))],
        created_at=now_iso(), profile_path=str(rp.path), overrides=overrides))
    return run_dir


def start(run_dir: Path, role: str, *args: str) -> subprocess.Popen:
    log = RunPaths(run_dir).log_file(role)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "runners.mujoco"] + list(args)
                                + ["--run-dir", str(run_dir)], cwd=str(REPO),
                                start_new_session=True, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT)


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(q / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--switches", type=int, default=100)
    ap.add_argument("--no-realtime", action="store_true",
                    help="viewer steps as fast as it can instead of at the env's dt")
    ap.add_argument("--keep", action="store_true", help="keep the run directory")
    ap.add_argument("--quick", action="store_true",
                    help="tiny sizes (a 512-step training, 5 switches): checks it runs; the "
                         "goal is not judged")
    args = ap.parse_args()
    train = TRAIN
    if args.quick:
        args.switches = 5
        train = [o for o in TRAIN if not o.startswith(("total_steps=", "save_every="))] + \
            ["total_steps=512", "save_every=1"]

    root = Path(tempfile.mkdtemp(prefix="pitwall-bench-switch-"))
    overrides = train + (["play.realtime=false"] if args.no_realtime else [])
    run_dir = make_run(root, overrides)
    play = None
    try:
        train = start(run_dir, "train", "train")
        if train.wait(timeout=300) != 0:
            print("training failed; see", RunPaths(run_dir).log_file("train"))
            return 1
        ckpts = [c.path for c in list_checkpoints(RunPaths(run_dir).nn_dir) if not c.is_latest]
        play = start(run_dir, "play-bench", "play", "--viewer-id", "bench")
        deadline = time.monotonic() + 120
        while True:
            st = read_viewer_status(run_dir, "bench")
            if st is not None and st.state == "running":
                break
            if play.poll() is not None or time.monotonic() > deadline:
                print("viewer did not start; see", RunPaths(run_dir).log_file("play-bench"))
                return 1
            time.sleep(0.01)

        total_ms, write_ms, errors = [], [], 0
        for i in range(args.switches):
            target = ckpts[i % len(ckpts)]
            t0 = time.perf_counter()
            req = write_state(run_dir, "manual", target)
            t1 = time.perf_counter()
            deadline = t1 + 10
            while True:
                st = read_viewer_status(run_dir, "bench")
                if st is not None and st.seq == req.seq:
                    break
                if time.perf_counter() > deadline:
                    print("switch %d: no ack within 10 s" % i)
                    return 1
                time.sleep(0.001)
            t2 = time.perf_counter()
            if st.error or Path(st.checkpoint_path or "") != target:
                errors += 1
                if os.environ.get("PITWALL_BENCH_DEBUG"):
                    print("wrong ack for %s: %s" % (target.name, st))
            total_ms.append((t2 - t0) * 1000)
            write_ms.append((t1 - t0) * 1000)
    finally:
        if play is not None and play.poll() is None:
            os.killpg(play.pid, signal.SIGINT)
            play.wait(timeout=30)
        if args.keep:
            print("run directory kept:", run_dir)
        else:
            shutil.rmtree(root, ignore_errors=True)

    ack_ms = [t - w for t, w in zip(total_ms, write_ms)]
    print()
    print("manual switches between %d checkpoints, viewer %s, %d switches, %d wrong acks"
          % (len(ckpts), "as fast as possible" if args.no_realtime else "in real time (dt 0.04 s)",
             len(total_ms), errors))
    print()
    print("| measure                         |   p50 ms |   p95 ms |   p99 ms |   max ms |")
    print("|---------------------------------|---------:|---------:|---------:|---------:|")
    for name, vals in (("write_state (lock+write+fsync)", write_ms),
                       ("write returned -> ack", ack_ms),
                       ("write start -> ack (total)", total_ms)):
        print("| %-31s | %8.1f | %8.1f | %8.1f | %8.1f |"
              % (name, pct(vals, 50), pct(vals, 95), pct(vals, 99), max(vals)))
    p95, p99 = pct(total_ms, 95), pct(total_ms, 99)
    met = p95 <= GOAL_P95_MS and p99 <= GOAL_P99_MS
    print()
    print("mean %.1f ms; goal p95 <= %.0f ms and p99 <= %.0f ms: %s"
          % (statistics.mean(total_ms), GOAL_P95_MS, GOAL_P99_MS, "met" if met else "MISSED"))
    return 0 if (met or args.quick) and errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
