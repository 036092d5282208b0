"""The machine: CPU, RAM, the disk of the runs root, NVIDIA GPUs, and what each run takes.

Sampled by the poller's thread once a second (psutil; GPUs through :class:`GpuMonitor`), with a
short history for sparklines. While the system view is open (:meth:`SystemModel.want_detail`)
it also gives every live run and role its CPU, RSS, GPU memory and GPU utilization: NVML's
process list is matched to the runs' process groups (a role leads its own group, so its
workers share its pgid), then to their process trees (a worker that started its own session).
No Textual here.
"""
from __future__ import annotations

import os
import shutil
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from .gpu_monitor import GpuDevice, GpuMonitor, GpuProcess
from .proc_stats import ProcStats
from .run_state import RunInfo

HISTORY = 60                # samples kept for the sparklines (one a second)
EVERY_S = 1.0


@dataclass(frozen=True)
class RoleUsage:
    run: str
    role: str
    pid: int
    cpu: float | None               # % of one core, with its children
    rss: int | None                 # bytes, with its children
    gpu_mem: int | None = None      # bytes on all GPUs (None: no GPU process)
    gpu_util: float | None = None   # % SM, summed over its processes
    gpus: tuple[int, ...] = ()      # device indexes it uses


@dataclass(frozen=True)
class SystemSnapshot:
    host: str = ""
    cpu: float = 0.0                 # % of the whole machine
    cores: int = 0
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    ram_used: int = 0
    ram_total: int = 0
    disk_path: str = ""
    disk_used: int = 0
    disk_total: int = 0
    gpus: tuple[GpuDevice, ...] = ()
    gpu_note: str | None = None      # why there are no GPU figures (one quiet line)
    roles: tuple[RoleUsage, ...] = ()
    history: dict = field(default_factory=dict, compare=False, hash=False)  # key -> values
    version: int = 0

    @property
    def ram_percent(self) -> float:
        return 100.0 * self.ram_used / self.ram_total if self.ram_total else 0.0

    @property
    def disk_percent(self) -> float:
        return 100.0 * self.disk_used / self.disk_total if self.disk_total else 0.0


@dataclass(frozen=True)
class HostReading:
    cpu: float                      # % of the whole machine since the previous reading
    cores: int
    load: tuple[float, float, float]
    ram_used: int
    ram_total: int
    disk_used: int
    disk_total: int
    host: str = ""


class HostProbe:
    """CPU, RAM, load and the disk of a path, from psutil and the OS."""

    def __init__(self) -> None:
        psutil.cpu_percent(None)              # the first call starts the measurement

    def read(self, path: Path) -> HostReading:
        vm = psutil.virtual_memory()
        try:
            du = shutil.disk_usage(path if path.exists() else path.parent)
            disk = (du.used, du.total)
        except OSError:
            disk = (0, 0)
        try:
            load = os.getloadavg()
        except OSError:
            load = (0.0, 0.0, 0.0)
        import socket

        return HostReading(psutil.cpu_percent(None), psutil.cpu_count() or 0,
                           tuple(load), vm.used, vm.total, *disk,  # type: ignore[arg-type]
                           host=socket.gethostname())


class SystemModel:
    """:meth:`want_detail` from the UI; :meth:`refresh` on the poller's thread."""

    def __init__(self, root: Path, monitor: GpuMonitor | None = None,
                 host: HostProbe | None = None):
        self.root = root
        self.monitor = monitor or GpuMonitor()
        self.host = host or HostProbe()
        self.stats = ProcStats()
        self._detail = False                  # the UI's
        self._lock = threading.Lock()
        self._snap = SystemSnapshot()         # poller only
        self._hist: dict[str, deque] = {}
        self.due = 0.0                        # poller only
        self._done_detail = False

    # ------------------------------------------------------------------ the UI's side
    def want_detail(self, on: bool) -> None:
        with self._lock:
            self._detail = on

    @property
    def snapshot(self) -> SystemSnapshot:
        return self._snap

    # ------------------------------------------------------------------ the poller's side
    def is_due(self, now: float) -> bool:
        return now >= self.due or self._detail != self._done_detail

    def refresh(self, infos: dict[str, RunInfo]) -> None:
        self.due = time.monotonic() + EVERY_S
        hr = self.host.read(self.root)
        gs = self.monitor.sample()
        gpus = gs.devices if gs is not None else ()
        self._push("cpu", hr.cpu)
        self._push("ram", 100.0 * hr.ram_used / hr.ram_total if hr.ram_total else 0.0)
        for g in gpus:
            self._push("gpu%d" % g.index, g.util if g.util is not None else float("nan"))
            if g.mem_used is not None and g.mem_total:
                self._push("gpu%d.mem" % g.index, 100.0 * g.mem_used / g.mem_total)
        roles: tuple[RoleUsage, ...] = ()
        self._done_detail = self._detail
        if self._detail:
            roles = self._roles(infos, gs.processes if gs is not None else ())
        prev = self._snap
        self._snap = SystemSnapshot(
            host=hr.host, cpu=hr.cpu, cores=hr.cores, load=hr.load,
            ram_used=hr.ram_used, ram_total=hr.ram_total, disk_path=str(self.root),
            disk_used=hr.disk_used, disk_total=hr.disk_total, gpus=gpus,
            gpu_note=self.monitor.unavailable if not gpus else None, roles=roles,
            history={k: tuple(v) for k, v in self._hist.items()}, version=prev.version + 1)

    def _push(self, key: str, value: float) -> None:
        d = self._hist.get(key)
        if d is None:
            d = self._hist[key] = deque(maxlen=HISTORY)
        d.append(float(value))

    def _roles(self, infos: dict[str, RunInfo], gpu_procs: tuple[GpuProcess, ...]
               ) -> tuple[RoleUsage, ...]:
        live = []
        for info in infos.values():
            if not info.live and not any(v.alive for v in info.viewers):
                continue
            for rs in list(info.roles) + list(info.viewers):
                rec = rs.record
                if rs.alive and rec is not None and rec.pid > 0:
                    live.append((info.name, rs.role, rec.pid, rec.pgid or rec.pid,
                                 rec.create_time))
        samples = self.stats.sample_many([(pid, ct) for _, _, pid, _, ct in live])
        owner = match_gpu_processes(gpu_procs, {(run, role): (pid, pgid)
                                                for run, role, pid, pgid, _ in live})
        out = []
        for run, role, pid, _pgid, _ct in live:
            s = samples.get(pid)
            mine = owner.get((run, role), [])
            mem = [p.used_memory for p in mine if p.used_memory is not None]
            util = [p.sm_util for p in mine if p.sm_util is not None]
            out.append(RoleUsage(
                run=run, role=role, pid=pid,
                cpu=s.cpu_percent if s is not None and s.alive else None,
                rss=s.rss if s is not None and s.alive else None,
                gpu_mem=sum(mem) if mem else None, gpu_util=sum(util) if util else None,
                gpus=tuple(sorted({p.gpu for p in mine}))))
        return tuple(out)

    def close(self) -> None:
        self.monitor.close()


def match_gpu_processes(procs: tuple[GpuProcess, ...] | list[GpuProcess],
                        roles: dict[tuple[str, str], tuple[int, int]]
                        ) -> dict[tuple[str, str], list[GpuProcess]]:
    """Which role each GPU process belongs to: its process group first (a role leads its own
    group), else its ancestors (a worker in a session of its own). Unmatched ones are left
    out (another user's job, or a process in another PID namespace)."""
    by_pgid = {pgid: key for key, (_pid, pgid) in roles.items()}
    by_pid = {pid: key for key, (pid, _pgid) in roles.items()}
    out: dict[tuple[str, str], list[GpuProcess]] = {}
    for p in procs:
        key = None
        try:
            key = by_pgid.get(os.getpgid(p.pid))
        except OSError:
            key = None
        if key is None:
            try:
                for parent in psutil.Process(p.pid).parents():
                    key = by_pid.get(parent.pid)
                    if key is not None:
                        break
            except psutil.Error:
                key = None
        if key is None:
            key = by_pid.get(p.pid)
        if key is not None:
            out.setdefault(key, []).append(p)
    return out
