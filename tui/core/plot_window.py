"""The visible part of a plot: keyboard zoom and pan on the x axis, and what a plot draws.

A :class:`XWindow` is a window over a series' whole x range, in fractions of it (``0..1``), so
it means the same on a growing series: a window that reaches the right end (``hi == 1``) keeps
following the newest points. :func:`plot_series` turns store series into the min/max columns of
the visible window (smoothed and raw) plus the min, max and last value in it; the plot widgets
only draw them. No Textual here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .metrics import MetricStore
from .metrics.downsample import Columns, ema, minmax_columns

MIN_WIDTH = 1.0 / 4096     # zooming in stops at 4096x
PAN_STEP = 0.25            # a pan moves the window by a quarter of its width


@dataclass(frozen=True)
class XWindow:
    lo: float = 0.0
    hi: float = 1.0

    @property
    def zoomed(self) -> bool:
        return self.lo > 0.0 or self.hi < 1.0

    @property
    def factor(self) -> float:
        """How many times the whole range is wider than the window."""
        return 1.0 / max(MIN_WIDTH, self.hi - self.lo)

    @property
    def follows(self) -> bool:
        """The window ends at the newest point (it moves on as the series grows)."""
        return self.hi >= 1.0

    def zoom(self, factor: float) -> "XWindow":
        """``factor`` < 1 zooms in, > 1 out; about the right end when following the newest
        points, else about the centre."""
        width = min(1.0, max(MIN_WIDTH, (self.hi - self.lo) * factor))
        if self.follows:
            return _clamped(1.0 - width, 1.0)
        mid = (self.lo + self.hi) / 2
        return _clamped(mid - width / 2, mid + width / 2)

    def pan(self, steps: float) -> "XWindow":
        """Move by ``steps`` quarters of the window's width (negative: to the left)."""
        width = self.hi - self.lo
        d = steps * PAN_STEP * width
        return _clamped(self.lo + d, self.hi + d)

    def span(self, lo: float, hi: float) -> tuple[float, float]:
        """The window over the whole range ``[lo, hi]``, in x units."""
        if not self.zoomed or not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
            return lo, hi
        w = hi - lo
        return lo + self.lo * w, lo + self.hi * w

    def describe(self) -> str:
        if not self.zoomed:
            return "all"
        return "%.3gx%s" % (self.factor, "" if self.follows else " ◂")


def _clamped(lo: float, hi: float) -> XWindow:
    width = hi - lo
    if lo < 0.0:
        lo, hi = 0.0, width
    if hi > 1.0:
        lo, hi = 1.0 - width, 1.0
    return XWindow(max(0.0, lo), min(1.0, hi))


@dataclass(frozen=True)
class WindowStats:
    """The raw values inside the visible window."""
    min: float
    max: float
    last: float
    points: int


@dataclass(frozen=True)
class SeriesView:
    key: tuple[str, str]              # (run, tag)
    main: Columns                     # smoothed (or raw when smoothing is 0)
    raw: Columns | None               # raw, when smoothed
    stats: WindowStats | None


@dataclass(frozen=True)
class PlotView:
    lo: float                         # the visible x range
    hi: float
    full_lo: float                    # the whole x range of the series shown
    full_hi: float
    series: tuple[SeriesView, ...]


def window_stats(x: np.ndarray, y: np.ndarray, lo: float, hi: float) -> WindowStats | None:
    sel = (x >= lo) & (x <= hi) & np.isfinite(y)
    if not sel.any():
        return None
    v = y[sel]
    return WindowStats(float(v.min()), float(v.max()), float(v[-1]), int(sel.sum()))


def plot_series(store: MetricStore, keys: Sequence[tuple[str, str]], columns: int,
                x: str = "step", smoothing: float = 0.0,
                window: XWindow = XWindow()) -> PlotView | None:
    """The visible window of one or several series on shared columns (an overlay when several).

    The whole range is the union of the series' x ranges; the window is taken in it. Min, max
    and last are of the raw values inside the window (what the user reads off the plot)."""
    raw_xy = {}
    for key in keys:
        got = store.xy(key[0], key[1], x, 0.0)
        if got is not None and len(got[0]):
            raw_xy[tuple(key)] = got
    if not raw_xy:
        return None
    full_lo = min(float(v[0][0]) for v in raw_xy.values())
    full_hi = max(float(v[0][-1]) for v in raw_xy.values())
    lo, hi = window.span(full_lo, full_hi)
    out = []
    for key, (xs, ys) in raw_xy.items():
        raw = minmax_columns(xs, ys, columns, lo, hi)
        main, shown_raw = raw, None
        if smoothing > 0:      # what store.xy(..., smoothing) gives, from the same points
            main, shown_raw = minmax_columns(xs, ema(ys, smoothing), columns, lo, hi), raw
        out.append(SeriesView(key, main, shown_raw, window_stats(xs, ys, lo, hi)))
    return PlotView(lo, out[0].main.hi if out else hi, full_lo, full_hi, tuple(out))


def log_columns(cols: Columns) -> Columns:
    """The same columns with log10 of y (values <= 0 dropped): for a log-scale y axis."""
    def lg(v: np.ndarray) -> np.ndarray:
        out = np.full(len(v), np.nan)
        ok = np.isfinite(v) & (v > 0)
        out[ok] = np.log10(v[ok])
        return out
    ymin, ymax, ylast = lg(cols.ymin), lg(cols.ymax), lg(cols.ylast)
    # a column whose min is <= 0 but max > 0 keeps its positive part
    fix = ~np.isfinite(ymin) & np.isfinite(ymax)
    ymin[fix] = ymax[fix]
    count = np.where(np.isfinite(ymax), cols.count, 0)
    return Columns(cols.lo, cols.hi, ymin, ymax, ylast, count)
