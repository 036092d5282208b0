"""``metrics.jsonl``: the native metric stream, one object a line::

    {"step": 12000, "time": 1763745600.25, "role": "train",
     "metrics": {"rollout/ep_return": 512.0, "loss/policy": -0.013}}

``step`` is the trainer's env-step counter; ``time`` is Unix time in seconds; tags are
``<group>/<name>``; values are finite floats (non-finite values are dropped by the writer).
Native runners also write the same scalars as TensorBoard events under ``tb/``.
"""
from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Union

from .atomic import append_line
from .fields import is_int64
from .json_parse import MAX_LINE_BYTES, parse_json
from .rundir import RunPaths


@dataclass
class MetricRecord:
    step: int
    time: float
    role: str
    metrics: Dict[str, float]

    def to_line(self) -> str:
        return json.dumps({"step": self.step, "time": round(self.time, 6), "role": self.role,
                           "metrics": self.metrics}, separators=(",", ":"), allow_nan=False)


def parse_metric_line(line: Union[str, bytes]) -> MetricRecord:
    """Parse one line; raises ``ValueError`` on anything that is not a valid record."""
    if len(line) > MAX_LINE_BYTES:
        raise ValueError("line of %d bytes, longer than a metrics record may be" % len(line))
    d = parse_json(line)
    if not isinstance(d, dict):
        raise ValueError("record is not an object")
    step, t, role, metrics = d.get("step"), d.get("time"), d.get("role", ""), d.get("metrics")
    if not is_int64(step):
        raise ValueError("'step' must be an integer of at most 64 bits")
    if not isinstance(t, (int, float)) or isinstance(t, bool):
        raise ValueError("'time' must be a number")
    if not isinstance(role, str):
        raise ValueError("'role' must be a string")
    if not isinstance(metrics, dict):
        raise ValueError("'metrics' must be an object")
    clean: Dict[str, float] = {}
    for k, v in metrics.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            clean[str(k)] = float(v)
    return MetricRecord(step, float(t), role, clean)


def finite_metrics(metrics: Dict[str, Any]) -> Dict[str, float]:
    out = {}
    for k, v in metrics.items():
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            out[str(k)] = f
    return out


class MetricWriter(object):
    """Appends records to ``metrics.jsonl`` and mirrors them to TensorBoard under ``tb/``.

    A record that cannot be written (a full disk) is dropped and counted (``dropped``), never
    raised: a trainer keeps training, and the stream goes on once there is space again. The
    first failure of a streak is said on stderr; a failing TensorBoard mirror is turned off.
    """

    def __init__(self, run_dir: Union[str, Path], role: str, tensorboard: bool = True):
        self.paths = RunPaths(run_dir)
        self.role = role
        self.dropped = 0
        self.last_error = None  # type: Optional[str]
        self._failing = False
        self._tb: Any = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter  # noqa: WPS433

                self._tb = SummaryWriter(log_dir=str(self.paths.tb_dir), flush_secs=5)
            except Exception:  # tensorboard not installed: the JSONL stream is enough
                self._tb = None

    def log(self, step: int, metrics: Dict[str, Any], t: Optional[float] = None) -> MetricRecord:
        rec = MetricRecord(int(step), time.time() if t is None else t, self.role,
                           finite_metrics(metrics))
        try:
            append_line(self.paths.metrics_jsonl, rec.to_line())
        except OSError as e:
            self.dropped += 1
            self._warn("metrics record of step %d dropped: %s" % (rec.step, e), streak=True)
        else:
            if self._failing:
                self._warn("metrics are written again (%d record(s) dropped)" % self.dropped)
            self._failing = False
        if self._tb is not None:
            try:
                for k, v in rec.metrics.items():
                    self._tb.add_scalar(k, v, rec.step, walltime=rec.time)
            except Exception as e:  # the writer thread died (a full disk): mirror off
                self._warn("TensorBoard mirror turned off: %s" % e)
                self._tb = None
        return rec

    def _warn(self, message: str, streak: bool = False) -> None:
        self.last_error = message
        if streak and self._failing:
            return
        self._failing = self._failing or streak
        try:
            sys.stderr.write("[pitwall metrics] %s\n" % message)
            sys.stderr.flush()
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        if self._tb is not None:
            tb, self._tb = self._tb, None
            try:
                tb.flush()
                tb.close()
            except Exception as e:
                self._warn("TensorBoard events not flushed: %s" % e)
