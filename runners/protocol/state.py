"""``.checkpoint_state.json``: which checkpoint the viewers of a run should show.

Compatible with the seed system (IsaacGymEnvs ``train_play.py`` and its Tk panel)::

    {"mode": "auto" | "manual", "checkpoint_path": "<absolute path>",
     "last_update": "<isoformat>", "experiment_dir": "<absolute run dir>",
     "seq": <int, +1 on every write>, "written_by": {"host": .., "pid": .., "tool": "pitwall"}}

The seed's play loop reads only ``checkpoint_path`` and ``last_update`` and resolves a relative
path against its own working directory, so Pitwall always writes absolute paths. Reading accepts
absolute paths, run-relative paths, and paths relative to the directory that holds ``runs/``
(``runs/<run>/nn/latest.pth``, as the seed's panel writes them). Whatever the form, the path must
lie inside the run directory; anything else is refused.

Writers take ``.checkpoint_state.lock`` (``flock``) around read-seq / write so two control
centers on the same run (two SSH sessions) never lose a ``seq``.
"""
from __future__ import annotations

import datetime as _dt
import os
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ContextManager, Dict, Optional, Tuple, Union

from .atomic import atomic_write_json, file_lock, read_json_object
from .errors import ProtocolError
from .fields import field as get
from .rundir import LATEST_NAME, NN_DIR, RunPaths

MODES = ("auto", "manual")
DEFAULT_LATEST = NN_DIR + "/" + LATEST_NAME


@dataclass
class CheckpointState:
    mode: str
    checkpoint_path: str
    last_update: str
    experiment_dir: str = ""
    seq: int = 0
    written_by: Dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Dict[str, Any], path: Union[str, Path]) -> "CheckpointState":
        return cls(
            mode=get(d, "mode", str, path, choices=MODES),
            checkpoint_path=get(d, "checkpoint_path", str, path),
            last_update=get(d, "last_update", str, path),
            experiment_dir=get(d, "experiment_dir", str, path, default=""),
            seq=get(d, "seq", int, path, default=0),
            written_by=get(d, "written_by", dict, path, default={}),
        )


def read_state(run_dir: Union[str, Path]) -> Optional[CheckpointState]:
    """The state file, or None when there is none. Garbage raises :class:`ProtocolError`."""
    path = RunPaths(run_dir).state_file
    obj = read_json_object(path, missing_ok=True)
    return None if obj is None else CheckpointState.from_dict(obj, path)


def resolve_checkpoint_path(run_dir: Union[str, Path], raw: str,
                            source: Union[str, Path, None] = None) -> Path:
    """Turn a ``checkpoint_path`` into an absolute path confined to the run directory."""
    root = Path(os.path.realpath(str(run_dir)))
    src = source if source is not None else RunPaths(run_dir).state_file
    if not raw:
        raise ProtocolError(src, "checkpoint_path", "is empty")
    p = Path(raw)
    candidates = []
    if p.is_absolute():
        candidates.append(p)
    else:
        candidates.append(root / p)
        parts = p.parts
        if root.name in parts:  # "runs/<run>/nn/x.pth", relative to the seed's working dir
            i = len(parts) - 1 - list(reversed(parts)).index(root.name)
            candidates.append(root.joinpath(*parts[i + 1:]) if i + 1 < len(parts) else root)
    inside = []
    for c in candidates:
        real = Path(os.path.realpath(str(c)))
        if real != root and str(real).startswith(str(root) + os.sep):
            inside.append((real.exists(), Path(os.path.abspath(str(c)))))
    if inside:
        existing = [c for ok, c in inside if ok]
        return existing[0] if existing else inside[0][1]
    raise ProtocolError(src, "checkpoint_path",
                        "%r is outside the run directory %s; refused" % (raw, root))


def state_lock(run_dir: Union[str, Path]) -> "ContextManager[None]":
    """The lock every writer of the run's state file holds (``seq`` is never lost)."""
    return file_lock(RunPaths(run_dir).state_lock)


def _new_stamp(prev: Optional[CheckpointState]) -> str:
    """``last_update`` for a new write: always later than the previous one (readers such as
    the seed's play loop compare it for equality only, so it must change on every write)."""
    stamp = _dt.datetime.now().isoformat()
    if prev is not None and stamp <= prev.last_update:
        try:
            stamp = (_dt.datetime.fromisoformat(prev.last_update)
                     + _dt.timedelta(microseconds=1)).isoformat()
        except ValueError:
            pass
    return stamp


def _write_locked(paths: RunPaths, prev: Optional[CheckpointState], mode: str, target: Path,
                  tool: str) -> CheckpointState:
    state = CheckpointState(
        mode=mode, checkpoint_path=str(target), last_update=_new_stamp(prev),
        experiment_dir=str(paths.root), seq=(prev.seq if prev else 0) + 1,
        written_by={"host": socket.gethostname(), "pid": os.getpid(), "tool": tool},
    )
    atomic_write_json(paths.state_file, state.to_dict())
    return state


def _read_or_none(run_dir: Union[str, Path]) -> Tuple[Optional[CheckpointState], bool]:
    """(state, readable): a garbage file reads as (None, False)."""
    try:
        return read_state(run_dir), True
    except ProtocolError:
        return None, False


def write_state(run_dir: Union[str, Path], mode: str, checkpoint: Union[str, Path, None] = None,
                latest_relpath: str = DEFAULT_LATEST, tool: str = "pitwall",
                require_exists: bool = True, only_if_auto: bool = False
                ) -> Optional[CheckpointState]:
    """Write a new state (``seq`` + 1, a later ``last_update``) atomically under the lock.

    ``auto``: ``checkpoint_path`` is the run's latest file (``nn/latest.pth``).
    ``manual``: ``checkpoint`` is required, confined to the run dir, and must exist.
    ``only_if_auto``: write only when there is no state yet or it is in auto mode, so an
    automatic writer never overrides a user's manual choice (returns None then).
    """
    paths = RunPaths(run_dir)
    if mode not in MODES:
        raise ProtocolError(paths.state_file, "mode",
                            "must be one of 'auto', 'manual', found %r" % (mode,))
    if mode == "auto":
        target = resolve_checkpoint_path(run_dir, str(checkpoint or latest_relpath))
    else:
        if checkpoint is None:
            raise ProtocolError(paths.state_file, "checkpoint_path",
                                "manual mode needs a checkpoint file")
        target = resolve_checkpoint_path(run_dir, str(checkpoint))
        if require_exists and not target.is_file():
            raise ProtocolError(paths.state_file, "checkpoint_path",
                                "%s does not exist" % target)
    with state_lock(run_dir):
        prev, readable = _read_or_none(run_dir)
        if only_if_auto and (not readable or (prev is not None and prev.mode != "auto")):
            return None
        # a garbage file is replaced by a valid one; seq then restarts at 1
        return _write_locked(paths, prev, mode, target, tool)


def renew_state(run_dir: Union[str, Path], tool: str = "pitwall") -> Optional[CheckpointState]:
    """The same request again with a new ``seq`` and ``last_update``: viewers that reload only
    when ``last_update`` changes (the seed's) then load it. None when there is no readable
    state or its checkpoint is gone."""
    paths = RunPaths(run_dir)
    with state_lock(run_dir):
        prev, _ = _read_or_none(run_dir)
        if prev is None:
            return None
        try:
            target = resolve_checkpoint_path(run_dir, prev.checkpoint_path)
        except ProtocolError:
            return None
        if not target.is_file():
            return None
        return _write_locked(paths, prev, prev.mode, target, tool)
