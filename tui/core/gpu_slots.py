"""The GPUs of this machine, read with NVML (``nvidia-ml-py``), and which of them are free.

A GPU is free for a queued run when no live run of the queue holds it and NVML lists no compute
process on it (someone else's job, or a run started outside the queue, keeps it busy). Runs get
the NVML indices in ``CUDA_VISIBLE_DEVICES`` with ``CUDA_DEVICE_ORDER=PCI_BUS_ID``, so CUDA
numbers the devices as NVML does.

Without an NVIDIA driver ``nvmlInit`` fails at once (``NVMLError_LibraryNotFound``, well under a
millisecond after the import): :func:`read_gpus` then returns no GPU and the reason, and runs start
as they would without the queue.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Gpu:
    index: int
    uuid: str
    name: str
    memory_total: int          # bytes
    memory_used: int
    pids: tuple[int, ...] = ()  # compute processes NVML sees on it


@dataclass
class GpuInventory:
    gpus: list[Gpu] = field(default_factory=list)
    error: str | None = None    # why there is none (no driver, no nvidia-ml-py ...)

    def describe(self) -> str:
        if not self.gpus:
            return "no GPU (%s)" % (self.error or "NVML lists none")
        return ", ".join("%d: %s" % (g.index, g.name) for g in self.gpus)


def _text(v: object) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def read_gpus() -> GpuInventory:
    """What NVML reports now; never raises."""
    try:
        import pynvml
    except ImportError as e:
        return GpuInventory([], "nvidia-ml-py is not installed (%s)" % e)
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as e:
        return GpuInventory([], "NVML: %s" % e)
    gpus = []
    try:
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            mem = pynvml.nvmlDeviceGetMemoryInfo(h)
            try:
                procs = pynvml.nvmlDeviceGetComputeRunningProcesses(h)
            except pynvml.NVMLError:
                procs = []
            gpus.append(Gpu(index=i, uuid=_text(pynvml.nvmlDeviceGetUUID(h)),
                            name=_text(pynvml.nvmlDeviceGetName(h)),
                            memory_total=int(mem.total), memory_used=int(mem.used),
                            pids=tuple(int(p.pid) for p in procs)))
    except pynvml.NVMLError as e:
        return GpuInventory(gpus, "NVML: %s" % e)
    finally:
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError:
            pass
    return GpuInventory(gpus)


def free_gpus(inventory: GpuInventory, taken: set[int]) -> list[int]:
    """Indices of GPUs that no queued run holds and that run no compute process."""
    return [g.index for g in inventory.gpus if g.index not in taken and not g.pids]


def cuda_env(gpu_ids: list[int]) -> dict[str, str]:
    return {"CUDA_VISIBLE_DEVICES": ",".join(str(i) for i in gpu_ids),
            "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
