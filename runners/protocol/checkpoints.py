"""Checkpoints: ``nn/<stem>_<step>.pth`` history, ``nn/latest.pth``, ``nn/index.jsonl``.

Saving (native runners): the file is written to a temp name and renamed into its numbered place,
then ``latest.pth`` is replaced atomically by a hard link to it (a copy where links are not
possible), then one line is appended to ``index.jsonl``. A reader never sees half a checkpoint.

Loading: native files are plain dicts of tensors and numbers and load with
``torch.load(weights_only=True)``. Foreign files that need a few extra types (rl_games stores a
numpy scalar) pass an explicit allow-list; nothing is ever unpickled blindly.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Dict, NamedTuple, Optional, Tuple, Union

from .atomic import append_line, atomic_write_with, naming, read_regular_file
from .checkpoint_load import CheckpointLoadError, load_torch_checkpoint
from .checkpoint_names import DEFAULT_STEM, STEP_DIGITS, checkpoint_file_name, natural_key
from .errors import ProtocolError
from .fields import is_int64
from .json_parse import MAX_LINE_BYTES, MAX_LOG_BYTES, parse_json
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
        if len(line) > MAX_LINE_BYTES:
            raise ValueError("line longer than %d bytes" % MAX_LINE_BYTES)
        d = parse_json(line)
        if not isinstance(d, dict):
            raise ValueError("not an object")
        f, step, t = d.get("file"), d.get("step"), d.get("time")
        if not isinstance(f, str) or not f or "/" in f:
            raise ValueError("bad 'file'")
        if not is_int64(step):
            raise ValueError("bad 'step' (an integer of at most 64 bits)")
        if not isinstance(t, (int, float)) or isinstance(t, bool):
            raise ValueError("bad 'time'")
        metrics = d.get("metrics") or {}
        if not isinstance(metrics, dict):
            raise ValueError("bad 'metrics'")
        epoch = d.get("epoch")
        size = d.get("size")
        return cls(file=f, step=step, time=float(t),
                   epoch=epoch if is_int64(epoch) else None,
                   size=size if is_int64(size) else None,
                   metrics={str(k): float(v) for k, v in metrics.items()
                            if isinstance(v, (int, float)) and not isinstance(v, bool)})


def read_index(nn_dir: Union[str, Path]) -> Tuple[Dict[str, IndexEntry], int]:
    """Entries of ``index.jsonl`` by file name, and the number of bad lines skipped."""
    path = Path(nn_dir) / CKPT_INDEX
    entries: Dict[str, IndexEntry] = {}
    bad = 0
    try:
        data = read_regular_file(path, MAX_LOG_BYTES, missing_ok=True)
    except ProtocolError:
        return entries, 1   # not a regular file, unreadable or absurdly large: one bad "line"
    if data is None:
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
                    keep_last: int = 0, digits: int = STEP_DIGITS,
                    name: Optional[str] = None) -> Path:
    """Save one checkpoint the protocol way; returns the history file's path.

    ``write`` receives a binary file object (e.g. ``lambda f: torch.save(obj, f)``).
    ``keep_last`` > 0 deletes the oldest history files beyond that many (never ``latest``).
    ``name`` replaces ``<stem>_<step>.pth`` by a fixed file name (``final_model.pth``); such a
    file is replaced on the next save under that name and never pruned.

    A save that fails (a full disk, a read-only filesystem) raises
    :class:`CheckpointSaveError` naming the file and leaves nothing behind: no temp file, no
    history file that ``latest.pth`` and the index do not know, ``latest.pth`` as it was. A
    trainer can log it and try again at its next save.
    """
    paths = RunPaths(run_dir)
    nn_dir = paths.nn_dir
    if name is not None and (not name.endswith(".pth") or "/" in name or name.startswith(".")
                             or name == paths.latest.name):
        raise ValueError("checkpoint name %r: a plain *.pth file name other than %s"
                         % (name, paths.latest.name))
    name = name or checkpoint_file_name(step, stem, digits=digits)
    target = nn_dir / name
    existed = target.exists()
    try:
        nn_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_with(target, write)
        if update_latest:
            _replace_latest(target, paths.latest)
        size = os.path.getsize(str(target))
    except OSError as e:
        if not existed:
            _unlink_quietly(target)   # never a history file that latest and the index miss
        raise CheckpointSaveError(target, e)
    clean = {k: float(v) for k, v in (metrics or {}).items()
             if isinstance(v, (int, float)) and v == v and abs(v) != float("inf")}
    entry = IndexEntry(file=name, step=int(step), time=time.time(), epoch=epoch, size=size,
                       metrics=clean)
    try:
        append_line(paths.ckpt_index, entry.to_line(), durable=True)
    except OSError as e:
        # the checkpoint and latest.pth are complete; only its index line (step, metrics at
        # save) is missing, and listings fall back to the step in its name
        raise CheckpointSaveError(paths.ckpt_index, e, saved=target)
    if keep_last > 0:
        _prune(nn_dir, stem, keep_last)
    return target


class CheckpointSaveError(OSError):
    """A checkpoint could not be saved; ``path`` is the file at fault, ``saved`` the history
    file when the checkpoint itself was saved and only its index line was not."""

    def __init__(self, path: Path, cause: OSError, saved: Optional[Path] = None):
        self.path = Path(path)
        self.saved = saved
        what = "saved %s but could not index it" % saved.name if saved is not None \
            else "checkpoint not saved"
        super().__init__(cause.errno, "%s: %s" % (what, cause.strerror or cause),
                         str(cause.filename if cause.filename is not None else path))


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(str(path))
    except OSError:
        pass


# errors of os.link that mean "no hard links on this filesystem": copy instead
_NO_HARD_LINKS = {errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOSYS,
                  getattr(errno, "ENOTSUP", errno.EOPNOTSUPP), errno.EOPNOTSUPP}


def _replace_latest(target: Path, latest: Path) -> None:
    tmp = latest.parent / (".%s.%d.link" % (latest.name, os.getpid()))
    try:
        _unlink_quietly(tmp)
        os.link(str(target), str(tmp))
        os.replace(str(tmp), str(latest))
    except OSError as e:
        _unlink_quietly(tmp)
        if e.errno not in _NO_HARD_LINKS:
            raise naming(e, latest, str(tmp))
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
    "CKPT_FORMAT", "NN_DIR", "CheckpointLoadError", "CheckpointSaveError", "FileSignature",
    "IndexEntry", "file_signature", "load_torch_checkpoint", "read_index", "save_checkpoint",
    "save_torch_checkpoint",
]
