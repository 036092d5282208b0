"""``pitwall metrics PATH_OR_RUN [--tags GLOB...] [--csv | --json]``: what the store holds.

Reads a run (by name or prefix under the runs root) or any directory (like
``tensorboard --logdir``) or a single metrics file into the same bounded store the TUI draws
from, and prints it: a summary table, every held point as CSV, or JSON.
"""
from __future__ import annotations

import argparse
import csv
import fnmatch
import json
import math
import sys
from pathlib import Path
from typing import Any

from tui.core.metrics import MetricStore, RunMetrics, discover_runs, ema

from .common import err, guarded, run_dir, table

ORDER = 60


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "metrics", help="export a run's metrics (any trainer: TensorBoard, CSV, logs, JSONL)",
        description="Read a run's metrics into the store the TUI draws from and print them. "
                    "PATH_OR_RUN is a run name or prefix under the runs root, a run directory, "
                    "any directory (every directory below it with event files, metrics.jsonl "
                    "or CSV files is a run, as with tensorboard --logdir), or one file.")
    p.add_argument("target", metavar="PATH_OR_RUN")
    p.add_argument("--tags", nargs="+", metavar="GLOB", default=None,
                   help="only tags matching one of these globs (e.g. 'losses/*' rewards/step)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--csv", action="store_true",
                     help="every held point: run,tag,step,wall_time,value")
    fmt.add_argument("--json", action="store_true", help="every held point as JSON")
    p.add_argument("--smoothing", type=float, default=0.0, metavar="W",
                   help="add TensorBoard's EMA smoothing with weight W in [0, 1)")
    p.add_argument("--preset", default=None,
                   help="line-pattern preset for a log file given as PATH (e.g. rl_games)")
    p.add_argument("--points", type=int, default=None, metavar="N",
                   help="points kept at full resolution per series (default: the TUI's)")
    p.set_defaults(handler=cmd_metrics)


def _runs(args: argparse.Namespace) -> list[RunMetrics]:
    p = Path(args.target).expanduser()
    if p.is_file() and args.preset is not None:
        return [RunMetrics.for_file(p, preset=args.preset)]
    if p.exists():
        return discover_runs(p)
    return discover_runs(run_dir(args, args.target))


def _wanted(tag: str, globs: list[str] | None) -> bool:
    return globs is None or any(fnmatch.fnmatchcase(tag, g) for g in globs)


def _num(x: float) -> Any:
    return x if math.isfinite(x) else None


def _fmt(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "" if x is None else str(x)
    return "%.6g" % x


@guarded
def cmd_metrics(args: argparse.Namespace) -> int:
    if args.preset is not None:
        from tui.core.metrics.line_patterns import PRESETS

        if args.preset not in PRESETS:
            return err("unknown preset %r (known: %s)" % (args.preset, ", ".join(sorted(PRESETS))))
    if not 0.0 <= args.smoothing < 1.0:
        return err("--smoothing must be in [0, 1)")
    runs = _runs(args)
    if not runs:
        return err("no metrics found in %s (no run.json, event files, metrics.jsonl or CSV)"
                   % args.target)
    kw = {"recent": args.points} if args.points else {}
    store = MetricStore(**kw)
    for run in runs:
        run.catch_up(store)
        run.close()
        for line in run.status().problems():
            sys.stderr.write("pitwall: %s: %s\n" % (run.name, line))
    selected = [(run.name, tag) for run in runs for tag in store.tags(run.name)
                if _wanted(tag, args.tags)]
    if not selected:
        return err("no tags%s in %s (tags: %s)" % (
            " matching " + " ".join(args.tags) if args.tags else "", args.target,
            ", ".join(store.tags()[:20]) or "none"))
    if args.csv:
        _write_csv(store, selected, args.smoothing)
    elif args.json:
        _write_json(store, runs, selected, args.smoothing)
    else:
        _write_table(store, selected)
    return 0


def _write_csv(store: MetricStore, selected: list[tuple[str, str]], smoothing: float) -> None:
    w = csv.writer(sys.stdout, lineterminator="\n")
    head = ["run", "tag", "step", "wall_time", "value"] + (["smoothed"] if smoothing else [])
    w.writerow(head)
    for run, tag in selected:
        snap = store.snapshot(run, tag)
        if snap is None:
            continue
        sm = ema(snap.values, smoothing) if smoothing else None
        for i in range(len(snap.steps)):
            wall = snap.walls[i]
            row = [run, tag, int(snap.steps[i]), "" if math.isnan(wall) else repr(float(wall)),
                   repr(float(snap.values[i]))]
            if sm is not None:
                row.append(repr(float(sm[i])))
            w.writerow(row)


def _write_json(store: MetricStore, runs: list[RunMetrics], selected: list[tuple[str, str]],
                smoothing: float) -> None:
    by_run: dict[str, dict[str, Any]] = {}
    for run in runs:
        st = run.status()
        by_run[run.name] = {
            "name": run.name, "path": str(run.root), "tags": {},
            "hparams": store.hparams(run.name),
            "texts": {t: [{"step": p.step, "wall_time": p.wall_time, "text": p.text} for p in ps]
                      for t, ps in store.texts(run.name).items()},
            "sources": [{"kind": s.kind, "path": s.path, "points": s.points,
                         "skipped": dict(s.skipped), "error": s.error} for s in st.sources],
            "error": st.error,
        }
    for run, tag in selected:
        snap = store.snapshot(run, tag)
        if snap is None:
            continue
        d: dict[str, Any] = {
            "seen": snap.seen, "held": len(snap.steps), "exact_from": snap.exact_from,
            "steps": snap.steps.tolist(),
            "wall_times": [_num(x) for x in snap.walls.tolist()],
            "values": [_num(x) for x in snap.values.tolist()],
        }
        if smoothing:
            d["smoothed"] = [_num(x) for x in ema(snap.values, smoothing).tolist()]
        by_run[run]["tags"][tag] = d
    json.dump({"runs": list(by_run.values())}, sys.stdout, allow_nan=False)
    sys.stdout.write("\n")


def _write_table(store: MetricStore, selected: list[tuple[str, str]]) -> None:
    rows = []
    for run, tag in selected:
        snap = store.snapshot(run, tag)
        if snap is None or not len(snap.steps):
            continue
        v = snap.values
        fin = v[~(v != v)]
        rows.append([run, tag, "%d/%d" % (len(v), snap.seen) if len(v) != snap.seen else len(v),
                     int(snap.steps[0]), int(snap.steps[-1]), _fmt(float(v[-1])),
                     _fmt(float(fin.min())) if len(fin) else "",
                     _fmt(float(fin.max())) if len(fin) else ""])
    sys.stdout.write(table(["RUN", "TAG", "POINTS", "FIRST STEP", "LAST STEP", "LAST", "MIN",
                            "MAX"], rows) + "\n")
