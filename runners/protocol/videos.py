"""``videos/``: recorded episodes as mp4 files, listed in ``videos/index.jsonl``.

A recorder writes the mp4 under a temporary name in ``videos/``, moves it to its final name
without ever replacing another file (:func:`claim_video_path`), and only then appends one line to
the index. The index is the truth: a file without a line is an unfinished or failed recording.
One line::

    {"file": "record_ckpt_000002048_2026-11-21_10-12-03.mp4", "checkpoint": "/abs/.../nn/x.pth",
     "step": 2048, "returns": [953.1, 1000.0], "lengths": [953, 1000], "capped": [false, true],
     "frames": 1953, "fps": 25.0, "width": 256, "height": 256, "size": 812345,
     "created": 1763719923.1, "source": "record", "env_id": "InvertedPendulum-v5",
     "train_episode": null, "settle_steps": 0}

``source`` is ``record`` (asked for in the TUI or with ``pitwall record``) or ``training``
(recorded automatically every ``video_record_interval`` training episodes; ``train_episode`` is
the training episode count that triggered it). ``capped[i]`` is true when episode ``i`` was cut
at ``max_video_steps`` (its return is then the return of the recorded part).
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from .atomic import append_line, read_regular_file
from .errors import ProtocolError
from .fields import field as get
from .json_parse import MAX_LOG_BYTES, parse_json
from .rundir import RunPaths

VIDEO_SOURCES = ("record", "training")
_SAFE_RE = re.compile(r"[^A-Za-z0-9_.+-]+")

PathLike = Union[str, Path]


@dataclass
class VideoEntry:
    """One line of ``videos/index.jsonl``."""
    file: str                          # name inside videos/
    checkpoint: str                    # the checkpoint file the policy came from
    step: Optional[int]                # its training step
    returns: List[float]               # one per recorded episode
    frames: int
    fps: float
    width: int
    height: int
    size: int                          # bytes of the mp4
    created: float                     # unix seconds
    source: str = "record"             # record | training
    lengths: List[int] = field(default_factory=list)
    capped: List[bool] = field(default_factory=list)
    env_id: str = ""
    train_episode: Optional[int] = None
    settle_steps: int = 0

    @property
    def episodes(self) -> int:
        return len(self.returns)

    def to_line(self) -> str:
        return json.dumps(asdict(self), sort_keys=False, allow_nan=False,
                          separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: Dict[str, Any], path: PathLike) -> "VideoEntry":
        o_int = (int, type(None))
        returns = get(d, "returns", list, path)
        if not all(isinstance(r, (int, float)) and not isinstance(r, bool) for r in returns):
            raise ProtocolError(path, "returns", "expected a list of numbers, found %r"
                                % (returns,))
        name = get(d, "file", str, path)
        if "/" in name or name.startswith("."):
            raise ProtocolError(path, "file", "must be a plain file name in videos/, found %r"
                                % name)
        return cls(
            file=name, checkpoint=get(d, "checkpoint", str, path),
            step=get(d, "step", o_int, path, default=None),
            returns=[float(r) for r in returns],
            frames=get(d, "frames", int, path), fps=get(d, "fps", float, path),
            width=get(d, "width", int, path), height=get(d, "height", int, path),
            size=get(d, "size", int, path), created=get(d, "created", float, path),
            source=get(d, "source", str, path, default="record", choices=VIDEO_SOURCES),
            lengths=[int(x) for x in get(d, "lengths", list, path, default=[])],
            capped=[bool(x) for x in get(d, "capped", list, path, default=[])],
            env_id=get(d, "env_id", str, path, default=""),
            train_episode=get(d, "train_episode", o_int, path, default=None),
            settle_steps=get(d, "settle_steps", int, path, default=0),
        )


def video_base_name(source: str, checkpoint: PathLike, when: Optional[float] = None,
                    train_episode: Optional[int] = None) -> str:
    """``record_<ckpt stem>_<date>`` or ``training_ep<N>_<ckpt stem>`` (no extension)."""
    stem = _SAFE_RE.sub("-", Path(str(checkpoint)).stem) or "policy"
    if source == "training" and train_episode is not None:
        return "training_ep%07d_%s" % (train_episode, stem)
    stamp = _dt.datetime.fromtimestamp(when if when is not None else
                                       _dt.datetime.now().timestamp())
    return "%s_%s_%s" % (source, stem, stamp.strftime("%Y-%m-%d_%H-%M-%S"))


def temp_video_path(run_dir: PathLike, base: str, suffix: str = ".mp4") -> Path:
    """A fresh hidden temp name in ``videos/`` to record into (ends in ``suffix``)."""
    d = RunPaths(run_dir).videos_dir
    d.mkdir(parents=True, exist_ok=True)
    return d / (".%s.%d.%s.tmp%s" % (base, os.getpid(), os.urandom(4).hex(), suffix))


def claim_video_path(run_dir: PathLike, tmp: PathLike, base: str,
                     suffix: str = ".mp4") -> Path:
    """Move a finished recording to ``videos/<base>[-N]<suffix>``, never replacing a file."""
    d = RunPaths(run_dir).videos_dir
    tmp = Path(tmp)
    for n in range(1, 10000):
        final = d / ("%s%s%s" % (base, "" if n == 1 else "-%d" % n, suffix))
        try:
            os.link(str(tmp), str(final))
        except FileExistsError:
            continue
        except OSError:  # no hard links here: fall back to an exclusive create + rename
            try:
                fd = os.open(str(final), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                continue
            os.close(fd)
            os.replace(str(tmp), str(final))
            return final
        os.unlink(str(tmp))
        return final
    raise RuntimeError("no free video name for %s in %s" % (base, d))


def append_video_entry(run_dir: PathLike, entry: VideoEntry) -> None:
    paths = RunPaths(run_dir)
    paths.videos_dir.mkdir(parents=True, exist_ok=True)
    append_line(paths.video_index, entry.to_line(), durable=True)


def read_video_index(run_dir: PathLike) -> Tuple[List[VideoEntry], int]:
    """``(entries in order, number of bad lines)``; a partial last line is held back."""
    path = RunPaths(run_dir).video_index
    raw = read_regular_file(path, MAX_LOG_BYTES, missing_ok=True)
    if raw is None:
        return [], 0
    lines = raw.split(b"\n")
    entries = []  # type: List[VideoEntry]
    bad = 0
    for line in lines[:-1]:  # the last piece has no newline yet (or is empty)
        if not line.strip():
            continue
        try:
            obj = parse_json(line)
            if not isinstance(obj, dict):
                raise ValueError("not an object")
            entries.append(VideoEntry.from_dict(obj, path))
        except (ValueError, UnicodeDecodeError, ProtocolError):
            bad += 1
    return entries, bad
