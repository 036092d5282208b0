"""Slurm: from ``pitwall launch --slurm`` to a running job, and from a checkpoint written on
the "node" to the core listing it on a polled run directory.

Each launch is the real CLI (``pitwall launch mujoco/inverted_pendulum --slurm``) against a
real Slurm; the core's registry (squeue/sacct, the roles' records) is polled every 50 ms for
the job running, the roles running, and the first metric. Then a CheckpointIndex tracks the
run as it tracks any Slurm run (no inotify, a signature poll every ``remote_poll_interval``)
and each checkpoint the trainer saves (one per update) is timed from its file's mtime to the
index's listing. Slurm: ``$SLURM_CONF`` when ``sinfo`` answers, else (as root) a throw-away
single node from ``scripts/slurm_local.sh``.

    python benchmarks/bench_slurm.py [--quick] [--launches 5] [--checkpoints 20] [--root DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from runners.protocol import read_proc_record  # noqa: E402
from tui.core.checkpoint_index import REMOTE_POLL_INTERVAL_S, CheckpointIndex  # noqa: E402
from tui.core.registry import load_run  # noqa: E402
from tui.core.run_control import stop_run  # noqa: E402
from tui.core.slurm.job_state import STATES  # noqa: E402

PROFILE = "mujoco/inverted_pendulum"


def slurm_answers() -> bool:
    try:
        return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def own_cluster(base: Path) -> dict[str, str] | None:
    """Start scripts/slurm_local.sh (root only); the environment to use it, or None."""
    if os.geteuid() != 0:
        return None
    ports = dict(zip(("CTLD_PORT", "SLURMD_PORT", "DBD_PORT", "DB_PORT"), map(str, free_ports(4))))
    env = dict(os.environ, INSTALL="1", PATH=os.environ.get("PATH", "") + ":/usr/sbin:/sbin",
               **ports)
    out = subprocess.run(["bash", str(REPO / "scripts" / "slurm_local.sh"), "up", str(base)],
                         env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError("scripts/slurm_local.sh up failed:\n" + out.stdout + out.stderr)
    return dict(env, SLURM_CONF=str(base / "etc" / "slurm.conf"))


def wait(cond, timeout: float, poll: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(poll)
    raise TimeoutError("timed out after %.0f s" % timeout)


def one_launch(root: Path, total_steps: int, save_every: int) -> tuple[Path, dict[str, float]]:
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "tui.cli", "--root", str(root), "launch", PROFILE,
                          "total_steps=%d" % total_steps, "save_every=%d" % save_every,
                          "--slurm", "--json"], capture_output=True, text=True, timeout=120,
                         cwd=str(REPO))
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    run = Path(json.loads(out.stdout)["runs"][0]["path"])
    t = {"sbatch accepted (CLI returned)": time.monotonic() - t0}
    wait(lambda: STATES.state(read_job(run), max_age=0.05).state == "RUNNING", 120)
    t["running (squeue: RUNNING)"] = time.monotonic() - t0
    wait(lambda: load_run(run).status_text().startswith("running on"), 120)
    t["running on NODE (core's status)"] = time.monotonic() - t0
    wait(lambda: (run / "metrics.jsonl").exists() and (run / "metrics.jsonl").stat().st_size, 180)
    t["first metric written"] = time.monotonic() - t0
    return run, t


def read_job(run: Path) -> str:
    from runners.protocol import read_run_record

    return read_run_record(run).slurm_job_id


def checkpoint_latency(run: Path, n: int) -> list[float]:
    seen: dict[str, float] = {}
    index = CheckpointIndex(on_change=lambda d: note(index, d, seen)).start()
    try:
        index.track(run)
        assert index.is_polled(run), "a Slurm run must be polled"
        start = len(seen)
        wait(lambda: len(seen) >= start + n + 1, 60 + 10 * n, poll=0.1)
    finally:
        index.stop()
    lat = sorted(seen.items())[1:]     # the first listing found checkpoints already there
    return [v for _, v in lat][:n]


def note(index: CheckpointIndex, run: Path, seen: dict[str, float]) -> None:
    now = time.time()
    snap = index.get(run)
    for c in snap.history if snap else []:
        if c.name not in seen:
            seen[c.name] = now - c.mtime


def row(name: str, values: list[float]) -> str:
    return "| %s | %d | %.2f s | %.2f s |" % (name, len(values), statistics.median(values),
                                             max(values))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="1 launch, 3 checkpoints")
    ap.add_argument("--launches", type=int, default=5)
    ap.add_argument("--checkpoints", type=int, default=20)
    ap.add_argument("--root", type=Path, default=None)
    a = ap.parse_args()
    launches, ckpts = (1, 3) if a.quick else (a.launches, a.checkpoints)
    # /tmp, not $TMPDIR: munged wants every directory above its socket searchable by all
    tmp = Path(tempfile.mkdtemp(prefix="bench-slurm-", dir="/tmp"))
    os.chmod(tmp, 0o755)
    root = (a.root or tmp / "runs").absolute()
    cluster = None
    if not slurm_answers():
        env = own_cluster(tmp / "slurm")
        if env is None:
            print("bench_slurm: no Slurm answers here and no root to start one\n\n"
                  "| measure | n | median | max |\n|---|--:|--:|--:|\n"
                  "| nothing measured (no Slurm) | 0 | - | - |")
            shutil.rmtree(tmp, ignore_errors=True)
            return 0
        os.environ.update(SLURM_CONF=env["SLURM_CONF"])
        cluster = tmp / "slurm"
    ver = subprocess.run(["sinfo", "--version"], capture_output=True, text=True,
                         timeout=30).stdout.strip()
    times: dict[str, list[float]] = {}
    lat: list[float] = []
    runs = []
    try:
        for i in range(launches):
            run, t = one_launch(root, 10_000_000, 1)
            runs.append(run)
            for k, v in t.items():
                times.setdefault(k, []).append(v)
            if i == launches - 1:
                lat = checkpoint_latency(run, ckpts)
            stop_run(run)
    finally:
        for run in runs:
            rec = read_proc_record(run, "train")
            if rec is not None and not rec.ended:
                stop_run(run, kill=True)
        if cluster is not None:
            subprocess.run(["scancel", "--user=root"], capture_output=True)
            subprocess.run(["bash", str(REPO / "scripts" / "slurm_local.sh"), "down",
                            str(cluster)], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    print("bench_slurm: %s, %d CPUs, %s%s" % (ver or "Slurm", os.cpu_count() or 0,
                                            "quick" if a.quick else "full",
                                            "" if cluster is None else ", own single node"))
    print()
    print("| measure | n | median | max |")
    print("|---|--:|--:|--:|")
    for k, v in times.items():
        print(row("launch -> " + k, v))
    print(row("checkpoint -> listed (polled, %.1f s)" % REMOTE_POLL_INTERVAL_S, lat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
