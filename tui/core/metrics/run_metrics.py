"""All metric sources of one run, and how a directory becomes runs.

A Pitwall run directory declares its sources in ``run.json`` (``profile["metrics"]``, validated
by :mod:`tui.core.metric_specs`, ``{params.x}`` filled from the run's parameters). Any other
directory works like ``tensorboard --logdir``: every directory below it that holds event files,
a ``metrics.jsonl`` or CSV files is a run of its own, named by its path relative to the root.

A tag belongs to the first source of a run that reports it; the same tag from another source
of that run (a native runner writes both ``metrics.jsonl`` and ``tb/``) is dropped and counted.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from runners.protocol.artifacts import ARTIFACTS_FILE, output_dir
from runners.protocol.errors import ProtocolError
from runners.protocol.rundir import RUN_JSON
from runners.protocol.run_record import read_run_record
from tui.core.metric_specs import CsvSource, JsonlSource, TensorBoardSource, WandbSource

from .event_decode import ScalarBatch
from .sources import (CsvMetricSource, JsonlMetricSource, LogLineSource, MetricSource,
                      SourceStatus, TensorBoardDirSource, build_source)
from .line_patterns import compile_patterns
from .wandb_source import WandbSource as WandbFiles

log = logging.getLogger(__name__)

# a profile without a metrics list: our JSONL, and W&B's files if the trainer logs to W&B
DEFAULT_SPECS = [JsonlSource(kind="jsonl", path="metrics.jsonl"),
                 WandbSource(kind="wandb", path="wandb")]


@dataclass
class RunStatus:
    """What the user sees about a run's metrics: per source counts, skips and errors."""
    run: str
    root: str
    sources: list[SourceStatus]
    error: str | None = None                 # the run's metric specs could not be used
    shadowed: dict[str, int] = field(default_factory=dict)   # tag -> points dropped

    @property
    def points(self) -> int:
        return sum(s.points for s in self.sources)

    @property
    def skipped(self) -> int:
        return sum(s.skipped_total for s in self.sources)

    def problems(self) -> list[str]:
        """One line per source that skipped something or failed, for a status bar."""
        out = []
        if self.error:
            out.append(self.error)
        for s in self.sources:
            name = "%s %s" % (s.kind, s.path)
            if s.error:
                out.append("%s: %s" % (name, s.error))
            bad = {k: v for k, v in s.skipped.items() if k != "line matching no pattern"}
            if bad:
                out.append("%s: skipped %s" % (name, ", ".join(
                    "%d %s" % (v, k) for k, v in sorted(bad.items()))))
        return out


class RunMetrics(object):
    """The sources of one run; ``poll()`` reads what is new into a store.

    Driven by one thread at a time (the watcher's, or the CLI's).
    """

    def __init__(self, name: str, root: Path | str, sources: Sequence[MetricSource],
                 error: str | None = None):
        self.name = name
        self.root = Path(root)
        self.sources = list(sources)
        self.error = error
        self._owner: dict[str, int] = {}
        self._shadowed: dict[str, int] = {}
        self._signature: Any = None
        # a Pitwall run whose trainer writes elsewhere: follow artifacts.json
        self._specs: list[Any] | None = None
        self._params: dict[str, Any] = {}
        self._artifacts_sig: Any = None
        # its files are written on another host (a Slurm run, ``watch: poll``): the watcher
        # polls it at its remote interval, like a run on a network filesystem
        self.polled = False

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_specs(cls, name: str, root: Path | str, specs: Sequence[Any],
                   params: dict[str, Any] | None = None,
                   output_dir: Path | None = None) -> "RunMetrics":
        root = Path(os.path.abspath(str(root)))
        sources, errors = _build(root, specs, params or {}, output_dir)
        return cls(name, root, sources, "; ".join(errors) or None)

    @classmethod
    def for_run_dir(cls, run_dir: Path | str, name: str | None = None) -> "RunMetrics":
        """A Pitwall run: the sources its ``run.json`` declares."""
        root = Path(os.path.abspath(str(run_dir)))
        name = name or root.name
        try:
            rec = read_run_record(root)
        except (ProtocolError, OSError, ValueError) as e:
            run = cls.for_directory(root, name)
            run.error = "run.json unusable (%s); reading the files found instead" % e
            return run
        from tui.core.profiles import ProfileError
        from tui.core.run_profile import run_profile

        error = None
        specs: list[Any] = list(DEFAULT_SPECS)
        try:
            specs = list(run_profile(rec, root / "run.json").metrics)
            if not isinstance(rec.profile, dict) or rec.profile.get("metrics") is None:
                specs += DEFAULT_SPECS[1:]    # no metrics list: W&B's files if there are any
        except ProfileError as e:
            error = "run.json profile is invalid (%s); reading metrics.jsonl" % (
                e.message.splitlines()[0])
        sig = _mtime(root / ARTIFACTS_FILE)
        run = cls.from_specs(name, root, specs, rec.params, output_dir(root))
        run.error = "; ".join(x for x in (error, run.error) if x) or None
        run._specs, run._params, run._artifacts_sig = specs, dict(rec.params), sig
        run.polled = rec.polled
        return run

    def _follow_artifacts(self) -> None:
        """Rebuild the trainer-side sources when ``artifacts.json`` appears or changes."""
        if self._specs is None:
            return
        sig = _mtime(self.root / ARTIFACTS_FILE)
        if sig == self._artifacts_sig:
            return
        self._artifacts_sig = sig
        new, errors = _build(self.root, self._specs, self._params, output_dir(self.root))
        if len(new) != len(self.sources):
            self.error = "; ".join(errors) or self.error
            return
        for i, (old, src) in enumerate(zip(self.sources, new)):
            if old.kind != "stdout" and old.path != src.path:
                old.close()
                self.sources[i] = src
        if errors:
            self.error = "; ".join(errors)

    @classmethod
    def for_directory(cls, path: Path | str, name: str | None = None) -> "RunMetrics":
        """A directory without a profile: its event files, ``metrics.jsonl`` and CSV files."""
        root = Path(os.path.abspath(str(path)))
        return cls.from_specs(name or root.name, root, auto_specs(root))

    @classmethod
    def for_file(cls, path: Path | str, name: str | None = None, preset: str | None = None,
                 patterns: Sequence[Any] = ()) -> "RunMetrics":
        """One file: an event file, a ``.jsonl``, a ``.csv``, or a log read with a preset."""
        p = Path(os.path.abspath(str(path)))
        name = name or p.name
        if "tfevents" in p.name:
            src: MetricSource = TensorBoardDirSource(p.parent, recursive=False, only=p.name)
        elif p.suffix == ".jsonl":
            src = JsonlMetricSource(p)
        elif p.suffix == ".csv":
            src = CsvMetricSource(p)
        elif p.suffix == ".wandb":
            src = WandbFiles(p)
        else:
            src = LogLineSource(p, compile_patterns(preset, list(patterns)))
        return cls(name, p.parent, [src])

    # ------------------------------------------------------------------ polling
    def poll(self, store: Any = None) -> tuple[int, bool]:
        """Read what is new from every source into ``store``; returns (points, more)."""
        points = 0
        more = False
        self._follow_artifacts()
        for i, src in enumerate(self.sources):
            try:
                res = src.poll()
            except Exception as e:      # never let one source stop the watcher
                log.exception("metric source %s %s failed", src.kind, src.path)
                src.status.error = "%s: %s" % (type(e).__name__, e)
                continue
            more = more or res.more
            scalars = self._claim(i, src, res.scalars)
            if store is not None:
                if scalars:
                    points += store.extend_many(self.name, scalars)
                if res.texts:
                    store.add_texts(self.name, res.texts)
                if res.hparams:
                    store.update_hparams(self.name, res.hparams)
            else:
                points += sum(len(b.steps) for b in scalars.values())
        if store is not None:
            sig = self._status_signature()
            if sig != self._signature:
                self._signature = sig
                store.set_status(self.name, self.status())
        return points, more

    def _claim(self, i: int, src: MetricSource,
               scalars: dict[str, ScalarBatch]) -> dict[str, ScalarBatch]:
        out = {}
        for tag, b in scalars.items():
            owner = self._owner.setdefault(tag, i)
            if owner == i:
                out[tag] = b
            else:
                n = len(b.steps)
                self._shadowed[tag] = self._shadowed.get(tag, 0) + n
                src.status.skip("tag already read from another source", n,
                                detail="%s: also in %s" % (tag, self.sources[owner].path))
        return out

    def _status_signature(self) -> Any:
        return (self.error,) + tuple((s.status.points, s.status.skipped_total, s.status.error,
                                      s.status.files, s.status.resets, s.status.records)
                                     for s in self.sources)

    def status(self) -> RunStatus:
        return RunStatus(self.name, str(self.root), [s.status.copy() for s in self.sources],
                         self.error, dict(self._shadowed))

    def close(self) -> None:
        for s in self.sources:
            s.close()

    def catch_up(self, store: Any = None, max_polls: int = 100000) -> int:
        """Poll until every source has read all there is (for one-shot readers)."""
        total = 0
        for _ in range(max_polls):
            n, more = self.poll(store)
            total += n
            if not more:
                break
        return total


def _mtime(p: Path) -> Any:
    try:
        st = os.stat(p)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _build(root: Path, specs: Sequence[Any], params: dict[str, Any],
           out_dir: Path | None) -> tuple[list[MetricSource], list[str]]:
    render = _renderer(root, params, out_dir or root)
    sources: list[MetricSource] = []
    errors: list[str] = []
    for spec in specs:
        try:
            if isinstance(spec, WandbSource):     # W&B's run files (wandb_source.py)
                path = Path(os.path.expanduser(render(spec.path)))
                sources.append(WandbFiles(path if path.is_absolute() else
                                          (out_dir or root) / path))
                continue
            sources.append(build_source(spec, root, render, out_dir))
        except Exception as e:      # a template naming an unknown param, a bad path
            errors.append("%s source: %s" % (getattr(spec, "kind", "?"), e))
    return sources, errors


def _renderer(root: Path, params: dict[str, Any], out_dir: Path):
    from tui.core.profiles import render

    ctx = {"params": params, "run_dir": str(root), "output_dir": str(out_dir)}

    def fill(template: str) -> str:
        return render(template, ctx, root / RUN_JSON, "metrics.path")
    return fill


def auto_specs(d: Path, names: Sequence[str] | None = None) -> list[Any]:
    """Sources for a directory without a profile (its own files, not its subdirectories)."""
    if names is None:
        try:
            names = [e.name for e in os.scandir(d) if e.is_file()]
        except OSError:
            names = []
    specs: list[Any] = []
    if any("tfevents" in n for n in names):
        specs.append(TensorBoardSource(kind="tensorboard", path=".", recursive=False))
    if "metrics.jsonl" in names:
        specs.append(JsonlSource(kind="jsonl", path="metrics.jsonl"))
    for n in sorted(names):
        if n.endswith(".csv"):
            specs.append(CsvSource(kind="csv", path=n))
    wandb_files = sorted(n for n in names if n.endswith(".wandb"))
    if wandb_files:                  # a W&B run's directory (wandb/run-*/run-<id>.wandb)
        specs.append(WandbSource(kind="wandb", path=wandb_files[0] if len(wandb_files) == 1
                                 else "."))
    return specs


def discover_runs(path: Path | str, max_depth: int = 8) -> list[RunMetrics]:
    """The runs in ``path``, like ``tensorboard --logdir``.

    ``path`` itself may be a run directory (it has ``run.json``), a directory whose
    subdirectories hold runs (each directory with event files, ``metrics.jsonl`` or CSV files
    is one, named by its path relative to ``path``), or a single metrics file.
    """
    root = Path(os.path.abspath(str(path)))
    if root.is_file():
        return [RunMetrics.for_file(root)]
    if (root / RUN_JSON).is_file():
        return [RunMetrics.for_run_dir(root)]
    runs: list[RunMetrics] = []
    base_depth = len(root.parts)
    for d, dirs, files in os.walk(root):
        dpath = Path(d)
        rel = dpath.relative_to(root).as_posix()
        name = root.name if rel == "." else rel
        dirs[:] = sorted(x for x in dirs if not x.startswith("."))
        if len(dpath.parts) - base_depth >= max_depth:
            dirs[:] = []
        if RUN_JSON in files and dpath != root:
            runs.append(RunMetrics.for_run_dir(dpath, name))
            dirs[:] = []
            continue
        specs = auto_specs(dpath, files)
        if specs:
            runs.append(RunMetrics.from_specs(name, dpath, specs))
    return runs
