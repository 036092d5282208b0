"""What every metric source shares: the status it reports, the result of a poll, the point
buffer, the guard against replaying points after a file was rewritten, the base class."""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from runners.protocol.fields import INT64_MAX, INT64_MIN

from .event_decode import ScalarBatch, TextPoint


def walk_files(root: Path, keep: Callable[[os.DirEntry], bool],
               recursive: bool = True) -> Iterator[Path]:
    """The files under ``root`` whose entry ``keep`` accepts (it checks the name, and that
    the entry is a file). Directories reached through a link are not entered (W&B's
    ``latest-run``); one that cannot be read, or vanishes while read, is passed over."""
    stack = [root]
    while stack:
        d = stack.pop()
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        for e in entries:
            try:
                if e.is_dir(follow_symlinks=False):
                    if recursive:
                        stack.append(Path(e.path))
                elif keep(e):
                    yield Path(e.path)
            except OSError:
                continue


@dataclass
class SourceStatus:
    """What a source has read so far and what it had to skip (shown to the user)."""
    kind: str
    path: str
    files: int = 0
    bytes_read: int = 0
    records: int = 0              # lines / events read
    points: int = 0               # scalar points produced
    skipped: Counter = field(default_factory=Counter)   # reason -> count
    last_skip: str | None = None  # the most recent skip, for the status line
    error: str | None = None      # an I/O problem (permission denied ...), None when fine
    resets: int = 0               # truncations / replacements seen

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def skip(self, reason: str, n: int = 1, detail: str | None = None) -> None:
        if n > 0:
            self.skipped[reason] += n
            self.last_skip = detail or reason

    def copy(self) -> "SourceStatus":
        c = SourceStatus(self.kind, self.path, self.files, self.bytes_read, self.records,
                         self.points, Counter(self.skipped), self.last_skip, self.error,
                         self.resets)
        return c

@dataclass
class PollResult:
    scalars: dict[str, ScalarBatch] = field(default_factory=dict)
    texts: list[TextPoint] = field(default_factory=list)
    hparams: dict[str, Any] = field(default_factory=dict)
    more: bool = False            # a backlog remains: poll again without waiting

    @property
    def points(self) -> int:
        return sum(len(b.steps) for b in self.scalars.values())


class _PointBuffer(object):
    """Collects scalar points per tag during one poll (lines give a few points at a time).

    Steps are stored as int64: a point whose step does not fit (a corrupted or hostile line,
    ``step=2**63``) is skipped and counted in ``out_of_range``, so it never costs the other
    points of the poll."""

    def __init__(self) -> None:
        self.data: dict[str, tuple[list[int], list[float], list[float]]] = {}
        self.out_of_range = 0
        self.last_bad_step: int | None = None

    def add(self, tag: str, step: int, wall: float, value: float) -> None:
        if not INT64_MIN <= step <= INT64_MAX:
            self.out_of_range += 1
            self.last_bad_step = step
            return
        d = self.data.get(tag)
        if d is None:
            d = self.data[tag] = ([], [], [])
        d[0].append(step)
        d[1].append(wall)
        d[2].append(value)

    def batches(self) -> dict[str, ScalarBatch]:
        return {tag: ScalarBatch(np.array(s, dtype=np.int64), np.array(w, dtype=np.float64),
                                 np.array(v, dtype=np.float64))
                for tag, (s, w, v) in self.data.items()}


class _ReplayGuard(object):
    """After a file was rewritten from the start, drop points already delivered.

    Per tag, points up to the last step delivered before the rewrite are dropped until one
    goes beyond it; from then on the tag flows again.
    """

    def __init__(self) -> None:
        self.last: dict[str, int] = {}
        self.guard: dict[str, int] = {}

    def arm(self) -> None:
        self.guard = dict(self.last)

    def filter(self, scalars: dict[str, ScalarBatch]) -> tuple[dict[str, ScalarBatch], int]:
        dropped = 0
        out = {}
        for tag, b in scalars.items():
            g = self.guard.get(tag)
            if g is not None and len(b.steps):
                beyond = np.flatnonzero(b.steps > g)
                cut = int(beyond[0]) if len(beyond) else len(b.steps)
                if cut < len(b.steps):
                    del self.guard[tag]
                dropped += cut
                b = ScalarBatch(b.steps[cut:], b.walls[cut:], b.values[cut:])
            if len(b.steps):
                self.last[tag] = int(b.steps[-1])
                out[tag] = b
        return out, dropped


class MetricSource(object):
    """Base class: ``poll()`` reads what is new and returns it; ``status`` counts."""
    kind = "?"

    def __init__(self, path: Path):
        self.path = Path(path)
        self.status = SourceStatus(self.kind, str(self.path))

    def poll(self) -> PollResult:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def watched_paths(self) -> list[Path]:
        return [self.path]
