"""A live, cached index of the checkpoints of runs.

Two ways in, one answer:

* :meth:`CheckpointIndex.scan` (any run, any thread): re-lists a run's checkpoint directory only
  when its signature changed (directory mtime, ``index.jsonl`` size/mtime, ``latest.pth``
  inode), so a runs list of a thousand finished runs costs a few ``stat`` calls per run.
* :meth:`CheckpointIndex.track` (the runs someone is looking at): a watchdog observer (inotify
  on Linux) sees the atomic rename of a new checkpoint and the ``index.jsonl`` append; after a
  short debounce the run is re-listed and ``on_change(run_dir)`` is called, so a new checkpoint
  is visible well within 200 ms of its save. Inotify does not see writes made on another NFS
  host, so every tracked run is also polled (signature check) every ``poll_interval`` seconds.
  Runs written on another host (a Slurm run, a profile with ``launcher.watch: poll``) or kept
  on a network filesystem get no watch at all and are polled every ``remote_poll_interval``.

No Textual here: ``on_change`` is a plain callback, called from the index's own thread.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from runners.protocol import CheckpointInfo, CheckpointLayout, RunRecord, read_run_record
from runners.protocol.artifacts import ARTIFACTS_FILE
from runners.protocol.checkpoints import file_signature
from runners.protocol.rundir import CKPT_INDEX, RUN_JSON

from .filesystems import is_remote
from .run_checkpoints import layout

DEBOUNCE_S = 0.015     # a save is a rename, a link and an append: list once after the burst
POLL_INTERVAL_S = 2.0  # NFS fallback for tracked runs
REMOTE_POLL_INTERVAL_S = 1.5   # runs written on other hosts: polling only (the metrics
                               # watcher's remote interval)

Signature = tuple


@dataclass(frozen=True)
class CheckpointSnapshot:
    """The checkpoints of one run at one moment (history by step, ``latest`` last)."""
    run_dir: Path
    checkpoints: tuple[CheckpointInfo, ...] = ()
    version: int = 0          # +1 every time the list changed
    scanned_at: float = 0.0   # time.time() of the listing
    nn_dir: Path | None = None
    error: str | None = None

    @property
    def history(self) -> list[CheckpointInfo]:
        return [c for c in self.checkpoints if not c.is_latest]

    @property
    def newest(self) -> CheckpointInfo | None:
        """The newest numbered checkpoint, else ``latest`` itself, else None."""
        hist = self.history
        if hist:
            return max(hist, key=lambda c: (c.mtime, c.step if c.step is not None else -1))
        return self.checkpoints[-1] if self.checkpoints else None


@dataclass
class _Entry:
    run_dir: Path
    layout_sig: Signature | None = None
    layout: CheckpointLayout | None = None
    sig: Signature | None = None
    snapshot: CheckpointSnapshot | None = None
    tracked: int = 0                      # how many callers track it
    watches: list = field(default_factory=list)
    watched_paths: tuple[str, ...] = ()
    dirty: bool = False
    polled: bool = False                  # written on another host: poll, never watch


def _stat_sig(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _mtime(path: Path) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


class CheckpointIndex:
    """Checkpoint lists of runs, cached by signature, pushed on change for tracked runs."""

    def __init__(self, on_change: Callable[[Path], None] | None = None,
                 poll_interval: float = POLL_INTERVAL_S, use_watchdog: bool = True,
                 debounce: float = DEBOUNCE_S,
                 remote_poll_interval: float = REMOTE_POLL_INTERVAL_S):
        self.on_change = on_change
        self.poll_interval = poll_interval
        self.remote_poll_interval = remote_poll_interval
        self.debounce = debounce
        self.use_watchdog = use_watchdog
        self._entries: dict[Path, _Entry] = {}
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._observer = None
        self.watchdog_error: str | None = None

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> "CheckpointIndex":
        if self._thread is not None:
            return self
        if self.use_watchdog:
            try:
                from watchdog.observers import Observer

                self._observer = Observer(timeout=0.05)
                self._observer.daemon = True
                self._observer.start()
            except Exception as e:  # no inotify slots left, unsupported fs ...
                self._observer = None
                self.watchdog_error = "%s: %s" % (type(e).__name__, e)
        self._thread = threading.Thread(target=self._loop, name="pitwall-ckpt-index",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._observer is not None:
            try:
                self._observer.stop()
                self._observer.join(timeout=1.0)
            except Exception:
                pass
        if self._thread is not None:
            self._thread.join(timeout=1.0)

    # ----------------------------------------------------------------- queries

    def scan(self, run_dir: Path, record: RunRecord | None = None,
             force: bool = False) -> CheckpointSnapshot:
        """The run's checkpoints, re-listed only when its files changed."""
        run_dir = Path(run_dir)
        with self._lock:
            entry = self._entries.get(run_dir)
            if entry is None:
                entry = self._entries[run_dir] = _Entry(run_dir)
        snap, _ = self._rescan(entry, record, force)
        return snap

    def get(self, run_dir: Path) -> CheckpointSnapshot | None:
        entry = self._entries.get(Path(run_dir))
        return entry.snapshot if entry is not None else None

    def forget(self, keep: set[Path]) -> None:
        """Drop cached entries of runs that are gone (untracked ones only)."""
        with self._lock:
            for p in [p for p, e in self._entries.items() if p not in keep and not e.tracked]:
                del self._entries[p]

    # ----------------------------------------------------------------- tracking

    def track(self, run_dir: Path, record: RunRecord | None = None) -> CheckpointSnapshot:
        run_dir = Path(run_dir)
        with self._lock:
            entry = self._entries.setdefault(run_dir, _Entry(run_dir))
            entry.tracked += 1
        snap, _ = self._rescan(entry, record, force=True)
        self._update_watches(entry)
        return snap

    def untrack(self, run_dir: Path) -> None:
        with self._lock:
            entry = self._entries.get(Path(run_dir))
            if entry is None or entry.tracked == 0:
                return
            entry.tracked -= 1
            if entry.tracked == 0:
                self._unwatch(entry)

    def is_polled(self, run_dir: Path) -> bool:
        """True when the run is polled only (no inotify watch): written on another host."""
        entry = self._entries.get(Path(run_dir))
        return entry is not None and entry.polled and not entry.watches

    def tracked(self) -> list[Path]:
        with self._lock:
            return [p for p, e in self._entries.items() if e.tracked]

    # ----------------------------------------------------------------- internals

    def _layout(self, entry: _Entry, record: RunRecord | None) -> CheckpointLayout | None:
        lsig = (_mtime(entry.run_dir / RUN_JSON), _mtime(entry.run_dir / ARTIFACTS_FILE))
        if entry.layout is None or entry.layout_sig != lsig:
            rec = record or read_run_record(entry.run_dir)
            entry.layout = layout(entry.run_dir, rec)
            entry.layout_sig = lsig
            entry.polled = rec.polled or is_remote(entry.layout.nn_dir.parent)
        return entry.layout

    def _signature(self, lay: CheckpointLayout) -> Signature:
        latest = lay.latest_path
        return (_stat_sig(lay.nn_dir), _stat_sig(lay.nn_dir / CKPT_INDEX),
                file_signature(latest) if latest is not None else None)

    def _rescan(self, entry: _Entry, record: RunRecord | None = None,
                force: bool = False) -> tuple[CheckpointSnapshot, bool]:
        try:
            lay = self._layout(entry, record)
        except Exception as e:  # unreadable run.json: say so, keep the last list
            prev = entry.snapshot or CheckpointSnapshot(entry.run_dir)
            snap = CheckpointSnapshot(entry.run_dir, prev.checkpoints, prev.version,
                                      time.time(), prev.nn_dir, str(e))
            entry.snapshot = snap
            return snap, False
        assert lay is not None
        sig = self._signature(lay)
        if not force and entry.snapshot is not None and sig == entry.sig:
            return entry.snapshot, False
        ckpts = tuple(lay.list())
        prev = entry.snapshot
        changed = prev is None or _listing_key(prev.checkpoints) != _listing_key(ckpts)
        version = (prev.version if prev else 0) + (1 if changed else 0)
        snap = CheckpointSnapshot(entry.run_dir, ckpts, version, time.time(), lay.nn_dir)
        with self._lock:
            entry.sig = sig
            entry.snapshot = snap
        if entry.tracked and not entry.polled and lay.nn_dir.is_dir() \
                and str(lay.nn_dir) not in entry.watched_paths:
            self._update_watches(entry)
        return snap, changed

    def _update_watches(self, entry: _Entry) -> None:
        if self._observer is None or entry.layout is None:
            return
        if entry.polled:
            self._unwatch(entry)
            return
        lay = entry.layout
        # the checkpoint dir itself; until it exists, its parent (to see it appear)
        if lay.nn_dir.is_dir():
            wanted, only = (str(lay.nn_dir),), None
        elif lay.nn_dir.parent.is_dir():
            wanted, only = (str(lay.nn_dir.parent),), {lay.nn_dir.name}
        else:
            wanted, only = (), None
        if wanted == entry.watched_paths:
            return
        self._unwatch(entry)
        handler = _Handler(self, entry.run_dir, only)
        for p in wanted:
            try:
                entry.watches.append(self._observer.schedule(handler, p, recursive=False))
            except Exception as e:  # inotify watch limit: polling still covers it
                self.watchdog_error = "%s: %s" % (type(e).__name__, e)
        entry.watched_paths = wanted

    def _unwatch(self, entry: _Entry) -> None:
        if self._observer is None:
            return
        for w in entry.watches:
            try:
                self._observer.unschedule(w)
            except Exception:
                pass
        entry.watches = []
        entry.watched_paths = ()

    def _mark_dirty(self, run_dir: Path) -> None:
        entry = self._entries.get(run_dir)
        if entry is not None:
            entry.dirty = True
            self._wake.set()

    def _loop(self) -> None:
        next_poll = time.monotonic() + self.poll_interval
        next_remote = time.monotonic() + self.remote_poll_interval
        while not self._stop.is_set():
            woke = self._wake.wait(max(0.0, min(next_poll, next_remote) - time.monotonic()))
            if self._stop.is_set():
                return
            if woke:
                time.sleep(self.debounce)  # let the rename + link + append burst finish
                self._wake.clear()
            with self._lock:
                entries = [e for e in self._entries.values() if e.tracked]
            polling = time.monotonic() >= next_poll
            remote_due = time.monotonic() >= next_remote
            for entry in entries:
                if not (entry.dirty or polling or (entry.polled and remote_due)):
                    continue
                entry.dirty = False
                try:
                    _, changed = self._rescan(entry)
                except Exception:
                    continue
                if changed and self.on_change is not None:
                    try:
                        self.on_change(entry.run_dir)
                    except Exception:
                        pass
            if polling:
                next_poll = time.monotonic() + self.poll_interval
            if remote_due:
                next_remote = time.monotonic() + self.remote_poll_interval


def _listing_key(ckpts: tuple[CheckpointInfo, ...]) -> tuple:
    return tuple((c.name, c.size, c.mtime, c.step, tuple(sorted(c.metrics.items())),
                  c.same_as_latest) for c in ckpts)


class _Handler:
    """watchdog event handler: any visible change in a watched dir marks the run dirty."""

    def __init__(self, index: CheckpointIndex, run_dir: Path, only: set[str] | None = None):
        self.index = index
        self.run_dir = run_dir
        self.only = only

    def dispatch(self, event) -> None:  # watchdog's handler protocol
        if event.is_directory and event.event_type not in ("created", "moved", "deleted"):
            return
        names = [os.path.basename(os.fsdecode(event.src_path))]
        dest = getattr(event, "dest_path", "")
        if dest:
            names.append(os.path.basename(os.fsdecode(dest)))
        if all(n.startswith(".") for n in names):
            return  # temp files of an atomic write in progress
        if event.event_type in ("opened", "closed_no_write"):
            return
        if self.only is not None and not self.only.intersection(names):
            return
        self.index._mark_dirty(self.run_dir)
