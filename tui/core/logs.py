"""Reading a role's log: the last lines, and following it as it grows."""
from __future__ import annotations

import os
import re
import threading
import time
from collections import deque
from pathlib import Path
from typing import Callable, Iterator, Sequence

from runners.protocol.rundir import PITWALL_LOG, RunPaths
from runners.protocol import read_run_record

from .metrics.tail import FileTail

CHUNK = 64 * 1024


class LogError(RuntimeError):
    """A log that cannot exist (an empty or invalid role name)."""


def log_path(run_dir: Path, role: str | None) -> Path:
    """``role`` None: the first role of the run; ``pitwall``: Pitwall's own event log."""
    paths = RunPaths(run_dir)
    if role == "pitwall":
        return paths.logs_dir / PITWALL_LOG
    if role is None:
        rec = read_run_record(run_dir)
        role = sorted(rec.processes, key=lambda p: p.order)[0].role
    try:
        return paths.log_file(role)
    except ValueError as e:  # "", "../x": refused, never a path outside logs/
        raise LogError("%s: no such log (%s)" % (run_dir.name, e))


def available_logs(run_dir: Path) -> list[str]:
    try:
        return sorted(n[:-4] for n in os.listdir(RunPaths(run_dir).logs_dir) if n.endswith(".log"))
    except OSError:
        return []


def tail_text(path: Path, lines: int, size: int | None = None,
              complete_only: bool = False) -> str:
    """The last ``lines`` lines of the first ``size`` bytes (default: all), reading backwards
    in chunks (logs can be huge). ``complete_only`` leaves out a partial last line."""
    with open(path, "rb") as f:
        if size is None:
            size = os.fstat(f.fileno()).st_size
        pos, data = size, b""
        while pos > 0 and data.count(b"\n") <= lines:
            step = min(CHUNK, pos)
            pos -= step
            f.seek(pos)
            data = f.read(step) + data
    if complete_only:
        data = data[:data.rfind(b"\n") + 1]
    text = data.decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:]) + ("\n" if text.endswith("\n") else "")


def follow(path: Path, start: int, should_stop: Callable[[], bool] = lambda: False,
           poll: float = 0.2) -> Iterator[str]:
    """Yield whole lines appended after byte ``start`` (a partial last line waits for its
    newline); starts over on truncation, follows a rotated or replaced file."""
    tail = FileTail(path, start=start)
    try:
        while not should_stop():
            r = tail.read()
            end = r.data.rfind(b"\n") if r is not None else -1
            if end < 0:
                time.sleep(poll)
                continue
            tail.consume(end + 1)
            yield r.data[:end + 1].decode("utf-8", errors="replace")
    finally:
        tail.close()


# --------------------------------------------------------------------------- for the TUI

ERROR_RE = re.compile(r"Traceback \(most recent call last\)|\b\w*(?:Error|Exception)\b"
                      r"|\b(?:error|fatal|critical)\b", re.IGNORECASE)


def is_error_line(line: str) -> bool:
    return ERROR_RE.search(line) is not None


def find_line(lines: Sequence[str], start: int, match: Callable[[str], bool],
              forward: bool = True) -> int | None:
    """Index of the next (or previous) line after ``start`` that ``match``es, wrapping around."""
    n = len(lines)
    if n == 0:
        return None
    step = 1 if forward else -1
    i = start
    for _ in range(n):
        i = (i + step) % n
        if match(lines[i]):
            return i
    return None


class LogFollower:
    """Follows one log from a daemon thread: its last ``backlog`` lines, then what is appended.

    The UI drains complete lines from its render timer; at most ``max_pending`` lines wait
    (older ones are dropped and counted in ``dropped``).
    """

    def __init__(self, path: Path, backlog: int = 2000, max_pending: int = 20000,
                 poll: float = 0.1):
        self.path = Path(path)
        self.backlog = backlog
        self.poll = poll
        self.dropped = 0
        self._pending: deque[str] = deque(maxlen=max_pending)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "LogFollower":
        self._thread = threading.Thread(target=self._run, name="pitwall-log", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def drain(self) -> list[str]:
        with self._lock:
            out = list(self._pending)
            self._pending.clear()
        return out

    def _push(self, text: str) -> None:
        lines = text.splitlines()
        with self._lock:
            free = self._pending.maxlen - len(self._pending) if self._pending.maxlen else 0
            if len(lines) > free:
                self.dropped += len(lines) - free
            self._pending.extend(lines)

    def _run(self) -> None:
        start = 0
        while not self._stop.is_set():
            try:
                size = os.stat(self.path).st_size
                if size:
                    backlog = tail_text(self.path, self.backlog, size, complete_only=True)
                    if backlog:
                        self._push(backlog)
                    start = _after_last_newline(self.path, size)
                break
            except OSError:
                self._stop.wait(self.poll)
        for text in follow(self.path, start, self._stop.is_set, self.poll):
            self._push(text)


def _after_last_newline(path: Path, size: int) -> int:
    """Offset just after the last newline before ``size`` (a partial line is read later)."""
    with open(path, "rb") as f:
        pos = size
        while pos > 0:
            step = min(CHUNK, pos)
            pos -= step
            f.seek(pos)
            i = f.read(step).rfind(b"\n")
            if i >= 0:
                return pos + i + 1
    return 0
