"""``procs/<role>.json`` (one process's life) and ``procs/<role>.stop.json`` (a stop request).

``procs/<role>.json`` is written only by the role's wrapper, the small session leader that
starts the process and outlives every control center: once when the process started and once when
it ended. ``procs/<role>.stop.json`` is written by whoever asks the role to stop, so that an exit
after a stop request reads as *stopped*, not *failed*.
"""
from __future__ import annotations

import datetime as _dt
import os
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from .atomic import append_line, atomic_write_json, read_json_object, read_regular_file
from .errors import ProtocolError
from .fields import field as get
from .json_parse import MAX_LOG_BYTES, parse_json
from .rundir import RunPaths, check_role_name

PROC_FORMAT = "pitwall.proc/1"
HISTORY_FILE = "history.jsonl"      # procs/history.jsonl: every ended process, one line each
STARTER_FILE = ".starter.json"      # procs/.starter.json: the detached process that starts roles


def now_iso() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="milliseconds")


@dataclass
class ProcRecord:
    role: str
    kind: str
    pid: int                      # the process itself (the leader of its own process group)
    pgid: int
    create_time: float            # psutil create_time of ``pid``: tells a reused pid apart
    started_at: str
    wrapper_pid: int = 0
    wrapper_create_time: float = 0.0
    argv: List[str] = field(default_factory=list)
    cwd: str = ""
    env: Dict[str, str] = field(default_factory=dict)  # only what Pitwall added
    host: str = field(default_factory=socket.gethostname)
    attempt: int = 1              # 2, 3 ... after restarts of the role
    exited_at: Optional[str] = None
    exit_code: Optional[int] = None
    signal: Optional[int] = None  # set when the process died of a signal
    error: Optional[str] = None   # the wrapper could not start the process
    display: str = ""             # a viewer: the display it was started on
    record_target: str = ""       # a recorder: the checkpoint it records
    record_episodes: int = 0      # a recorder: how many episodes
    format: str = PROC_FORMAT

    @property
    def ended(self) -> bool:
        return self.exited_at is not None

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Dict[str, Any], path: Union[str, Path]) -> "ProcRecord":
        opt_int = (int, type(None))
        opt_str = (str, type(None))
        return cls(
            role=get(d, "role", str, path),
            kind=get(d, "kind", str, path, default="train"),
            pid=get(d, "pid", int, path),
            pgid=get(d, "pgid", int, path),
            create_time=get(d, "create_time", float, path),
            started_at=get(d, "started_at", str, path),
            wrapper_pid=get(d, "wrapper_pid", int, path, default=0),
            wrapper_create_time=get(d, "wrapper_create_time", float, path, default=0.0),
            argv=[str(a) for a in get(d, "argv", list, path, default=[])],
            cwd=get(d, "cwd", str, path, default=""),
            env={str(k): str(v) for k, v in get(d, "env", dict, path, default={}).items()},
            host=get(d, "host", str, path, default=""),
            attempt=get(d, "attempt", int, path, default=1),
            exited_at=get(d, "exited_at", opt_str, path, default=None),
            exit_code=get(d, "exit_code", opt_int, path, default=None),
            signal=get(d, "signal", opt_int, path, default=None),
            error=get(d, "error", opt_str, path, default=None),
            display=get(d, "display", str, path, default=""),
            record_target=get(d, "record_target", str, path, default=""),
            record_episodes=get(d, "record_episodes", int, path, default=0),
            format=get(d, "format", str, path, default=PROC_FORMAT),
        )


def write_proc_record(run_dir: Union[str, Path], rec: ProcRecord) -> None:
    atomic_write_json(RunPaths(run_dir).proc_file(rec.role), rec.to_dict())


def read_proc_record(run_dir: Union[str, Path], role: str) -> Optional[ProcRecord]:
    path = RunPaths(run_dir).proc_file(role)
    obj = read_json_object(path, missing_ok=True)
    return None if obj is None else ProcRecord.from_dict(obj, path)


def list_proc_roles(run_dir: Union[str, Path]) -> List[str]:
    d = RunPaths(run_dir).procs_dir
    try:
        names = os.listdir(str(d))
    except FileNotFoundError:
        return []
    return sorted(n[:-5] for n in names
                  if n.endswith(".json") and not n.endswith(".stop.json") and not n.startswith("."))


@dataclass
class StopRequest:
    requested_at: str
    by_pid: int
    host: str
    reason: str = "user"   # user | restart | resume
    attempt: int = 1       # the attempt of the role it was meant for

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Dict[str, Any], path: Union[str, Path]) -> "StopRequest":
        return cls(
            requested_at=get(d, "requested_at", str, path),
            by_pid=get(d, "by_pid", int, path, default=0),
            host=get(d, "host", str, path, default=""),
            reason=get(d, "reason", str, path, default="user"),
            attempt=get(d, "attempt", int, path, default=1),
        )


def write_stop_request(run_dir: Union[str, Path], role: str, reason: str = "user",
                       attempt: int = 1) -> StopRequest:
    req = StopRequest(now_iso(), os.getpid(), socket.gethostname(), reason, attempt)
    atomic_write_json(RunPaths(run_dir).stop_file(role), req.to_dict())
    return req


def read_stop_request(run_dir: Union[str, Path], role: str) -> Optional[StopRequest]:
    path = RunPaths(run_dir).stop_file(role)
    obj = read_json_object(path, missing_ok=True)
    return None if obj is None else StopRequest.from_dict(obj, path)


def clear_stop_request(run_dir: Union[str, Path], role: str) -> None:
    try:
        os.unlink(str(RunPaths(run_dir).stop_file(role)))
    except FileNotFoundError:
        pass


def append_history(run_dir: Union[str, Path], rec: ProcRecord) -> None:
    """Keep the record of an ended process (restarts overwrite ``procs/<role>.json``)."""
    import json

    append_line(RunPaths(run_dir).procs_dir / HISTORY_FILE,
                json.dumps(rec.to_dict(), separators=(",", ":")), durable=True)


def read_history(run_dir: Union[str, Path]) -> List[ProcRecord]:
    path = RunPaths(run_dir).procs_dir / HISTORY_FILE
    try:
        raw = read_regular_file(path, MAX_LOG_BYTES, missing_ok=True)
    except ProtocolError:
        return []
    out = []
    for line in (raw or b"").decode("utf-8", "replace").splitlines():
        try:
            d = parse_json(line)
            if isinstance(d, dict):
                out.append(ProcRecord.from_dict(d, path))
        except Exception:
            continue  # a torn or foreign line: skipped
    return out


@dataclass
class StarterRecord:
    """The short-lived process that starts a run's roles in order (waiting on readiness)."""
    pid: int
    create_time: float
    started_at: str
    roles: List[str]
    finished_at: Optional[str] = None
    error: Optional[str] = None       # a role failed to start or to become ready

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Dict[str, Any], path: Union[str, Path]) -> "StarterRecord":
        return cls(
            pid=get(d, "pid", int, path), create_time=get(d, "create_time", float, path),
            started_at=get(d, "started_at", str, path),
            roles=[str(r) for r in get(d, "roles", list, path, default=[])],
            finished_at=get(d, "finished_at", (str, type(None)), path, default=None),
            error=get(d, "error", (str, type(None)), path, default=None),
        )


def _starter_path(run_dir: Union[str, Path], tag: Optional[str]) -> Path:
    d = RunPaths(run_dir).procs_dir
    return d / (STARTER_FILE if not tag else ".starter-%s.json" % check_role_name(tag))


def write_starter_record(run_dir: Union[str, Path], rec: StarterRecord,
                         tag: Optional[str] = None) -> None:
    """``tag`` None: the run's own start; a role name: an ad-hoc start (a viewer)."""
    atomic_write_json(_starter_path(run_dir, tag), rec.to_dict())


def read_starter_record(run_dir: Union[str, Path],
                        tag: Optional[str] = None) -> Optional[StarterRecord]:
    path = _starter_path(run_dir, tag)
    obj = read_json_object(path, missing_ok=True)
    return None if obj is None else StarterRecord.from_dict(obj, path)
