"""The ``pitwall`` command line: a thin layer over ``tui.core``.

Each command group lives in its own module with a ``register(subparsers)`` function that adds
its sub-commands; a command's handler takes the parsed args and returns an exit code.
``pitwall`` with no command opens the TUI.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import importlib
import pkgutil
from types import ModuleType

from tui import __version__


def command_modules() -> list[ModuleType]:
    """Every ``tui/cli/*_cmd.py`` module that has ``register``, in their ``ORDER``."""
    mods = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.endswith("_cmd"):
            mod = importlib.import_module("%s.%s" % (__name__, info.name))
            if hasattr(mod, "register"):
                mods.append(mod)
    return sorted(mods, key=lambda m: (getattr(m, "ORDER", 50), m.__name__))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pitwall",
        description="Terminal control center for robot-learning training runs. "
                    "With no command, opens the TUI.")
    parser.add_argument("--version", action="version", version="pitwall " + __version__)
    parser.add_argument("--root", type=Path, default=None,
                        help="runs directory (default: $PITWALL_ROOT or ./runs)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in command_modules():
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from .tui_cmd import open_tui

        return open_tui(args)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `pitwall ls | head`: quiet, also for the flush at exit
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
