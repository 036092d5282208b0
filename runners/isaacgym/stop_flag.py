"""SIGINT / SIGTERM: the first asks the loop to finish cleanly, a later one interrupts at once.

A repeat within ``DUPLICATE_S`` of the first counts as the same request: Pitwall signals the
whole process group, and a launcher in that group (torchrun's agent) forwards the same signal to
its workers, so each rank receives it twice.
"""
from __future__ import annotations

import signal
import time
from typing import Any, Optional

DUPLICATE_S = 2.0


class StopFlag(object):
    """Truthy once a stop was requested. Train saves a checkpoint and exits 0; play exits 0."""

    def __init__(self) -> None:
        self.signum = None  # type: Optional[int]
        self.at = 0.0

    def __bool__(self) -> bool:
        return self.signum is not None

    def __call__(self) -> bool:
        return self.signum is not None

    def request(self, signum: int = signal.SIGINT) -> None:
        if self.signum is None:
            self.signum = signum
            self.at = time.monotonic()

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is None:
            self.request(signum)
            return
        if time.monotonic() - self.at < DUPLICATE_S:
            return  # the same request delivered twice (group signal + a forwarding launcher)
        # a later signal: the user (or Pitwall's SIGTERM escalation) wants out now
        raise KeyboardInterrupt("second stop signal (%s)" % _name(signum))

    def install(self) -> "StopFlag":
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)
        return self

    @property
    def name(self) -> str:
        return "" if self.signum is None else _name(self.signum)


def _name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)
