"""A run's live processes found without its records: by ``PITWALL_RUN_DIR`` in their environment.

Every role Pitwall starts (trainers, viewers, recorders) gets ``PITWALL_RUN_DIR`` and
``PITWALL_ROLE`` in its environment, and whatever it starts inherits them. So when
``procs/<role>.json`` is missing or corrupt, the run's processes can still be found, stopped,
and kept from being deleted under them. Each found process is the leader of its role's process
group or a member of it (its ``pgid`` is recorded), which is what a stop signals.

A scan reads ``/proc/<pid>/environ`` of every process we may read (psutil elsewhere): a few
milliseconds for a few hundred processes. Callers scan only when a record is missing or corrupt,
or when a decision (stop, delete) needs it; :func:`scan` reuses a scan younger than ``max_age``.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from .liveness import is_alive

RUN_DIR_VAR = "PITWALL_RUN_DIR"
ROLE_VAR = "PITWALL_ROLE"
_PROC = Path("/proc")


@dataclass(frozen=True)
class FoundProcess:
    pid: int
    pgid: int
    create_time: float
    role: str        # its PITWALL_ROLE ("" when unset)
    run_dir: str     # its PITWALL_RUN_DIR as set


class ProcessScan(object):
    """One look at every readable process that carries ``PITWALL_RUN_DIR``."""

    def __init__(self, found: list[FoundProcess], taken_at: float):
        self.found = found
        self.taken_at = taken_at

    def of_run(self, run_dir: Path | str) -> list[FoundProcess]:
        """The processes of one run (its directory named by any path that resolves to it)."""
        want = {os.path.normpath(os.path.abspath(str(run_dir))),
                os.path.realpath(str(run_dir))}
        name = os.path.basename(os.path.normpath(str(run_dir)))
        out = []
        for p in self.found:
            d = os.path.normpath(p.run_dir)
            if d in want or (os.path.basename(d) == name and os.path.realpath(d) in want):
                out.append(p)
        return out

    def of_role(self, run_dir: Path | str, role: str) -> list[FoundProcess]:
        return [p for p in self.of_run(run_dir) if p.role == role]


_lock = threading.Lock()
_last: ProcessScan | None = None


def scan(max_age: float = 2.0) -> ProcessScan:
    """A scan of the processes now, or the last one if it is younger than ``max_age`` s."""
    global _last
    with _lock:
        now = time.monotonic()
        if _last is not None and max_age > 0 and now - _last.taken_at <= max_age:
            return _last
        _last = ProcessScan(_scan_now(), now)
        return _last


def _scan_now() -> list[FoundProcess]:
    me = os.getpid()
    found = []
    for pid, env in _environments():
        if pid == me:
            continue
        run_dir = env.get(RUN_DIR_VAR)
        if not run_dir:
            continue
        try:
            proc = psutil.Process(pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            ct = proc.create_time()
            pgid = os.getpgid(pid)
        except (psutil.Error, OSError):
            continue
        found.append(FoundProcess(pid, pgid, ct, env.get(ROLE_VAR, ""), run_dir))
    return found


def _environments():
    """(pid, {PITWALL_* variables}) of every process whose environment we may read."""
    if _PROC.is_dir():
        try:
            pids = [int(n) for n in os.listdir(str(_PROC)) if n.isdigit()]
        except OSError:
            pids = []
        marker = RUN_DIR_VAR.encode() + b"="
        for pid in pids:
            try:
                with open("/proc/%d/environ" % pid, "rb") as f:
                    raw = f.read()
            except OSError:
                continue  # gone, or another user's
            if marker not in raw:
                continue
            yield pid, _pitwall_vars(raw.split(b"\0"))
        return
    for proc in psutil.process_iter(["pid"]):  # macOS and others: psutil reads it
        try:
            env = proc.environ()
        except (psutil.Error, OSError):
            continue
        if RUN_DIR_VAR in env:
            yield proc.pid, {k: v for k, v in env.items() if k in (RUN_DIR_VAR, ROLE_VAR)}


def _pitwall_vars(entries: list[bytes]) -> dict[str, str]:
    out = {}
    for e in entries:
        if e.startswith(b"PITWALL_"):
            k, _, v = e.partition(b"=")
            if k in (RUN_DIR_VAR.encode(), ROLE_VAR.encode()):
                out[k.decode()] = os.fsdecode(v)
    return out


def live_found(found: list[FoundProcess]) -> list[FoundProcess]:
    """The processes of ``found`` that still live, process group leaders first."""
    alive = [p for p in found if is_alive(p.pid, p.create_time)]
    return sorted(alive, key=lambda p: (p.pid != p.pgid, p.pid))


def groups(found: list[FoundProcess]) -> list[int]:
    """The distinct process groups of ``found``, never our own."""
    mine = os.getpgid(0)
    out = []
    for p in found:
        if p.pgid > 0 and p.pgid != mine and p.pgid not in out:
            out.append(p.pgid)
    return out
