"""``pitwall`` with no command: the Textual app."""
from __future__ import annotations

import argparse

from tui.core.runs_root import default_runs_root


def open_tui(args: argparse.Namespace) -> int:
    from tui.app import run_app  # Textual is imported only here

    return run_app((args.root or default_runs_root()).absolute())
