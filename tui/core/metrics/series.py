"""One scalar series in bounded memory: recent points exact, older history decimated.

The newest ``recent`` points are kept as they came. Older points move to a history of at most
``history`` points, decimated by min/max: every bucket of ``factor`` consecutive points keeps
its smallest and its largest value (in their order of arrival), so the envelope a plot draws is
exact at any zoom that shows a bucket as a column or less. When the history is full, its
buckets are merged pairwise (``factor`` doubles). Memory per series is therefore at most about
``(1.25 * recent + history) * 24`` bytes, however long the run.

Not thread-safe by itself: :class:`tui.core.metrics.store.MetricStore` serializes access.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

_I8, _F8 = np.int64, np.float64


class SeriesArrays(NamedTuple):
    steps: np.ndarray      # int64
    walls: np.ndarray      # float64 (NaN where the source has no time)
    values: np.ndarray     # float64


class Point(NamedTuple):
    step: int
    wall: float
    value: float


def _grow(a: np.ndarray, need: int, cap: int) -> np.ndarray:
    if len(a) >= need:
        return a
    n = min(cap, max(need, 2 * len(a), 16))
    b = np.empty(n, dtype=a.dtype)
    b[:len(a)] = a
    return b


def _minmax_index(v: np.ndarray, q: int, f: int, base: int = 0) -> np.ndarray:
    """Indices of the min and max point of each of ``q`` buckets of ``f`` values, in order."""
    blk = v[base:base + q * f].reshape(q, f)
    nan = np.isnan(blk)
    if nan.any():
        amin = np.argmin(np.where(nan, np.inf, blk), axis=1)
        amax = np.argmax(np.where(nan, -np.inf, blk), axis=1)
    else:
        amin = np.argmin(blk, axis=1)
        amax = np.argmax(blk, axis=1)
    first = np.minimum(amin, amax)
    second = np.maximum(amin, amax)
    starts = base + np.arange(q, dtype=np.int64) * f
    idx = np.stack([starts + first, starts + second], axis=1).ravel()
    keep = np.stack([np.ones(q, dtype=bool), second != first], axis=1).ravel()
    return idx[keep]


class BoundedSeries(object):
    __slots__ = ("recent_cap", "slack_cap", "hist_cap", "factor", "seen", "_rs", "_rw", "_rv",
                 "_rn", "_hs", "_hw", "_hv", "_hn", "_pend", "_pn", "_moved")

    def __init__(self, recent: int = 1024, history: int = 2048):
        if recent < 1 or history < 8:
            raise ValueError("recent must be >= 1 and history >= 8")
        self.recent_cap = int(recent)
        self.slack_cap = self.recent_cap + max(self.recent_cap // 4, 1)
        self.hist_cap = int(history)
        self.factor = 2                  # original points per history bucket
        self.seen = 0                    # points ever appended
        self._rs = np.empty(0, _I8)
        self._rw = np.empty(0, _F8)
        self._rv = np.empty(0, _F8)
        self._rn = 0
        self._hs = np.empty(0, _I8)
        self._hw = np.empty(0, _F8)
        self._hv = np.empty(0, _F8)
        self._hn = 0
        self._pend: list[tuple[int, int, float, float]] = []   # (order, step, wall, value)
        self._pn = 0                     # original points in the pending bucket
        self._moved = 0                  # points moved to the history so far (their order)

    # ------------------------------------------------------------------ writing
    def extend(self, steps: np.ndarray, walls: np.ndarray, values: np.ndarray) -> None:
        n = len(steps)
        if n == 0:
            return
        s = np.asarray(steps, dtype=_I8)
        w = np.asarray(walls, dtype=_F8)
        v = np.asarray(values, dtype=_F8)
        self.seen += n
        R = self.recent_cap
        rn = self._rn
        if n >= R:
            if rn:
                self._to_history(self._rs[:rn], self._rw[:rn], self._rv[:rn])
            if n > R:
                self._to_history(s[:n - R], w[:n - R], v[:n - R])
            self._rs = _grow(self._rs, R, self.slack_cap)
            self._rw = _grow(self._rw, R, self.slack_cap)
            self._rv = _grow(self._rv, R, self.slack_cap)
            self._rs[:R], self._rw[:R], self._rv[:R] = s[n - R:], w[n - R:], v[n - R:]
            self._rn = R
            return
        if rn + n > self.slack_cap:
            drop = rn + n - R            # < rn because n < R
            self._to_history(self._rs[:drop], self._rw[:drop], self._rv[:drop])
            keep = rn - drop
            self._rs[:keep] = self._rs[drop:rn]
            self._rw[:keep] = self._rw[drop:rn]
            self._rv[:keep] = self._rv[drop:rn]
            rn = keep
        self._rs = _grow(self._rs, rn + n, self.slack_cap)
        self._rw = _grow(self._rw, rn + n, self.slack_cap)
        self._rv = _grow(self._rv, rn + n, self.slack_cap)
        self._rs[rn:rn + n], self._rw[rn:rn + n], self._rv[rn:rn + n] = s, w, v
        self._rn = rn + n

    def _hist_append(self, s: np.ndarray, w: np.ndarray, v: np.ndarray) -> None:
        k = len(s)
        hn = self._hn
        self._hs = _grow(self._hs, hn + k, self.hist_cap)
        self._hw = _grow(self._hw, hn + k, self.hist_cap)
        self._hv = _grow(self._hv, hn + k, self.hist_cap)
        self._hs[hn:hn + k], self._hw[hn:hn + k], self._hv[hn:hn + k] = s, w, v
        self._hn = hn + k

    def _to_history(self, s: np.ndarray, w: np.ndarray, v: np.ndarray) -> None:
        m = len(s)
        while self._hn + 2 * ((self._pn + m) // self.factor + 1) > self.hist_cap:
            self._compact()
        f = self.factor
        i = 0
        if self._pn:
            k = min(f - self._pn, m)
            self._pend_add(s, w, v, 0, k)
            i = k
            if self._pn >= f:
                self._flush_pending()
        q = (m - i) // f
        if q:
            idx = _minmax_index(v, q, f, i)
            self._hist_append(s[idx], w[idx], v[idx])
            i += q * f
        if i < m:
            self._pend_add(s, w, v, i, m)
        self._moved += m

    def _pend_add(self, s: np.ndarray, w: np.ndarray, v: np.ndarray, a: int, b: int) -> None:
        seg = v[a:b]
        finite = ~np.isnan(seg)
        if finite.any():
            lo = a + int(np.argmin(np.where(finite, seg, np.inf)))
            hi = a + int(np.argmax(np.where(finite, seg, -np.inf)))
        else:
            lo = hi = a
        cands = self._pend + [(self._moved + j, int(s[j]), float(w[j]), float(v[j]))
                              for j in sorted({lo, hi})]
        vals = [c[3] for c in cands]
        fin = [x for x in vals if x == x]
        if fin:
            mn, mx = min(fin), max(fin)
            pick_lo = next(c for c in cands if c[3] == mn)
            pick_hi = next(c for c in cands if c[3] == mx)
        else:
            pick_lo = pick_hi = cands[0]
        self._pend = sorted({pick_lo, pick_hi})
        self._pn += b - a

    def _flush_pending(self) -> None:
        if self._pend:
            arr = self._pend
            self._hist_append(np.array([p[1] for p in arr], dtype=_I8),
                              np.array([p[2] for p in arr], dtype=_F8),
                              np.array([p[3] for p in arr], dtype=_F8))
        self._pend = []
        self._pn = 0

    def _compact(self) -> None:
        """Merge history buckets pairwise: every 4 stored points become their min and max."""
        hn = self._hn
        q = hn // 4
        if q:
            idx = _minmax_index(self._hv[:hn], q, 4)
            tail = np.arange(q * 4, hn)
            idx = np.concatenate([idx, tail])
            k = len(idx)
            self._hs[:k] = self._hs[idx]
            self._hw[:k] = self._hw[idx]
            self._hv[:k] = self._hv[idx]
            self._hn = k
        self.factor *= 2

    # ------------------------------------------------------------------ reading
    @property
    def held(self) -> int:
        return self._hn + len(self._pend) + self._rn

    @property
    def exact_from(self) -> int:
        """How many of the oldest held points are history (decimated); the rest are exact."""
        return self._hn + len(self._pend)

    def arrays(self) -> SeriesArrays:
        """A copy of every held point, oldest first."""
        hn, rn = self._hn, self._rn
        if not hn and not self._pend:
            return SeriesArrays(self._rs[:rn].copy(), self._rw[:rn].copy(), self._rv[:rn].copy())
        ps = np.array([p[1] for p in self._pend], dtype=_I8)
        pw = np.array([p[2] for p in self._pend], dtype=_F8)
        pv = np.array([p[3] for p in self._pend], dtype=_F8)
        return SeriesArrays(np.concatenate([self._hs[:hn], ps, self._rs[:rn]]),
                            np.concatenate([self._hw[:hn], pw, self._rw[:rn]]),
                            np.concatenate([self._hv[:hn], pv, self._rv[:rn]]))

    def last(self) -> Point | None:
        if self._rn:
            i = self._rn - 1
            return Point(int(self._rs[i]), float(self._rw[i]), float(self._rv[i]))
        if self._pend:
            p = self._pend[-1]
            return Point(p[1], p[2], p[3])
        if self._hn:
            i = self._hn - 1
            return Point(int(self._hs[i]), float(self._hw[i]), float(self._hv[i]))
        return None

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self._rs, self._rw, self._rv, self._hs, self._hw, self._hv))
