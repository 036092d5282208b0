"""SIGINT / SIGTERM become a flag the train and play loops check between steps."""
from __future__ import annotations

import signal
import time
from typing import Any, Optional


class StopFlag(object):
    """Set by the first SIGINT or SIGTERM; the loop finishes its step, saves and exits 0."""

    def __init__(self) -> None:
        self.signum = None  # type: Optional[int]
        self.at = 0.0

    def is_set(self) -> bool:
        return self.signum is not None

    __call__ = is_set  # usable as a ``should_stop`` callback

    def request(self, signum: int = signal.SIGINT) -> None:
        """Stop as if ``signum`` had arrived (a time budget, a test, another thread)."""
        self._handle(signum, None)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is None:
            self.signum = signum
            self.at = time.monotonic()

    def install(self) -> "StopFlag":
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)
        return self

    @property
    def name(self) -> str:
        if self.signum is None:
            return ""
        try:
            return signal.Signals(self.signum).name
        except ValueError:
            return str(self.signum)
