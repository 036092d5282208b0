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

import psutil

from runners.protocol import (ProcRecord, ProtocolError, StopPolicy, read_proc_record,
                              write_stop_request)

from .liveness import is_alive
from .run_processes import FoundProcess, groups, live_found, scan

Progress = Callable[[str], None]


@dataclass
class StopOutcome:
    role: str
    was_running: bool
    stopped_by: str | None   # "SIGINT" | "SIGTERM" | "SIGKILL" | None (not running)
    exit_code: int | None
    signal: int | None


def _wait_gone(members: list[tuple[int, float]], timeout: float, poll: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if not any(is_alive(pid, ct) for pid, ct in members):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)


def _read_record(run_dir: Path, role: str) -> ProcRecord | None:
    """The role's record, or None when it is missing or unreadable (its processes are then
    found by their environment)."""
    try:
        return read_proc_record(run_dir, role)
    except ProtocolError:
        return None


def _wait_record(run_dir: Path, role: str, timeout: float = 10.0) -> ProcRecord | None:
    """A role whose wrapper is starting has no record yet: give it a moment."""
    deadline = time.monotonic() + timeout
    while True:
        rec = _read_record(run_dir, role)
        if rec is not None or time.monotonic() >= deadline:
            return rec
        time.sleep(0.05)


def _attempt_of(found: list[FoundProcess]) -> int:
    """The attempt a role's wrapper was started for (its ``--attempt N``), else 1."""
    for p in found:
        try:
            argv = psutil.Process(p.pid).parent().cmdline()
        except (psutil.Error, AttributeError, OSError):
            continue
        if "--attempt" in argv[:-1] and "tui.core.role_wrapper" in argv:
            try:
                return int(argv[argv.index("--attempt") + 1])
            except ValueError:
                pass
    return 1


def stop_role(run_dir: Path, role: str, policy: StopPolicy, reason: str = "user",
              kill: bool = False, progress: Progress = lambda s: None,
              wait_for_record: float = 0.0) -> StopOutcome:
    """Stop one role's process group(s): the one of its record and, when that record is
    missing, corrupt or stale, those of its live processes found by their environment."""
    rec = _wait_record(run_dir, role, wait_for_record) if wait_for_record else \
        _read_record(run_dir, role)
    by_record = rec is not None and rec.pid > 0 and not rec.ended and \
        is_alive(rec.pid, rec.create_time)
    found = live_found(scan(max_age=0).of_role(run_dir, role))
    if not by_record and not found:
        return StopOutcome(role, False, None, rec.exit_code if rec else None,
                           rec.signal if rec else None)
    pgids = ([rec.pgid] if by_record and rec is not None else []) + \
        [g for g in groups(found) if not (by_record and rec is not None and g == rec.pgid)]
    members = ([(rec.pid, rec.create_time)] if by_record and rec is not None else []) + \
        [(p.pid, p.create_time) for p in found]
    attempt = rec.attempt if by_record and rec is not None else _attempt_of(found)
    if not by_record:
        progress("%s: %s; stopping process %s found by its environment"
                 % (role, "no readable record" if rec is None else "its record is stale",
                    ", ".join(str(p.pid) for p in found)))
    write_stop_request(run_dir, role, reason=reason, attempt=attempt)
    steps: list[tuple[str, int, float]] = [("SIGKILL", signal.SIGKILL, 5.0)] if kill else [
        ("SIGINT", signal.SIGINT, policy.sigint_grace),
        ("SIGTERM", signal.SIGTERM, policy.sigterm_grace),
        ("SIGKILL", signal.SIGKILL, 5.0),
    ]
    used = None
    for name, sig, grace in steps:
        where = ", ".join(str(g) for g in pgids)
        progress("%s: sending %s to process group %s (waiting up to %.0f s)"
                 % (role, name, where, grace))
        denied = False
        for pgid in pgids:
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                pass
            except PermissionError as e:
                progress("%s: cannot signal process group %d: %s" % (role, pgid, e))
                denied = True
        if denied:
            break
        used = name
        if _wait_gone(members, grace):
            break
    # the wrapper records the exit a moment after the process is gone
    deadline = time.monotonic() + 3.0
    exit_code = signum = None
    while time.monotonic() < deadline:
        r = _read_record(run_dir, role)
        if r is not None and r.attempt == attempt and r.ended:
            exit_code, signum = r.exit_code, r.signal
            break
        time.sleep(0.05)
    return StopOutcome(role, True, used, exit_code, signum)
