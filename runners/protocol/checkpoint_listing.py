"""Listing a run's checkpoints: numbered history sorted numerically, the latest file, the newest.

Where a trainer keeps a stable latest file (ours: ``nn/latest.pth``, a hard link to the newest
numbered file), that file is listed last and the numbered file it holds is marked
``same_as_latest``. Where a trainer never writes one (``latest: newest`` in the profile), auto
mode means the newest *complete* checkpoint (:func:`newest_checkpoint`), and that one is marked.
"""
from __future__ import annotations

import fnmatch
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Union

from .checkpoint_formats import CheckpointFormat, format_for
from .checkpoint_names import natural_key, step_from_name
from .checkpoints import file_signature, read_index
from .rundir import LATEST_NAME

LATEST_NEWEST = "newest"   # profile ``checkpoints.latest``: no latest file, follow the newest
PathLike = Union[str, Path]


@dataclass
class CheckpointInfo:
    """A checkpoint file (or directory, for directory formats) as listed for the user."""
    name: str
    path: Path
    size: int
    mtime: float
    step: Optional[int]
    epoch: Optional[int] = None
    metrics: Dict[str, float] = field(default_factory=dict)
    is_latest: bool = False        # this is the latest file itself (``latest.pth``)
    same_as_latest: bool = False   # what auto mode loads now (latest's twin, or the newest)


def _entries(nn_dir: Path, pattern: str, fmt: Optional[CheckpointFormat]) -> List[CheckpointInfo]:
    try:
        names = os.listdir(str(nn_dir))
    except OSError:
        return []
    index, _ = read_index(nn_dir)
    out = []  # type: List[CheckpointInfo]
    for name in names:
        if name.startswith(".") or not fnmatch.fnmatch(name, pattern):
            continue
        p = nn_dir / name
        try:
            st = os.stat(str(p))
        except OSError:
            continue
        want_dir = fmt is not None and fmt.directory
        if not (stat.S_ISDIR(st.st_mode) if want_dir else stat.S_ISREG(st.st_mode)):
            continue   # never a FIFO, socket or device; directories only for directory formats
        if fmt is not None and fmt.temporary(name):
            continue   # a writer's temporary name (renamed once complete)
        e = index.get(name)
        out.append(CheckpointInfo(
            name=name, path=p, size=st.st_size, mtime=st.st_mtime,
            step=e.step if e else step_from_name(name),
            epoch=e.epoch if e else None, metrics=dict(e.metrics) if e else {}))
    return out


def _order(c: CheckpointInfo) -> tuple:
    """Numbered files by step; files without a step (best, final) after them, by mtime."""
    if c.step is not None:
        return (0, c.step, 0.0, natural_key(c.name))
    return (1, 0, c.mtime, natural_key(c.name))


def list_checkpoints(nn_dir: PathLike, pattern: str = "*.pth", latest_name: str = LATEST_NAME,
                     fmt: Optional[CheckpointFormat] = None) -> List[CheckpointInfo]:
    """Every checkpoint in ``nn_dir`` sorted by step (numerically), the latest file last.

    ``latest_name`` ``newest``: there is no latest file; the newest complete checkpoint is
    marked ``same_as_latest`` (what auto mode follows)."""
    nn_dir = Path(nn_dir)
    out = _entries(nn_dir, pattern, fmt)
    if latest_name == LATEST_NEWEST:
        newest = _newest_complete(out, fmt)
        if newest is not None:
            newest.same_as_latest = True
        return sorted(out, key=_order)
    latest_sig = file_signature(nn_dir / latest_name)
    latest = [c for c in out if c.name == latest_name]
    history = [c for c in out if c.name != latest_name]
    for c in latest:
        c.is_latest = True
    if latest_sig is not None:
        for c in history:
            try:
                st = os.stat(str(c.path))
            except OSError:
                continue
            if st.st_ino == latest_sig.inode and st.st_size == latest_sig.size:
                c.same_as_latest = True
    for c in latest:
        twin = [o for o in history if o.same_as_latest]
        if twin:
            c.step, c.epoch, c.metrics = twin[0].step, twin[0].epoch, dict(twin[0].metrics)
    return sorted(history, key=_order) + latest


def _newest_complete(entries: List[CheckpointInfo],
                     fmt: Optional[CheckpointFormat]) -> Optional[CheckpointInfo]:
    for c in sorted(entries, key=lambda c: (c.mtime, c.step if c.step is not None else -1),
                    reverse=True):
        f = fmt or format_for(c.path)
        if f.complete(c.path) is not False:
            return c
    return None


def newest_checkpoint(nn_dir: PathLike, pattern: str,
                      fmt: Optional[CheckpointFormat] = None) -> Optional[CheckpointInfo]:
    """The most recently written checkpoint that is not visibly incomplete (a zip without its
    central directory, a pickle without its STOP opcode, a directory without its commit
    marker). Callers that load it still wait for size and mtime to settle when the trainer
    writes in place."""
    return _newest_complete(_entries(Path(nn_dir), pattern, fmt), fmt)


def latest_link_target(path: PathLike, latest_name: str = LATEST_NAME) -> Optional[Path]:
    """The history file ``latest.pth`` currently is (it is saved as a hard link to it), or
    None when ``path`` is not the latest file or no numbered twin exists (a copy, a foreign
    trainer's in-place file)."""
    path = Path(path)
    if path.name != latest_name:
        return None
    try:
        ino = os.stat(str(path)).st_ino
        with os.scandir(str(path.parent)) as it:
            for e in it:
                if e.name != path.name and e.name.endswith(path.suffix) and e.inode() == ino:
                    return path.parent / e.name
    except OSError:
        pass
    return None
