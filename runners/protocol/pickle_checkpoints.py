"""Pickled checkpoints (JAX trainers): ``nn/<stem>_<step>.pkl``, ``nn/latest.pkl``, named files.

Saving follows the ``.pth`` rules of ``checkpoints.py``: the pickle is written to a temp name
and renamed into place (``atomic_write_with``), ``latest.pkl`` is replaced by a hard link to the
newest history file, and one line goes to ``nn/index.jsonl``. A *named* file
(``amp_ppo_jax_best.pkl``) is replaced atomically in place and gets an index line each time, so
the index tells its current step (the last line for a file wins).

Loading never unpickles blindly: :func:`load_pickle_checkpoint` goes through
``safe_pickle`` with an allow-list (numpy and JAX arrays, flax dicts, plain containers by
default) and wants a dict.
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

from .atomic import append_line, atomic_write_with
from .checkpoint_load import CheckpointLoadError
from .checkpoint_names import STEP_DIGITS, checkpoint_file_name
from .checkpoints import IndexEntry, _replace_latest
from .rundir import CKPT_INDEX, RunPaths
from .safe_pickle import dump_bytes, jax_checkpoint_allow_list, safe_load

PICKLE_SUFFIX = ".pkl"
PICKLE_LATEST = "latest" + PICKLE_SUFFIX


def pickle_file_name(step: int, stem: str) -> str:
    return checkpoint_file_name(step, stem, PICKLE_SUFFIX)


def _index_line(nn_dir: Path, name: str, step: int, epoch: Optional[int],
                metrics: Optional[Dict[str, float]]) -> None:
    clean = {k: float(v) for k, v in (metrics or {}).items()
             if isinstance(v, (int, float)) and v == v and abs(v) != float("inf")}
    entry = IndexEntry(file=name, step=int(step), time=time.time(), epoch=epoch,
                       size=os.path.getsize(str(nn_dir / name)), metrics=clean)
    append_line(nn_dir / CKPT_INDEX, entry.to_line(), durable=True)


def save_pickle_checkpoint(run_dir: Union[str, Path], payload: Any, step: int, stem: str,
                           epoch: Optional[int] = None,
                           metrics: Optional[Dict[str, float]] = None,
                           update_latest: bool = True, keep_last: int = 0,
                           latest_name: str = PICKLE_LATEST) -> Path:
    """Save ``nn/<stem>_<step>.pkl`` (+ ``latest.pkl`` + index line); returns its path.
    ``keep_last`` > 0 deletes the oldest ``<stem>_<step>.pkl`` files beyond that many."""
    nn_dir = RunPaths(run_dir).nn_dir
    nn_dir.mkdir(parents=True, exist_ok=True)
    data = dump_bytes(payload)
    name = pickle_file_name(step, stem)
    target = nn_dir / name
    atomic_write_with(target, lambda f: f.write(data))
    if update_latest:
        _replace_latest(target, nn_dir / latest_name)
    _index_line(nn_dir, name, step, epoch, metrics)
    if keep_last > 0:
        _prune(nn_dir, stem, keep_last)
    return target


def save_named_pickle(run_dir: Union[str, Path], payload: Any, name: str, step: int,
                      epoch: Optional[int] = None,
                      metrics: Optional[Dict[str, float]] = None) -> Path:
    """Replace ``nn/<name>`` atomically (e.g. ``amp_ppo_jax_best.pkl``) and index it."""
    if "/" in name or not name.endswith(PICKLE_SUFFIX) or name.startswith("."):
        raise ValueError("a checkpoint name is a plain '*.pkl' file name, not %r" % (name,))
    nn_dir = RunPaths(run_dir).nn_dir
    nn_dir.mkdir(parents=True, exist_ok=True)
    data = dump_bytes(payload)
    atomic_write_with(nn_dir / name, lambda f: f.write(data))
    _index_line(nn_dir, name, step, epoch, metrics)
    return nn_dir / name


def _prune(nn_dir: Path, stem: str, keep_last: int) -> None:
    rx = re.compile(r"^%s_\d{%d,}%s$" % (re.escape(stem), STEP_DIGITS, re.escape(PICKLE_SUFFIX)))
    mine = sorted(n for n in os.listdir(str(nn_dir)) if rx.match(n))
    for old in mine[:-keep_last]:
        try:
            os.unlink(str(nn_dir / old))
        except OSError:
            pass


def load_pickle_checkpoint(path: Union[str, Path],
                           allow: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """A dict checkpoint, unpickled with ``allow`` (default: numpy/JAX/flax arrays and plain
    containers); raises :class:`CheckpointLoadError` naming the file."""
    obj = safe_load(path, jax_checkpoint_allow_list() if allow is None else allow)
    if not isinstance(obj, dict):
        raise CheckpointLoadError(path, "expected a dict checkpoint, found %s"
                                  % type(obj).__name__)
    return obj


__all__ = ["PICKLE_LATEST", "PICKLE_SUFFIX", "load_pickle_checkpoint", "pickle_file_name",
           "save_named_pickle", "save_pickle_checkpoint"]
