"""Metric sources: one class per kind of file, each with a ``poll()`` that returns new points.

Every source tails its file(s) by byte offset (:mod:`.tail`), so each poll costs a ``stat`` when
nothing changed and reads only the new bytes otherwise. Bad input (a corrupt record, a line
that is not JSON, a cell that is not a number) is skipped and counted in :class:`SourceStatus`,
which the store publishes for the user; nothing here raises on file content.

A source belongs to one thread (the watcher's); build it with :func:`build_source`.
"""
from __future__ import annotations

import csv
import math
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from runners.protocol.fields import INT64_MAX, INT64_MIN
from runners.protocol.metrics import parse_metric_line
from tui.core.metric_specs import CsvSource, JsonlSource, StdoutSource, TensorBoardSource

from .event_decode import DecoderState, ScalarBatch, TextPoint, decode_events
from .line_patterns import CompiledPattern, compile_patterns, parse_step
from .tail import FileTail, LineTail, TailRead
from .tfrecord import MAX_RECORD, OVERHEAD, scan_records

DEFAULT_STEP_COLUMNS = ("step", "global_step", "epoch", "iteration")
_ANSI = None


@dataclass
class SourceStatus:
    """What a source has read so far and what it had to skip (shown to the user)."""
    kind: str
    path: str
    files: int = 0
    bytes_read: int = 0
    records: int = 0              # lines / events read
    points: int = 0               # scalar points produced
    skipped: Counter = field(default_factory=Counter)   # reason -> count
    last_skip: str | None = None  # the most recent skip, for the status line
    error: str | None = None      # an I/O problem (permission denied ...), None when fine
    resets: int = 0               # truncations / replacements seen

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def skip(self, reason: str, n: int = 1, detail: str | None = None) -> None:
        if n > 0:
            self.skipped[reason] += n
            self.last_skip = detail or reason

    def copy(self) -> "SourceStatus":
        c = SourceStatus(self.kind, self.path, self.files, self.bytes_read, self.records,
                         self.points, Counter(self.skipped), self.last_skip, self.error,
                         self.resets)
        return c


@dataclass
class PollResult:
    scalars: dict[str, ScalarBatch] = field(default_factory=dict)
    texts: list[TextPoint] = field(default_factory=list)
    hparams: dict[str, Any] = field(default_factory=dict)
    more: bool = False            # a backlog remains: poll again without waiting

    @property
    def points(self) -> int:
        return sum(len(b.steps) for b in self.scalars.values())


class _PointBuffer(object):
    """Collects scalar points per tag during one poll (lines give a few points at a time).

    Steps are stored as int64: a point whose step does not fit (a corrupted or hostile line,
    ``step=2**63``) is skipped and counted in ``out_of_range``, so it never costs the other
    points of the poll."""

    def __init__(self) -> None:
        self.data: dict[str, tuple[list[int], list[float], list[float]]] = {}
        self.out_of_range = 0
        self.last_bad_step: int | None = None

    def add(self, tag: str, step: int, wall: float, value: float) -> None:
        if not INT64_MIN <= step <= INT64_MAX:
            self.out_of_range += 1
            self.last_bad_step = step
            return
        d = self.data.get(tag)
        if d is None:
            d = self.data[tag] = ([], [], [])
        d[0].append(step)
        d[1].append(wall)
        d[2].append(value)

    def batches(self) -> dict[str, ScalarBatch]:
        return {tag: ScalarBatch(np.array(s, dtype=np.int64), np.array(w, dtype=np.float64),
                                 np.array(v, dtype=np.float64))
                for tag, (s, w, v) in self.data.items()}


class _ReplayGuard(object):
    """After a file was rewritten from the start, drop points already delivered.

    Per tag, points up to the last step delivered before the rewrite are dropped until one
    goes beyond it; from then on the tag flows again.
    """

    def __init__(self) -> None:
        self.last: dict[str, int] = {}
        self.guard: dict[str, int] = {}

    def arm(self) -> None:
        self.guard = dict(self.last)

    def filter(self, scalars: dict[str, ScalarBatch]) -> tuple[dict[str, ScalarBatch], int]:
        dropped = 0
        out = {}
        for tag, b in scalars.items():
            g = self.guard.get(tag)
            if g is not None and len(b.steps):
                beyond = np.flatnonzero(b.steps > g)
                cut = int(beyond[0]) if len(beyond) else len(b.steps)
                if cut < len(b.steps):
                    del self.guard[tag]
                dropped += cut
                b = ScalarBatch(b.steps[cut:], b.walls[cut:], b.values[cut:])
            if len(b.steps):
                self.last[tag] = int(b.steps[-1])
                out[tag] = b
        return out, dropped


class MetricSource(object):
    """Base class: ``poll()`` reads what is new and returns it; ``status`` counts."""
    kind = "?"

    def __init__(self, path: Path):
        self.path = Path(path)
        self.status = SourceStatus(self.kind, str(self.path))

    def poll(self) -> PollResult:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def watched_paths(self) -> list[Path]:
        return [self.path]


class _LineSource(MetricSource):
    """A text file read line by line; subclasses parse lines."""

    def __init__(self, path: Path, chunk: int = 4 << 20):
        super().__init__(path)
        self.lines = LineTail(path, chunk=chunk)
        self.replay = _ReplayGuard()
        self.row = 0                  # line number in the current content (0-based)
        self._overlong_seen = 0

    def poll(self) -> PollResult:
        got = self.lines.read_lines()
        st = self.status
        st.error = self.lines.tail.error
        if got is None:
            return PollResult()
        lines, r = got
        st.files = 1
        if r.reset is not None:
            st.resets += 1
            self.on_reset(r)
        buf = _PointBuffer()
        now = time.time()
        # lines that were already in the file when we first opened it have no reading time
        backlog = r.offset < r.initial_size and r.reset is None
        wall = math.nan if backlog else now
        for raw in lines:
            self.row += 1
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            self.parse_line(raw, buf, wall)
        st.records += len(lines)
        st.bytes_read += self.lines.tail.offset - r.offset
        if self.lines.overlong != self._overlong_seen:
            st.skip("line over 1 MiB without a newline", self.lines.overlong - self._overlong_seen)
            self._overlong_seen = self.lines.overlong
        if buf.out_of_range:
            st.skip("step outside the 64-bit range", buf.out_of_range,
                    detail="step %.40s… does not fit in 64 bits" % buf.last_bad_step)
        scalars, dropped = self.replay.filter(buf.batches())
        if dropped:
            st.skip("already read before the file was rewritten", dropped)
        st.points += sum(len(b.steps) for b in scalars.values())
        # more to read only when this read was cut at the chunk size (a partial last line
        # that waits for its newline is not "more": polling again at once would spin)
        more = len(r.data) >= self.lines.tail.chunk
        return PollResult(scalars=scalars, more=more)

    def on_reset(self, r: TailRead) -> None:
        assert r.reset is not None
        if r.reset.rewritten:
            self.replay.arm()
            self.row = 0

    def parse_line(self, raw: bytes, buf: _PointBuffer, wall: float) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.lines.close()


class JsonlMetricSource(_LineSource):
    """Pitwall's ``metrics.jsonl`` (:func:`runners.protocol.metrics.parse_metric_line`)."""
    kind = "jsonl"

    def parse_line(self, raw: bytes, buf: _PointBuffer, wall: float) -> None:
        if not raw.strip():
            return
        try:
            rec = parse_metric_line(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as e:
            self.status.skip("not a metrics record", detail="line %d: %s" % (self.row, e))
            return
        for tag, value in rec.metrics.items():
            buf.add(tag, rec.step, rec.time, value)


class CsvMetricSource(_LineSource):
    """A CSV file whose first line is a header; every numeric column is a tag."""
    kind = "csv"

    def __init__(self, path: Path, step_column: str | None = None,
                 time_column: str | None = None, prefix: str = "", delimiter: str = ","):
        super().__init__(path)
        self.step_column = step_column
        self.time_column = time_column
        self.prefix = prefix
        self.delimiter = delimiter
        self.header: list[str] | None = None
        self._step_i: int | None = None
        self._time_i: int | None = None
        self._rows = 0                # data rows in the current content (the default step)
        self._row_base = 0            # rows of earlier (rotated) files

    def on_reset(self, r: TailRead) -> None:
        super().on_reset(r)
        self.header = None
        if r.reset is not None and r.reset.rewritten:
            self._rows = 0
            self._row_base = 0
        else:
            self._row_base += self._rows
            self._rows = 0

    def _set_header(self, cells: list[str]) -> None:
        self.header = [c.strip() for c in cells]
        self._step_i = self._time_i = None
        names = self.header
        if self.step_column is not None:
            if self.step_column in names:
                self._step_i = names.index(self.step_column)
            else:
                self.status.error = "step column %r is not in the header (%s)" % (
                    self.step_column, ", ".join(names))
        else:
            for cand in DEFAULT_STEP_COLUMNS:
                if cand in names:
                    self._step_i = names.index(cand)
                    break
        if self.time_column is not None:
            if self.time_column in names:
                self._time_i = names.index(self.time_column)
            else:
                self.status.error = "time column %r is not in the header (%s)" % (
                    self.time_column, ", ".join(names))

    def parse_line(self, raw: bytes, buf: _PointBuffer, wall: float) -> None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            self.status.skip("row is not UTF-8", detail="line %d is not UTF-8" % self.row)
            return
        if not text.strip():
            return
        try:
            cells = next(csv.reader([text], delimiter=self.delimiter))
        except (csv.Error, StopIteration) as e:
            self.status.skip("not a CSV row", detail="line %d: %s" % (self.row, e))
            return
        if self.header is None:
            if "\x00" in text:
                self.status.skip("not a CSV row", detail="line %d: NUL in header" % self.row)
                return
            self._set_header(cells)
            return
        header = self.header
        if len(cells) != len(header):
            self.status.skip("row with the wrong number of cells",
                             detail="line %d: %d cells, header has %d"
                                    % (self.row, len(cells), len(header)))
            return
        self._rows += 1
        if self._step_i is not None:
            try:
                step = parse_step(cells[self._step_i])
            except ValueError:
                self.status.skip("row whose step is not a number",
                                 detail="line %d: step %r" % (self.row, cells[self._step_i]))
                return
        else:
            step = self._row_base + self._rows - 1
        t = wall
        if self._time_i is not None:
            try:
                t = float(cells[self._time_i])
            except ValueError:
                t = math.nan
        bad = 0
        for i, cell in enumerate(cells):
            if i == self._step_i or i == self._time_i:
                continue
            c = cell.strip()
            if not c:
                continue
            low = c.lower()
            if low in ("true", "false"):
                value = 1.0 if low == "true" else 0.0
            else:
                try:
                    value = float(c)
                except ValueError:
                    bad += 1
                    last_bad = (header[i], c)
                    continue
            buf.add(self.prefix + header[i], step, t, value)
        if bad:
            self.status.skip("cell that is not a number", bad,
                             detail="line %d: %s=%r" % (self.row, last_bad[0], last_bad[1][:40]))


class LogLineSource(_LineSource):
    """A process log matched line by line against regexes (a preset and/or the profile's).

    Lines that match no pattern are counted in ``status.skipped["line matching no pattern"]``
    (most lines of a log are not metrics; the count is there to debug a pattern).
    """
    kind = "stdout"

    def __init__(self, path: Path, patterns: list[CompiledPattern]):
        super().__init__(path)
        self.patterns = patterns
        self._last_step: int | None = None
        if not patterns:
            self.status.error = "no patterns: give a preset or patterns"

    def parse_line(self, raw: bytes, buf: _PointBuffer, wall: float) -> None:
        text = raw.decode("utf-8", "replace")
        # a progress bar rewrites its line with \r: the last segment is what was shown
        if "\r" in text:
            text = text.rsplit("\r", 1)[-1] or text
        if "\x1b" in text:
            text = _strip_ansi(text)
        for p in self.patterns:
            m = p.match(text)
            if m is None:
                continue
            if m.bad_values:
                self.status.skip("matched text that is not a number", m.bad_values,
                                 detail="line %d: %s" % (self.row, text[:80]))
            step = m.step
            if step is None:
                step = self.row - 1 if p.spec.step_group is None else None
            if step is None:
                return
            t = m.time if m.time is not None else wall
            for tag, value in m.metrics:
                buf.add(tag, step, t, value)
            return
        self.status.skip("line matching no pattern")


def _strip_ansi(text: str) -> str:
    global _ANSI
    if _ANSI is None:
        import re

        _ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
    return _ANSI.sub("", text)


class _EventFile(object):
    def __init__(self, path: Path, prefix: str, state: DecoderState, chunk: int):
        self.path = path
        self.prefix = prefix
        self.state = state
        self.tail = FileTail(path, chunk=chunk)
        self.stall_size = -1          # file size when the scan stalled on garbage
        self.stall_counted = False
        self.need = 0


class TensorBoardDirSource(MetricSource):
    """Every TensorBoard event file below a directory (``tb/``, ``summaries/`` ...).

    New event files (a writer restarted, a second writer) are picked up on the next poll; each
    file is tailed by offset and read in record-aligned chunks. Files in a subdirectory give
    tags prefixed with it (``<sub>/<tag>``) when ``recursive``.
    """
    kind = "tensorboard"

    def __init__(self, path: Path, recursive: bool = True, chunk: int = 16 << 20,
                 verify: bool = True, only: str | None = None):
        super().__init__(path)
        self.recursive = recursive
        self.only = only              # read just this file name (one event file given alone)
        self.chunk = chunk
        self.verify = verify
        self.files: dict[Path, _EventFile] = {}
        self.states: dict[str, DecoderState] = {}
        self.hparams: dict[str, Any] = {}

    def _discover(self) -> None:
        root = self.path
        stack = [root]
        while stack:
            d = stack.pop()
            try:
                entries = list(os.scandir(d))
            except OSError:
                continue
            for e in entries:
                try:
                    if e.is_dir(follow_symlinks=False):
                        if self.recursive:
                            stack.append(Path(e.path))
                    elif "tfevents" in e.name and (self.only is None or e.name == self.only) \
                            and e.is_file():
                        p = Path(e.path)
                        if p not in self.files:
                            rel = p.parent.relative_to(root).as_posix()
                            prefix = "" if rel == "." else rel + "/"
                            state = self.states.setdefault(prefix, DecoderState())
                            self.files[p] = _EventFile(p, prefix, state, self.chunk)
                except OSError:
                    continue
        self.status.files = len(self.files)

    def poll(self) -> PollResult:
        self._discover()
        out = PollResult()
        merged: dict[str, list[ScalarBatch]] = {}
        for path in sorted(self.files):
            ef = self.files[path]
            more = self._poll_file(ef, merged, out)
            out.more = out.more or more
        for tag, parts in merged.items():
            if len(parts) == 1:
                out.scalars[tag] = parts[0]
            else:
                out.scalars[tag] = ScalarBatch(*(np.concatenate(x) for x in zip(*parts)))
        self.status.points += out.points
        return out

    def _poll_file(self, ef: _EventFile, merged: dict[str, list[ScalarBatch]],
                   out: PollResult) -> bool:
        st = self.status
        # a record too large to read is stepped over once the file holds all of it
        want = max(self.chunk, ef.need) if ef.need <= MAX_RECORD + OVERHEAD else self.chunk
        r = ef.tail.read(want)
        if ef.tail.error:
            st.error = ef.tail.error
        if r is None:
            return False
        if r.reset is not None:
            st.resets += 1        # event files are append-only; a rewrite is read again
        data = r.data
        scan = scan_records(data, 0, verify=self.verify)
        ef.need = scan.need
        consumed = scan.end
        if scan.bad_data:
            st.skip("event record with a bad checksum", scan.bad_data,
                    detail="%s: %d record(s) with a bad data checksum" % (ef.path.name,
                                                                            scan.bad_data))
        if scan.resyncs:
            st.skip("corrupt bytes skipped", scan.garbage_bytes,
                    detail="%s: %d corrupt byte(s) before offset %d"
                           % (ef.path.name, scan.garbage_bytes, r.offset + consumed))
        if scan.oversized:
            st.skip("record too large to read", len(scan.oversized))
        if scan.need > MAX_RECORD + OVERHEAD and r.size >= r.offset + consumed + scan.need:
            # a huge record (an image, a graph) with a sound header: step over it unread
            st.skip("record too large to read", 1,
                    detail="%s: a %d-byte record at offset %d"
                           % (ef.path.name, scan.need - OVERHEAD, r.offset + consumed))
            ef.tail.consume(consumed + scan.need)
            st.bytes_read += consumed + scan.need
            ef.need = 0
            data = data[:consumed]
            skip_to = True
        else:
            skip_to = False
        if scan.stalled_on_garbage:
            # garbage at the end: maybe a write in progress (NFS shows pages out of order).
            # If it is still there at the next poll with the file not grown, report it once.
            if r.size == ef.stall_size and not ef.stall_counted:
                st.skip("corrupt bytes at the end of a file", r.size - (r.offset + consumed),
                        detail="%s: corrupt bytes from offset %d to the end"
                               % (ef.path.name, r.offset + consumed))
                ef.stall_counted = True
            ef.stall_size = r.size
        else:
            ef.stall_counted = False
            ef.stall_size = -1
        if len(scan.positions):
            dec = decode_events(data, scan.positions, scan.lengths, ef.state)
            st.records += dec.events
            if dec.undecodable:
                st.skip("record that is not a valid event", dec.undecodable,
                        detail="%s: %d record(s) are not valid events" % (ef.path.name,
                                                                            dec.undecodable))
            for tag, b in dec.scalars.items():
                merged.setdefault(ef.prefix + tag, []).append(b)
            for t in dec.texts:
                t.tag = ef.prefix + t.tag
                out.texts.append(t)
            if dec.hparams:
                self.hparams.update(dec.hparams)
                out.hparams.update(dec.hparams)
        if skip_to:
            return True
        ef.tail.consume(consumed)
        st.bytes_read += consumed
        # more only when the read was cut at ``want`` (not for a record still being written)
        capped = len(r.data) >= want
        return capped and (consumed > 0 or ef.need > want)

    def close(self) -> None:
        for ef in self.files.values():
            ef.tail.close()

    def watched_paths(self) -> list[Path]:
        return [self.path] + sorted(self.files)


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
