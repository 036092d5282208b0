"""What every torch backend sets up the same way: its thread count, its device, and CPU copies
of tensors for a checkpoint. torch is imported when one of these is called, never on import."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Union

from runners.protocol.errors import ProtocolError


def cpu_copy(obj: Any) -> Any:
    """A copy with every tensor on the CPU (optimizer states hold tensors in nested dicts)."""
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().clone()
    if isinstance(obj, dict):
        return {k: cpu_copy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [cpu_copy(v) for v in obj]
    return obj


def pick_device(name: str, source: Union[str, Path] = "run.json", field: str = "params.device",
                auto: Optional[str] = None) -> Any:
    """The ``torch.device`` for ``name`` (``auto``, ``cpu``, ``cuda``, ``cuda:1``). ``auto`` is
    ``auto`` when given (a backend's own rule), else cuda when this torch sees a GPU. ``cuda``
    without a GPU is refused, naming ``source`` and ``field``."""
    import torch

    if name == "auto":
        name = auto or ("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ProtocolError(source, field, "is %r but this torch (%s) sees no CUDA device; "
                            "use 'auto' or 'cpu'" % (name, torch.__version__))
    return torch.device(name)


def set_torch_threads(requested: int, cores_per_thread: int = 2) -> int:
    """``requested`` torch threads, or for ``0`` (auto) one thread up to 4 cores, else
    ``cores // cores_per_thread``, at most 4. Returns the count set.

    The policies are small MLPs and the envs step in the same thread; on a 2-core box a second
    torch thread gains ~15 % when the box is idle and loses 5-7x when other processes compete
    for the cores (OpenMP threads waiting on each other), so auto stays at one there. A backend
    whose processes share the box (actor + learner) passes a larger ``cores_per_thread``."""
    import torch

    cores = os.cpu_count() or 1
    n = requested or (1 if cores <= 4 else max(1, min(4, cores // cores_per_thread)))
    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set (parallel work ran before)
    return n
