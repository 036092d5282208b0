"""``pitwall ls``, ``stop``, ``restart``, ``resume``."""
from __future__ import annotations

import argparse
import fnmatch
import sys

from runners.protocol.metrics import parse_metric_line

from tui.core.registry import RunInfo, load_run, scan_runs
from tui.core.run_checkpoints import find_checkpoint, layout, list_run_checkpoints
from tui.core.run_control import delete_run, restart, resume, stop_run
from tui.core.run_profile import run_headline

from .common import add_run_arg, age, err, guarded, print_json, run_dir, runs_root, table

ORDER = 20


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ls", help="list runs and their status")
    p.add_argument("filter", nargs="?", default=None, help="substring or glob on the run name")
    p.add_argument("--json", action="store_true")
    p.add_argument("--live", action="store_true", help="only starting/running runs")
    p.set_defaults(handler=cmd_ls)

    p = sub.add_parser("stop", help="stop a run: SIGINT, then SIGTERM, then SIGKILL")
    add_run_arg(p)
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
                           "signal": r.signal} for r in info.roles},
        "viewers": {v.role: {"state": v.state, "pid": v.pid} for v in info.viewers},
        "step": step, "headline": tag, "headline_value": value,
        "checkpoint": newest.name if newest else None,
        "created": info.created.isoformat() if info.created else None, "error": info.error,
    }


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
    for r, i in zip(rows, infos):
        alive = sum(1 for x in i.roles if x.alive)
        val = "" if r["headline_value"] is None else "%s=%.4g" % (
            r["headline"].rsplit("/", 1)[-1], r["headline_value"])
        out.append([r["name"], r["profile"], i.status_text(), "%d/%d" % (alive, len(i.roles)),
                    r["step"] if r["step"] is not None else "", val, r["checkpoint"] or "",
                    age(i.created)])
    print(table(["RUN", "PROFILE", "STATUS", "ROLES", "STEP", "HEADLINE", "CHECKPOINT", "AGE"],
                out))
    return 0


@guarded
def cmd_stop(args: argparse.Namespace) -> int:
    d = run_dir(args)
    outs = stop_run(d, args.role, kill=args.kill, progress=lambda m: print("  " + m))
    if args.viewers:
        live = [v.role for v in load_run(d).viewers if v.alive]
        if live:
            outs += stop_run(d, live, kill=args.kill, progress=lambda m: print("  " + m))
    for o in outs:
        if not o.was_running:
            print("%s: not running" % o.role)
        else:
            how = ("exit code %s" % o.exit_code) if o.signal is None else "signal %d" % o.signal
            print("%s: stopped by %s (%s)" % (o.role, o.stopped_by, how))
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
    proc = restart(d, args.role, progress=lambda m: print("  " + m))
    proc.wait()
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
    proc.wait()
    print("resumed %s from %s" % (d.name, ck.name))
    return 0
