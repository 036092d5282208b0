"""The local launch queue: runs that wait for free GPUs or for a ``--max-parallel`` slot.

A queued run is a run directory with ``run.json`` and ``procs/.queue.json`` (state ``queued``);
nothing of it runs yet. One detached queue process per runs root
(``python -m tui.core.launch_queue ROOT``) starts queued runs, oldest first, as GPUs free up,
each with its own ``CUDA_VISIBLE_DEVICES``, whether or not any control center is open. It holds
``ROOT/.pitwall-queue/daemon.lock`` (``flock``) for its whole life, so two control centers that
both start one end up with one; it exits once nothing has been queued for a while, and any
launch that queues a run starts it again.

A stop of a queued run cancels it (state ``cancelled``); start and cancel change the entry under
``procs/.queue.lock``, so a run is never both started and cancelled.

Smaller runs may start before an older one that waits for more GPUs than are free (backfill).
"""
from __future__ import annotations

import argparse
import fcntl
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from runners.protocol import (ProtocolError, atomic_write_json, now_iso, queue_lock,
                              read_queue_entry, read_run_record, write_queue_entry)

from .gpu_slots import GpuInventory, cuda_env, free_gpus, read_gpus
from .launch import start_prepared
from .liveness import create_time
from .queue_state import (DAEMON_FILE, DAEMON_LOCK, daemon_info, describe_needs, queue_dir,
                          queued_runs)
from .registry import load_run
from .role_starter import log_event

POLL_S = 1.0            # a pass every second
IDLE_EXIT_S = 10.0      # exit after this long with nothing queued
LOCK_WAIT_S = 10.0      # a new queue process waits this long for an exiting one's lock


# ============================================================================ one pass

@dataclass
class Started:
    run_dir: Path
    gpu_ids: list[int]


def _holds_slot(run_dir: Path) -> bool:
    info = load_run(run_dir)
    return info.live


def schedule_once(root: Path, read_inventory: Callable[[], GpuInventory] = read_gpus
                  ) -> list[Started]:
    """Start what can start now; note why the others wait. Returns the runs started."""
    entries = queued_runs(root)
    waiting = [(d, e) for d, e in entries if e.state == "queued"]
    if not waiting:
        return []
    taken: set[int] = set()
    running: dict[str, int] = {}
    for d, e in entries:
        if e.state == "started" and _holds_slot(d):
            taken.update(e.gpu_ids)
            running[e.group] = running.get(e.group, 0) + 1
    inventory = read_inventory() if any(e.gpus for _, e in waiting) else GpuInventory()
    started = []
    for run_dir, entry in waiting:
        reason = ""
        ids: list[int] = []
        if entry.max_parallel and running.get(entry.group, 0) >= entry.max_parallel:
            reason = "max-parallel %d reached" % entry.max_parallel
        elif entry.gpus:
            if not inventory.gpus:
                reason = "needs %d GPU%s; %s" % (entry.gpus, "s" * (entry.gpus > 1),
                                                 inventory.describe())
            elif entry.gpus > len(inventory.gpus):
                _fail(run_dir, "needs %d GPUs; this machine has %d (%s)"
                      % (entry.gpus, len(inventory.gpus), inventory.describe()))
                continue
            else:
                free = free_gpus(inventory, taken)
                if len(free) < entry.gpus:
                    reason = "needs %d GPU%s, %d of %d free" % (
                        entry.gpus, "s" * (entry.gpus > 1), len(free), len(inventory.gpus))
                else:
                    ids = free[:entry.gpus]
        if reason:
            _note(run_dir, reason)
            continue
        if _start(run_dir, ids):
            taken.update(ids)
            running[entry.group] = running.get(entry.group, 0) + 1
            started.append(Started(run_dir, ids))
    return started


def _note(run_dir: Path, reason: str) -> None:
    with queue_lock(run_dir):
        entry = read_queue_entry(run_dir)
        if entry is not None and entry.state == "queued" and entry.reason != reason:
            entry.reason = reason
            write_queue_entry(run_dir, entry)


def _fail(run_dir: Path, error: str) -> None:
    with queue_lock(run_dir):
        entry = read_queue_entry(run_dir)
        if entry is None or entry.state != "queued":
            return
        entry.state, entry.error, entry.ended_at = "failed", error, now_iso()
        write_queue_entry(run_dir, entry)
    log_event(run_dir, "the queue cannot start it: %s" % error)


def _start(run_dir: Path, gpu_ids: list[int]) -> bool:
    with queue_lock(run_dir):
        entry = read_queue_entry(run_dir)
        if entry is None or entry.state != "queued":
            return False          # cancelled meanwhile
        try:
            record = read_run_record(run_dir)
        except ProtocolError as e:
            entry.state, entry.error, entry.ended_at = "failed", str(e), now_iso()
            write_queue_entry(run_dir, entry)
            return False
        entry.state, entry.gpu_ids, entry.started_at, entry.reason = \
            "started", list(gpu_ids), now_iso(), ""
        write_queue_entry(run_dir, entry)
    env = cuda_env(gpu_ids) if gpu_ids else {}
    log_event(run_dir, "the queue starts it%s" % (
        " on GPU %s" % env["CUDA_VISIBLE_DEVICES"] if env else ""))
    start_prepared(run_dir, record, wait=0, env=env)
    return True


# ============================================================================ the process

def _write_daemon(root: Path, exiting: bool = False) -> None:
    me = os.getpid()
    atomic_write_json(queue_dir(root) / DAEMON_FILE,
                      {"pid": me, "create_time": create_time(me) or 0.0, "started_at": now_iso(),
                       "exiting": exiting}, durable=False)


def _lock(root: Path) -> int | None:
    qd = queue_dir(root)
    qd.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(qd / DAEMON_LOCK), os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError:
            d = daemon_info(root)
            if (d is not None and not d.get("exiting")) or time.monotonic() > deadline:
                os.close(fd)
                return None
            time.sleep(0.1)


def _say(msg: str) -> None:
    sys.stdout.write("[%s] %s\n" % (now_iso(), msg))
    sys.stdout.flush()


def serve(root: Path, poll: float = POLL_S, idle_exit: float = IDLE_EXIT_S) -> int:
    root = Path(root).absolute()
    fd = _lock(root)
    if fd is None:
        _say("another queue process serves %s" % root)
        return 0
    _write_daemon(root)
    _say("queue process %d serves %s" % (os.getpid(), root))
    idle_since = time.monotonic()
    try:
        while True:
            try:
                for s in schedule_once(root):
                    _say("started %s%s" % (s.run_dir.name, " on GPU %s" % s.gpu_ids
                                           if s.gpu_ids else ""))
            except Exception as e:  # one bad pass must not end the queue
                _say("pass failed: %s: %s" % (type(e).__name__, e))
            if any(e.state == "queued" for _, e in queued_runs(root)):
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > idle_exit:
                _write_daemon(root, exiting=True)
                # a launch that saw us alive before this line has queued its run by now
                if not any(e.state == "queued" for _, e in queued_runs(root)):
                    _say("nothing queued for %.0f s: exiting" % idle_exit)
                    return 0
                _write_daemon(root)
                idle_since = time.monotonic()
            time.sleep(poll)
    finally:
        os.close(fd)


def status_lines(root: Path) -> list[str]:
    """For ``pitwall queue``: the queue process, the GPUs, the waiting runs."""
    d = daemon_info(root)
    lines = ["queue process: %s" % ("pid %d" % d["pid"] if d else "not running")]
    lines.append("GPUs: %s" % read_gpus().describe())
    for run_dir, e in queued_runs(root):
        if e.state in ("queued", "started") and (e.state == "queued" or _holds_slot(run_dir)):
            lines.append("  %-8s %s  %s%s" % (e.state, run_dir.name, describe_needs(e),
                                              ("  GPU %s" % ",".join(map(str, e.gpu_ids)))
                                              if e.gpu_ids else
                                              ("  " + e.reason if e.reason else "")))
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tui.core.launch_queue")
    ap.add_argument("root", type=Path)
    ap.add_argument("--poll", type=float, default=POLL_S)
    ap.add_argument("--idle-exit", type=float, default=IDLE_EXIT_S)
    a = ap.parse_args(argv)
    return serve(a.root, a.poll, a.idle_exit)


if __name__ == "__main__":
    sys.exit(main())
