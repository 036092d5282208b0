"""Switch latency of a headless viewer: from the state-file write to the first frame rendered
with the new policy (its preview frame names the new checkpoint), p50/p95, for checkpoints of
about 40 KB, 8 MB and 35 MB. Goal: p95 <= 150 ms under 50 MB.

The viewer is ``python -m runners.mujoco play --display none`` on InvertedPendulum-v5 in real
time (the profile's default); each switch alternates between two checkpoints of the same size.
"load" is when the viewer's ack names the request (file read, weights checked, policy built);
"first frame" is the render time the new checkpoint's first preview frame carries.

    python benchmarks/bench_playback_switch.py [--switches 30] [--quick]
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from runners.mujoco.normalize import ObsNormalizer  # noqa: E402
from runners.mujoco.policy import ActorCritic  # noqa: E402
from runners.protocol import (ProcessSpec, RunRecord, create_run_dir, now_iso,  # noqa: E402
                              read_preview, read_viewer_status, save_torch_checkpoint,
                              write_run_record, write_state)

SIZES = (("~40 KB", [64, 64]), ("~8 MB", [1024, 1024]), ("~35 MB", [2048, 2048]))
PARAMS = {"env_id": "InvertedPendulum-v5", "total_steps": 1,
          "play": {"deterministic": True, "realtime": True, "preview_hz": 4}}


def checkpoint(run: Path, step: int, hidden: list[int], seed: int) -> Path:
    torch.manual_seed(seed)
    model = ActorCritic(4, 1, hidden)
    payload = {"runner": "mujoco", "env_id": "InvertedPendulum-v5", "obs_dim": 4, "act_dim": 1,
               "hidden": hidden, "step": step, "model": model.state_dict(),
               "obs_norm": ObsNormalizer((4,)).state_dict()}
    return save_torch_checkpoint(run, payload, step)


def wait(cond, timeout: float, what: str, poll: float = 0.002):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(poll)
    raise RuntimeError("timed out waiting for %s" % what)


def bench(root: Path, label: str, hidden: list[int], switches: int) -> dict:
    run = create_run_dir(root, "Bench")
    write_run_record(run, RunRecord(name=run.name, experiment="Bench", profile_name="bench",
                                    backend="mujoco", params=PARAMS, created_at=now_iso(),
                                    processes=[ProcessSpec(role="train", argv=["true"],
                                                                cwd=str(run))]))
    a = checkpoint(run, 100, hidden, 1)
    b = checkpoint(run, 200, hidden, 2)
    req = write_state(run, "manual", a)
    log = open(run / "viewer.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "runners.mujoco", "play", "--run-dir",
                             str(run), "--viewer-id", "bench", "--display", "none"],
                            cwd=str(REPO), stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    loads, frames = [], []
    try:
        wait(lambda: (lambda f: f is not None and f.checkpoint == str(a))(
            read_preview(run, "bench")), 120, "the viewer's first frame")
        for i in range(switches):
            target = b if i % 2 == 0 else a
            time.sleep(0.3)                       # let the viewer settle between switches
            t0 = time.time()
            req = write_state(run, "manual", target)
            f = wait(lambda: (lambda f: f if f is not None and f.checkpoint == str(target)
                              else None)(read_preview(run, "bench")), 10, "the new frame")
            ack = read_viewer_status(run, "bench")
            assert ack is not None and ack.seq == req.seq and ack.error is None, ack
            frames.append(f.time - t0)
            loads.append(max(0.0, _loaded_at(ack) - t0))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
        log.close()
    return {"label": label, "mb": os.path.getsize(a) / 1e6, "load": np.array(loads) * 1000,
            "frame": np.array(frames) * 1000}


def _loaded_at(ack) -> float:
    import datetime as _dt

    return _dt.datetime.fromisoformat(ack.loaded_at).timestamp()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--switches", type=int, default=30)
    ap.add_argument("--quick", action="store_true",
                    help="tiny sizes (the ~40 KB checkpoint only, 2 switches): checks it runs")
    args = ap.parse_args()
    sizes = SIZES[:1] if args.quick else SIZES
    if args.quick:
        args.switches = 2
    os.environ.setdefault("MUJOCO_GL", "egl")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, hidden in sizes:
            rows.append(bench(Path(tmp), label, hidden, args.switches))
    print("Switch latency, headless viewer (--display none), InvertedPendulum-v5 in real time "
          "(dt 40 ms), %d switches per size, %d cores" % (args.switches, os.cpu_count() or 0))
    print()
    print("| checkpoint | file MB | load p50 / p95 (ms) | first frame p50 / p95 (ms) | "
          "max (ms) | goal p95 <= 150 ms |")
    print("|---|---:|---:|---:|---:|---|")
    for r in rows:
        p = np.percentile
        print("| %s | %.2f | %.0f / %.0f | %.0f / %.0f | %.0f | %s |"
              % (r["label"], r["mb"], p(r["load"], 50), p(r["load"], 95), p(r["frame"], 50),
                 p(r["frame"], 95), r["frame"].max(),
                 "met" if p(r["frame"], 95) <= 150 else "MISSED"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
