"""The local launch queue's files: queue entries of runs, and the queue process's record.

What a launch, a stop and the status of a run need, without the queue process itself
(``launch_queue.py``): enqueue a run, cancel it, list the queued runs of a root, tell whether a
queue process serves the root and start one. See ``launch_queue.py`` for how the queue works.
"""
from __future__ import annotations

import os
from pathlib import Path

from runners.protocol import (ProtocolError, QueueEntry, new_queue_entry, now_iso, queue_lock,
                              read_json_object, read_queue_entry, write_queue_entry)
from runners.protocol.launchers import QUEUE_FILE, queue_file

from .liveness import is_alive
from .role_starter import log_event
from .spawn import python_module_argv, spawn_detached

QUEUE_DIR = ".pitwall-queue"     # in the runs root
DAEMON_LOCK = "daemon.lock"      # held (flock) by the queue process for its life
DAEMON_FILE = "daemon.json"      # its pid, create_time, and whether it is exiting
DAEMON_LOG = "queue.log"
DAEMON_MODULE = "tui.core.launch_queue"


def enqueue(run_dir: Path, gpus: int, max_parallel: int, group: str) -> QueueEntry:
    entry = new_queue_entry(gpus, max_parallel, group)
    write_queue_entry(run_dir, entry)
    log_event(run_dir, "queued (%s)" % describe_needs(entry))
    return entry


def describe_needs(entry: QueueEntry) -> str:
    parts = []
    if entry.gpus:
        parts.append("needs %d GPU%s" % (entry.gpus, "" if entry.gpus == 1 else "s"))
    if entry.max_parallel:
        parts.append("at most %d of %s at once" % (entry.max_parallel, entry.group))
    return ", ".join(parts) or "no limit"


def cancel(run_dir: Path, reason: str = "stopped while queued") -> bool:
    """Cancel a queued run; False when it is not queued (any more): stop it as a run then."""
    if not queue_file(run_dir).exists():
        return False
    with queue_lock(run_dir):
        entry = read_queue_entry(run_dir)
        if entry is None or entry.state != "queued":
            return False
        entry.state = "cancelled"
        entry.ended_at = now_iso()
        entry.reason = reason
        write_queue_entry(run_dir, entry)
    log_event(run_dir, "cancelled in the queue (%s)" % reason)
    return True


def queued_runs(root: Path) -> list[tuple[Path, QueueEntry]]:
    """Every run of the root with a queue entry, oldest first."""
    out = []
    try:
        with os.scandir(root) as it:
            dirs = [Path(e.path) for e in it if e.is_dir() and not e.name.startswith(".")]
    except OSError:
        return []
    for run_dir in dirs:
        if not os.path.exists(os.path.join(run_dir, "procs", QUEUE_FILE)):
            continue
        try:
            entry = read_queue_entry(run_dir)
        except ProtocolError:
            continue
        if entry is not None:
            out.append((run_dir, entry))
    out.sort(key=lambda x: (x[1].queued_ts, x[0].name))
    return out


def queue_dir(root: Path) -> Path:
    return Path(root).absolute() / QUEUE_DIR


def daemon_info(root: Path) -> dict | None:
    """The queue process's record if it is alive (None: no queue process runs)."""
    try:
        d = read_json_object(queue_dir(root) / DAEMON_FILE, missing_ok=True)
    except ProtocolError:
        return None
    if not d:
        return None
    pid, ct = d.get("pid"), d.get("create_time")
    if not isinstance(pid, int) or not isinstance(ct, (int, float)) or not is_alive(pid, ct):
        return None
    return d


def ensure_queue_process(root: Path) -> int | None:
    """Start the queue process of ``root`` unless one runs (and is not exiting); its pid."""
    d = daemon_info(root)
    if d is not None and not d.get("exiting"):
        return None
    qd = queue_dir(root)
    qd.mkdir(parents=True, exist_ok=True)
    proc = spawn_detached(python_module_argv(DAEMON_MODULE, str(Path(root).absolute())),
                          qd / DAEMON_LOG, cwd=qd)
    return proc.pid
