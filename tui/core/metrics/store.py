"""The metric store: every run's series, bounded in memory, read cheaply by the UI.

Thread model: sources append from one watcher thread (:class:`.watcher.MetricsWatcher`); the UI
reads from its render timer (2-5 Hz). One lock guards the store; writers hold it for a numpy
copy per series, readers only to copy the (bounded) arrays of the series they draw. Smoothing,
sorting and downsampling run on the copies, outside the lock. ``version`` and ``run_version``
grow on every change, so a renderer can skip a frame when nothing changed.
"""
from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .downsample import X_MODES, Columns, ema, last_at, minmax_columns, sorted_xy
from .event_decode import ScalarBatch, TextPoint
from .series import BoundedSeries, Point

SeriesKey = tuple[str, str]          # (run, tag)


@dataclass
class SeriesSnapshot:
    run: str
    tag: str
    steps: np.ndarray      # int64, in arrival order
    walls: np.ndarray      # float64 Unix seconds (NaN: the source has no time for the point)
    values: np.ndarray     # float64
    seen: int              # points ever appended (held <= seen)
    exact_from: int        # points before this index are decimated history (min/max kept)
    version: int

    def x(self, mode: str = "step") -> np.ndarray:
        return x_values(self.steps, self.walls, mode)


def x_values(steps: np.ndarray, walls: np.ndarray, mode: str) -> np.ndarray:
    if mode == "step":
        return steps.astype(np.float64)
    if mode == "wall":
        return walls
    if mode == "relative":
        fin = np.flatnonzero(np.isfinite(walls))
        return walls - walls[fin[0]] if len(fin) else walls
    raise ValueError("x must be one of %s, not %r" % (", ".join(X_MODES), mode))


@dataclass
class TagInfo:
    tag: str
    held: int
    seen: int
    last: Point | None


@dataclass
class Overlay:
    """Several series reduced to the same columns over the same x range."""
    lo: float
    hi: float
    x: str
    series: dict[SeriesKey, Columns]

    def y_range(self) -> tuple[float, float] | None:
        rs = [r for r in (c.y_range() for c in self.series.values()) if r is not None]
        if not rs:
            return None
        return min(r[0] for r in rs), max(r[1] for r in rs)


@dataclass
class _Run:
    series: dict[str, BoundedSeries] = field(default_factory=dict)
    tag_versions: dict[str, int] = field(default_factory=dict)
    texts: dict[str, deque] = field(default_factory=dict)
    hparams: dict[str, Any] = field(default_factory=dict)
    status: Any = None
    version: int = 0


class MetricStore(object):
    """Per run, per tag: bounded series (see :mod:`.series`) plus texts, hparams and status."""

    def __init__(self, recent: int = 1024, history: int = 2048, max_texts: int = 100):
        self.recent = recent
        self.history = history
        self.max_texts = max_texts
        self._lock = threading.Lock()
        self._runs: dict[str, _Run] = {}
        self._version = 0

    # ================================================================== writing
    def _run(self, run: str) -> _Run:
        r = self._runs.get(run)
        if r is None:
            r = self._runs[run] = _Run()
        return r

    def _bump(self, r: _Run, tag: str | None = None) -> None:
        self._version += 1
        r.version = self._version
        if tag is not None:
            r.tag_versions[tag] = self._version

    def extend(self, run: str, tag: str, steps: Sequence[int] | np.ndarray,
               values: Sequence[float] | np.ndarray,
               walls: Sequence[float] | np.ndarray | None = None) -> None:
        """Append points to one series (``walls`` NaN when unknown)."""
        s = np.asarray(steps, dtype=np.int64)
        v = np.asarray(values, dtype=np.float64)
        w = (np.full(len(s), np.nan) if walls is None
             else np.asarray(walls, dtype=np.float64))
        if not (len(s) == len(v) == len(w)):
            raise ValueError("steps, values and walls differ in length")
        if not len(s):
            return
        with self._lock:
            r = self._run(run)
            ser = r.series.get(tag)
            if ser is None:
                ser = r.series[tag] = BoundedSeries(self.recent, self.history)
            ser.extend(s, w, v)
            self._bump(r, tag)

    def extend_many(self, run: str, scalars: Mapping[str, ScalarBatch]) -> int:
        """Append a poll's points (tag -> batch); returns the number of points."""
        n = 0
        with self._lock:
            r = self._run(run)
            for tag, b in scalars.items():
                if not len(b.steps):
                    continue
                ser = r.series.get(tag)
                if ser is None:
                    ser = r.series[tag] = BoundedSeries(self.recent, self.history)
                ser.extend(b.steps, b.walls, b.values)
                n += len(b.steps)
                self._bump(r, tag)
        return n

    def add_texts(self, run: str, texts: Iterable[TextPoint]) -> None:
        with self._lock:
            r = self._run(run)
            for t in texts:
                q = r.texts.get(t.tag)
                if q is None:
                    q = r.texts[t.tag] = deque(maxlen=self.max_texts)
                q.append(t)
            self._bump(r)

    def update_hparams(self, run: str, hparams: Mapping[str, Any]) -> None:
        with self._lock:
            r = self._run(run)
            r.hparams.update(hparams)
            self._bump(r)

    def set_status(self, run: str, status: Any) -> None:
        """An opaque status object for the run (``RunMetrics.status()``); stored as given."""
        with self._lock:
            r = self._run(run)
            r.status = status
            self._bump(r)

    def remove_run(self, run: str) -> None:
        with self._lock:
            if self._runs.pop(run, None) is not None:
                self._version += 1

    def clear(self) -> None:
        with self._lock:
            self._runs.clear()
            self._version += 1

    # ================================================================== reading
    @property
    def version(self) -> int:
        return self._version

    def run_version(self, run: str) -> int:
        r = self._runs.get(run)
        return r.version if r is not None else 0

    def tag_version(self, run: str, tag: str) -> int:
        with self._lock:
            r = self._runs.get(run)
            return r.tag_versions.get(tag, 0) if r is not None else 0

    def runs(self) -> list[str]:
        with self._lock:
            return sorted(self._runs)

    def tags(self, run: str | None = None) -> list[str]:
        """The tags of one run, or of all runs together."""
        with self._lock:
            if run is not None:
                r = self._runs.get(run)
                return sorted(r.series) if r is not None else []
            out: set[str] = set()
            for r in self._runs.values():
                out.update(r.series)
            return sorted(out)

    def tag_infos(self, run: str) -> list[TagInfo]:
        with self._lock:
            r = self._runs.get(run)
            if r is None:
                return []
            return [TagInfo(t, s.held, s.seen, s.last()) for t, s in sorted(r.series.items())]

    def latest(self, run: str, tag: str) -> Point | None:
        with self._lock:
            r = self._runs.get(run)
            s = r.series.get(tag) if r is not None else None
            return s.last() if s is not None else None

    def snapshot(self, run: str, tag: str) -> SeriesSnapshot | None:
        """A copy of the points held for one series (at most ~recent*1.25 + history)."""
        with self._lock:
            r = self._runs.get(run)
            s = r.series.get(tag) if r is not None else None
            if s is None:
                return None
            a = s.arrays()
            return SeriesSnapshot(run, tag, a.steps, a.walls, a.values, s.seen, s.exact_from,
                                  r.tag_versions.get(tag, 0))

    def texts(self, run: str) -> dict[str, list[TextPoint]]:
        with self._lock:
            r = self._runs.get(run)
            return {t: list(q) for t, q in r.texts.items()} if r is not None else {}

    def hparams(self, run: str) -> dict[str, Any]:
        with self._lock:
            r = self._runs.get(run)
            return dict(r.hparams) if r is not None else {}

    def status(self, run: str) -> Any:
        with self._lock:
            r = self._runs.get(run)
            return r.status if r is not None else None

    def memory_bytes(self) -> int:
        """Bytes held by the series arrays of every run."""
        with self._lock:
            return sum(s.nbytes for r in self._runs.values() for s in r.series.values())

    # ------------------------------------------------------------------ plotting
    def xy(self, run: str, tag: str, x: str = "step",
           smoothing: float = 0.0) -> tuple[np.ndarray, np.ndarray] | None:
        """x (sorted) and y (EMA-smoothed when ``smoothing`` > 0) of one series."""
        snap = self.snapshot(run, tag)
        if snap is None:
            return None
        xs, ys = sorted_xy(snap.x(x), snap.values)
        if smoothing > 0:
            ys = ema(ys, smoothing)
        return xs, ys

    def downsample(self, run: str, tag: str, columns: int, x: str = "step",
                   smoothing: float = 0.0,
                   x_range: tuple[float, float] | None = None) -> Columns | None:
        """One series as ``columns`` min/max columns (see :class:`.downsample.Columns`)."""
        got = self.xy(run, tag, x, smoothing)
        if got is None:
            return None
        lo, hi = x_range if x_range is not None else (None, None)
        return minmax_columns(got[0], got[1], columns, lo, hi)

    def overlay(self, keys: Sequence[SeriesKey], columns: int, x: str = "step",
                smoothing: float = 0.0,
                x_range: tuple[float, float] | None = None) -> Overlay:
        """Several series (e.g. one tag of several runs) on shared columns.

        ``x``: ``"step"``, ``"wall"`` (Unix time) or ``"relative"`` (seconds since each series'
        first point). The x range is the union of the series' ranges unless given.
        """
        data = {}
        for key in keys:
            got = self.xy(key[0], key[1], x, smoothing)
            if got is not None and len(got[0]):
                data[tuple(key)] = got
        if x_range is not None:
            lo, hi = float(x_range[0]), float(x_range[1])
        elif data:
            lo = min(float(v[0][0]) for v in data.values())
            hi = max(float(v[0][-1]) for v in data.values())
        else:
            lo, hi = 0.0, 1.0
        cols = {k: minmax_columns(v[0], v[1], columns, lo, hi) for k, v in data.items()}
        hi_eff = next(iter(cols.values())).hi if cols else hi
        return Overlay(lo, hi_eff, x, cols)

    def aligned(self, keys: Sequence[SeriesKey], at: Sequence[float] | np.ndarray,
                x: str = "step", smoothing: float = 0.0) -> np.ndarray:
        """``len(keys) x len(at)``: each series' last value at or before each x (NaN before
        its first point) - several runs compared at the same steps or times."""
        at = np.asarray(at, dtype=np.float64)
        out = np.full((len(keys), len(at)), np.nan)
        for i, key in enumerate(keys):
            got = self.xy(key[0], key[1], x, smoothing)
            if got is not None and len(got[0]):
                out[i] = last_at(got[0], got[1], at)
        return out
