"""What the TUI shows, gathered off the UI thread by one poller.

:class:`RunsModel` owns one data thread that drives the models, each publishing immutable,
versioned snapshots that the UI's render timer (2-5 Hz) reads to redraw only what changed:

* :class:`~tui.core.runs_list_model.RunsListModel`: the runs list (registry, rows, the
  metrics of the rows on screen);
* :class:`~tui.core.run_detail_model.RunDetailModel`: the run in view (processes, viewers'
  acks, checkpoints, state file); a new checkpoint is pushed at once through
  ``on_change("checkpoints")`` because the list must show it within 200 ms (benchmarked);
* :class:`~tui.core.playback_model.PlaybackModel`: the Preview tab's frames and videos, read
  only while that tab is visible;
* :class:`~tui.core.compare_model.CompareModel`: the runs marked for comparison (differing
  parameters, final and best headline), while the compare view is open;
* :class:`~tui.core.system_model.SystemModel`: CPU, RAM, disk and GPUs of the box, and per
  run and role, with a short history (GPUs through NVML, when there are any).

The UI thread only says what it wants (rows on screen, the run in view, the tab watched) and
reads snapshots; every snapshot is written by the poller's thread alone. Everything comes from
the run directories, so another TUI or the CLI acting on the same root is seen within a
refresh. No Textual here.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from pathlib import Path
from typing import Callable

from typing import TYPE_CHECKING

from .checkpoint_index import CheckpointIndex
from .compare_model import CompareModel, CompareSnapshot
from .gpu_monitor import GpuMonitor
from .model_events import Event
from .playback_model import PREVIEW_EVERY_S, PlaybackModel, PlaybackSnapshot
from .proc_stats import ProcStats
from .registry import Registry
from .run_detail_model import RunDetail, RunDetailModel
from .runs_list_model import RunsListModel, RunsSnapshot
from .system_model import HostProbe, SystemModel, SystemSnapshot

if TYPE_CHECKING:   # the metrics (numpy, pydantic) are imported after the first frame
    from .metrics import MetricStore, MetricsWatcher, WatchConfig

FIRST_FRAME_WAIT_S = 1.0   # how long the poller waits for the UI's first frame at most


class RunsModel:
    """The poller: one thread refreshing the runs list, the run in view and the preview."""

    def __init__(self, root: Path, interval: float = 1.0, detail_interval: float = 0.5,
                 on_change: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.time, use_watchdog: bool = True,
                 watch: "WatchConfig | None" = None, nvml: object = None,
                 host: HostProbe | None = None):
        self.root = Path(root).absolute()
        self.interval = interval
        self.detail_interval = detail_interval
        self.on_change = on_change
        self.clock = clock
        self.registry = Registry(self.root)
        self._watch_config = watch
        self._store: MetricStore | None = None
        self._watcher: MetricsWatcher | None = None
        self._metrics_lock = threading.Lock()
        self._started = False
        self.stats = ProcStats()
        self.events: deque[Event] = deque(maxlen=100)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._poked = False
        self._wait_for_ui = False
        self._ui_shown = threading.Event()
        self.first_frame_wait_s = FIRST_FRAME_WAIT_S
        now = self._now
        self.run_detail = RunDetailModel(None, self.stats, None, now,  # type: ignore
                                         self.events, self._notify, self._wake.set)
        self.index = CheckpointIndex(on_change=self.run_detail.checkpoints_changed,
                                     use_watchdog=use_watchdog)
        self.run_detail.index = self.index
        self.runs_list = RunsListModel(self.root, self.registry, None, None, self.index, now,
                                       self._notify)
        self.preview = PlaybackModel(self._wake.set)
        self.compare = CompareModel(None, self._wake.set)
        self.system = SystemModel(self.root, GpuMonitor(nvml), host)

    def _now(self) -> float:
        return self.clock()

    # ------------------------------------------------------------------ metrics (lazily)
    @property
    def store(self) -> "MetricStore":
        return self._metrics()[0]

    @property
    def watcher(self) -> "MetricsWatcher":
        return self._metrics()[1]

    def _metrics(self) -> "tuple[MetricStore, MetricsWatcher]":
        """The store and its watcher, made on first use: the poller makes them right after the
        runs list's first look, so numpy and the metric readers load after the first frame."""
        if self._store is None or self._watcher is None:
            with self._metrics_lock:
                if self._store is None or self._watcher is None:
                    from .metrics import MetricStore, MetricsWatcher, WatchConfig

                    store = MetricStore(recent=1024, history=1024)
                    watcher = MetricsWatcher(store, self._watch_config or WatchConfig(
                        interval=0.2, idle_interval=1.0, remote_interval=1.5))
                    for part in (self.runs_list, self.run_detail, self.compare):
                        part.store = store
                    self.runs_list.watcher = watcher
                    if self._started:
                        watcher.start()
                    self._store, self._watcher = store, watcher
        return self._store, self._watcher

    # ------------------------------------------------------------------ lifecycle
    def start(self, wait_for_ui: bool = False) -> "RunsModel":
        """Start the poller. ``wait_for_ui``: on a big root, read no more than the runs' names
        until :meth:`ui_shown` is called (or a second passed), so that the UI's first frame
        does not compete with the reading for the interpreter."""
        self._wait_for_ui = wait_for_ui
        with self._metrics_lock:
            self._started = True
            if self._watcher is not None:
                self._watcher.start()
        self._thread = threading.Thread(target=self._loop, name="pitwall-model", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self.index.stop()
        if self._watcher is not None:
            self._watcher.close()
        self.system.close()

    def ui_shown(self) -> None:
        """The UI has drawn its first frame with the runs' names: reading may go on."""
        self._ui_shown.set()

    def _wait_ui(self) -> None:
        if self._wait_for_ui:
            self._ui_shown.wait(self.first_frame_wait_s)

    def poke(self) -> None:
        """Refresh now (after an action, or when the user asks)."""
        self._poked = True
        self._wake.set()

    # ------------------------------------------------------------------ what the UI wants
    @property
    def runs(self) -> RunsSnapshot:
        return self.runs_list.runs

    @property
    def detail(self) -> RunDetail | None:
        return self.run_detail.detail

    @property
    def focus_path(self) -> Path | None:
        return self.run_detail.wanted

    @property
    def playback(self) -> PlaybackSnapshot | None:
        """The Preview tab's data for the run being watched (see :meth:`watch_playback`)."""
        return self.preview.snapshot

    @property
    def playback_watched(self) -> Path | None:
        """The run whose preview frames and videos are being read (None: none)."""
        return self.preview.watched

    def watch_playback(self, run_dir: Path | None, viewer: str | None = None) -> None:
        """Read preview frames and videos of ``run_dir`` (the Preview tab is visible), of
        ``viewer`` or, with None, of the newest live headless viewer; None stops reading."""
        self.preview.watch(run_dir, viewer)

    def set_visible(self, names: set[str]) -> None:
        """The rows on screen: their metrics are watched (headline, step, sparkline)."""
        if self.runs_list.set_visible(names):
            self.poke()

    def focus(self, run_dir: Path | None) -> None:
        """The run shown in the run view (None: back to the list)."""
        self.run_detail.want(run_dir)
        self.poke()

    def compare_runs(self, paths: list[Path]) -> None:
        """Compare these runs (their metrics are watched meanwhile); [] when the view
        closes."""
        self.compare.want(paths)
        self.poke()

    @property
    def comparison(self) -> CompareSnapshot | None:
        return self.compare.snapshot

    @property
    def machine(self) -> SystemSnapshot:
        """CPU, RAM, disk, GPUs (and per run and role while :meth:`watch_system` is on)."""
        return self.system.snapshot

    def watch_system(self, on: bool) -> None:
        self.system.want_detail(on)
        self._wake.set()

    def drain_events(self) -> list[Event]:
        out = []
        while self.events:
            try:
                out.append(self.events.popleft())
            except IndexError:
                break
        return out

    # ------------------------------------------------------------------ metrics access
    def metrics_name(self, run_dir: Path) -> str:
        return Path(run_dir).name

    def tags(self, run_dir: Path) -> list[str]:
        return self.store.tags(self.metrics_name(run_dir))

    def metrics_problems(self, run_dir: Path) -> list[str]:
        st = self.store.status(self.metrics_name(run_dir))
        return st.problems() if st is not None else []

    # ------------------------------------------------------------------ the loop
    def _wanted_runs(self) -> set[str]:
        """Runs whose metrics are watched besides the rows on screen."""
        focus = self.run_detail.wanted
        out = {p.name for p in self.compare.wanted}
        if focus is not None:
            out.add(focus.name)
        return out

    def _loop(self) -> None:
        try:
            self.runs_list.first_look(self._wait_ui)
        except Exception as e:
            self.events.append(Event("error", "reading %s: %s" % (self.root, e)))
        self.index.start()      # watchdog loads here, after the first frame
        self._metrics()
        next_runs = 0.0
        next_detail = 0.0
        while not self._stop.is_set():
            self._wake.clear()
            poked, self._poked = self._poked, False
            try:
                self.run_detail.sync_tracking()
                now = time.monotonic()
                # the next pass is due whatever this one hits: a pass that raises must not be
                # retried at once (a hot loop at 90 % CPU on one bad file)
                if poked or now >= next_runs:
                    next_runs = time.monotonic() + self.interval
                    self.runs_list.refresh(self._wanted_runs())
                    if self.compare.wanted or self.compare.snapshot is not None:
                        self.compare.refresh(self.runs_list.infos)
                    next_runs = time.monotonic() + self.interval
                if self.run_detail.wanted is not None and (poked or now >= next_detail):
                    next_detail = time.monotonic() + self.detail_interval
                    self.run_detail.refresh()
                    next_detail = time.monotonic() + self.detail_interval
            except Exception as e:  # keep the data flowing whatever one pass hit
                self.events.append(Event("error", "refresh failed: %s: %s"
                                         % (type(e).__name__, e)))
            due = min(next_runs, next_detail if self.run_detail.wanted is not None
                      else next_runs)
            if self.system.is_due(time.monotonic()):
                try:
                    self.system.refresh(self.runs_list.infos)
                except Exception as e:
                    self.events.append(Event("error", "system: %s: %s"
                                             % (type(e).__name__, e)))
            due = min(due, self.system.due)
            if self.preview.wanted is not None:
                if self.preview.is_due(time.monotonic()):
                    try:
                        self.preview.refresh(self.run_detail.detail)
                    except Exception as e:
                        self.events.append(Event("error", "preview/videos: %s: %s"
                                                 % (type(e).__name__, e)))
                    self.preview.due = time.monotonic() + PREVIEW_EVERY_S
                due = min(due, self.preview.due)
            self._wake.wait(max(0.01, due - time.monotonic()))

    def refresh_now(self) -> None:
        """One synchronous pass (tests, benchmarks); not while the thread runs."""
        self._metrics()
        self.run_detail.sync_tracking()
        self.runs_list.refresh(self._wanted_runs())
        self.compare.refresh(self.runs_list.infos)
        if self.run_detail.wanted is not None:
            self.run_detail.refresh()
        if self.preview.wanted is not None:
            self.preview.refresh(self.run_detail.detail)
        self.system.refresh(self.runs_list.infos)

    def _notify(self, what: str) -> None:
        if self.on_change is not None:
            try:
                self.on_change(what)
            except Exception:
                pass
