"""``training_log.csv``: one row per training epoch, with the columns of the ManiSkill seed's
``training.py`` so its users find the names they know::

    epoch,episode,avg_reward,success_rate,steps,actor_loss,critic_loss,video_recorded
    3,96,4.218,0.125,1200,-0.0123,0.0456,True

``epoch`` counts PPO updates (from 1), ``episode`` finished training episodes, ``avg_reward``
the mean return and ``success_rate`` the share of successful episodes among those that ended in
the epoch (empty cells when none ended), ``steps`` env steps so far, ``actor_loss`` /
``critic_loss`` the PPO policy and value losses, ``video_recorded`` whether a training video was
triggered in the epoch. The header is written once; rows are appended one whole line per
``write`` (readers hold back a partial last line). A resumed training appends to the file.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Dict, Sequence, Tuple, Union

from .atomic import append_line
from .errors import ProtocolError

TRAINING_CSV = "training_log.csv"
SEED_COLUMNS = ("epoch", "episode", "avg_reward", "success_rate", "steps", "actor_loss",
                "critic_loss", "video_recorded")


def format_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "%.6g" % value if math.isfinite(value) else ""
    text = str(value)
    if any(c in text for c in ',"\n\r'):
        raise ValueError("a training_log.csv cell may not hold %r" % text)
    return text


class TrainingCsv(object):
    """Appends rows to ``<run_dir>/training_log.csv`` (header once)."""

    def __init__(self, run_dir: Union[str, Path], columns: Sequence[str] = SEED_COLUMNS,
                 name: str = TRAINING_CSV):
        self.path = Path(run_dir) / name
        self.columns = tuple(columns)
        header = ",".join(self.columns)
        try:
            with open(str(self.path), "rb") as f:
                first = f.readline().decode("utf-8", errors="replace").rstrip("\r\n")
        except FileNotFoundError:
            first = ""
        if first and first != header:
            raise ProtocolError(self.path, None, "has the columns %r, expected %r (a file of "
                                "another trainer?); move it away to start a new log"
                                % (first, header))
        if not first:
            if self.path.exists() and os.path.getsize(str(self.path)) > 0:
                raise ProtocolError(self.path, None, "has no header line")
            append_line(self.path, header)

    def write(self, row: Dict[str, Any]) -> str:
        unknown = sorted(set(row) - set(self.columns))
        if unknown:
            raise ValueError("training_log.csv has no column %s" % ", ".join(unknown))
        line = ",".join(format_cell(row.get(c)) for c in self.columns)
        append_line(self.path, line)
        return line


def read_training_csv(path: Union[str, Path]) -> Tuple[Tuple[str, ...], list]:
    """(header, rows as lists of strings); a partial last line is held back."""
    raw = Path(path).read_bytes().decode("utf-8", errors="replace")
    lines = raw.split("\n")[:-1]
    if not lines:
        return (), []
    return tuple(lines[0].split(",")), [line.split(",") for line in lines[1:] if line]
