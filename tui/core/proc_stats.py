"""CPU %, RSS and uptime of the processes of a run (psutil), sampled from a data thread.

``cpu_percent`` needs two looks at the same process: :class:`ProcStats` keeps one
``psutil.Process`` per (pid, create_time) between samples, so the second sample of a role gives
its CPU use since the first. A reused pid (another create_time) is a different process and
reads as gone. The children of a role (a trainer's env workers) are summed into it.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import psutil

from .liveness import CREATE_TIME_TOLERANCE


@dataclass(frozen=True)
class ProcSample:
    pid: int
    alive: bool
    cpu_percent: float | None = None   # % of one core, the role and its children; None: first look
    rss: int | None = None             # bytes, the role and its children
    uptime_s: float | None = None
    threads: int | None = None
    children: int = 0
    status: str = ""


class ProcStats:
    """Keeps psutil handles between samples; thread-safe."""

    def __init__(self, include_children: bool = True):
        self.include_children = include_children
        self._procs: dict[tuple[int, float], psutil.Process] = {}
        self._kids: dict[int, psutil.Process] = {}
        self._seen_kids: set[int] = set()
        self._lock = threading.Lock()

    def sample(self, pid: int, create_time: float) -> ProcSample:
        with self._lock:
            return self._sample(pid, create_time)

    def sample_many(self, procs: list[tuple[int, float]]) -> dict[int, ProcSample]:
        with self._lock:
            self._seen_kids = set()
            out = {pid: self._sample(pid, ct) for pid, ct in procs if pid > 0}
            keep = {(pid, ct) for pid, ct in procs}
            for key in [k for k in self._procs if k not in keep]:
                del self._procs[key]
            for kpid in [k for k in self._kids if k not in self._seen_kids]:
                del self._kids[kpid]
            return out

    def _sample(self, pid: int, create_time: float) -> ProcSample:
        key = (pid, create_time)
        p = self._procs.get(key)
        fresh = p is None
        try:
            if p is None:
                p = psutil.Process(pid)
                if abs(p.create_time() - create_time) > CREATE_TIME_TOLERANCE:
                    return ProcSample(pid, False)
                self._procs[key] = p
            with p.oneshot():
                status = p.status()
                if status == psutil.STATUS_ZOMBIE:
                    self._procs.pop(key, None)
                    return ProcSample(pid, False, status=status)
                cpu = p.cpu_percent(None)
                rss = p.memory_info().rss
                threads = p.num_threads()
            kids = p.children(recursive=True) if self.include_children else []
        except (psutil.Error, ValueError):
            self._procs.pop(key, None)
            return ProcSample(pid, False)
        kid_cpu = 0.0
        for k in kids:
            try:
                known = self._kids.get(k.pid)
                fresh_kid = known is None or known.create_time() != k.create_time()
                if fresh_kid:
                    self._kids[k.pid] = known = k
                assert known is not None
                c = known.cpu_percent(None)
                rss += known.memory_info().rss
                if not fresh_kid:
                    kid_cpu += c
            except (psutil.Error, ValueError):
                self._kids.pop(k.pid, None)
        self._seen_kids.update(k.pid for k in kids)
        return ProcSample(pid, True, None if fresh else cpu + kid_cpu, rss,
                          max(0.0, time.time() - create_time), threads, len(kids), status)
