"""The ``pitwall`` command line: a thin layer over ``tui.core``.

Each command group lives in its own module with a ``register(subparsers)`` function that adds
its sub-commands; a command's handler takes the parsed args and returns an exit code.
``pitwall`` with no command opens the TUI.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path
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
    add_global_options(parser, default=None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in command_modules():
        module.register(sub)
    for command in set(sub.choices.values()):
        # also after the command, as a user types it: `pitwall ls --root R`
        add_global_options(command, default=argparse.SUPPRESS)
    return parser


def add_global_options(p: argparse.ArgumentParser, default: object) -> None:
    """Options every command takes, before or after the command name. After it they default
    to ``SUPPRESS``, so that an option given before the command is not reset."""
    p.add_argument("--root", type=Path, default=default,
                   help="runs directory (default: $PITWALL_ROOT or ./runs)")


def _tui_only(argv: list[str]) -> argparse.Namespace | None:
    """``pitwall`` / ``pitwall --root R``: the TUI, parsed without importing every command
    (the commands' modules load the whole core; the TUI's first frame should not wait)."""
    p = argparse.ArgumentParser(prog="pitwall", add_help=False)
    add_global_options(p, default=None)
    try:
        args, rest = p.parse_known_args(argv)
    except SystemExit:
        return None
    if rest:
        return None
    args.command = None
    return args


def main(argv: list[str] | None = None) -> int:
    quick = _tui_only(list(sys.argv[1:] if argv is None else argv))
    if quick is not None:
        from .tui_cmd import open_tui

        return open_tui(quick)
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
    except OSError as e:  # a full disk, a read-only or vanished directory: one line, no trace
        sys.stderr.write("pitwall: %s\n" % os_error_text(e))
        return 1


def os_error_text(e: OSError) -> str:
    """``<file>: <reason>`` (``No space left on device``), whatever raised it."""
    where = e.filename if e.filename is not None else None
    what = e.strerror or str(e)
    if where is not None and e.filename2 is not None:
        return "%s -> %s: %s" % (where, e.filename2, what)
    return "%s: %s" % (where, what) if where is not None else what


if __name__ == "__main__":
    sys.exit(main())
