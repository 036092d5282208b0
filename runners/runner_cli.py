"""The command line every runner shares: ``train`` and ``play`` with Pitwall's arguments.

Pitwall starts ``python -m runners.<name> train --run-dir D --role R [--resume CKPT]`` and
``... play --run-dir D --viewer-id ID --role ID --display X``; a runner adds its own options to
the sub-parsers this returns.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Tuple

EXIT_USAGE = 2


def runner_parser(prog: str, description: str, display_help: str,
                  resume_help: str = "restore weights, optimizer and counters, then continue"
                  ) -> Tuple[argparse.ArgumentParser, Any, argparse.ArgumentParser,
                             argparse.ArgumentParser]:
    """(parser, sub-parsers, train parser, play parser)."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    sub = p.add_subparsers(dest="mode")
    sub.required = True
    t = sub.add_parser("train", help="train headless; params come from RUN_DIR/run.json")
    t.add_argument("--run-dir", required=True, type=Path)
    t.add_argument("--role", default="train", help="role name in metrics.jsonl (default train)")
    t.add_argument("--resume", type=Path, default=None, metavar="CKPT_PATH", help=resume_help)
    v = sub.add_parser("play", help="run the policy the run's checkpoint state asks for")
    v.add_argument("--run-dir", required=True, type=Path)
    v.add_argument("--viewer-id", required=True)
    v.add_argument("--role", default=None,
                   help="the viewer's role (Pitwall's viewer start passes it; = the viewer id)")
    v.add_argument("--display", default="none", help=display_help)
    return p, sub, t, v
