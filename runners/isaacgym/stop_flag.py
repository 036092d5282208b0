"""SIGINT / SIGTERM: the first asks the loop to finish cleanly, a second one interrupts at once."""
from __future__ import annotations

import signal
from typing import Any, Optional


class StopFlag(object):
    """Truthy once a stop was requested. Train saves a checkpoint and exits 0; play exits 0."""

    def __init__(self) -> None:
        self.signum = None  # type: Optional[int]

    def __bool__(self) -> bool:
        return self.signum is not None

    def __call__(self) -> bool:
        return self.signum is not None

    def request(self, signum: int = signal.SIGINT) -> None:
        if self.signum is None:
            self.signum = signum

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is not None:
            # second signal: the user (or Pitwall's SIGTERM escalation) wants out now
            raise KeyboardInterrupt("second stop signal (%s)" % _name(signum))
        self.signum = signum

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
