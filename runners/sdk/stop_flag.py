"""SIGINT / SIGTERM become a flag that train, play and record loops check between steps.

The first signal asks the loop to finish its step cleanly (a trainer then saves a final
checkpoint and exits 0). A repeat within ``DUPLICATE_S`` of the first is the same request:
Pitwall signals a role's whole process group, and a launcher in that group (torchrun's agent)
forwards the same signal to its workers, so each receives it twice. A later signal (Pitwall's
SIGTERM escalation after the grace period, or a user pressing ctrl-c again) either interrupts at
once (``interrupt_on_repeat=True``) or is ignored, leaving SIGKILL as the last word.
"""
from __future__ import annotations

import signal
import time
from typing import Any, Optional

DUPLICATE_S = 2.0


class StopFlag(object):
    def __init__(self, interrupt_on_repeat: bool = False) -> None:
        self.signum = None  # type: Optional[int]
        self.at = 0.0
        self.interrupt_on_repeat = interrupt_on_repeat

    def is_set(self) -> bool:
        return self.signum is not None

    __call__ = is_set       # usable as a ``should_stop`` callback
    __bool__ = is_set

    def request(self, signum: int = signal.SIGINT) -> None:
        """Stop as if ``signum`` had arrived (a time budget, a test, another thread)."""
        if self.signum is None:
            self.signum = signum
            self.at = time.monotonic()

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is None:
            self.request(signum)
            return
        if time.monotonic() - self.at < DUPLICATE_S or not self.interrupt_on_repeat:
            return
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
