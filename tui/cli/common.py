"""What every CLI command shares: the runs root, run lookup, tables, JSON, errors."""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from runners.protocol import ProtocolError

from tui.core.runs_root import default_runs_root
from tui.core.profiles import ProfileError
from tui.core.registry import RunNotFound, resolve_run


def runs_root(args: argparse.Namespace) -> Path:
    return (args.root or default_runs_root()).absolute()


def run_dir(args: argparse.Namespace, ref: str | None = None) -> Path:
    return resolve_run(runs_root(args), ref if ref is not None else args.run)


def add_run_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="run directory name, unique prefix (newest match) "
                                              "or path")


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    rows = [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)


def age(t: _dt.datetime | float | None) -> str:
    if t is None:
        return ""
    if isinstance(t, (int, float)):
        t = _dt.datetime.fromtimestamp(t)
    s = max(0, int((_dt.datetime.now() - t).total_seconds()))
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= n:
            return "%d%s" % (s // n, unit)
    return "%ds" % s


def err(msg: str) -> int:
    sys.stderr.write("pitwall: %s\n" % msg)
    return 2


def guarded(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn the core's expected errors into one clear line and exit code 2."""
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except (ProfileError, ProtocolError, RunNotFound) as e:
            return err(str(e))
        except RuntimeError as e:
            if type(e).__module__.startswith("tui."):
                return err(str(e))
            raise
    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper
