"""Checkpoint loads off the env loop: one loader thread, the newest request wins.

A viewer keeps stepping its env with the current policy while a new checkpoint loads; the
player swaps the result in between two steps. A load that takes long (a 35 MB checkpoint, a
slow disk) therefore never freezes the window or the preview, and a request that arrives while
another load runs waits for it and replaces any request still queued (only the newest matters).
When a load ends, ``wakeup`` is set so a player sleeping for real-time pacing swaps at once.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from runners.protocol.checkpoints import FileSignature


@dataclass
class LoadJob:
    path: Path                 # as requested (what the user sees)
    real: Path                 # resolved and confined to the run dir: what is opened
    signature: FileSignature
    seq: int                   # the state-file request it answers
    value: Any = None          # (policy, step) on success
    error: Optional[str] = None


class Loader(object):
    def __init__(self, load: Callable[[Path], Any], wakeup: Optional[threading.Event] = None):
        self._load = load
        self.wakeup = wakeup if wakeup is not None else threading.Event()
        self._cv = threading.Condition()
        self._queued = None  # type: Optional[LoadJob]
        self._running = None  # type: Optional[LoadJob]
        self._done = None  # type: Optional[LoadJob]
        self._closed = False
        self._thread = None  # type: Optional[threading.Thread]

    def submit(self, job: LoadJob) -> None:
        with self._cv:
            self._queued = job
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="checkpoint-loader",
                                                daemon=True)
                self._thread.start()
            self._cv.notify()

    def busy_with(self, path: Path, signature: Optional[FileSignature] = None) -> bool:
        """True while ``path`` (at ``signature``, if given) is queued, loading, or loaded but
        not yet taken by :meth:`result`."""
        with self._cv:
            for job in (self._queued, self._running, self._done):
                if job is not None and job.path == path and \
                        (signature is None or job.signature == signature):
                    return True
        return False

    def result(self) -> Optional[LoadJob]:
        """The load that finished since the last call, if any (cheap)."""
        if self._done is None:
            return None
        with self._cv:
            job, self._done = self._done, None
        return job

    def wait(self, timeout: float) -> None:
        """Sleep up to ``timeout`` s, less when a load finishes meanwhile."""
        if self.wakeup.wait(timeout):
            self.wakeup.clear()

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify()

    def _work(self) -> None:
        while True:
            with self._cv:
                while self._queued is None and not self._closed:
                    self._cv.wait()
                if self._closed:
                    return
                job, self._queued = self._queued, None
                self._running = job
            try:
                job.value = self._load(job.real)
            except Exception as e:   # the backend's loader raises for any bad file
                job.error = str(e) or type(e).__name__
            except BaseException as e:  # SystemExit, a C extension's abort: still a refusal
                job.error = "%s: %s" % (type(e).__name__, e)
            with self._cv:
                self._running = None
                self._done = job
            self.wakeup.set()
