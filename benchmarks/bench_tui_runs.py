"""The runs screen under load, measured in a pty: a root of 1000 runs, 50 of them live; then
a finished run's metrics tab, idle; then the compare view of 20 runs x 4 tags x 100k points.

    python benchmarks/bench_tui_runs.py [--runs 1000] [--live 50] [--size 80x24] [--idle 10]
                                        [--compare 20] [--points 100000] [--quick]

The root is built with ``runners.protocol`` (run.json, procs, metrics.jsonl, a checkpoint per
run). One writer process plays the 50 live trainers: it owns their ``procs/train.json`` (so
they read as running) and appends 20 tags at 10 Hz to each run's ``metrics.jsonl``, saving a
checkpoint per run every 5 s. The live runs are the newest, so they fill the screen.

``pitwall --root ROOT`` then runs in a pseudo-terminal and we measure what a user feels:

* first interactive frame: spawn -> the runs table with rows on screen (goal <= 0.5 s), the
  median of ``--starts`` starts after the first (which may compile bytecode and read cold
  files; it is shown too). pitwall runs as from a user's shell: ``PYTHONDONTWRITEBYTECODE`` is
  dropped from its environment, so Python keeps its bytecode cache as it normally does;
* key -> screen update: cursor down/up, time until the redrawn cursor row arrives (p95,
  goal <= 50 ms);
* CPU of the TUI process over an idle window with the writers running (goal <= 15 % of a core);
* RSS at the end (goal <= 300 MB);
* bytes written to the terminal per second over the idle window (goal <= 2 KB/s);
* a finished run's metrics tab, idle: bytes/s (nothing changes, so nothing should be written);
* the compare view of the ``--compare`` runs (4 tags, ``--points`` points each, marked with
  ``space``; they are the oldest runs), once every point is read: key -> screen p95 (smoothing +/-), CPU and bytes/s while idle.

Each figure is printed next to the one measured before this work (issue 14: first frame 0.80
s, key p95 12.5 ms, CPU 9 %, 517 B/s; an idle metrics tab ~2 KB/s); ``--quick`` runs tiny
sizes in a few seconds (the test suite does, so the benchmark cannot rot).

Prints a table; exits 0 whether or not goals are met (it is a measurement, not a test).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import fcntl
import os
import pty
import re
import select
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import psutil  # noqa: E402

from runners.protocol import (MetricRecord, ProcessSpec, ProcRecord, RunRecord,  # noqa: E402
                              create_run_dir, save_checkpoint, write_proc_record,
                              write_run_record)

from markdown_table import markdown_table  # noqa: E402

TAGS = ["rollout/ep_return", "rollout/ep_length"] + ["loss/l%02d" % i for i in range(9)] + \
    ["train/t%02d" % i for i in range(9)]
PROFILE = {"headline": "rollout/ep_return", "metrics": [{"kind": "jsonl",
                                                          "path": "metrics.jsonl"}]}
CURSOR = "▶".encode()
ANSI = re.compile(rb"\x1b\[[0-9;?$>]*[A-Za-z]|\x1b\][^\x07]*\x07")


# ====================================================================== the root

def record(run: Path, exp: str, when: _dt.datetime) -> None:
    spec = ProcessSpec(role="train", argv=["synthetic"], cwd=str(run))
    write_run_record(run, RunRecord(name=run.name, experiment=exp, profile_name="bench/synthetic",
                                    backend="synthetic", params={}, processes=[spec],
                                    created_at=when.isoformat(), profile=dict(PROFILE)))


CMP_TAGS = ["rollout/ep_return", "loss/policy", "loss/value", "train/entropy"]


def build_compare(root: Path, runs: int, points: int) -> None:
    """``runs`` finished runs of 4 tags with ``points`` points each, differing in ``lr``."""
    base = _dt.datetime(2025, 6, 1, 0, 0, 0)      # the oldest runs: the last rows of the list
    for k in range(runs):
        when = base + _dt.timedelta(minutes=k)
        run = create_run_dir(root, "Cmp%02d" % k, when)
        spec = ProcessSpec(role="train", argv=["synthetic"], cwd=str(run))
        write_run_record(run, RunRecord(
            name=run.name, experiment="Cmp%02d" % k, profile_name="bench/compare",
            backend="synthetic", params={"lr": 1e-4 * (k + 1), "seed": k}, processes=[spec],
            created_at=when.isoformat(), profile=dict(PROFILE)))
        t0 = when.timestamp()
        write_proc_record(run, ProcRecord(role="train", kind="train", pid=999999, pgid=999999,
                                          create_time=t0, started_at=when.isoformat(),
                                          exited_at=when.isoformat(), exit_code=0))
        with open(run / "metrics.jsonl", "w") as f:
            lines = []
            for i in range(points):
                x = i / max(1, points - 1)
                vals = {"rollout/ep_return": round(1000 * x ** (1 + k / 10), 3),
                        "loss/policy": round(1 / (1 + 50 * x), 5),
                        "loss/value": round((1 - x) ** 2 + 0.01 * (i % 13), 5),
                        "train/entropy": round(1.4 - x * (0.5 + k / 100), 5)}
                lines.append(MetricRecord(i * 64, t0 + i * 0.01, "train", vals).to_line())
                if len(lines) >= 10000:
                    f.write("\n".join(lines) + "\n")
                    lines = []
            if lines:
                f.write("\n".join(lines) + "\n")


def metric_lines(step0: int, n: int, t0: float) -> str:
    out = []
    for i in range(n):
        step = step0 + i * 100
        vals = {t: round((i % 97) * 0.01 + k, 4) for k, t in enumerate(TAGS)}
        out.append(MetricRecord(step, t0 + i * 0.1, "train", vals).to_line())
    return "\n".join(out) + "\n"


def build_root(root: Path, runs: int, live: int) -> list[Path]:
    """``runs`` finished runs' directories and ``live`` more that the writer will own."""
    base = _dt.datetime(2026, 1, 1, 0, 0, 0)
    for i in range(runs - live):
        when = base + _dt.timedelta(minutes=i)
        run = create_run_dir(root, "Done%04d" % i, when)
        record(run, "Done%04d" % i, when)
        t0 = when.timestamp()
        write_proc_record(run, ProcRecord(role="train", kind="train", pid=999999, pgid=999999,
                                          create_time=t0, started_at=when.isoformat(),
                                          exited_at=when.isoformat(), exit_code=0))
        (run / "metrics.jsonl").write_text(metric_lines(0, 200, t0))
        save_checkpoint(run, lambda f: f.write(b"\0" * 1024), 20000,
                        metrics={"rollout/ep_return": 1.0})
    out = []
    now = _dt.datetime.now().replace(microsecond=0)
    for i in range(live):
        when = now - _dt.timedelta(seconds=live - i)
        run = create_run_dir(root, "Live%02d" % i, when)
        record(run, "Live%02d" % i, when)
        out.append(run)
    return out


def writer(live_dirs: list[Path], hz: float, stop_file: Path) -> None:
    """The 50 live trainers in one process (``--writer``)."""
    me = psutil.Process()
    for run in live_dirs:
        write_proc_record(run, ProcRecord(role="train", kind="train", pid=me.pid, pgid=me.pid,
                                          create_time=me.create_time(),
                                          started_at=_dt.datetime.now().isoformat()))
    files = [open(run / "metrics.jsonl", "a") for run in live_dirs]
    step = 0
    tick = 1.0 / hz
    next_t = time.monotonic()
    next_ckpt = [time.monotonic() + 5.0 * (i + 1) / len(live_dirs) for i in range(len(live_dirs))]
    while not stop_file.exists():
        step += 100
        now = time.time()
        for k, f in enumerate(files):
            vals = {t: round(((step // 100) % 97) * 0.01 + j + k, 4) for j, t in enumerate(TAGS)}
            f.write(MetricRecord(step, now, "train", vals).to_line() + "\n")
            f.flush()
        m = time.monotonic()
        for i, due in enumerate(next_ckpt):
            if m >= due:
                save_checkpoint(live_dirs[i], lambda fh: fh.write(b"\0" * 1024), step,
                                metrics={"rollout/ep_return": float(step % 997)})
                next_ckpt[i] = m + 5.0
        next_t += tick
        time.sleep(max(0.0, next_t - time.monotonic()))


# ====================================================================== the pty

class Term:
    def __init__(self, argv: list[str], cols: int, rows: int, cwd: Path):
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor")
        env.pop("PYTHONDONTWRITEBYTECODE", None)   # as a user's shell: bytecode is cached

        def take_terminal():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     cwd=str(cwd), preexec_fn=take_terminal, close_fds=True)
        os.close(slave)
        self.buf = b""
        self.total = 0

    def read(self, timeout: float) -> bytes:
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return b""
        try:
            data = os.read(self.master, 1 << 16)
        except OSError:
            return b""
        self.total += len(data)
        return data

    def wait_for(self, pattern: re.Pattern, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.buf += self.read(0.02)
            if pattern.search(ANSI.sub(b"", self.buf[-200000:])):
                return time.monotonic()
        return None

    def drain(self, seconds: float) -> int:
        n = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            n += len(self.read(max(0.0, deadline - time.monotonic())))
        return n

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        try:
            self.send(b"q")
            self.proc.wait(timeout=5)
        except Exception:
            self.proc.kill()
        os.close(self.master)


def first_frame(argv: list[str], cols: int, rows: int, cwd: Path,
                row: re.Pattern) -> float:
    """One start of pitwall: spawn -> ``row`` on screen (s); then quit."""
    term = Term(argv, cols, rows, cwd)
    seen = term.wait_for(row, 30)
    term.drain(0.3)
    term.close()
    return (seen - term.t0) if seen is not None else float("nan")


def smoothing_latency(term: Term, n: int) -> list[float]:
    """'+' / '-' on the compare view: time until the new smoothing shows (every plot and the
    info line are redrawn)."""
    out = []
    for i in range(n):
        term.drain(0.15)
        key, want = (b"+", rb"smoothing\s*0\.80") if i % 2 == 0 else (b"-", rb"smoothing\s*0\.60")
        term.send(key)
        t0 = time.monotonic()
        got = b""
        while time.monotonic() - t0 < 3.0:
            got += term.read(0.01)
            if re.search(want, ANSI.sub(b"", got)):
                out.append(time.monotonic() - t0)
                break
    return out


def settle(term: Term, quiet: float, limit: float) -> None:
    """Wait until the terminal got nothing for ``quiet`` seconds (or ``limit`` passed)."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if term.drain(quiet) == 0:
            return


def idle(term: Term, proc: psutil.Process, seconds: float) -> tuple[float, float]:
    """CPU % of a core and terminal bytes/s over ``seconds`` of nothing pressed."""
    c0 = sum(proc.cpu_times()[:2])
    b0 = term.total
    w0 = time.monotonic()
    term.drain(seconds)
    wall = time.monotonic() - w0
    return (sum(proc.cpu_times()[:2]) - c0) / wall * 100, (term.total - b0) / wall


def p95(lat: list[float]) -> float:
    return statistics.quantiles(lat, n=20)[18] if len(lat) >= 20 else (
        max(lat) if lat else float("nan"))


def key_latency(term: Term, n: int) -> list[float]:
    """Cursor down/up: time from the key to the redrawn cursor row (it holds '▶')."""
    out = []
    for i in range(n):
        term.drain(0.08)
        key = b"j" if (i // 10) % 2 == 0 else b"k"
        term.send(key)
        t0 = time.monotonic()
        got = b""
        while time.monotonic() - t0 < 2.0:
            got += term.read(0.01)
            if CURSOR in got:
                out.append(time.monotonic() - t0)
                break
    return out


# ====================================================================== main

def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--live", type=int, default=50)
    ap.add_argument("--hz", type=float, default=10.0)
    ap.add_argument("--size", default="80x24")
    ap.add_argument("--idle", type=float, default=10.0, help="idle window, seconds")
    ap.add_argument("--keys", type=int, default=100)
    ap.add_argument("--compare", type=int, default=20, help="runs in the compare view")
    ap.add_argument("--points", type=int, default=100_000, help="points per compared tag")
    ap.add_argument("--starts", type=int, default=5,
                    help="starts of pitwall timed for the first frame (the median is shown)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, a few seconds")
    ap.add_argument("--writer", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()
    warmup = 2.0
    if a.quick:
        a.runs, a.live, a.idle, a.keys, a.compare, a.points = 40, 3, 1.0, 6, 3, 500
        a.starts = 2
        warmup = 0.5
    if a.writer:
        stop = Path(a.writer[0])
        writer([Path(p) for p in a.writer[1:]], a.hz, stop)
        return 0
    cols, rows = (int(x) for x in a.size.split("x"))
    tmp = Path(tempfile.mkdtemp(prefix="pitwall-bench-"))
    root = tmp / "runs"
    t = time.monotonic()
    live = build_root(root, a.runs, a.live)
    build_compare(root, a.compare, a.points)
    built = time.monotonic() - t
    stop = tmp / "stop"
    wproc = subprocess.Popen([sys.executable, __file__, "--hz", str(a.hz), "--writer",
                              str(stop)] + [str(p) for p in live])
    time.sleep(warmup)  # the writer owns its runs and has written a few lines
    pitwall = Path(sys.executable).with_name("pitwall")
    results = []
    try:
        argv = [str(pitwall), "--root", str(root)]
        first_row = re.compile(rb"Live%02d_" % (a.live - 1))
        starts = [first_frame(argv, cols, rows, tmp, first_row)
                  for _ in range(max(0, a.starts - 1))]
        term = Term(argv, cols, rows, tmp)
        seen = term.wait_for(first_row, 30)
        starts.append((seen - term.t0) if seen is not None else float("nan"))
        # the first start may compile bytecode and read cold files: the others are what a
        # user sees every time
        first = statistics.median(starts[1:] if len(starts) > 1 else starts)
        term.wait_for(re.compile(rb"\d+ live"), 10)
        term.drain(warmup * 1.5)                      # let the first metrics arrive
        proc = psutil.Process(term.proc.pid)
        c0 = sum(proc.cpu_times()[:2])
        b0 = term.total
        w0 = time.monotonic()
        term.drain(a.idle)
        wall = time.monotonic() - w0
        cpu = (sum(proc.cpu_times()[:2]) - c0) / wall * 100
        idle_bps = (term.total - b0) / wall
        lat = key_latency(term, a.keys)
        rss = proc.memory_info().rss
        # a finished run's metrics tab (Done0000, just above the compared runs at the end)
        term.send(b"G")
        term.send(b"k" * a.compare)
        term.drain(0.5)
        term.send(b"\r")
        term.wait_for(re.compile(rb"smoothing"), 10)
        settle(term, 2.0, 60)
        _, metrics_bps = idle(term, proc, a.idle)
        # the compare view: the --compare runs (the oldest, last in the list), marked with space
        term.send(b"\x1b")                            # back to the list, on Done0000
        term.drain(0.5)
        term.send(b"j")
        for _ in range(a.compare):
            term.send(b" ")
        term.drain(0.5)
        tc = time.monotonic()
        term.send(b"c")
        term.wait_for(re.compile(rb"Compare\s*%d\s*runs" % a.compare), 20)
        drawn = term.wait_for(re.compile(rb"%d\s*runs\s*last" % a.compare), 120)
        cmp_open = (drawn - tc) if drawn is not None else float("nan")
        settle(term, 2.0, 180)                  # every point read (the curves stop moving)
        cmp_lat = smoothing_latency(term, max(10, a.keys // 3))
        settle(term, 1.0, 30)
        cmp_cpu, cmp_bps = idle(term, proc, a.idle)
        cmp_rss = proc.memory_info().rss
        term.close()
    finally:
        stop.write_text("")
        wproc.wait(timeout=10)
    kp95 = p95(lat)
    p50 = statistics.median(lat) if lat else float("nan")
    cp95 = p95(cmp_lat)
    results = [
        ("first interactive frame", "%.2f s (median of %d)" % (first, max(1, len(starts) - 1)),
         "0.80 s", "<= 0.5 s", first <= 0.5),
        ("first frame, first start", "%.2f s" % starts[0], "-", "-", True),
        ("key -> screen update p95", "%.1f ms (p50 %.1f, n=%d)" % (kp95 * 1e3, p50 * 1e3,
                                                                   len(lat)),
         "12.5 ms", "<= 50 ms", kp95 <= 0.05),
        ("TUI CPU, idle on runs", "%.1f %% of a core" % cpu, "9 %", "<= 15 %", cpu <= 15),
        ("RSS", "%.0f MB" % (rss / 2**20), "80 MB", "<= 300 MB", rss <= 300 * 2**20),
        ("terminal bytes/s, idle", "%.0f B/s" % idle_bps, "517 B/s", "<= 2048 B/s",
         idle_bps <= 2048),
        ("metrics tab idle, bytes/s", "%.0f B/s" % metrics_bps, "~2 KB/s", "0",
         metrics_bps < 1),
        ("compare %d x 4 x %s: open" % (a.compare, _k(a.points)), "%.2f s" % cmp_open, "-",
         "<= 5 s", cmp_open <= 5),
        ("compare: key -> screen p95", "%.1f ms (n=%d)" % (cp95 * 1e3, len(cmp_lat)), "-",
         "<= 100 ms", cp95 <= 0.1),
        ("compare: TUI CPU, idle", "%.1f %% of a core" % cmp_cpu, "-", "<= 15 %",
         cmp_cpu <= 15),
        ("compare: bytes/s, idle", "%.0f B/s" % cmp_bps, "-", "<= 2048 B/s", cmp_bps <= 2048),
        ("compare: RSS", "%.0f MB" % (cmp_rss / 2**20), "-", "<= 400 MB",
         cmp_rss <= 400 * 2**20),
    ]
    print("bench_tui_runs: %d runs (%d live, 20 tags at %g Hz each), terminal %s, "
          "root built in %.0f s" % (a.runs, a.live, a.hz, a.size, built))
    print()
    print(markdown_table(["measure", "value", "before", "goal", "met"],
                         [(name, val, before, goal, "yes" if ok else "NO")
                          for name, val, before, goal, ok in results], right=(1, 2)))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _k(n: int) -> str:
    return "%dk" % (n // 1000) if n >= 1000 else str(n)


if __name__ == "__main__":
    sys.exit(main())
