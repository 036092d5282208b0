"""What a plot needs from a series: smoothing, min/max per column, alignment of several runs.

Pure functions over numpy arrays; :class:`tui.core.metrics.store.MetricStore` applies them to
snapshots taken under its lock.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

X_MODES = ("step", "wall", "relative")
_BLOCK = 128


def ema(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's debiased exponential moving average (its scalar dashboard's "Smoothing").

    As TensorBoard does it: ``last = last * w + (1 - w) * v`` from ``last = 0``, divided by
    ``1 - w ** n`` (``n`` finite values so far); non-finite values are passed through and do
    not update the average; a constant series is returned unchanged.
    """
    v = np.asarray(values, dtype=np.float64)
    out = v.copy()
    if len(v) == 0 or weight <= 0:
        return out
    if bool(np.all(v == v[0])):
        return out
    w = float(weight)
    finite = np.isfinite(v)
    x = v[finite]
    n = len(x)
    if n == 0:
        return out
    if w >= 1.0:
        out[finite] = 0.0        # TensorBoard: last stays 0 and the debias weight is 1
        return out
    # last_k = w * last_{k-1} + (1 - w) * x_k, in blocks: within a block it is a lower
    # triangular Toeplitz product; the carry between blocks is one multiply-add.
    toe, carry_w, debias = _ema_kernel(w, n)
    b = _BLOCK
    scaled = (1.0 - w) * x
    last = np.empty(n)
    carry = 0.0
    for a in range(0, n, b):
        seg = scaled[a:a + b]
        m = len(seg)
        y = (toe[:m, :m] if m < b else toe) @ seg + carry_w[:m] * carry
        last[a:a + m] = y
        carry = y[-1]
    out[finite] = last / debias[:n]
    return out


_KERNELS: dict[float, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _ema_kernel(w: float, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The block's Toeplitz matrix, the carry weights and the debias divisors (at least
    ``n``) of weight ``w``, made once per weight: a smoothing change redraws every series of
    a compare view with the same few weights."""
    got = _KERNELS.get(w)
    if got is None or len(got[2]) < n:
        k = np.arange(_BLOCK)
        with np.errstate(under="ignore"):
            toe = np.tril(w ** np.maximum(k[:, None] - k[None, :], 0).astype(np.float64))
            carry_w = w ** (k + 1.0)
            size = max(n, 2 * len(got[2]) if got is not None else 4096)
            debias = 1.0 - w ** np.arange(1, size + 1, dtype=np.float64)
        if len(_KERNELS) > 32:
            _KERNELS.clear()
        got = _KERNELS[w] = (toe, carry_w, debias)
    return got


def ema_reference(values, weight: float) -> list[float]:
    """The same, one value at a time, as TensorBoard's TypeScript does it (for tests)."""
    vals = [float(x) for x in values]
    if not vals or weight <= 0:
        return vals
    if all(x == vals[0] for x in vals):
        return vals
    last, num, out = 0.0, 0, []
    for x in vals:
        if not np.isfinite(x):
            out.append(x)
            continue
        last = last * weight + (1 - weight) * x
        num += 1
        debias = 1.0 if weight == 1 else 1 - weight ** num
        out.append(last / debias)
    return out


@dataclass
class Columns:
    """A series reduced to ``n`` columns of equal width over ``[lo, hi]`` on the x axis.

    Empty columns hold NaN (``count`` 0). ``ymin``/``ymax`` ignore NaN values.
    """
    lo: float
    hi: float
    ymin: np.ndarray
    ymax: np.ndarray
    ylast: np.ndarray      # the value of the last point in the column
    count: np.ndarray      # points in the column

    @property
    def columns(self) -> int:
        return len(self.count)

    @property
    def edges(self) -> np.ndarray:
        return np.linspace(self.lo, self.hi, self.columns + 1)

    def y_range(self) -> tuple[float, float] | None:
        fin = np.isfinite(self.ymin) & np.isfinite(self.ymax)
        if not fin.any():
            return None
        return float(self.ymin[fin].min()), float(self.ymax[fin].max())


def sorted_xy(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop points without an x (NaN wall time); sort by x when out of order (stable)."""
    keep = ~np.isnan(x)
    if not keep.all():
        x, y = x[keep], y[keep]
    if len(x) > 1 and bool(np.any(x[1:] < x[:-1])):
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
    return x, y


def minmax_columns(x: np.ndarray, y: np.ndarray, columns: int, lo: float | None = None,
                   hi: float | None = None) -> Columns:
    """Min/max downsampling: the extremes of every column survive, whatever the point count.

    ``x`` must be sorted (see :func:`sorted_xy`); points outside ``[lo, hi]`` are left out.
    """
    columns = max(1, int(columns))
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if lo is None:
        lo = float(x[0]) if len(x) else 0.0
    if hi is None:
        hi = float(x[-1]) if len(x) else 1.0
    if hi <= lo:
        hi = lo + 1.0
    a = int(np.searchsorted(x, lo, side="left"))
    b = int(np.searchsorted(x, hi, side="right"))
    x, y = x[a:b], y[a:b]
    nan = np.full(columns, np.nan)
    if len(x) == 0:
        return Columns(lo, hi, nan, nan.copy(), nan.copy(), np.zeros(columns, dtype=np.int64))
    col = ((x - lo) * (columns / (hi - lo))).astype(np.int64)
    np.clip(col, 0, columns - 1, out=col)
    starts = np.searchsorted(col, np.arange(columns), side="left")
    ends = np.append(starts[1:], len(col))
    count = ends - starts
    has = count > 0
    s = starts[has]
    ymin, ymax, ylast = nan.copy(), nan.copy(), nan.copy()
    ymin[has] = np.fmin.reduceat(y, s)
    ymax[has] = np.fmax.reduceat(y, s)
    ylast[has] = y[ends[has] - 1]
    return Columns(float(lo), float(hi), ymin, ymax, ylast, count.astype(np.int64))


def last_at(x: np.ndarray, y: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The value of the last point with ``x <= at`` for each ``at`` (NaN before the first).

    ``x`` sorted. This is how runs are compared at the same step or time.
    """
    at = np.asarray(at, dtype=np.float64)
    i = np.searchsorted(x, at, side="right") - 1
    out = np.full(len(at), np.nan)
    ok = i >= 0
    out[ok] = y[i[ok]]
    return out
