"""Readiness conditions of a role: a log line, a file, a TCP port, or a delay."""
from __future__ import annotations

import re
import socket
import time
from pathlib import Path
from typing import Any, Callable


def check_ready(ready: dict[str, Any], run_dir: Path, log_path: Path, log_offset: int) -> bool:
    if "log" in ready and ready["log"] is not None:
        try:
            with open(log_path, "rb") as f:
                f.seek(log_offset)
                text = f.read().decode("utf-8", errors="replace")
        except OSError:
            return False
        return re.search(ready["log"], text, re.MULTILINE) is not None
    if "file" in ready and ready["file"] is not None:
        p = Path(ready["file"])
        return (p if p.is_absolute() else run_dir / p).exists()
    if "port" in ready and ready["port"] is not None:
        try:
            with socket.create_connection(("127.0.0.1", int(ready["port"])), timeout=0.2):
                return True
        except OSError:
            return False
    return True  # delay: handled by the waiter


def wait_ready(ready: dict[str, Any], run_dir: Path, log_path: Path, log_offset: int,
               timeout: float, still_running: Callable[[], bool],
               poll: float = 0.1) -> str | None:
    """None when ready; else why not (timed out, or the process ended first)."""
    start = time.monotonic()
    delay = ready.get("delay")
    while True:
        elapsed = time.monotonic() - start
        if delay is not None:
            if elapsed >= float(delay):
                return None
        elif check_ready(ready, run_dir, log_path, log_offset):
            return None
        if not still_running():
            return "the process ended before it was ready"
        if elapsed > timeout:
            what = ", ".join("%s=%r" % (k, v) for k, v in ready.items()
                             if v is not None and k != "timeout")
            return "not ready after %.0f s (waiting for %s)" % (timeout, what)
        time.sleep(poll)
