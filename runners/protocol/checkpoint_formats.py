"""Checkpoint formats: what a checkpoint looks like on disk and when it is complete.

A trainer that is not ours writes its checkpoints in place (``torch.save(obj, path)``,
``pickle.dump``, a directory filled file by file). A viewer or relay must not load one that is
still being written. Each format says how to tell:

- ``torch`` (``.pth``, ``.pt``, ``.ckpt``): a zip archive (torch >= 1.6) is complete once its
  central directory is there; torch's legacy format (pickles followed by raw storages) cannot be
  told from its bytes.
- ``pickle`` (``.pkl``, ``.pickle``): the stream ends with the STOP opcode (``.``).
- ``zip`` (``.zip``, stable-baselines3): the central directory is there.
- ``orbax`` (a directory, flax/orbax): the commit marker is there (``_CHECKPOINT_METADATA``
  or ``commit_success.txt``) and the name is not one of orbax's temporary names.
- ``file``: anything else; complete once its size and mtime have stayed the same for a while
  (the caller's ``stable_for``), which is also required of every format above when the trainer
  writes in place.

``complete(path)`` answers True (complete), False (certainly not: being written or torn) or
None (cannot tell from the bytes: rely on stability). It never blocks: a FIFO or device is
"not a checkpoint" (False) before anything opens it.
"""
from __future__ import annotations

import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple, Union

PathLike = Union[str, Path]
ZIP_MAGIC = b"PK\x03\x04"
PICKLE_STOP = b"."
ORBAX_MARKERS = ("_CHECKPOINT_METADATA", "commit_success.txt")
ORBAX_TMP = ".orbax-checkpoint-tmp"


def regular_file(path: PathLike) -> bool:
    """True for a regular file (after following links); never opens it."""
    try:
        return stat.S_ISREG(os.stat(str(path)).st_mode)
    except OSError:
        return False


def _tail(path: PathLike, n: int) -> bytes:
    with open(str(path), "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - n))
        return f.read(n)


def _head(path: PathLike, n: int) -> bytes:
    with open(str(path), "rb") as f:
        return f.read(n)


def zip_complete(path: PathLike) -> Optional[bool]:
    if not regular_file(path):
        return False
    try:
        return zipfile.is_zipfile(str(path))
    except OSError:
        return False


def pickle_complete(path: PathLike) -> Optional[bool]:
    if not regular_file(path):
        return False
    try:
        return _tail(path, 1) == PICKLE_STOP
    except OSError:
        return False


def torch_complete(path: PathLike) -> Optional[bool]:
    if not regular_file(path):
        return False
    try:
        head = _head(path, 4)
    except OSError:
        return False
    if not head:
        return False
    if head == ZIP_MAGIC:
        return zip_complete(path)
    return None   # torch's legacy format ends in raw storage bytes: rely on stability


def orbax_complete(path: PathLike) -> Optional[bool]:
    p = Path(path)
    if not p.is_dir() or ORBAX_TMP in p.name:
        return False
    return any((p / m).is_file() for m in ORBAX_MARKERS)


def unknown_complete(path: PathLike) -> Optional[bool]:
    if not regular_file(path):
        return False
    return None


@dataclass(frozen=True)
class CheckpointFormat:
    name: str
    suffixes: Tuple[str, ...]
    directory: bool
    check: Callable[[PathLike], Optional[bool]]
    description: str

    def complete(self, path: PathLike) -> Optional[bool]:
        return self.check(path)

    def temporary(self, name: str) -> bool:
        """A name the writer uses only while writing (renamed when complete)."""
        return self.directory and ORBAX_TMP in name

    def usable(self, path: PathLike) -> bool:
        """A file (or, for directory formats, a directory) that could be loaded: never a FIFO,
        socket or device."""
        if self.directory:
            return Path(path).is_dir()
        return regular_file(path)


FORMATS = {
    "torch": CheckpointFormat("torch", (".pth", ".pt", ".ckpt"), False, torch_complete,
                              "torch.save (zip or legacy pickle)"),
    "pickle": CheckpointFormat("pickle", (".pkl", ".pickle"), False, pickle_complete,
                               "a pickle stream (e.g. SkeletonSteering's *_best.pkl)"),
    "zip": CheckpointFormat("zip", (".zip",), False, zip_complete,
                            "a zip archive (e.g. stable-baselines3)"),
    "orbax": CheckpointFormat("orbax", (), True, orbax_complete,
                              "a flax/orbax checkpoint directory"),
    "file": CheckpointFormat("file", (), False, unknown_complete,
                             "any file: complete once its size and mtime are stable"),
}  # type: Dict[str, CheckpointFormat]
FORMAT_NAMES = tuple(FORMATS)


def get_format(name: str) -> CheckpointFormat:
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError("unknown checkpoint format %r (known: %s)"
                         % (name, ", ".join(FORMAT_NAMES)))


def format_for(path: PathLike, default: str = "file") -> CheckpointFormat:
    """The format a file name suggests (its suffix), else ``default``."""
    suffix = Path(path).suffix.lower()
    for fmt in FORMATS.values():
        if suffix in fmt.suffixes:
            return fmt
    return FORMATS[default]


def format_for_glob(glob: str) -> str:
    """The format a profile's checkpoint glob suggests (``*.pkl`` -> pickle), else ``file``."""
    suffix = os.path.splitext(glob)[1].lower()
    for fmt in FORMATS.values():
        if suffix and suffix in fmt.suffixes:
            return fmt.name
    return "file"
