"""Read a 1M-scalar TensorBoard event file: Pitwall vs TensorBoard's EventFileLoader vs tbparse.

    python benchmarks/bench_metrics_tensorboard.py [--scalars 1000000] [--dir DIR] [--quick]

The file is written once by ``torch.utils.tensorboard.SummaryWriter`` (what native runners
and most trainers use; ~1.5 min, cached in DIR) with 20 tags. Every reader verifies the
record checksums (Pitwall: header and data CRC-32C of every record; EventFileLoader: the same,
in its stub record reader; tbparse: through EventFileLoader). All readers run in this process,
one after the other, on a warm page cache, and each must return the same points: count, sum
of steps and sum of values are compared with Pitwall's. Goal: >= 500k scalars/s and >= 20x
EventFileLoader.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from markdown_table import markdown_table  # noqa: E402

TAGS = ["losses/a_loss", "losses/c_loss", "losses/entropy", "losses/bounds_loss", "info/kl",
        "info/last_lr", "info/lr_mul", "info/e_clip", "info/epochs", "rewards/step",
        "rewards/iter", "rewards/time", "episode_lengths/step", "episode_lengths/iter",
        "performance/step_fps", "performance/step_inference_fps", "performance/total_fps",
        "performance/rl_update_time", "shaped_rewards/step", "shaped_rewards/iter"]


def ensure_file(d: Path, n: int) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    done = d / ("done-%d" % n)
    files = sorted(d.glob("events.out.tfevents.*"))
    if done.exists() and files:
        return files[0]
    for f in files:
        f.unlink()
    from torch.utils.tensorboard import SummaryWriter

    print("writing %d scalars with torch SummaryWriter into %s ..." % (n, d), flush=True)
    t = time.perf_counter()
    w = SummaryWriter(str(d), flush_secs=60, max_queue=10000)
    per_tag = n // len(TAGS)
    for i in range(per_tag):
        for j, tag in enumerate(TAGS):
            w.add_scalar(tag, math.sin(i * 0.001 + j) * (j + 1), i * 64)
    w.close()
    done.write_text("ok")
    print("  written in %.0f s" % (time.perf_counter() - t), flush=True)
    return sorted(d.glob("events.out.tfevents.*"))[0]


def read_pitwall(path: Path, verify: bool = True) -> tuple[int, float, float]:
    from tui.core.metrics.sources import TensorBoardDirSource

    src = TensorBoardDirSource(path.parent, recursive=False, verify=verify, only=path.name)
    n, ssum, vsum = 0, 0.0, 0.0
    while True:
        res = src.poll()
        for b in res.scalars.values():
            n += len(b.steps)
            ssum += float(b.steps.sum())
            vsum += float(b.values.sum())
        if not res.more:
            break
    assert src.status.skipped_total == 0, src.status
    src.close()
    return n, ssum, vsum


def read_event_file_loader(path: Path) -> tuple[int, float, float]:
    """TensorBoard's loader (with its read-time compat layers, as ``tensorboard`` runs it):
    simple values come out as scalar tensors of the scalars plugin."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.util import tensor_util

    n, ssum, vsum = 0, 0.0, 0.0
    for ev in EventFileLoader(str(path)).Load():
        for v in ev.summary.value:
            if v.metadata.plugin_data.plugin_name == "scalars":
                n += 1
                ssum += ev.step
                vsum += tensor_util.make_ndarray(v.tensor).item()
    return n, ssum, vsum


def read_tbparse(path: Path) -> tuple[int, float, float]:
    from tbparse import SummaryReader

    df = SummaryReader(str(path)).scalars
    return len(df), float(df["step"].sum()), float(df["value"].sum())


def timed(fn, *args) -> tuple[float, tuple[int, float, float]]:
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scalars", type=int, default=1_000_000)
    ap.add_argument("--dir", type=Path,
                    default=Path(tempfile.gettempdir()) / "pitwall-bench-tensorboard")
    ap.add_argument("--repeat", type=int, default=3, help="runs of Pitwall's reader (best)")
    ap.add_argument("--skip-slow", action="store_true", help="skip EventFileLoader and tbparse")
    ap.add_argument("--quick", action="store_true",
                    help="tiny sizes (2,000 scalars in a fresh temp dir): checks it runs")
    args = ap.parse_args()
    if args.quick:
        args.scalars, args.repeat = 2000, 1
        args.dir = Path(tempfile.mkdtemp(prefix="pitwall-bench-tb-quick-"))
    try:
        run(args)
    finally:
        if args.quick:
            import shutil

            shutil.rmtree(args.dir, ignore_errors=True)


def run(args: argparse.Namespace) -> None:
    path = ensure_file(args.dir, args.scalars)
    size = path.stat().st_size
    path.read_bytes()                                   # warm the page cache for everyone
    print("file: %s (%.1f MB)" % (path, size / 1e6))
    rows = []
    best = min((timed(read_pitwall, path) for _ in range(args.repeat)), key=lambda r: r[0])
    ref = best[1]
    rows.append(("pitwall (CRC verified)", best[0], ref))
    rows.append(("pitwall (no CRC, for reference)",
                 *timed(read_pitwall, path, False)))
    if not args.skip_slow:
        rows.append(("tensorboard EventFileLoader", *timed(read_event_file_loader, path)))
        try:
            rows.append(("tbparse SummaryReader", *timed(read_tbparse, path)))
        except ImportError:
            print("tbparse not installed (pip install tbparse): skipped")
    efl = next((r[1] for r in rows if r[0].startswith("tensorboard")), None)
    print()
    table = []
    for name, secs, (n, ssum, vsum) in rows:
        same = n == ref[0] and ssum == ref[1] and math.isclose(vsum, ref[2], rel_tol=1e-9,
                                                                abs_tol=1e-6)
        table.append([name, n, "%.2f" % secs, "{:,.0f}".format(n / secs),
                      ("%.1fx" % (efl / secs)) if efl else "-", "yes" if same else "NO"])
    print(markdown_table(["reader", "scalars", "seconds", "scalars/s", "vs EFL", "same points"],
                         table, right=(1, 2, 3, 4)))
    rate = ref[0] / best[0]
    print()
    print("goal >= 500,000 scalars/s: %s (%s/s)" % ("met" if rate >= 500_000 else "NOT met",
                                                   "{:,.0f}".format(rate)))
    if efl:
        print("goal >= 20x EventFileLoader: %s (%.1fx)" % (
            "met" if efl / best[0] >= 20 else "NOT met", efl / best[0]))
    print("cpu: %s, python %s" % (os.cpu_count(), sys.version.split()[0]))


if __name__ == "__main__":
    main()
