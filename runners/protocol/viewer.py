"""``.viewer/<id>.json``: what one viewer actually shows (its acknowledgement).

Written by the viewer process after every change (and as a heartbeat every few seconds), so the
control center shows truth, not intent: a request whose ``seq`` the viewer has not applied is a
pending switch; a refused checkpoint keeps the old policy and says why in ``error``.
"""
from __future__ import annotations

import os
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from .atomic import atomic_write_json, read_json_object
from .errors import ProtocolError
from .fields import field as get
from .rundir import RunPaths

VIEWER_STATES = ("starting", "waiting", "loading", "running", "error", "stopped")
HEARTBEAT_S = 2.0


@dataclass
class ViewerStatus:
    id: str
    pid: int
    state: str                         # one of VIEWER_STATES
    mode: str = "auto"                 # the mode of the request it applied
    seq: int = 0                       # seq of the last state-file request it handled
    checkpoint_path: Optional[str] = None   # what it has loaded now
    checkpoint_mtime: Optional[float] = None
    checkpoint_step: Optional[int] = None
    loaded_at: Optional[str] = None
    error: Optional[str] = None        # last refusal (the policy above keeps running)
    display: str = "none"              # none | :0 | localhost:10.0 | video | ...
    create_time: float = 0.0
    host: str = field(default_factory=socket.gethostname)
    updated_at: float = field(default_factory=time.time)
    episode: int = 0
    episode_return: Optional[float] = None  # return of the last finished episode
    extra: Dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Dict[str, Any], path: Union[str, Path]) -> "ViewerStatus":
        o_str = (str, type(None))
        o_num = (float, type(None))
        o_int = (int, type(None))
        return cls(
            id=get(d, "id", str, path), pid=get(d, "pid", int, path),
            state=get(d, "state", str, path, choices=VIEWER_STATES),
            mode=get(d, "mode", str, path, default="auto"),
            seq=get(d, "seq", int, path, default=0),
            checkpoint_path=get(d, "checkpoint_path", o_str, path, default=None),
            checkpoint_mtime=get(d, "checkpoint_mtime", o_num, path, default=None),
            checkpoint_step=get(d, "checkpoint_step", o_int, path, default=None),
            loaded_at=get(d, "loaded_at", o_str, path, default=None),
            error=get(d, "error", o_str, path, default=None),
            display=get(d, "display", str, path, default="none"),
            create_time=get(d, "create_time", float, path, default=0.0),
            host=get(d, "host", str, path, default=""),
            updated_at=get(d, "updated_at", float, path, default=0.0),
            episode=get(d, "episode", int, path, default=0),
            episode_return=get(d, "episode_return", o_num, path, default=None),
            extra=get(d, "extra", dict, path, default={}),
        )


def write_viewer_status(run_dir: Union[str, Path], status: ViewerStatus) -> None:
    status.updated_at = time.time()
    # not fsync'ed: a status is rewritten often and losing one to a power cut is harmless
    atomic_write_json(RunPaths(run_dir).viewer_file(status.id), status.to_dict(), durable=False)


def read_viewer_status(run_dir: Union[str, Path], viewer_id: str) -> Optional[ViewerStatus]:
    path = RunPaths(run_dir).viewer_file(viewer_id)
    obj = read_json_object(path, missing_ok=True)
    return None if obj is None else ViewerStatus.from_dict(obj, path)


def list_viewer_statuses(run_dir: Union[str, Path]) -> List[ViewerStatus]:
    """Every readable viewer status; unreadable ones are skipped (a viewer rewrites them)."""
    d = RunPaths(run_dir).viewer_dir
    try:
        names = sorted(os.listdir(str(d)))
    except OSError:
        return []
    out = []
    for n in names:
        if not n.endswith(".json") or n.startswith("."):
            continue
        try:
            obj = read_json_object(d / n, missing_ok=True)
            if obj is not None:
                out.append(ViewerStatus.from_dict(obj, d / n))
        except ProtocolError:
            continue
    return out
