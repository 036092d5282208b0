"""The run in view: its processes, viewers (what each one acked), checkpoints and state file.

Driven by the poller's thread only (:class:`tui.core.run_view_model.RunsModel`). The UI thread
says which run it shows (:meth:`RunDetailModel.want`) and reads :attr:`RunDetailModel.detail`;
the checkpoint index's thread keeps its own listing, which :attr:`RunDetailModel.detail` joins
to the poller's snapshot, and tells the UI at once (a new checkpoint must show within 200 ms).
So every snapshot is written by one thread. No Textual here.
"""
from __future__ import annotations

import datetime as _dt
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from runners.protocol import CheckpointInfo, CheckpointState, ProcRecord, ViewerStatus

from .checkpoint_index import CheckpointIndex, CheckpointSnapshot
from .model_events import Event
from .proc_stats import ProcSample, ProcStats
from .registry import load_run
from .run_state import RoleState
from .run_checkpoints import current_state
from .runs_list_model import headline_tag

if TYPE_CHECKING:
    from .metrics import MetricStore

RECORD_PREFIX = "record-"   # tui.core.videos.RECORD_PREFIX: recorders' roles
NO_ACK_AFTER_S = 5.0        # a live viewer that has not applied a request for this long
STALE_ACK_AFTER_S = 10.0    # a live viewer whose heartbeat is this old


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
    pgid: int | None = None     # its process group (GPU processes are matched by it)

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
    sweep_id: str = ""

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


# ====================================================================== rows

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
        is_recorder=recorder, display=display, target=target, episodes=episodes,
        pgid=rec.pgid if rec is not None and rec.pgid and rec.pgid > 0 else None)


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


def role_number(role: str) -> tuple[str, int]:
    """``viewer-10`` after ``viewer-9``."""
    head, _, n = role.rpartition("-")
    return (head, int(n)) if n.isdigit() else (role, -1)


# ====================================================================== the model

class RunDetailModel:
    """The run in view. :meth:`want` from the UI; everything else on the poller's thread."""

    def __init__(self, index: CheckpointIndex, stats: ProcStats, store: "MetricStore | None",
                 clock: Callable[[], float], events: deque, notify: Callable[[str], None],
                 wake: Callable[[], None]):
        self.index = index
        self.stats = stats
        self.store = store
        self.clock = clock
        self.events = events
        self.notify = notify
        self.wake = wake
        self._lock = threading.Lock()
        self._want: Path | None = None       # written by the UI thread, under the lock
        self._tracked: Path | None = None    # poller only
        self._detail: RunDetail | None = None   # poller only
        self._composed: tuple | None = None

    # ------------------------------------------------------------------ the UI's side
    def want(self, run_dir: Path | None) -> bool:
        """Show ``run_dir`` (None: none); True when that is a change."""
        run_dir = Path(run_dir).absolute() if run_dir is not None else None
        with self._lock:
            changed = run_dir != self._want
            self._want = run_dir
        return changed

    @property
    def wanted(self) -> Path | None:
        return self._want

    @property
    def detail(self) -> RunDetail | None:
        """The poller's snapshot, with the checkpoint index's newest listing (the index's
        thread lists a new checkpoint within milliseconds of its save; it must not wait for
        the poller)."""
        d, want = self._detail, self._want
        if d is None or want is None or d.path != want:
            return None
        snap = self.index.get(d.path)
        if snap is None or snap is d.checkpoints:
            return d
        cached = self._composed
        if cached is not None and cached[0] is d and cached[1] is snap:
            return cached[2]
        out = _replace(d, checkpoints=snap)
        self._composed = (d, snap, out)   # a cache of the reader's own
        return out

    def checkpoints_changed(self, run_dir: Path) -> None:
        """From the checkpoint index's thread: a tracked run saved a checkpoint. The UI is
        told at once (it reads the listing from the index); acks follow at the poller's next
        pass."""
        if self._want == Path(run_dir):
            self.notify("checkpoints")
            self.wake()

    # ------------------------------------------------------------------ the poller's side
    def sync_tracking(self) -> None:
        """Track the wanted run's checkpoints (watchdog), untrack the one left."""
        want = self._want
        if want == self._tracked:
            return
        old, self._tracked = self._tracked, want
        if old is not None:
            self.index.untrack(old)
        if self._detail is not None and self._detail.path != want:
            self._detail = None
        if want is not None:
            try:
                self.index.track(want)
            except Exception as e:
                self.events.append(Event("error", "checkpoints of %s: %s" % (want.name, e)))

    def refresh(self) -> None:
        path = self._want
        if path is None:
            return
        info = load_run(path)
        now = self.clock()
        snap = self.index.get(path) or self.index.scan(path)
        from .logs import available_logs   # (it loads the metric readers' file tail)
        from .viewers import viewer_acks

        state, state_err = current_state(path)
        acks = viewer_acks(path)
        every = list(info.roles) + list(info.viewers)
        recs = [(r.record.pid, r.record.create_time) for r in every
                if r.alive and r.record is not None and r.record.pid > 0]
        samples = self.stats.sample_many(recs)
        roles = tuple(role_row(r, samples.get(r.pid) if r.pid else None, False)
                      for r in info.roles)
        extra = sorted(info.viewers, key=lambda v: (is_recorder(v), role_number(v.role)))
        roles += tuple(role_row(v, samples.get(v.pid) if v.pid else None, True)
                       for v in extra)
        vids = sorted({v.role for v in info.viewers if not is_recorder(v)} | set(acks),
                      key=role_number)
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
            version=prev.version if prev else 0,
            sweep_id=(info.record.sweep_id or "") if info.record else "")
        if prev is not None:
            self._recorders_ended(prev, detail)
        if prev is None or _detail_key(prev) != _detail_key(detail):
            detail = _replace(detail, version=(prev.version if prev else 0) + 1)
            if self._want == path:
                self._detail = detail
                self.notify("detail")

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


def _replace(d: RunDetail, **kw: object) -> RunDetail:
    return RunDetail(**{**d.__dict__, **kw})


def _detail_key(d: RunDetail) -> tuple:
    return (d.status, d.status_text, d.headline, d.roles, d.viewers, d.checkpoints.version,
            d.state.seq if d.state else None, d.state.mode if d.state else None,
            d.state_error, d.logs, d.error)
