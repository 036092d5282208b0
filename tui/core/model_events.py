"""Events the data thread reports to the UI (shown as notifications), one deque shared by the
models; the poller's thread appends, the UI thread drains."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    severity: str   # information | warning | error
    text: str
