"""One thread that polls the sources of every watched run into the store.

Polling, not inotify: on NFS and other shared filesystems inotify does not see writes made on
other hosts, and a poll of an idle source costs one ``stat``. Runs on a local filesystem that
produced data within ``active_window`` seconds are polled every ``interval`` (50 ms by default:
an appended point shows in the store well within 100 ms); quiet local runs every
``idle_interval``; runs on a network filesystem every ``remote_interval`` (1.5 s). A source
with a backlog (a long file being caught up) is polled again at once, in bounded chunks, so the
UI sees the history fill in.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from tui.core.filesystems import is_remote

from .run_metrics import RunMetrics
from .store import MetricStore

log = logging.getLogger(__name__)

@dataclass
class WatchConfig:
    interval: float = 0.05          # local runs with recent data
    idle_interval: float = 1.0      # local runs quiet for ``active_window`` seconds
    remote_interval: float = 1.5    # runs on NFS, Lustre, CIFS ... (no inotify across hosts)
    active_window: float = 30.0


class _Entry(object):
    def __init__(self, run: RunMetrics, remote: bool, now: float):
        self.run = run
        self.remote = remote
        self.last_active = now
        self.next_due = now


class MetricsWatcher(object):
    """Polls registered :class:`RunMetrics` into a :class:`MetricStore` from one thread.

    ``add``/``remove``/``wake`` may be called from any thread; ``start`` runs the loop in a
    daemon thread; ``poll_once``/``catch_up`` do the same work synchronously (CLI, tests).
    """

    def __init__(self, store: MetricStore, config: WatchConfig | None = None):
        self.store = store
        self.config = config or WatchConfig()
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._poll_lock = threading.Lock()     # one poller at a time (thread or caller)
        self.passes = 0

    # ------------------------------------------------------------------ registration
    def add(self, run: RunMetrics, remote: bool | None = None) -> None:
        """Watch a run (replacing a run of the same name)."""
        if remote is None:
            remote = bool(getattr(run, "polled", False)) or is_remote(run.root)
        with self._lock:
            old = self._entries.get(run.name)
            self._entries[run.name] = _Entry(run, remote, time.monotonic())
        if old is not None and old.run is not run:
            with self._poll_lock:
                old.run.close()
        self._wake.set()

    def remove(self, name: str, drop_data: bool = False) -> None:
        with self._lock:
            e = self._entries.pop(name, None)
        if e is not None:
            with self._poll_lock:
                e.run.close()
        if drop_data:
            self.store.remove_run(name)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._entries)

    def wake(self) -> None:
        """Poll every run now (e.g. the user pressed refresh)."""
        with self._lock:
            for e in self._entries.values():
                e.next_due = 0.0
        self._wake.set()

    # ------------------------------------------------------------------ polling
    def _interval(self, e: _Entry, now: float) -> float:
        c = self.config
        if e.remote:
            return c.remote_interval
        return c.interval if now - e.last_active < c.active_window else c.idle_interval

    def poll_once(self, force: bool = True) -> tuple[int, bool]:
        """One pass over the runs that are due (all of them with ``force``)."""
        total, more_any = 0, False
        with self._lock:
            entries = list(self._entries.values())
        with self._poll_lock:
            for e in entries:
                now = time.monotonic()
                if not force and e.next_due > now:
                    continue
                n, more = e.run.poll(self.store)
                now = time.monotonic()
                if n:
                    e.last_active = now
                total += n
                more_any = more_any or more
                e.next_due = now if more else now + self._interval(e, now)
        self.passes += 1
        return total, more_any

    def catch_up(self, timeout: float | None = None) -> int:
        """Poll until nothing is left to read (or ``timeout`` seconds passed)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        total = 0
        while True:
            n, more = self.poll_once(force=True)
            total += n
            if not more or (deadline is not None and time.monotonic() > deadline):
                return total

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once(force=False)
            except Exception:               # keep watching whatever one poll did
                log.exception("metrics watcher pass failed")
            with self._lock:
                dues = [e.next_due for e in self._entries.values()]
            wait = (min(dues) - time.monotonic()) if dues else self.config.idle_interval
            if wait > 0:
                self._wake.wait(min(wait, self.config.idle_interval))
                self._wake.clear()

    def start(self) -> "MetricsWatcher":
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="pitwall-metrics",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread; the runs keep their offsets (``start`` continues)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def close(self) -> None:
        """Stop and close every run's files."""
        self.stop()
        with self._lock:
            entries = list(self._entries.values())
            self._entries.clear()
        with self._poll_lock:
            for e in entries:
                e.run.close()

    def __enter__(self) -> "MetricsWatcher":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
