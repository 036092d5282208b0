"""What both SERL processes set up the same way: the log line (threads and device: runners.sdk.torch_runtime)."""
from __future__ import annotations

import sys
from typing import IO


class Say(object):
    """One readable line to the role's log (stdout, line-buffered by Pitwall's wrapper)."""

    def __init__(self, out: IO[str] = sys.stdout):
        self.out = out

    def __call__(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()
