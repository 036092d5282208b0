"""Metric sources that read text line by line: our JSONL, CSV with a header, log lines matched by
patterns. Each tails its file by byte offset (:mod:`.tail`); bad lines are skipped and counted."""
from __future__ import annotations

import csv
import math
import time
from pathlib import Path

from runners.protocol.metrics import parse_metric_line

from .line_patterns import CompiledPattern, parse_step
from .source_base import MetricSource, PollResult, _PointBuffer, _ReplayGuard
from .tail import LineTail, TailRead

DEFAULT_STEP_COLUMNS = ("step", "global_step", "epoch", "iteration")
_ANSI = None


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
