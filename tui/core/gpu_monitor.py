"""NVIDIA GPUs through NVML (``nvidia-ml-py``, imported as ``pynvml``), read from a data thread.

Per device: utilization, memory, temperature and power; per process: GPU memory (compute and
graphics processes, as nvitop does; ``None`` where NVML says N/A, e.g. under MIG) and SM
utilization from ``nvmlDeviceGetProcessUtilization`` samples since the previous look.

Without a GPU or a driver, ``nvmlInit()`` raises at once (``NVMLError_LibraryNotFound``, about
0.3 ms) and keeps raising: the monitor tries once, keeps the reason as one quiet line
(:attr:`GpuMonitor.unavailable`) and never tries again, so a box without GPUs pays nothing and
nothing is printed (nvitop would print NVML errors to stderr, which would tear a Textual
screen). Any NVML module-like object can stand in for ``pynvml`` (the tests use a fake with two
GPUs). No Textual here.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class GpuProcess:
    pid: int
    gpu: int                       # device index
    used_memory: int | None        # bytes; None: NVML cannot tell (MIG)
    sm_util: float | None = None   # % of the device's SMs over the last sample window


@dataclass(frozen=True)
class GpuDevice:
    index: int
    name: str
    util: float | None             # % of time a kernel ran
    mem_util: float | None         # % of time memory was read or written
    mem_used: int | None           # bytes
    mem_total: int | None
    temperature: float | None      # °C
    power: float | None            # W
    power_limit: float | None      # W


@dataclass(frozen=True)
class GpuSample:
    devices: tuple[GpuDevice, ...]
    processes: tuple[GpuProcess, ...]
    taken_at: float


class GpuMonitor:
    """``sample()`` from one thread; ``unavailable`` says why there is nothing (or None)."""

    def __init__(self, nvml: Any = None):
        self._nvml = nvml
        self._ready = False
        self.unavailable: str | None = None
        self._last_ts: dict[int, int] = {}      # device -> µs of the last utilization sample

    def _init(self) -> bool:
        if self._ready:
            return True
        if self.unavailable is not None:
            return False                      # tried once: no retry, no cost
        nv = self._nvml
        if nv is None:
            try:
                import pynvml as nv  # noqa: F811  (nvidia-ml-py)
            except ImportError:
                self.unavailable = "no GPU monitoring: nvidia-ml-py is not installed"
                return False
        try:
            nv.nvmlInit()
        except Exception as e:          # NVMLError_LibraryNotFound, _DriverNotLoaded ...
            self.unavailable = "no NVIDIA GPU: %s" % _reason(e)
            return False
        self._nvml = nv
        self._ready = True
        return True

    def sample(self) -> GpuSample | None:
        if not self._init():
            return None
        nv = self._nvml
        try:
            n = int(nv.nvmlDeviceGetCount())
        except Exception as e:
            self.unavailable = "NVML: %s" % _reason(e)
            self._ready = False
            return None
        devices, procs = [], []
        now_us = int(time.time() * 1e6)
        for i in range(n):
            try:
                h = nv.nvmlDeviceGetHandleByIndex(i)
            except Exception:
                continue
            devices.append(self._device(nv, i, h))
            procs.extend(self._processes(nv, i, h, now_us))
        if n == 0:
            self.unavailable = "NVML sees no GPU"
        return GpuSample(tuple(devices), tuple(procs), time.time())

    def _device(self, nv: Any, i: int, h: Any) -> GpuDevice:
        name = _call(nv.nvmlDeviceGetName, h)
        if isinstance(name, bytes):
            name = name.decode(errors="replace")
        util = _call(nv.nvmlDeviceGetUtilizationRates, h)
        mem = _call(nv.nvmlDeviceGetMemoryInfo, h)
        temp = _call(nv.nvmlDeviceGetTemperature, h, getattr(nv, "NVML_TEMPERATURE_GPU", 0))
        power = _call(nv.nvmlDeviceGetPowerUsage, h)
        limit = _call(nv.nvmlDeviceGetEnforcedPowerLimit, h)
        return GpuDevice(
            index=i, name=str(name or "GPU %d" % i),
            util=float(util.gpu) if util is not None else None,
            mem_util=float(util.memory) if util is not None else None,
            mem_used=int(mem.used) if mem is not None else None,
            mem_total=int(mem.total) if mem is not None else None,
            temperature=float(temp) if temp is not None else None,
            power=power / 1000.0 if power is not None else None,
            power_limit=limit / 1000.0 if limit is not None else None)

    def _processes(self, nv: Any, i: int, h: Any, now_us: int) -> list[GpuProcess]:
        mem: dict[int, int | None] = {}
        for fn in ("nvmlDeviceGetComputeRunningProcesses",
                   "nvmlDeviceGetGraphicsRunningProcesses"):
            for p in _call(getattr(nv, fn, None), h) or ():
                used = getattr(p, "usedGpuMemory", None)
                if used is not None and (used < 0 or used >= 2 ** 63):   # NVML's N/A
                    used = None
                prev = mem.get(p.pid)
                mem[p.pid] = used if prev is None else prev + (used or 0)
        util: dict[int, float] = {}
        since = self._last_ts.get(i, now_us - 1_000_000)
        samples = _call(getattr(nv, "nvmlDeviceGetProcessUtilization", None), h, since) or ()
        latest = since
        for s in samples:
            ts = int(getattr(s, "timeStamp", 0) or 0)
            if ts > since and getattr(s, "smUtil", None) is not None:
                util[s.pid] = max(util.get(s.pid, 0.0), float(s.smUtil))
                latest = max(latest, ts)
        self._last_ts[i] = latest if latest > since else now_us
        pids = set(mem) | set(util)
        return [GpuProcess(pid, i, mem.get(pid), util.get(pid)) for pid in sorted(pids)]

    def close(self) -> None:
        if self._ready:
            try:
                self._nvml.nvmlShutdown()
            except Exception:
                pass
            self._ready = False


def _call(fn: Any, *args: Any) -> Any:
    """An NVML query, or None where the device does not support it (NVMLError)."""
    if fn is None:
        return None
    try:
        return fn(*args)
    except Exception:
        return None


def _reason(e: BaseException) -> str:
    text = str(e) or type(e).__name__
    return text.replace("NVML Shared Library Not Found", "the NVML library is not found "
                                                          "(no NVIDIA driver)")
