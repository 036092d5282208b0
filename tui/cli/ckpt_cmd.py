"""``pitwall ckpt RUN [--auto | --use FILE]``: list checkpoints, choose what viewers show."""
from __future__ import annotations

import argparse
import datetime as _dt
import time

from tui.core.run_checkpoints import current_state, list_run_checkpoints, select_checkpoint
from tui.core.viewers import viewer_acks

from .common import add_run_arg, guarded, print_json, run_dir, table

ORDER = 40


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ckpt", help="list checkpoints; --auto / --use FILE sets what viewers show")
    add_run_arg(p)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--auto", action="store_true", help="viewers follow the newest checkpoint")
    g.add_argument("--use", metavar="FILE", help="viewers show this checkpoint (name, step or "
                                                "path)")
    p.add_argument("--wait", type=float, default=0.0, metavar="S",
                   help="after switching, wait up to S seconds for every live viewer's ack")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_ckpt)


@guarded
def cmd_ckpt(args: argparse.Namespace) -> int:
    d = run_dir(args)
    if args.auto or args.use:
        st = select_checkpoint(d, "auto" if args.auto else "manual", args.use)
        print("%s: %s -> %s (seq %d)" % (d.name, st.mode, st.checkpoint_path, st.seq))
        if args.wait > 0:
            return wait_for_acks(d, st.seq, args.wait)
        return 0
    state, state_err = current_state(d)
    ckpts = list_run_checkpoints(d)
    acks = viewer_acks(d)
    if args.json:
        print_json({"state": state.to_dict() if state else None, "state_error": state_err,
                    "checkpoints": [{"name": c.name, "path": str(c.path), "step": c.step,
                                     "size": c.size, "mtime": c.mtime, "metrics": c.metrics,
                                     "is_latest": c.is_latest} for c in ckpts],
                    "viewers": {k: v.to_dict() for k, v in acks.items()}})
        return 0
    mode = state.mode if state else "auto (no state file)"
    print("mode: %s%s" % (mode, "" if not state or state.mode == "auto"
                          else " -> " + state.checkpoint_path.rsplit("/", 1)[-1]))
    if state_err:
        print("state file unreadable: %s" % state_err)
    shown = {a.checkpoint_path: k for k, a in acks.items() if a.state != "stopped"}
    print(table(["CHECKPOINT", "STEP", "SIZE", "SAVED", "METRICS", "VIEWERS"],
                [[c.name, c.step if c.step is not None else "", _size(c.size),
                  _dt.datetime.fromtimestamp(c.mtime).strftime("%H:%M:%S"),
                  " ".join("%s=%.4g" % (k.rsplit("/", 1)[-1], v)
                           for k, v in list(c.metrics.items())[:2]),
                  shown.get(str(c.path), "")] for c in ckpts]))
    return 0


def wait_for_acks(d, seq: int, timeout: float) -> int:
    """0 once every live viewer applied request ``seq``; 1 when one refused it (it keeps its
    policy and says why) or did not answer in ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        live = {k: a for k, a in viewer_acks(d).items()
                if a.state != "stopped" and time.time() - a.updated_at < 10}
        behind = [k for k, a in live.items() if a.seq < seq]
        if not behind:
            for k, a in live.items():
                print("  %s: %s%s" % (k, (a.checkpoint_path or "-").rsplit("/", 1)[-1],
                                      "  ERROR: " + a.error if a.error else ""))
            refused = sorted(k for k, a in live.items() if a.error)
            if refused:
                print("  refused by: %s" % ", ".join(refused))
                return 1
            return 0
        if time.monotonic() > deadline:
            print("  not acknowledged by: %s" % ", ".join(behind))
            return 1
        time.sleep(0.05)


def _size(n: int) -> str:
    for unit in ("B", "K", "M", "G"):
        if n < 1024:
            return "%d%s" % (n, unit)
        n //= 1024
    return "%dT" % n
