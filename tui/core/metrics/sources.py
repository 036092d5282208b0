"""Metric sources: one class per kind of file, each with a ``poll()`` that returns new points.

Every source tails its file(s) by byte offset (:mod:`.tail`), so each poll costs a ``stat`` when
nothing changed and reads only the new bytes otherwise. Bad input (a corrupt record, a line
that is not JSON, a cell that is not a number) is skipped and counted in :class:`SourceStatus`,
which the store publishes for the user; nothing here raises on file content.

A source belongs to one thread (the watcher's); build it with :func:`build_source`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tui.core.metric_specs import CsvSource, JsonlSource, StdoutSource, TensorBoardSource

from .line_patterns import compile_patterns
from .line_sources import CsvMetricSource, JsonlMetricSource, LogLineSource
from .source_base import MetricSource, PollResult, SourceStatus
from .tensorboard_source import TensorBoardDirSource

__all__ = ["CsvMetricSource", "JsonlMetricSource", "LogLineSource", "MetricSource",
           "PollResult", "SourceStatus", "TensorBoardDirSource", "build_source"]


def build_source(spec: Any, run_dir: Path, render=None,
                 output_dir: Path | None = None) -> MetricSource:
    """A source for one spec of ``tui.core.metric_specs``; ``render`` fills path templates.

    Relative paths of logs (``stdout``) are taken in the run directory, where Pitwall writes
    them; the others in ``output_dir``, where the trainer writes (``artifacts.json``: a foreign
    trainer that picks its own directory), which defaults to the run directory.
    """
    def resolve(p: str, base: Path) -> Path:
        if render is not None:
            p = render(p)
        q = Path(os.path.expanduser(p))
        return q if q.is_absolute() else base / q

    out = output_dir if output_dir is not None else run_dir
    if isinstance(spec, JsonlSource):
        return JsonlMetricSource(resolve(spec.path, out))
    if isinstance(spec, TensorBoardSource):
        return TensorBoardDirSource(resolve(spec.path, out), recursive=spec.recursive)
    if isinstance(spec, CsvSource):
        return CsvMetricSource(resolve(spec.path, out), spec.step_column, spec.time_column,
                               spec.prefix, spec.delimiter)
    if isinstance(spec, StdoutSource):
        path = spec.path if spec.path is not None else "logs/%s.log" % spec.role
        return LogLineSource(resolve(path, run_dir),
                             compile_patterns(spec.preset, spec.patterns))
    raise TypeError("not a metric source spec: %r" % (spec,))
