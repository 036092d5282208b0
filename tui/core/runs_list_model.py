"""The runs list: one row per run under the root, with live numbers for the rows on screen.

Driven by the poller (:class:`tui.core.run_view_model.RunsModel`), from its thread only: it
refreshes the registry, builds the rows (metrics, sparkline and newest checkpoint only for the
runs somebody looks at, which it tells the metrics watcher to follow) and publishes an
immutable :class:`RunsSnapshot`. The UI thread only reads :attr:`RunsListModel.runs` and says
which rows are on screen (:meth:`RunsListModel.set_visible`). No Textual here.
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from .registry import Registry
from .run_state import RunInfo

if TYPE_CHECKING:   # numpy and the metrics come after the first frame (see RunsModel)
    from .checkpoint_index import CheckpointIndex
    from .metrics import MetricStore, MetricsWatcher

SPARK_POINTS = 16
FIRST_LOOK = 64             # runs read before the first frame of a big root
ROW_METRICS_EVERY_S = 2.0   # the runs list's numbers; a new checkpoint or status shows at once
INTEREST_GRACE_S = 30.0     # keep watching a run's metrics this long after it left the screen
HEADLINE_GUESS = re.compile(r"(ep_?return|episode_reward|reward|return)", re.I)


@dataclass(frozen=True)
class RunRow:
    """One line of the runs list."""
    name: str
    path: Path
    profile: str
    backend: str
    status: str                 # running | starting | finished | failed | stopped | lost | invalid
    status_text: str            # "failed (1)" ...
    roles_alive: int
    roles_total: int
    viewers_alive: int
    created: float | None       # Unix time the run was created (from its name)
    error: str | None = None
    step: int | None = None
    headline: str | None = None
    headline_value: float | None = None
    spark: tuple[float, ...] = ()
    checkpoint: str | None = None
    checkpoint_step: int | None = None
    sweep_id: str = ""          # runs launched together by one multirun share it

    @property
    def live(self) -> bool:
        return self.status in ("running", "starting")

    def matches(self, text: str) -> bool:
        """The runs filter: every word must appear in name, profile, backend, status or
        sweep."""
        hay = " ".join((self.name, self.profile, self.backend, self.status_text,
                        self.sweep_id)).lower()
        return all(w in hay for w in text.lower().split())


@dataclass(frozen=True)
class RunsSnapshot:
    root: Path
    rows: tuple[RunRow, ...] = ()
    version: int = 0
    taken_at: float = 0.0
    error: str | None = None
    partial: bool = False       # only the newest runs so far (the first, quick look)

    def row(self, name: str) -> RunRow | None:
        for r in self.rows:
            if r.name == name:
                return r
        return None


_CREATED: dict[str, float | None] = {}


def _created_ts(info: RunInfo) -> float | None:
    """When the run was created (from its name; cached: parsing dates is slow)."""
    if info.name in _CREATED:
        return _CREATED[info.name]
    c = info.created
    ts = c.timestamp() if c is not None else None
    if len(_CREATED) > 100_000:
        _CREATED.clear()
    _CREATED[info.name] = ts
    return ts


def headline_tag(info: RunInfo | None, tags: list[str]) -> str | None:
    """The profile's ``headline`` tag, else the first tag that looks like a return/reward."""
    from .run_profile import run_headline

    tag = None
    if info is not None and info.record is not None:
        tag = run_headline(info.record)
    if tag:
        return str(tag)
    for t in tags:
        if HEADLINE_GUESS.search(t):
            return t
    return None


def _sweep(info: RunInfo) -> str:
    rec = info.record
    return str(getattr(rec, "sweep_id", "") or "") if rec is not None else ""


class RunsListModel:
    """Rows of the runs list; :meth:`refresh` runs on the poller's thread only."""

    def __init__(self, root: Path, registry: Registry, store: "MetricStore | None",
                 watcher: "MetricsWatcher | None", index: "CheckpointIndex | None",
                 clock: Callable[[], float], notify: Callable[[str], None]):
        self.root = root
        self.registry = registry
        self.store = store          # set by the poller once the metrics are imported
        self.watcher = watcher
        self.index = index
        self.clock = clock
        self.notify = notify
        self._runs = RunsSnapshot(root)
        self._visible: set[str] = set()           # written by the UI thread, under the lock
        self._lock = threading.Lock()
        self._interest: dict[str, float] = {}     # run name -> last time it was wanted
        self.infos: dict[str, RunInfo] = {}
        self._row_cache: dict[str, tuple[int, int, RunRow, float]] = {}
        self._base_cache: dict[str, tuple[RunInfo, RunRow]] = {}
        self.refreshes = 0

    # ------------------------------------------------------------------ the UI's side
    @property
    def runs(self) -> RunsSnapshot:
        return self._runs

    def set_visible(self, names: Iterable[str]) -> bool:
        """The rows on screen; True when some are new (their numbers are wanted soon)."""
        with self._lock:
            new = set(names) - self._visible
            self._visible = set(names)
        return bool(new)

    def visible(self) -> set[str]:
        with self._lock:
            return set(self._visible)

    # ------------------------------------------------------------------ the poller's side
    def first_look(self, shown: Callable[[], object] | None = None) -> None:
        """The list as it is read, before the metrics are imported: on a big root, first
        every run directory's name alone (one ``stat`` per run: the runs' names and start
        times on screen at once), then the runs read newest first in chunks, each chunk
        published, until the whole root is read; a small root is read at once. ``shown`` is
        called after the first rows are published: it returns once they are on screen (the
        UI's first frame must not share the interpreter with the reading)."""
        from runners.protocol import parse_run_dir_name

        from .registry import list_run_dirs, sort_key

        dirs = list_run_dirs(self.root)
        if len(dirs) <= FIRST_LOOK:    # a small root: every run read at once, no metrics yet
            infos = sorted(self.registry.load(dirs), key=sort_key, reverse=True)
            self._runs = RunsSnapshot(self.root, tuple(self._row(i) for i in infos),
                                      self._runs.version + 1, self.clock())
            self.notify("runs")
            if shown is not None:
                shown()
            return

        started: dict[Path, float] = {}
        for p in dirs:                  # each name parsed once (dates parse slowly)
            parsed = parse_run_dir_name(p.name)
            started[p] = ts = parsed.started.timestamp() if parsed else 0.0
            if parsed is not None:
                _CREATED[p.name] = ts   # what _created_ts gives for it, known now
        newest = sorted(dirs, key=lambda p: (started[p], p.name), reverse=True)
        stubs = {p.name: _stub_row(p, started[p]) for p in newest}
        self._runs = RunsSnapshot(self.root, tuple(stubs.values()), self._runs.version + 1,
                                  self.clock(), partial=True)
        self.notify("runs")
        if shown is not None:
            shown()
        read: dict[str, RunRow] = {}
        i, chunk = 0, FIRST_LOOK
        while i < len(newest):
            for info in self.registry.load(newest[i:i + chunk]):
                read[info.name] = self._row(info)
            i += chunk
            rows = [read.get(n, stub) for n, stub in stubs.items()]
            self._runs = RunsSnapshot(self.root, tuple(rows), self._runs.version + 1,
                                      self.clock(), partial=i < len(newest))
            if i == chunk:
                self.notify("runs")
            chunk = min(4 * chunk, 512)

    def refresh(self, wanted: set[str]) -> None:
        """Registry, rows, and the metrics watched: the rows on screen plus ``wanted`` (the
        run in view, the runs compared)."""
        infos = self.registry.refresh()
        self.infos = {i.name: i for i in infos}
        self._update_interest(infos, wanted | self.visible())
        rows = tuple(self._row(i) for i in infos)
        prev = self._runs
        if rows != prev.rows or prev.partial:
            self._runs = RunsSnapshot(self.root, rows, prev.version + 1, self.clock())
            self.notify("runs" if prev.version <= 1 else "runs-later")
        self.index.forget({i.path for i in infos})
        names = {i.name for i in infos}
        for gone in [n for n in self._base_cache if n not in names]:
            del self._base_cache[gone]
        self.refreshes += 1

    def _update_interest(self, infos: list[RunInfo], wanted: set[str]) -> None:
        now = time.monotonic()
        for name in wanted:
            self._interest[name] = now
        by_name = {i.name: i for i in infos}
        watched = set(self.watcher.names())
        for name, seen in list(self._interest.items()):
            if name not in by_name or now - seen > INTEREST_GRACE_S:
                del self._interest[name]
                if name in watched:
                    self.watcher.remove(name, drop_data=True)
                    self._row_cache.pop(name, None)
        from .metrics import RunMetrics

        for name in self._interest:
            if name not in watched and name in by_name:
                self.watcher.add(RunMetrics.for_run_dir(by_name[name].path, name))

    def _row(self, info: RunInfo) -> RunRow:
        if info.name not in self._interest:
            same = self._base_cache.get(info.name)
            if same is not None and same[0] is info:  # the registry did not reload it
                return same[1]
        row = self._build_row(info)
        self._base_cache[info.name] = (info, row)
        return row

    def _build_row(self, info: RunInfo) -> RunRow:
        alive = sum(1 for r in info.roles if r.alive)
        base = RunRow(
            name=info.name, path=info.path, profile=info.profile_name, backend=info.backend,
            status=info.status, status_text=info.status_text(), roles_alive=alive,
            roles_total=len(info.roles), viewers_alive=sum(1 for v in info.viewers if v.alive),
            created=_created_ts(info), error=info.error, sweep_id=_sweep(info))
        if info.name not in self._interest:
            cached = self._row_cache.get(info.name)
            if cached is None:
                return base
            return _with_base(cached[2], base)  # keep the last values we had
        try:
            snap = self.index.scan(info.path, info.record)
            newest = snap.newest
        except Exception:
            newest = None
        mv = self.store.run_version(info.name)
        cached = self._row_cache.get(info.name)
        ck = (newest.name, newest.step) if newest is not None else (None, None)
        now = time.monotonic()
        if cached is not None and cached[1] == hash(ck) and (cached[0] == mv or (
                now - cached[3] < ROW_METRICS_EVERY_S and cached[2].step is not None)):
            return _with_base(cached[2], base)
        step, tag, value, spark = self._headline(info)
        row = RunRow(**{**base.__dict__, "step": step, "headline": tag,
                        "headline_value": value, "spark": spark,
                        "checkpoint": ck[0], "checkpoint_step": ck[1]})
        self._row_cache[info.name] = (mv, hash(ck), row, now)
        return row

    def _headline(self, info: RunInfo) -> tuple[int | None, str | None, float | None,
                                                 tuple[float, ...]]:
        name = info.name
        infos = self.store.tag_infos(name)
        if not infos:
            return None, None, None, ()
        tag = headline_tag(info, [t.tag for t in infos])
        steps = [t.last.step for t in infos if t.last is not None]
        step = max(steps) if steps else None
        if tag is None:
            return step, None, None, ()
        import numpy as np

        last = self.store.latest(name, tag)
        cols = self.store.downsample(name, tag, SPARK_POINTS)
        spark: tuple[float, ...] = ()
        if cols is not None:
            spark = tuple(float(v) for v in cols.ylast if np.isfinite(v))
        return step, tag, (last.value if last is not None else None), spark


def _stub_row(path: Path, created: float) -> RunRow:
    """A run known by its directory name only (not read yet)."""
    return RunRow(name=path.name, path=path, profile="", backend="", status="unknown",
                  status_text="…", roles_alive=0, roles_total=0, viewers_alive=0,
                  created=created or None)


_BASE_FIELDS = ("status", "status_text", "roles_alive", "roles_total", "viewers_alive", "error",
                "profile", "backend", "created", "sweep_id")


def _with_base(row: RunRow, base: RunRow) -> RunRow:
    if all(getattr(row, k) == getattr(base, k) for k in _BASE_FIELDS):
        return row
    return RunRow(**{**row.__dict__, **{k: getattr(base, k) for k in _BASE_FIELDS}})
