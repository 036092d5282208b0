"""Reading a role's log: the last lines, and following it as it grows."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Iterator

from runners.protocol.rundir import PITWALL_LOG, RunPaths
from runners.protocol import read_run_record

CHUNK = 64 * 1024


def log_path(run_dir: Path, role: str | None) -> Path:
    """``role`` None: the first role of the run; ``pitwall``: Pitwall's own event log."""
    paths = RunPaths(run_dir)
    if role == "pitwall":
        return paths.logs_dir / PITWALL_LOG
    if role is None:
        rec = read_run_record(run_dir)
        role = sorted(rec.processes, key=lambda p: p.order)[0].role
    return paths.log_file(role)


def available_logs(run_dir: Path) -> list[str]:
    try:
        return sorted(n[:-4] for n in os.listdir(RunPaths(run_dir).logs_dir) if n.endswith(".log"))
    except OSError:
        return []


def tail_text(path: Path, lines: int) -> str:
    """The last ``lines`` lines, reading backwards in chunks (logs can be huge)."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        end = f.tell()
        pos, data = end, b""
        while pos > 0 and data.count(b"\n") <= lines:
            step = min(CHUNK, pos)
            pos -= step
            f.seek(pos)
            data = f.read(step) + data
    text = data.decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:]) + ("\n" if text.endswith("\n") else "")


def follow(path: Path, start: int, should_stop: Callable[[], bool] = lambda: False,
           poll: float = 0.2) -> Iterator[str]:
    """Yield text appended after byte ``start``; restarts on truncation, reopens on rotation."""
    offset = start
    ino = None
    while not should_stop():
        try:
            st = os.stat(path)
        except OSError:
            time.sleep(poll)
            continue
        if ino is not None and st.st_ino != ino:
            offset = 0  # rotated: a new file under the same name
        ino = st.st_ino
        if st.st_size < offset:
            offset = 0  # truncated
        if st.st_size > offset:
            with open(path, "rb") as f:
                f.seek(offset)
                data = f.read(st.st_size - offset)
            cut = data.rfind(b"\n") + 1  # hold a partial last line back
            if cut:
                offset += cut
                yield data[:cut].decode("utf-8", errors="replace")
                continue
        time.sleep(poll)
