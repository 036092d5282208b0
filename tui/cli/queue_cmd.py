"""``pitwall queue``: the local launch queue (its process, the GPUs, the waiting runs)."""
from __future__ import annotations

import argparse

from tui.core.launch_queue import status_lines
from tui.core.queue_state import ensure_queue_process

from .common import guarded, runs_root

ORDER = 25


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("queue", help="the local launch queue: GPUs, waiting runs")
    p.add_argument("--start", action="store_true",
                   help="start the queue process if none runs (e.g. after a reboot)")
    p.set_defaults(handler=cmd_queue)


@guarded
def cmd_queue(args: argparse.Namespace) -> int:
    root = runs_root(args)
    if args.start:
        pid = ensure_queue_process(root)
        print("started the queue process (pid %d)" % pid if pid else
              "the queue process is already running")
    print("\n".join(status_lines(root)))
    return 0
