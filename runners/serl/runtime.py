"""What both SERL processes set up the same way: torch threads, the device, the log line."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO, Union

from runners.protocol import ProtocolError


def set_torch_threads(requested: int) -> int:
    """``0`` = auto: one thread up to 4 cores (the actor and the learner share the box), else
    a quarter of the cores, at most 4."""
    import torch

    cores = os.cpu_count() or 1
    n = requested or (1 if cores <= 4 else min(4, cores // 4))
    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    return n


def pick_device(name: str, field: str, source: Union[str, Path] = "run.json"):  # type: ignore
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ProtocolError(source, field, "is 'cuda' but this torch (%s) sees no CUDA device; "
                            "use 'auto' or 'cpu'" % torch.__version__)
    return torch.device(name)


class Say(object):
    """One readable line to the role's log (stdout, line-buffered by Pitwall's wrapper)."""

    def __init__(self, out: IO[str] = sys.stdout):
        self.out = out

    def __call__(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()
