"""How a run was started when it did not start at once: the GPU queue and Slurm.

``procs/.queue.json`` (:class:`QueueEntry`)
    A run waiting in the local queue for GPUs or for a ``--max-parallel`` slot. Written by the
    launch (``queued``), then by the queue process (``started``, with the GPUs it was given) or
    by a stop (``cancelled``). Transitions happen under ``flock`` on ``procs/.queue.lock``.

``procs/.slurm-jobs.json`` (:class:`SlurmJob` list)
    Every Slurm job that ran (or will run) this run: the first one from the launch, then one per
    resume or restart. The newest is the run's current job. Rewritten atomically under ``flock``
    on ``procs/.slurm-jobs.lock``. A requeue keeps its job id (Slurm's ``scontrol requeue``).

``procs/.node.json`` (:class:`NodeRecord`)
    Written on the compute node by the batch job's agent (``tui.core.slurm.node_agent``): which
    job and host, how often Slurm restarted it, and whether it was warned of its time limit,
    stopped its roles and requeued itself.

The ``launcher`` object of ``run.json`` says which of these applies (``run_record.py``).
"""
from __future__ import annotations

import contextlib
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from .atomic import atomic_write_json, file_lock, read_json_object
from .errors import ProtocolError
from .fields import field as get
from .procs import now_iso
from .rundir import RunPaths

QUEUE_FILE = ".queue.json"
QUEUE_LOCK = ".queue.lock"
QUEUE_STATES = ("queued", "started", "cancelled", "failed")
SLURM_JOBS_FILE = ".slurm-jobs.json"
SLURM_JOBS_LOCK = ".slurm-jobs.lock"
SLURM_JOB_REASONS = ("launch", "resume", "restart")
NODE_FILE = ".node.json"
NODE_STATES = ("starting", "running", "stopping", "requeued", "ended")

PathLike = Union[str, Path]
_opt_str = (str, type(None))


# ============================================================================ the local queue

@dataclass
class QueueEntry:
    """A run in the local queue (``procs/.queue.json``)."""
    queued_at: str
    queued_ts: float              # unix time: the queue starts runs in this order
    gpus: int = 0                 # GPUs the run needs (0: it waits for a parallel slot only)
    max_parallel: int = 0         # at most this many runs of ``group`` at once (0: no limit)
    group: str = ""               # the sweep id, or the run's name for a single run
    state: str = "queued"
    reason: str = ""              # why it still waits (written by the queue process)
    gpu_ids: List[int] = field(default_factory=list)   # NVML indices it was given
    started_at: Optional[str] = None
    ended_at: Optional[str] = None                     # cancelled or failed to start
    error: Optional[str] = None
    host: str = field(default_factory=socket.gethostname)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Dict[str, Any], path: PathLike) -> "QueueEntry":
        ids = get(d, "gpu_ids", list, path, default=[])
        if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in ids):
            raise ProtocolError(path, "gpu_ids", "expected a list of GPU indices, found %r"
                                % (ids,))
        gpus = get(d, "gpus", int, path, default=0)
        if gpus < 0:
            raise ProtocolError(path, "gpus", "must be >= 0, found %d" % gpus)
        return cls(
            queued_at=get(d, "queued_at", str, path),
            queued_ts=get(d, "queued_ts", float, path),
            gpus=gpus,
            max_parallel=get(d, "max_parallel", int, path, default=0),
            group=get(d, "group", str, path, default=""),
            state=get(d, "state", str, path, default="queued", choices=QUEUE_STATES),
            reason=get(d, "reason", str, path, default=""),
            gpu_ids=list(ids),
            started_at=get(d, "started_at", _opt_str, path, default=None),
            ended_at=get(d, "ended_at", _opt_str, path, default=None),
            error=get(d, "error", _opt_str, path, default=None),
            host=get(d, "host", str, path, default=""),
        )


def queue_file(run_dir: PathLike) -> Path:
    return RunPaths(run_dir).procs_dir / QUEUE_FILE


def read_queue_entry(run_dir: PathLike) -> Optional[QueueEntry]:
    path = queue_file(run_dir)
    obj = read_json_object(path, missing_ok=True)
    return None if obj is None else QueueEntry.from_dict(obj, path)


def write_queue_entry(run_dir: PathLike, entry: QueueEntry) -> None:
    atomic_write_json(queue_file(run_dir), entry.to_dict())


def queue_lock(run_dir: PathLike) -> "contextlib.AbstractContextManager[None]":
    """Held around every state change of a queue entry (start vs cancel)."""
    return file_lock(RunPaths(run_dir).procs_dir / QUEUE_LOCK, make_parent=True)


def new_queue_entry(gpus: int, max_parallel: int, group: str) -> QueueEntry:
    return QueueEntry(queued_at=now_iso(), queued_ts=time.time(), gpus=gpus,
                      max_parallel=max_parallel, group=group)


# ============================================================================ Slurm

@dataclass
class SlurmJob:
    """One batch job of a run (``procs/.slurm-jobs.json``)."""
    job_id: str                   # "1234", or "1230_2" for a task of an array
    submitted_at: str
    reason: str = "launch"        # launch | resume | restart
    resume: Optional[str] = None  # the checkpoint a resume job starts from
    host: str = field(default_factory=socket.gethostname)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any, path: PathLike, where: str) -> "SlurmJob":
        if not isinstance(d, dict):
            raise ProtocolError(path, where, "expected an object")
        job_id = get(d, "job_id", str, path)
        if not job_id:
            raise ProtocolError(path, where + ".job_id", "must not be empty")
        return cls(job_id=job_id, submitted_at=get(d, "submitted_at", str, path),
                   reason=get(d, "reason", str, path, default="launch",
                              choices=SLURM_JOB_REASONS),
                   resume=get(d, "resume", _opt_str, path, default=None),
                   host=get(d, "host", str, path, default=""))


def slurm_jobs_file(run_dir: PathLike) -> Path:
    return RunPaths(run_dir).procs_dir / SLURM_JOBS_FILE


def read_slurm_jobs(run_dir: PathLike) -> List[SlurmJob]:
    path = slurm_jobs_file(run_dir)
    obj = read_json_object(path, missing_ok=True)
    if obj is None:
        return []
    raw = get(obj, "jobs", list, path)
    return [SlurmJob.from_dict(j, path, "jobs[%d]" % i) for i, j in enumerate(raw)]


def add_slurm_job(run_dir: PathLike, job: SlurmJob) -> None:
    """Append a job to the run's list (read-modify-write under the list's lock)."""
    procs = RunPaths(run_dir).procs_dir
    with file_lock(procs / SLURM_JOBS_LOCK, make_parent=True):
        jobs = read_slurm_jobs(run_dir)
        jobs.append(job)
        atomic_write_json(slurm_jobs_file(run_dir), {"jobs": [j.to_dict() for j in jobs]})


@dataclass
class NodeRecord:
    """What the batch job's agent on the compute node reports (``procs/.node.json``)."""
    job_id: str
    host: str
    pid: int
    started_at: str
    restart_count: int = 0        # SLURM_RESTART_COUNT: requeues of this job so far
    state: str = "starting"       # starting | running | stopping | requeued | ended
    resumed_from: Optional[str] = None
    warned_at: Optional[str] = None       # Slurm's time-limit warning (--signal) arrived
    requeued_at: Optional[str] = None
    finished_at: Optional[str] = None
    exit_code: Optional[int] = None       # what the batch job exits with
    message: str = ""

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Dict[str, Any], path: PathLike) -> "NodeRecord":
        return cls(
            job_id=get(d, "job_id", str, path), host=get(d, "host", str, path),
            pid=get(d, "pid", int, path), started_at=get(d, "started_at", str, path),
            restart_count=get(d, "restart_count", int, path, default=0),
            state=get(d, "state", str, path, default="starting", choices=NODE_STATES),
            resumed_from=get(d, "resumed_from", _opt_str, path, default=None),
            warned_at=get(d, "warned_at", _opt_str, path, default=None),
            requeued_at=get(d, "requeued_at", _opt_str, path, default=None),
            finished_at=get(d, "finished_at", _opt_str, path, default=None),
            exit_code=get(d, "exit_code", (int, type(None)), path, default=None),
            message=get(d, "message", str, path, default=""),
        )


def node_file(run_dir: PathLike) -> Path:
    return RunPaths(run_dir).procs_dir / NODE_FILE


def read_node_record(run_dir: PathLike) -> Optional[NodeRecord]:
    path = node_file(run_dir)
    obj = read_json_object(path, missing_ok=True)
    return None if obj is None else NodeRecord.from_dict(obj, path)


def write_node_record(run_dir: PathLike, rec: NodeRecord) -> None:
    atomic_write_json(node_file(run_dir), rec.to_dict())
