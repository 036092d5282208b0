"""What the TUI shows, gathered off the UI thread: the runs list and the run in focus.

One data thread (:class:`RunsModel`) refreshes the registry, the checkpoint index, viewer acks
and process stats, and feeds the metrics watcher the runs somebody looks at. It publishes
immutable snapshots (:class:`RunsSnapshot`, :class:`RunDetail`) with version numbers; the UI's
render timer (2-5 Hz) reads them and redraws only what changed. A new checkpoint of the run in
focus is pushed at once through ``on_change("checkpoints")`` (watchdog), because the checkpoint
list must show it within 200 ms.

While the run view's Preview tab is visible (:meth:`RunsModel.watch_playback`), the same thread
also reads the newest preview frame of the viewer shown (4 times a second, only when the file
changed) and the run's video index (when ``videos/index.jsonl`` changes, and every 2 s), and
publishes them as a :class:`PlaybackSnapshot`. Nothing of that is read while the tab is hidden.

Everything comes from the run directories, so another TUI or the CLI acting on the same root is
seen within a refresh, and nothing here keeps state a second TUI would need.
No Textual here.
"""
from __future__ import annotations

import datetime as _dt
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from runners.protocol import (CheckpointInfo, CheckpointState, PreviewFrame, ProcRecord,
                              ViewerStatus, list_previews, output_dir)
from runners.protocol.rundir import RunPaths

from .checkpoint_index import CheckpointIndex, CheckpointSnapshot
from .logs import available_logs
from .metrics import MetricStore, MetricsWatcher, RunMetrics, WatchConfig
from .proc_stats import ProcSample, ProcStats
from .registry import Registry, RoleState, RunInfo, load_run
from .run_checkpoints import current_state
from .run_profile import run_headline

if TYPE_CHECKING:   # tui.core.videos (launching, ffmpeg) is imported when the Preview tab opens
    from .videos import VideoInfo

RECORD_PREFIX = "record-"   # tui.core.videos.RECORD_PREFIX: recorders' roles

SPARK_POINTS = 16
FIRST_LOOK = 64             # runs read before the first frame of a big root
ROW_METRICS_EVERY_S = 2.0   # the runs list's numbers; a new checkpoint or status shows at once
NO_ACK_AFTER_S = 5.0        # a live viewer that has not applied a request for this long
STALE_ACK_AFTER_S = 10.0    # a live viewer whose heartbeat is this old
INTEREST_GRACE_S = 30.0     # keep watching a run's metrics this long after it left the screen
PREVIEW_EVERY_S = 0.25      # the shown viewer's preview file is looked at this often
VIDEOS_EVERY_S = 2.0        # the video list is read again this often (and when its index changes)
HEADLINE_GUESS = re.compile(r"(ep_?return|episode_reward|reward|return)", re.I)


# ====================================================================== snapshots

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

    @property
    def live(self) -> bool:
        return self.status in ("running", "starting")

    def matches(self, text: str) -> bool:
        """The runs filter: every word must appear in name, profile, backend or status."""
        hay = " ".join((self.name, self.profile, self.backend, self.status_text)).lower()
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


@dataclass(frozen=True)
class RoleRow:
    """A process of the run in focus (a training role or a viewer)."""
    role: str
    kind: str
    state: str
    text: str                   # state with exit code / error
    alive: bool
    pid: int | None = None
    attempt: int = 1
    exit_code: int | None = None
    signal: int | None = None
    cpu: float | None = None
    rss: int | None = None
    uptime: float | None = None
    threads: int | None = None
    started_at: str | None = None
    exited_at: str | None = None
    error: str | None = None
    is_viewer: bool = False
    is_recorder: bool = False   # record-N: renders a video, then ends
    display: str = ""           # viewers: "none" (headless) or the X/Wayland display
    target: str = ""            # recorders: the checkpoint file they record ("" = the newest)
    episodes: int | None = None  # recorders: episodes asked for

    @property
    def is_training(self) -> bool:
        return not (self.is_viewer or self.is_recorder)


@dataclass(frozen=True)
class ViewerRow:
    """What a viewer says it shows (its ack), next to what was asked."""
    id: str
    process: str                # its role state (running, stopped ...), "" when unknown
    alive: bool
    process_text: str = ""      # the state with its exit code ("failed (exit 2)")
    ack_state: str | None = None     # starting | waiting | loading | running | error | stopped
    checkpoint: str | None = None    # file name it has loaded
    checkpoint_path: str | None = None
    step: int | None = None
    seq: int | None = None
    pending: bool = False            # the state file asks for something it has not applied
    no_ack: bool = False             # ... for longer than NO_ACK_AFTER_S
    stale: bool = False              # its heartbeat stopped while its process lives
    error: str | None = None
    display: str = "none"
    episode_return: float | None = None


@dataclass(frozen=True)
class RunDetail:
    path: Path
    name: str
    status: str
    status_text: str
    profile: str
    backend: str
    headline: str | None
    roles: tuple[RoleRow, ...]
    viewers: tuple[ViewerRow, ...]
    checkpoints: CheckpointSnapshot
    state: CheckpointState | None
    state_error: str | None
    logs: tuple[str, ...]
    params: dict = field(default_factory=dict, compare=False, hash=False)
    error: str | None = None
    version: int = 0

    @property
    def mode(self) -> str:
        return self.state.mode if self.state is not None else "auto"

    def viewers_on(self, ckpt: CheckpointInfo) -> list[str]:
        """Ids of the live viewers whose ack says they show ``ckpt``."""
        out = []
        for v in self.viewers:
            if not v.alive or not v.checkpoint_path:
                continue
            if v.checkpoint_path == str(ckpt.path):
                out.append(v.id)
            elif not ckpt.is_latest and v.step is not None and v.step == ckpt.step and \
                    v.checkpoint is not None and v.checkpoint == "latest.pth":
                out.append(v.id)
        return out

    @property
    def requested(self) -> str | None:
        """File name the state file asks viewers to show."""
        if self.state is None:
            return None
        return Path(self.state.checkpoint_path).name


@dataclass(frozen=True)
class PlaybackSnapshot:
    """The Preview tab's data: the shown viewer's newest frame and the run's videos."""
    path: Path
    viewer_id: str | None = None        # whose frames are shown (None: no viewer has any)
    viewer_ids: tuple[str, ...] = ()    # viewers one can switch to (headless or with frames)
    auto: bool = True                   # the viewer was chosen automatically (newest headless)
    frame: PreviewFrame | None = field(default=None, compare=False)
    frame_key: tuple | None = None      # (file, mtime_ns, size) of the frame read
    frame_error: str | None = None
    videos: tuple[VideoInfo, ...] = field(default=(), compare=False)
    videos_key: tuple = ()
    bad_video_lines: int = 0
    version: int = 0


@dataclass(frozen=True)
class Event:
    severity: str   # information | warning | error
    text: str


# ====================================================================== helpers

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
    tag = None
    if info is not None and info.record is not None:
        tag = run_headline(info.record)
    if tag:
        return str(tag)
    for t in tags:
        if HEADLINE_GUESS.search(t):
            return t
    return None


def _iso_ts(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return _dt.datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def is_recorder(rs: RoleState) -> bool:
    """A ``record-N`` role (kind ``aux``): it records a video and ends; not a viewer."""
    return rs.role.startswith(RECORD_PREFIX)


def role_display(rec: ProcRecord | None) -> str:
    """The display a viewer was started on (what a restart reuses), from its process record."""
    if rec is None:
        return ""
    return rec.display or rec.env.get("WAYLAND_DISPLAY") or rec.env.get("DISPLAY") or "none"


def role_row(rs: RoleState, sample: ProcSample | None, is_viewer: bool) -> RoleRow:
    rec: ProcRecord | None = rs.record
    recorder = is_recorder(rs)
    display = target = ""
    episodes = None
    if recorder and rec is not None:
        target = Path(rec.record_target).name if rec.record_target else ""
        episodes = rec.record_episodes or None
    elif is_viewer:
        display = role_display(rec)
    return RoleRow(
        role=rs.role, kind="record" if recorder else rs.kind, state=rs.state,
        text=rs.describe(), alive=rs.alive,
        pid=rs.pid, attempt=rec.attempt if rec else 1, exit_code=rs.exit_code,
        signal=rs.signal,
        cpu=sample.cpu_percent if sample and sample.alive else None,
        rss=sample.rss if sample and sample.alive else None,
        uptime=sample.uptime_s if sample and sample.alive else None,
        threads=sample.threads if sample and sample.alive else None,
        started_at=rec.started_at if rec else None, exited_at=rec.exited_at if rec else None,
        error=rs.error or (rec.error if rec else None), is_viewer=is_viewer and not recorder,
        is_recorder=recorder, display=display, target=target, episodes=episodes)


def viewer_row(vid: str, rs: RoleState | None, ack: ViewerStatus | None,
               state: CheckpointState | None, now: float) -> ViewerRow:
    alive = rs.alive if rs is not None else False
    pending = no_ack = stale = False
    if ack is not None and alive and state is not None and ack.state != "stopped" \
            and ack.seq != state.seq:
        pending = True
        asked = _iso_ts(state.last_update)
        no_ack = asked is not None and now - asked > NO_ACK_AFTER_S
    if ack is not None and alive and now - ack.updated_at > STALE_ACK_AFTER_S:
        stale = True
    if ack is None and alive and rs is not None and rs.record is not None:
        started = _iso_ts(rs.record.started_at)
        no_ack = started is not None and now - started > 3 * NO_ACK_AFTER_S
    return ViewerRow(
        id=vid, process=rs.state if rs is not None else "", alive=alive,
        process_text=rs.describe() if rs is not None else "",
        ack_state=ack.state if ack else None,
        checkpoint=Path(ack.checkpoint_path).name if ack and ack.checkpoint_path else None,
        checkpoint_path=ack.checkpoint_path if ack else None,
        step=ack.checkpoint_step if ack else None, seq=ack.seq if ack else None,
        pending=pending, no_ack=no_ack, stale=stale, error=ack.error if ack else None,
        display=ack.display if ack else role_display(rs.record if rs else None),
        episode_return=ack.episode_return if ack else None)


# ====================================================================== the model

class RunsModel:
    """Gathers registry, checkpoints, acks, process stats and metrics from one thread."""

    def __init__(self, root: Path, interval: float = 1.0, detail_interval: float = 0.5,
                 on_change: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.time, use_watchdog: bool = True,
                 watch: WatchConfig | None = None):
        self.root = Path(root).absolute()
        self.interval = interval
        self.detail_interval = detail_interval
        self.on_change = on_change
        self.clock = clock
        self.registry = Registry(self.root)
        self.store = MetricStore(recent=1024, history=1024)
        self.watcher = MetricsWatcher(self.store, watch or WatchConfig(
            interval=0.2, idle_interval=1.0, remote_interval=1.5))
        self.index = CheckpointIndex(on_change=self._checkpoints_changed,
                                     use_watchdog=use_watchdog)
        self.stats = ProcStats()
        self.events: deque[Event] = deque(maxlen=100)
        self._runs = RunsSnapshot(self.root)
        self._detail: RunDetail | None = None
        self._focus: Path | None = None
        self._visible: set[str] = set()
        self._interest: dict[str, float] = {}     # run name -> last time it was wanted
        self._infos: dict[str, RunInfo] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._row_cache: dict[str, tuple[int, int, RunRow, float]] = {}
        self._poked = False
        self._pb_want: tuple[Path, str | None] | None = None   # (run, viewer or None: auto)
        self._pb_due = 0.0
        self._pb: PlaybackSnapshot | None = None
        self._videos_at = 0.0
        self._videos_sig: tuple | None = None
        self._base_cache: dict[str, tuple[RunInfo, RunRow]] = {}
        self.refreshes = 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "RunsModel":
        self.index.start()
        self.watcher.start()
        self._thread = threading.Thread(target=self._loop, name="pitwall-model", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self.index.stop()
        self.watcher.close()

    def poke(self) -> None:
        """Refresh now (after an action, or when the user asks)."""
        self._poked = True
        self._wake.set()

    # ------------------------------------------------------------------ what the UI wants
    @property
    def runs(self) -> RunsSnapshot:
        return self._runs

    @property
    def detail(self) -> RunDetail | None:
        d = self._detail
        return d if d is not None and d.path == self._focus else None

    @property
    def focus_path(self) -> Path | None:
        return self._focus

    @property
    def playback(self) -> PlaybackSnapshot | None:
        """The Preview tab's data for the run being watched (see :meth:`watch_playback`)."""
        pb, want = self._pb, self._pb_want
        return pb if pb is not None and want is not None and pb.path == want[0] else None

    @property
    def playback_watched(self) -> Path | None:
        """The run whose preview frames and videos are being read (None: none)."""
        want = self._pb_want
        return want[0] if want is not None else None

    def watch_playback(self, run_dir: Path | None, viewer: str | None = None) -> None:
        """Read preview frames and videos of ``run_dir`` (the Preview tab is visible), of
        ``viewer`` or, with None, of the newest live headless viewer; None stops reading."""
        want = (Path(run_dir).absolute(), viewer) if run_dir is not None else None
        with self._lock:
            if want == self._pb_want:
                return
            if want is None or self._pb_want is None or want[0] != self._pb_want[0]:
                self._pb = None
                self._videos_sig = None
            self._pb_want = want
            self._pb_due = 0.0
        self._wake.set()

    def set_visible(self, names: set[str]) -> None:
        """The rows on screen: their metrics are watched (headline, step, sparkline)."""
        with self._lock:
            new = set(names) - self._visible
            self._visible = set(names)
        if new:
            self.poke()

    def focus(self, run_dir: Path | None) -> None:
        """The run shown in the run view (None: back to the list)."""
        run_dir = Path(run_dir).absolute() if run_dir is not None else None
        with self._lock:
            old, self._focus = self._focus, run_dir
            if old != run_dir:
                self._detail = None
        if old is not None and old != run_dir:
            self.index.untrack(old)
        if run_dir is not None and old != run_dir:
            try:
                self.index.track(run_dir)
            except Exception as e:
                self.events.append(Event("error", "checkpoints of %s: %s" % (run_dir.name, e)))
        self.poke()

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
    def _first_look(self) -> None:
        """The newest runs first, so the screen fills before a big root is read."""
        from .registry import list_run_dirs, sort_key

        from runners.protocol import parse_run_dir_name

        dirs = list_run_dirs(self.root)
        if len(dirs) <= FIRST_LOOK:
            return

        def when(p: Path) -> tuple:
            parsed = parse_run_dir_name(p.name)
            return (parsed.started.timestamp() if parsed else 0.0, p.name)
        newest = sorted(dirs, key=when, reverse=True)[:FIRST_LOOK]
        infos = sorted((load_run(p) for p in newest), key=sort_key, reverse=True)
        self._runs = RunsSnapshot(self.root, tuple(self._row(i) for i in infos),
                                  self._runs.version + 1, self.clock(), partial=True)
        self._notify("runs")

    def _loop(self) -> None:
        try:
            self._first_look()
        except Exception as e:
            self.events.append(Event("error", "reading %s: %s" % (self.root, e)))
        next_runs = 0.0
        next_detail = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            self._wake.clear()
            poked, self._poked = self._poked, False
            try:
                if poked or now >= next_runs:
                    self._refresh_runs()
                    next_runs = time.monotonic() + self.interval
                if self._focus is not None and (poked or now >= next_detail):
                    self._refresh_detail()
                    next_detail = time.monotonic() + self.detail_interval
            except Exception as e:  # keep the data flowing whatever one pass hit
                self.events.append(Event("error", "refresh failed: %s: %s"
                                         % (type(e).__name__, e)))
            due = min(next_runs, next_detail if self._focus is not None else next_runs)
            if self._pb_want is not None:
                if time.monotonic() >= self._pb_due:
                    try:
                        self._refresh_playback()
                    except Exception as e:
                        self.events.append(Event("error", "preview/videos: %s: %s"
                                                 % (type(e).__name__, e)))
                    self._pb_due = time.monotonic() + PREVIEW_EVERY_S
                due = min(due, self._pb_due)
            self._wake.wait(max(0.01, due - time.monotonic()))

    def refresh_now(self) -> None:
        """One synchronous pass (tests, benchmarks)."""
        self._refresh_runs()
        if self._focus is not None:
            self._refresh_detail()
        if self._pb_want is not None:
            self._refresh_playback()

    # ------------------------------------------------------------------ runs list
    def _refresh_runs(self) -> None:
        infos = self.registry.refresh()
        self._infos = {i.name: i for i in infos}
        self._update_interest(infos)
        rows = tuple(self._row(i) for i in infos)
        prev = self._runs
        if rows != prev.rows or prev.partial:
            self._runs = RunsSnapshot(self.root, rows, prev.version + 1, self.clock())
            self._notify("runs" if prev.version <= 1 else "runs-later")
        self.index.forget({i.path for i in infos})
        names = {i.name for i in infos}
        for gone in [n for n in self._base_cache if n not in names]:
            del self._base_cache[gone]
        self.refreshes += 1

    def _update_interest(self, infos: list[RunInfo]) -> None:
        now = time.monotonic()
        with self._lock:
            wanted = set(self._visible)
            if self._focus is not None:
                wanted.add(self._focus.name)
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
            created=_created_ts(info), error=info.error)
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
        last = self.store.latest(name, tag)
        cols = self.store.downsample(name, tag, SPARK_POINTS)
        spark: tuple[float, ...] = ()
        if cols is not None:
            spark = tuple(float(v) for v in cols.ylast if np.isfinite(v))
        return step, tag, (last.value if last is not None else None), spark

    # ------------------------------------------------------------------ run in focus
    def _refresh_detail(self) -> None:
        path = self._focus
        if path is None:
            return
        info = load_run(path)
        now = self.clock()
        snap = self.index.get(path) or self.index.scan(path)
        from .viewers import viewer_acks

        state, state_err = current_state(path)
        acks = viewer_acks(path)
        every = list(info.roles) + list(info.viewers)
        recs = [(r.record.pid, r.record.create_time) for r in every
                if r.alive and r.record is not None and r.record.pid > 0]
        samples = self.stats.sample_many(recs)
        roles = tuple(role_row(r, samples.get(r.pid) if r.pid else None, False)
                      for r in info.roles)
        extra = sorted(info.viewers, key=lambda v: (is_recorder(v), _role_number(v.role)))
        roles += tuple(role_row(v, samples.get(v.pid) if v.pid else None, True)
                       for v in extra)
        vids = sorted({v.role for v in info.viewers if not is_recorder(v)} | set(acks),
                      key=_role_number)
        viewers = tuple(viewer_row(vid, info.role(vid), acks.get(vid), state, now)
                        for vid in vids)
        tags = self.store.tags(info.name)
        prev = self._detail if self._detail is not None and self._detail.path == path else None
        detail = RunDetail(
            path=path, name=info.name, status=info.status, status_text=info.status_text(),
            profile=info.profile_name, backend=info.backend, headline=headline_tag(info, tags),
            roles=roles, viewers=viewers, checkpoints=snap, state=state, state_error=state_err,
            logs=tuple(available_logs(path)),
            params=dict(info.record.params) if info.record else {}, error=info.error,
            version=prev.version if prev else 0)
        if prev is not None:
            self._recorders_ended(prev, detail)
        if prev is None or _detail_key(prev) != _detail_key(detail):
            detail = _replace(detail, version=(prev.version if prev else 0) + 1)
            if self._focus == path:
                self._detail = detail
                self._notify("detail")

    def _recorders_ended(self, prev: RunDetail, now: RunDetail) -> None:
        """A recording started from here (or anywhere) ended: say so once."""
        was = {r.role for r in prev.roles if r.is_recorder and r.alive}
        for r in now.roles:
            if r.role in was and not r.alive:
                n = r.episodes or 1
                what = "%d episode%s of %s" % (n, "" if n == 1 else "s",
                                               r.target or "the newest checkpoint")
                if r.state == "finished":
                    self.events.append(Event("information", "%s recorded %s: the video is in "
                                                            "the list on tab 5" % (r.role, what)))
                else:
                    self.events.append(Event("error", "%s (%s) %s: its log is on tab 2"
                                             % (r.role, what, r.text)))

    # ------------------------------------------------------------------ Preview tab
    def _refresh_playback(self) -> None:
        want = self._pb_want
        if want is None:
            return
        path, asked = want
        out = output_dir(path)
        d = self._detail if self._detail is not None and self._detail.path == path else None
        ids, auto_id = preview_choices(out, d)
        vid = asked if asked is not None else auto_id
        prev = self._pb if self._pb is not None and self._pb.path == path else None

        frame, frame_key, frame_err = (prev.frame, prev.frame_key, prev.frame_error) \
            if prev is not None and prev.viewer_id == vid else (None, None, None)
        if vid is not None:
            pfile = RunPaths(out).preview_file(vid)
            try:
                st = pfile.stat()
                key: tuple | None = (str(pfile), st.st_mtime_ns, st.st_size, st.st_ino)
            except OSError:
                key = None
            if key is None:
                frame, frame_key, frame_err = None, None, None
            elif key != frame_key:
                from .preview import latest_frame

                frame, frame_err = latest_frame(out, vid)
                frame_key = key
        else:
            frame, frame_key, frame_err = None, None, None

        videos, vkey, bad = (prev.videos, prev.videos_key, prev.bad_video_lines) \
            if prev is not None else ((), (), 0)
        index = RunPaths(out).video_index
        try:
            ist = index.stat()
            sig: tuple | None = (ist.st_mtime_ns, ist.st_size, ist.st_ino)
        except OSError:
            sig = None
        now = time.monotonic()
        if sig != self._videos_sig or now - self._videos_at >= VIDEOS_EVERY_S or prev is None:
            self._videos_sig = sig
            self._videos_at = now
            from .videos import list_videos

            infos, bad = list_videos(path)
            videos = tuple(infos)
            vkey = tuple((v.name, v.exists, v.entry.created) for v in videos)

        snap = PlaybackSnapshot(path, vid, ids, asked is None, frame, frame_key, frame_err,
                                videos, vkey, bad, prev.version if prev else 0)
        if prev is None or _pb_key(prev) != _pb_key(snap):
            snap = PlaybackSnapshot(**{**snap.__dict__, "version": snap.version + 1})
            with self._lock:
                if self._pb_want == want:
                    self._pb = snap

    def _checkpoints_changed(self, run_dir: Path) -> None:
        """From the checkpoint index's thread: a tracked run saved a checkpoint."""
        d = self._detail
        if d is None or d.path != run_dir or self._focus != run_dir:
            return
        snap = self.index.get(run_dir)
        if snap is None:
            return
        self._detail = _replace(d, checkpoints=snap, version=d.version + 1)
        self._notify("checkpoints")
        self._wake.set()  # acks and the newest checkpoint of the list follow

    def _notify(self, what: str) -> None:
        if self.on_change is not None:
            try:
                self.on_change(what)
            except Exception:
                pass


def _role_number(role: str) -> tuple[str, int]:
    """``viewer-10`` after ``viewer-9``."""
    head, _, n = role.rpartition("-")
    return (head, int(n)) if n.isdigit() else (role, -1)


def _with_base(row: RunRow, base: RunRow) -> RunRow:
    if (row.status, row.status_text, row.roles_alive, row.roles_total, row.viewers_alive,
            row.error, row.profile) == (base.status, base.status_text, base.roles_alive,
                                        base.roles_total, base.viewers_alive, base.error,
                                        base.profile):
        return row
    return RunRow(**{**row.__dict__, **{k: getattr(base, k) for k in (
        "status", "status_text", "roles_alive", "roles_total", "viewers_alive", "error",
        "profile", "backend", "created")}})


def _replace(d: RunDetail, **kw: object) -> RunDetail:
    return RunDetail(**{**d.__dict__, **kw})


def preview_choices(out: Path, detail: RunDetail | None) -> tuple[tuple[str, ...], str | None]:
    """Viewers whose frames the Preview tab can show (headless ones and any with a preview
    file), and the one it shows by default: the newest live headless viewer, else the viewer
    whose preview file is newest (a viewer that ended leaves its last frame)."""
    files = list_previews(out)
    live_headless = [v.id for v in (detail.viewers if detail else ())
                     if v.alive and v.display == "none"]
    headless = [v.id for v in (detail.viewers if detail else ()) if v.display == "none"]
    ids = tuple(sorted(set(files) | set(headless), key=_role_number))
    if live_headless:
        return ids, max(live_headless, key=_role_number)
    best: tuple[float, str] | None = None
    for vid in files:
        try:
            m = RunPaths(out).preview_file(vid).stat().st_mtime
        except OSError:
            continue
        if best is None or m > best[0]:
            best = (m, vid)
    return ids, best[1] if best else None


def _pb_key(p: PlaybackSnapshot) -> tuple:
    return (p.viewer_id, p.viewer_ids, p.auto, p.frame_key, p.frame_error, p.videos_key,
            p.bad_video_lines)


def _detail_key(d: RunDetail) -> tuple:
    return (d.status, d.status_text, d.headline, d.roles, d.viewers, d.checkpoints.version,
            d.state.seq if d.state else None, d.state.mode if d.state else None,
            d.state_error, d.logs, d.error)
