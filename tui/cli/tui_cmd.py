"""``pitwall`` with no command: the Textual app."""
from __future__ import annotations

import argparse

from .common import runs_root


def open_tui(args: argparse.Namespace) -> int:
    from tui.app import run_app  # Textual is imported only here

    return run_app(runs_root(args))
