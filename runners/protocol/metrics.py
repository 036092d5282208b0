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
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Union

from .atomic import append_line
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
    if isinstance(line, bytes):
        line = line.decode("utf-8")
    d = json.loads(line)
    if not isinstance(d, dict):
        raise ValueError("record is not an object")
    step, t, role, metrics = d.get("step"), d.get("time"), d.get("role", ""), d.get("metrics")
    if not isinstance(step, int) or isinstance(step, bool):
        raise ValueError("'step' must be an integer")
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
    """Appends records to ``metrics.jsonl`` and mirrors them to TensorBoard under ``tb/``."""

    def __init__(self, run_dir: Union[str, Path], role: str, tensorboard: bool = True):
        self.paths = RunPaths(run_dir)
        self.role = role
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
        append_line(self.paths.metrics_jsonl, rec.to_line())
        if self._tb is not None:
            for k, v in rec.metrics.items():
                self._tb.add_scalar(k, v, rec.step, walltime=rec.time)
        return rec

    def close(self) -> None:
        if self._tb is not None:
            self._tb.flush()
            self._tb.close()
            self._tb = None
