"""Stopping a role: SIGINT (the trainer saves), then SIGTERM, then SIGKILL to its group.

Each step waits the grace period of the role's stop policy. A stop request is recorded in
``procs/<role>.stop.json`` first, so the exit reads as *stopped* and not *failed* everywhere.
"""
from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from runners.protocol import ProcRecord, StopPolicy, read_proc_record, write_stop_request

from .liveness import is_alive

Progress = Callable[[str], None]


@dataclass
class StopOutcome:
    role: str
    was_running: bool
    stopped_by: str | None   # "SIGINT" | "SIGTERM" | "SIGKILL" | None (not running)
    exit_code: int | None
    signal: int | None


def _wait_gone(run_dir: Path, rec: ProcRecord, timeout: float, poll: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if not is_alive(rec.pid, rec.create_time):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)


def _wait_record(run_dir: Path, role: str, timeout: float = 10.0) -> ProcRecord | None:
    """A role whose wrapper is starting has no record yet: give it a moment."""
    deadline = time.monotonic() + timeout
    while True:
        rec = read_proc_record(run_dir, role)
        if rec is not None or time.monotonic() >= deadline:
            return rec
        time.sleep(0.05)


def stop_role(run_dir: Path, role: str, policy: StopPolicy, reason: str = "user",
              kill: bool = False, progress: Progress = lambda s: None,
              wait_for_record: float = 0.0) -> StopOutcome:
    rec = _wait_record(run_dir, role, wait_for_record) if wait_for_record else \
        read_proc_record(run_dir, role)
    if rec is None or rec.pid <= 0 or rec.ended or not is_alive(rec.pid, rec.create_time):
        return StopOutcome(role, False, None, rec.exit_code if rec else None,
                           rec.signal if rec else None)
    write_stop_request(run_dir, role, reason=reason, attempt=rec.attempt)
    steps: list[tuple[str, int, float]] = [("SIGKILL", signal.SIGKILL, 5.0)] if kill else [
        ("SIGINT", signal.SIGINT, policy.sigint_grace),
        ("SIGTERM", signal.SIGTERM, policy.sigterm_grace),
        ("SIGKILL", signal.SIGKILL, 5.0),
    ]
    used = None
    for name, sig, grace in steps:
        progress("%s: sending %s to process group %d (waiting up to %.0f s)"
                 % (role, name, rec.pgid, grace))
        try:
            os.killpg(rec.pgid, sig)
        except ProcessLookupError:
            pass
        except PermissionError as e:
            progress("%s: cannot signal process group %d: %s" % (role, rec.pgid, e))
            break
        used = name
        if _wait_gone(run_dir, rec, grace):
            break
    # the wrapper records the exit a moment after the process is gone
    deadline = time.monotonic() + 3.0
    final = rec
    while time.monotonic() < deadline:
        r = read_proc_record(run_dir, role)
        if r is not None and r.attempt == rec.attempt and r.ended:
            final = r
            break
        time.sleep(0.05)
    return StopOutcome(role, True, used, final.exit_code, final.signal)
