"""Runs side by side: the parameters that differ between them and each one's headline metric.

The UI marks runs and asks to compare them (:meth:`CompareModel.want`); the poller's thread
builds a :class:`CompareSnapshot` from the registry (each run's resolved parameters, from
``run.json``) and the metric store (the final and best value of the headline tag), and keeps
the compared runs' metrics watched. The curves themselves are drawn from the store by the
compare screen (:func:`tui.core.plot_window.plot_series`). No Textual here.
"""
from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from .registry import load_run
from .run_state import RunInfo
from .runs_list_model import headline_tag

if TYPE_CHECKING:
    from .metrics import MetricStore

LOWER_IS_BETTER = re.compile(r"(loss|error|err\b|cost|regret|mse|mae|nll)", re.I)
MISSING = "—"


@dataclass(frozen=True)
class CompareRow:
    name: str
    path: Path
    status_text: str
    profile: str
    sweep_id: str
    params: dict[str, str] = field(default_factory=dict)   # only the keys that differ
    headline: str | None = None
    final: float | None = None
    best: float | None = None
    step: int | None = None


@dataclass(frozen=True)
class CompareSnapshot:
    names: tuple[str, ...] = ()              # in the order they were marked (their colours)
    rows: tuple[CompareRow, ...] = ()
    param_keys: tuple[str, ...] = ()         # the parameters that differ, sorted
    same: int = 0                            # how many parameters are the same in all
    headline: str | None = None              # the tag of the final/best columns
    best_is_max: bool = True
    tags: tuple[str, ...] = ()               # every tag any of the runs has
    version: int = 0


def flatten(params: Any, prefix: str = "") -> dict[str, Any]:
    """``{"ppo": {"lr": 3e-4}}`` -> ``{"ppo.lr": 3e-4}``."""
    out: dict[str, Any] = {}
    if isinstance(params, dict):
        for k, v in params.items():
            key = "%s.%s" % (prefix, k) if prefix else str(k)
            if isinstance(v, dict) and v:
                out.update(flatten(v, key))
            else:
                out[key] = v
    return out


def param_text(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "%.6g" % v
    if isinstance(v, (list, tuple)):
        return "[%s]" % ",".join(param_text(x) for x in v)
    return str(v)


def differing(params: list[dict[str, Any]]) -> tuple[list[str], int]:
    """Keys whose value is not the same in every run (missing counts as a value), and how
    many are the same everywhere."""
    flat = [flatten(p) for p in params]
    keys = sorted(set().union(*flat)) if flat else []
    diff = [k for k in keys if len({param_text(f[k]) if k in f else MISSING
                                    for f in flat}) > 1]
    return diff, len(keys) - len(diff)


def sort_rows(rows: Iterable[CompareRow], column: str, reverse: bool = False
              ) -> list[CompareRow]:
    """Rows by ``column`` (``name``, ``status``, ``final``, ``best``, ``step`` or a parameter):
    numbers numerically, then text; missing values last whatever the direction."""
    def value(r: CompareRow) -> Any:
        if column in ("final", "best", "step"):
            return getattr(r, column)
        if column == "name":
            return r.name
        if column == "status":
            return r.status_text
        return r.params.get(column)

    def num(v: Any) -> float | None:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v) if not math.isnan(v) else None
        try:
            return float(v)
        except (TypeError, ValueError):
            return None

    rows = list(rows)
    have = [r for r in rows if value(r) not in (None, MISSING)]
    missing = [r for r in rows if value(r) in (None, MISSING)]
    nums = [r for r in have if num(value(r)) is not None]
    texts = [r for r in have if num(value(r)) is None]
    nums.sort(key=lambda r: num(value(r)), reverse=reverse)  # type: ignore[arg-type,return-value]
    texts.sort(key=lambda r: str(value(r)), reverse=reverse)
    return nums + texts + missing


class CompareModel:
    """:meth:`want` from the UI; :meth:`refresh` on the poller's thread."""

    def __init__(self, store: "MetricStore | None", wake: Callable[[], None]):
        self.store = store
        self.wake = wake
        self._lock = threading.Lock()
        self._want: tuple[Path, ...] = ()        # the UI's, under the lock
        self._snap = CompareSnapshot()           # poller only

    # ------------------------------------------------------------------ the UI's side
    def want(self, paths: Iterable[Path]) -> None:
        want = tuple(Path(p).absolute() for p in paths)
        with self._lock:
            if want == self._want:
                return
            self._want = want
        self.wake()

    @property
    def wanted(self) -> tuple[Path, ...]:
        return self._want

    @property
    def snapshot(self) -> CompareSnapshot | None:
        snap, want = self._snap, self._want
        if not want or snap.names != tuple(p.name for p in want):
            return None
        return snap

    # ------------------------------------------------------------------ the poller's side
    def refresh(self, infos: dict[str, RunInfo]) -> None:
        want = self._want
        if not want:
            self._snap = CompareSnapshot(version=self._snap.version)
            return
        runs = [infos.get(p.name) or load_run(p) for p in want]
        params = [dict(i.record.params) if i.record is not None else {} for i in runs]
        keys, same = differing(params)
        tags: set[str] = set()
        for i in runs:
            tags.update(self.store.tags(i.name))
        sorted_tags = sorted(tags)
        head = None
        for i in runs:                      # the first run whose profile names one, else a guess
            head = headline_tag(i, self.store.tags(i.name))
            if head:
                break
        best_max = head is None or not LOWER_IS_BETTER.search(head)
        rows = []
        for i, p in zip(runs, params):
            flat = flatten(p)
            final = best = None
            step = None
            if head is not None:
                last = self.store.latest(i.name, head)
                if last is not None:
                    final, step = last.value, last.step
                snap = self.store.snapshot(i.name, head)
                if snap is not None and len(snap.values):
                    vals = snap.values[~_isnan(snap.values)]
                    if len(vals):
                        best = float(vals.max() if best_max else vals.min())
            rows.append(CompareRow(
                name=i.name, path=i.path, status_text=i.status_text(),
                profile=i.profile_name, sweep_id=_sweep(i),
                params={k: param_text(flat[k]) if k in flat else MISSING for k in keys},
                headline=head, final=final, best=best, step=step))
        snap = CompareSnapshot(tuple(p.name for p in want), tuple(rows), tuple(keys), same,
                               head, best_max, tuple(sorted_tags), self._snap.version)
        if _key(snap) != _key(self._snap):
            self._snap = CompareSnapshot(**{**snap.__dict__, "version": snap.version + 1})


def _isnan(a: Any) -> Any:
    import numpy as np

    return np.isnan(a)


def _sweep(info: RunInfo) -> str:
    return str(getattr(info.record, "sweep_id", "") or "") if info.record is not None else ""


def _key(s: CompareSnapshot) -> tuple:
    return (s.names, s.rows, s.param_keys, s.same, s.headline, s.best_is_max, s.tags)
