"""``pitwall play RUN``: start, list and stop the viewers of a run."""
from __future__ import annotations

import argparse
import sys

from runners.protocol import read_proc_record

from tui.core.registry import load_run
from tui.core.run_control import start_failure, stop_run
from tui.core.viewers import choose_viewer_display, pending_switch, start_viewer, viewer_acks

from .common import add_run_arg, age, err, guarded, print_json, run_dir, table

ORDER = 30


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("play", help="start a viewer that follows the run's checkpoint state",
                       description="Start a viewer (the profile's play command). It shows the "
                                   "checkpoint chosen with `pitwall ckpt` and hot-swaps on every "
                                   "change; in auto mode it follows the newest checkpoint.")
    add_run_arg(p)
    p.add_argument("--display", default="auto",
                   help="auto (the display remembered for this host, else the first that "
                        "opens, else headless), none (headless: preview frames), an X display "
                        "such as :0 or localhost:10.0, or a Wayland socket (wayland-0)")
    p.add_argument("--list", action="store_true", help="list the run's viewers instead")
    p.add_argument("--stop", metavar="VIEWER", default=None, help="stop this viewer")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_play)


@guarded
def cmd_play(args: argparse.Namespace) -> int:
    d = run_dir(args)
    if args.stop:
        for o in stop_run(d, [args.stop]):
            print("%s: %s" % (o.role, "stopped" if o.was_running else "not running"))
        return 0
    if args.list:
        return list_viewers(d, args.json)
    choice = choose_viewer_display(d, args.display)
    if choice.message:
        sys.stderr.write("pitwall: %s\n" % choice.message)
    args.display = choice.display
    started = start_viewer(d, args.display)
    failure = start_failure(d, started.starter, started.viewer_id, timeout=30)
    rec = read_proc_record(d, started.viewer_id)
    if rec is None and failure is None:
        failure = "it has no process record (see logs/%s.log)" % started.viewer_id
    if args.json:
        print_json({"viewer": started.viewer_id, "pid": rec.pid if rec else None,
                    "display": choice.display, "display_message": choice.message,
                    "error": failure})
        return 1 if failure else 0
    if failure:
        err("viewer %s did not start: %s" % (started.viewer_id, failure))
        return 1
    else:
        print("viewer %s started (pid %d, display %s); log: %s"
              % (started.viewer_id, rec.pid, args.display,
                 d / "logs" / (started.viewer_id + ".log")))
    return 0


def list_viewers(d, as_json: bool) -> int:
    info = load_run(d)
    acks = viewer_acks(d)
    rows = []
    for v in info.viewers:
        a = acks.get(v.role)
        rows.append({"viewer": v.role, "process": v.state, "pid": v.pid,
                     "state": a.state if a else None,
                     "checkpoint": a.checkpoint_path if a else None,
                     "step": a.checkpoint_step if a else None, "seq": a.seq if a else None,
                     "pending": pending_switch(d, a) if a else None,
                     "error": a.error if a else None,
                     "updated": a.updated_at if a else None})
    if as_json:
        print_json(rows)
        return 0
    if not rows:
        print("no viewers")
        return 0
    print(table(["VIEWER", "PROCESS", "STATE", "CHECKPOINT", "STEP", "SEQ", "UPDATED", "ERROR"],
                [[r["viewer"], r["process"], r["state"] or "",
                  (r["checkpoint"] or "").rsplit("/", 1)[-1], r["step"],
                  "%s%s" % (r["seq"], " (pending)" if r["pending"] else ""),
                  age(r["updated"]) if r["updated"] else "", r["error"] or ""] for r in rows]))
    return 0

