"""Short text for numbers, sizes, ages and states, as the widgets show them."""
from __future__ import annotations

import math

SPARK_CHARS = "▁▂▃▄▅▆▇█"
STATUS_STYLES = {
    "running": "bold green", "starting": "cyan", "finished": "blue", "failed": "bold red",
    "stopped": "yellow", "lost": "magenta", "invalid": "red", "pending": "dim",
    "unknown": "dim",
}


def status_style(status: str) -> str:
    return STATUS_STYLES.get(status.split(" ", 1)[0], "")


def human_int(n: int | None) -> str:
    """12345 -> 12.3k, 2000000 -> 2.00M."""
    if n is None:
        return ""
    a = abs(n)
    if a < 10000:
        return str(n)
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            v = n / div
            return ("%.3g" % v) + unit if abs(v) < 100 else "%d%s" % (round(v), unit)
    return str(n)


def num(v: float | None, width: int = 7) -> str:
    """A float in at most ``width`` characters."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    for prec in range(4, 0, -1):
        s = "%.*g" % (prec, v)
        if len(s) <= width:
            return s
    return "%.0e" % v


def size(n: int | None) -> str:
    if n is None:
        return ""
    f = float(n)
    for unit in ("B", "K", "M", "G"):
        if f < 1024 or unit == "G":
            return ("%d%s" % (f, unit)) if unit == "B" or f >= 100 else "%.1f%s" % (f, unit)
        f /= 1024
    return "%dT" % f


def age(seconds: float | None) -> str:
    """Coarse on purpose: a runs list redraws an age only when its text changes."""
    if seconds is None:
        return ""
    s = max(0, int(seconds))
    if s < 60:
        return "<1m"
    if s < 3600:
        return "%dm" % (s // 60)
    if s < 86400:
        return "%dh" % (s // 3600)
    return "%dd" % (s // 86400)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = int(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return "%d:%02d:%02d" % (h, m, sec) if h else "%d:%02d" % (m, sec)


def sparkline(values: tuple[float, ...] | list[float], width: int) -> str:
    vals = [v for v in values if v == v][-width:]
    if not vals:
        return ""
    lo, hi = min(vals), max(vals)
    if hi <= lo:
        return SPARK_CHARS[len(SPARK_CHARS) // 2] * len(vals)
    n = len(SPARK_CHARS) - 1
    return "".join(SPARK_CHARS[int(round((v - lo) / (hi - lo) * n))] for v in vals)


def middle_ellipsis(text: str, width: int) -> str:
    """Keep both ends (a run's name ends with its timestamp)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    tail = (width - 1) * 3 // 5
    head = width - 1 - tail
    return text[:head] + "…" + text[len(text) - tail:]


def end_ellipsis(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    return text[:max(0, width - 1)] + "…" if width > 0 else ""


def run_name(name: str, width: int) -> str:
    """A run's directory name in ``width`` cells. When it does not fit it reads as
    ``<experiment> MM-DD HH:MM:SS`` (the end of a long experiment name goes first, the seconds
    only when even that does not fit): the experiment and the start time, what tells runs
    apart, stay readable."""
    if len(name) <= width:
        return name
    import re

    m = re.match(r"^(.*)_\d{4}-(\d{2})-(\d{2})_(\d{2})-(\d{2})-(\d{2})(-\d+)?$", name)
    if m is None:
        return middle_ellipsis(name, width)
    exp, mo, d, h, mi, sec, n = m.groups()
    n = n or ""
    long_when = " %s-%s %s:%s:%s%s" % (mo, d, h, mi, sec, n)
    short_when = " %s-%s %s:%s%s" % (mo, d, h, mi, n)
    if len(exp) + len(long_when) <= width:
        return exp + long_when
    for when, least in ((long_when, 6), (short_when, 3)):
        room = width - len(when) - 1
        if room >= least:
            return exp[:room] + "…" + when
    return middle_ellipsis(name, width)


def display_path(path) -> str:
    """``./runs`` below the working directory, ``~/...`` below home, else absolute."""
    import os
    from pathlib import Path

    p = Path(path)
    for base, prefix in ((Path.cwd(), "."), (Path.home(), "~")):
        try:
            rel = p.relative_to(base)
        except ValueError:
            continue
        return prefix if str(rel) == "." else os.path.join(prefix, str(rel))
    return str(p)


def summary_line(s) -> str:
    """The runs list's one line: CPU, RAM, GPUs (or that there are none)."""
    text = "cpu %d%%  ram %d%%" % (round(s.cpu), round(s.ram_percent))
    if s.gpus:
        text += "  " + " ".join("gpu%d %s" % (g.index, "%d%%" % g.util if g.util is not None
                                               else "-") for g in s.gpus[:4])
    elif s.gpu_note:
        text += "  no gpu"
    return text
