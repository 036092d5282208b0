"""``timer/*`` metrics: mean seconds per call of each timed section since the last report."""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Dict, Iterator


class SectionTimer(object):
    def __init__(self) -> None:
        self.sums = {}  # type: Dict[str, float]
        self.counts = {}  # type: Dict[str, int]

    def add(self, name: str, seconds: float) -> None:
        self.sums[name] = self.sums.get(name, 0.0) + seconds
        self.counts[name] = self.counts.get(name, 0) + 1

    @contextmanager
    def section(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - t0)

    def report(self) -> Dict[str, float]:
        """``{"timer/<name>": mean seconds}`` since the last report; then starts afresh."""
        out = {"timer/%s" % k: self.sums[k] / self.counts[k] for k in self.sums
               if self.counts[k]}
        self.sums.clear()
        self.counts.clear()
        return out
