"""Checkpoints: ``nn/<stem>_<step>.pth`` history, ``nn/latest.pth``, ``nn/index.jsonl``.

Saving (native runners): the file is written to a temp name and renamed into its numbered place,
then ``latest.pth`` is replaced atomically by a hard link to it (a copy where links are not
possible), then one line is appended to ``index.jsonl``. A reader never sees half a checkpoint.

Loading: native files are plain dicts of tensors and numbers and load with
``torch.load(weights_only=True)``. Foreign files that need a few extra types (rl_games stores a
numpy scalar) pass an explicit allow-list; nothing is ever unpickled blindly.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Dict, NamedTuple, Optional, Tuple, Union

from .atomic import append_line, atomic_write_with
from .checkpoint_load import CheckpointLoadError, load_torch_checkpoint
from .checkpoint_names import DEFAULT_STEM, checkpoint_file_name, natural_key
from .rundir import CKPT_INDEX, NN_DIR, RunPaths

CKPT_FORMAT = "pitwall.ckpt/1"


class FileSignature(NamedTuple):
    inode: int
    size: int
    mtime_ns: int


def file_signature(path: Union[str, Path]) -> Optional[FileSignature]:
    try:
        st = os.stat(str(path))
    except OSError:
        return None
    return FileSignature(st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass
class IndexEntry:
    """One line of ``nn/index.jsonl``."""
    file: str
    step: int
    time: float
    epoch: Optional[int] = None
    size: Optional[int] = None
    metrics: Dict[str, float] = field(default_factory=dict)

    def to_line(self) -> str:
        d = asdict(self)
        return json.dumps({k: v for k, v in d.items() if v is not None}, allow_nan=False,
                          separators=(",", ":"))

    @classmethod
    def from_line(cls, line: str) -> "IndexEntry":
        d = json.loads(line)
        if not isinstance(d, dict):
            raise ValueError("not an object")
        f, step, t = d.get("file"), d.get("step"), d.get("time")
        if not isinstance(f, str) or not f or "/" in f:
            raise ValueError("bad 'file'")
        if not isinstance(step, int) or isinstance(step, bool):
            raise ValueError("bad 'step'")
        if not isinstance(t, (int, float)) or isinstance(t, bool):
            raise ValueError("bad 'time'")
        metrics = d.get("metrics") or {}
        if not isinstance(metrics, dict):
            raise ValueError("bad 'metrics'")
        epoch = d.get("epoch")
        size = d.get("size")
        return cls(file=f, step=step, time=float(t),
                   epoch=epoch if isinstance(epoch, int) else None,
                   size=size if isinstance(size, int) else None,
                   metrics={str(k): float(v) for k, v in metrics.items()
                            if isinstance(v, (int, float)) and not isinstance(v, bool)})


def read_index(nn_dir: Union[str, Path]) -> Tuple[Dict[str, IndexEntry], int]:
    """Entries of ``index.jsonl`` by file name, and the number of bad lines skipped."""
    path = Path(nn_dir) / CKPT_INDEX
    entries: Dict[str, IndexEntry] = {}
    bad = 0
    try:
        data = path.read_bytes()
    except OSError:
        return entries, 0
    lines = data.split(b"\n")
    if lines and lines[-1] != b"":
        lines = lines[:-1]  # a partial last line is still being written
    for raw in lines:
        if not raw.strip():
            continue
        try:
            e = IndexEntry.from_line(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            bad += 1
            continue
        entries[e.file] = e
    return entries, bad


def save_checkpoint(run_dir: Union[str, Path], write: Callable[[IO[bytes]], None], step: int,
                    epoch: Optional[int] = None, metrics: Optional[Dict[str, float]] = None,
                    stem: str = DEFAULT_STEM, update_latest: bool = True,
                    keep_last: int = 0) -> Path:
    """Save one checkpoint the protocol way; returns the history file's path.

    ``write`` receives a binary file object (e.g. ``lambda f: torch.save(obj, f)``).
    ``keep_last`` > 0 deletes the oldest history files beyond that many (never ``latest``).
    """
    paths = RunPaths(run_dir)
    nn_dir = paths.nn_dir
    nn_dir.mkdir(parents=True, exist_ok=True)
    name = checkpoint_file_name(step, stem)
    target = nn_dir / name
    atomic_write_with(target, write)
    if update_latest:
        _replace_latest(target, paths.latest)
    size = os.path.getsize(str(target))
    clean = {k: float(v) for k, v in (metrics or {}).items()
             if isinstance(v, (int, float)) and v == v and abs(v) != float("inf")}
    entry = IndexEntry(file=name, step=int(step), time=time.time(), epoch=epoch, size=size,
                       metrics=clean)
    append_line(paths.ckpt_index, entry.to_line(), durable=True)
    if keep_last > 0:
        _prune(nn_dir, stem, keep_last)
    return target


def _replace_latest(target: Path, latest: Path) -> None:
    tmp = latest.parent / (".%s.%d.link" % (latest.name, os.getpid()))
    try:
        if tmp.exists():
            tmp.unlink()
        os.link(str(target), str(tmp))
        os.replace(str(tmp), str(latest))
    except OSError:
        # no hard links here (some network filesystems): copy atomically instead
        with open(str(target), "rb") as src:
            atomic_write_with(latest, lambda f: shutil.copyfileobj(src, f))


def _prune(nn_dir: Path, stem: str, keep_last: int) -> None:
    mine = sorted((n for n in os.listdir(str(nn_dir))
                   if n.startswith(stem + "_") and n.endswith(".pth")), key=natural_key)
    for old in mine[:-keep_last]:
        try:
            os.unlink(str(nn_dir / old))
        except OSError:
            pass


def save_torch_checkpoint(run_dir: Union[str, Path], payload: Dict[str, Any], step: int,
                          **kwargs: Any) -> Path:
    """``save_checkpoint`` for a dict saved with ``torch.save``; adds the format marker."""
    import torch  # runners only; the control center never saves checkpoints

    data = dict(payload)
    data.setdefault("format", CKPT_FORMAT)
    data.setdefault("step", int(step))
    return save_checkpoint(run_dir, lambda f: torch.save(data, f), step, **kwargs)


__all__ = [
    "CKPT_FORMAT", "NN_DIR", "CheckpointLoadError", "FileSignature", "IndexEntry",
    "file_signature", "load_torch_checkpoint", "read_index", "save_checkpoint",
    "save_torch_checkpoint",
]
