"""Metrics from any trainer: sources that tail files, a bounded store the TUI draws from.

::

    MetricsWatcher (one thread) --poll--> RunMetrics --> sources --> MetricStore <-- TUI timer
                                          (one run)      jsonl, tensorboard,       (2-5 Hz:
                                                         csv, stdout lines          downsample)

See ``docs/metrics.md``. Nothing here imports Textual.
"""
from .downsample import Columns, ema, last_at, minmax_columns
from .event_decode import ScalarBatch, TextPoint
from .run_metrics import RunMetrics, RunStatus, auto_specs, discover_runs
from .series import BoundedSeries, Point
from .sources import (CsvMetricSource, JsonlMetricSource, LogLineSource, MetricSource,
                      PollResult, SourceStatus, TensorBoardDirSource, build_source)
from .store import MetricStore, Overlay, SeriesSnapshot, TagInfo
from .watcher import MetricsWatcher, WatchConfig

__all__ = [
    "BoundedSeries", "Columns", "CsvMetricSource", "JsonlMetricSource", "LogLineSource",
    "MetricSource", "MetricStore", "MetricsWatcher", "Overlay", "Point", "PollResult",
    "RunMetrics", "RunStatus", "ScalarBatch", "SeriesSnapshot", "SourceStatus", "TagInfo",
    "TensorBoardDirSource", "TextPoint", "WatchConfig", "auto_specs", "build_source",
    "discover_runs", "ema", "last_at", "minmax_columns",
]
