"""``pitwall ls``, ``stop``, ``restart``, ``resume``."""
from __future__ import annotations

import argparse
import fnmatch
import sys

from runners.protocol import ProtocolError, read_slurm_jobs
from runners.protocol.metrics import parse_metric_line

from tui.core.registry import load_run, scan_runs
from tui.core.run_state import RunInfo
from tui.core.run_checkpoints import find_checkpoint, layout, list_run_checkpoints
from tui.core.run_control import delete_run, restart_checked, resume, start_failure, stop_run
from tui.core.run_profile import run_headline

from .common import add_run_arg, age, err, guarded, print_json, run_dir, runs_root, table

ORDER = 20


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ls", help="list runs and their status")
    p.add_argument("filter", nargs="?", default=None, help="substring or glob on the run name")
    p.add_argument("--json", action="store_true")
    p.add_argument("--live", action="store_true", help="only starting/running runs")
    p.set_defaults(handler=cmd_ls)

    p = sub.add_parser("stop", help="stop a run (or a whole sweep): SIGINT, then SIGTERM, "
                                    "then SIGKILL; a queued run is cancelled")
    p.add_argument("run", metavar="RUN|SWEEP", help="run directory name, unique prefix "
                   "(newest match) or path; or a sweep id (sw-...): all of its runs")
    p.add_argument("--role", action="append", default=None, help="only this role (repeatable)")
    p.add_argument("--kill", action="store_true", help="SIGKILL at once")
    p.add_argument("--viewers", action="store_true",
                   help="also stop the run's viewers and recorders (they keep running by "
                        "default: a finished run can still be watched)")
    p.set_defaults(handler=cmd_stop)

    p = sub.add_parser("delete", help="delete a run directory (refused while anything in it "
                                      "runs)")
    add_run_arg(p)
    p.add_argument("--yes", action="store_true", help="do not ask")
    p.set_defaults(handler=cmd_delete)

    p = sub.add_parser("restart", help="stop and start a run's roles again")
    add_run_arg(p)
    p.add_argument("--role", action="append", default=None, help="only this role (repeatable)")
    p.set_defaults(handler=cmd_restart)

    p = sub.add_parser("resume", help="restart training from a checkpoint")
    add_run_arg(p)
    p.add_argument("--checkpoint", default=None,
                   help="file name, step, or path (default: the newest checkpoint)")
    p.set_defaults(handler=cmd_resume)


def last_metrics(info: RunInfo, tag: str | None) -> tuple[int | None, float | None]:
    """Step and headline value from the tail of metrics.jsonl (cheap: last 64 KiB)."""
    path = info.path / "metrics.jsonl"
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 65536))
            lines = f.read().split(b"\n")
    except OSError:
        return None, None
    step = value = None
    for raw in reversed(lines[:-1] if lines and lines[-1] != b"" else lines):
        try:
            rec = parse_metric_line(raw)
        except ValueError:
            continue
        if step is None:
            step = rec.step
        if tag and tag in rec.metrics:
            value = rec.metrics[tag]
            break
        if not tag:
            break
    return step, value


def run_row(info: RunInfo) -> dict:
    tag = run_headline(info.record)
    step, value = last_metrics(info, tag)
    ckpts = list_run_checkpoints(info.path, info.record) if info.record else []
    newest = next((c for c in reversed(ckpts) if not c.is_latest), None)
    return {
        "name": info.name, "path": str(info.path), "status": info.status,
        "exit_code": info.exit_code, "profile": info.profile_name, "backend": info.backend,
        "roles": {r.role: {"state": r.state, "pid": r.pid, "exit_code": r.exit_code,
                           "signal": r.signal, "error": r.error} for r in info.roles},
        "viewers": {v.role: {"state": v.state, "pid": v.pid, "error": v.error}
                    for v in info.viewers},
        "step": step, "headline": tag, "headline_value": value,
        "checkpoint": newest.name if newest else None,
        "created": info.created.isoformat() if info.created else None, "error": info.error,
        "status_text": info.status_text(), "sweep_id": info.sweep_id,
        "launcher": info.record.launcher_kind if info.record else None,
        "job_id": _current_job(info),
    }


def _current_job(info: RunInfo) -> str | None:
    if info.record is None or info.record.launcher_kind != "slurm":
        return None
    try:
        jobs = read_slurm_jobs(info.path)
    except ProtocolError:
        jobs = []
    return jobs[-1].job_id if jobs else (info.record.slurm_job_id or None)


@guarded
def cmd_ls(args: argparse.Namespace) -> int:
    infos = scan_runs(runs_root(args))
    if args.filter:
        pat = args.filter if any(c in args.filter for c in "*?[") else "*%s*" % args.filter
        infos = [i for i in infos if fnmatch.fnmatch(i.name, pat)]
    if args.live:
        infos = [i for i in infos if i.live]
    rows = [run_row(i) for i in infos]
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no runs under %s" % runs_root(args))
        return 0
    out = []
    for r, i, indent in grouped_by_sweep(rows, infos, out):
        val = "" if r["headline_value"] is None else "%s=%.4g" % (
            r["headline"].rsplit("/", 1)[-1], r["headline_value"])
        out.append([indent + r["name"], r["profile"], i.status_text(),
                    i.roles_text(),
                    r["step"] if r["step"] is not None else "", val, r["checkpoint"] or "",
                    age(i.created)])
    print(table(["RUN", "PROFILE", "STATUS", "ROLES", "STEP", "HEADLINE", "CHECKPOINT", "AGE"],
                out))
    return 0


def grouped_by_sweep(rows: list[dict], infos: list[RunInfo], out: list[list]):
    """Rows in order, the runs of a sweep together under a header row (added to ``out``)."""
    members: dict[str, list[int]] = {}
    for n, i in enumerate(infos):
        if i.sweep_id:
            members.setdefault(i.sweep_id, []).append(n)
    shown: set[str] = set()
    for n, i in enumerate(infos):
        if not i.sweep_id:
            yield rows[n], i, ""
            continue
        if i.sweep_id in shown:
            continue
        shown.add(i.sweep_id)
        group = [infos[k] for k in members[i.sweep_id]]
        counts: dict[str, int] = {}
        for g in group:
            counts[g.status] = counts.get(g.status, 0) + 1
        out.append(["sweep %s" % i.sweep_id, i.profile_name, "%d runs: %s" % (
            len(group), ", ".join("%d %s" % (c, st) for st, c in sorted(counts.items()))),
            "", "", "", "", ""])
        for k in members[i.sweep_id]:
            yield rows[k], infos[k], "  "


def _stop_targets(args: argparse.Namespace) -> list:
    """The run named, or every run of the sweep named."""
    from tui.core.launchers import runs_of_sweep
    from tui.core.registry import RunNotFound

    if args.run.startswith("sw-"):
        runs = runs_of_sweep(runs_root(args), args.run)
        if runs:
            return runs
    try:
        return [run_dir(args)]
    except RunNotFound:
        runs = runs_of_sweep(runs_root(args), args.run)
        if runs:
            return runs
        raise


@guarded
def cmd_stop(args: argparse.Namespace) -> int:
    targets = _stop_targets(args)
    if len(targets) == 1:
        return _stop_one(args, targets[0], "")
    from concurrent.futures import ThreadPoolExecutor

    print("stopping %d runs of sweep %s" % (len(targets), args.run))
    with ThreadPoolExecutor(max_workers=min(16, len(targets))) as pool:
        codes = list(pool.map(lambda d: _stop_one(args, d, "%s: " % d.name), targets))
    return max(codes)


def _stop_one(args: argparse.Namespace, d, label: str) -> int:
    outs = stop_run(d, args.role, kill=args.kill, progress=lambda m: print("  " + label + m))
    if args.viewers:
        live = [v.role for v in load_run(d).viewers if v.alive]
        if live:
            outs += stop_run(d, live, kill=args.kill, progress=lambda m: print("  " + m))
    for o in outs:
        if o.stopped_by == "cancelled":
            print("%s%s: cancelled (it was queued)" % (label, o.role))
        elif not o.was_running:
            print("%s%s: not running" % (label, o.role))
        else:
            how = ("exit code %s" % o.exit_code) if o.signal is None else "signal %d" % o.signal
            print("%s%s: stopped by %s (%s)" % (label, o.role, o.stopped_by, how))
    return 0


@guarded
def cmd_delete(args: argparse.Namespace) -> int:
    d = run_dir(args)
    if not args.yes:
        if not sys.stdin.isatty():
            return err("refusing to delete %s without --yes (no terminal to ask on)" % d)
        answer = input("delete %s and everything in it? [y/N] " % d)
        if answer.strip().lower() not in ("y", "yes"):
            print("kept %s" % d.name)
            return 1
    delete_run(d)
    print("deleted %s" % d.name)
    return 0


@guarded
def cmd_restart(args: argparse.Namespace) -> int:
    d = run_dir(args)
    failures = restart_checked(d, args.role, progress=lambda m: print("  " + m))
    if failures:
        for f in failures:
            err("restart of %s failed: %s" % (d.name, f))
        return 1
    print("restarted %s" % (", ".join(args.role) if args.role else d.name))
    return 0


@guarded
def cmd_resume(args: argparse.Namespace) -> int:
    d = run_dir(args)
    if args.checkpoint:
        ck = find_checkpoint(d, args.checkpoint)
    else:
        hist = [c for c in layout(d).list() if not c.is_latest]
        if not hist:
            print("%s has no checkpoint to resume from" % d.name)
            return 2
        ck = hist[-1].path
    proc = resume(d, ck, progress=lambda m: print("  " + m))
    why = start_failure(d, proc) if proc is not None else None
    if why:
        err("resume of %s failed: %s" % (d.name, why))
        return 1
    print("resumed %s from %s" % (d.name, ck.name))
    return 0
