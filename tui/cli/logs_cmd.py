"""``pitwall logs RUN [ROLE] [-f]``."""
from __future__ import annotations

import argparse
import os
import sys

from tui.core.logs import available_logs, follow, log_path, tail_text

from .common import add_run_arg, err, guarded, run_dir

ORDER = 50


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("logs", help="show (and follow) a role's log")
    add_run_arg(p)
    p.add_argument("role", nargs="?", default=None,
                   help="role or viewer (default: the first role); 'pitwall' for Pitwall's log")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    p.add_argument("-n", "--lines", type=int, default=50, help="lines to show first")
    p.set_defaults(handler=cmd_logs)


@guarded
def cmd_logs(args: argparse.Namespace) -> int:
    d = run_dir(args)
    path = log_path(d, args.role)
    if not path.exists():
        return err("%s has no log %s (logs: %s)" % (d.name, path.name,
                                                     ", ".join(available_logs(d)) or "none"))
    sys.stdout.write(tail_text(path, args.lines))
    sys.stdout.flush()
    if args.follow:
        for chunk in follow(path, os.path.getsize(path)):
            sys.stdout.write(chunk)
            sys.stdout.flush()
    return 0
