"""A line plot in braille dots, drawn from min/max columns the metric store already reduced.

Each character cell holds 2 x 4 dots, so a plot ``w`` cells wide shows ``2 w`` columns of the
series: for every column the dots from its minimum to its maximum are set (nothing is lost to
decimation, a spike stays a spike) and consecutive columns are joined. The raw series is drawn
faint under the smoothed one, as TensorBoard does; checkpoint saves are ticks on the x axis and
colour the curve where they happened.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from tui.core.metrics import Columns
from tui.core.plot_window import WindowStats, log_columns

from .formatting import human_int, num

Y_AXIS = 8          # cells for the y labels and the axis line
MARK_GAP = 3        # fewest cells between two checkpoint marks
_WEIGHTS = np.array([[1, 8], [2, 16], [4, 32], [64, 128]], dtype=np.int64)

MAIN = Style(color="bright_cyan")
RAW = Style(color="grey42")
MARK = Style(color="yellow", bold=True)
AXIS = Style(color="grey50")
TITLE = Style(bold=True)


@dataclass
class PlotData:
    title: str
    x_mode: str = "step"                  # step | relative (seconds)
    main: Columns | None = None           # the smoothed series
    raw: Columns | None = None            # the series as logged (drawn faint)
    markers: list[float] = field(default_factory=list)   # x of checkpoint saves
    latest: float | None = None
    smoothing: float = 0.0
    note: str = ""
    stats: WindowStats | None = None      # min / max / last of the visible window (raw)
    log_y: bool = False
    zoom: str = ""                        # "4x" when zoomed in on the x axis
    overlays: list[tuple[Columns, Style]] = field(default_factory=list)   # compare: one
    #                                       coloured series per run (main/raw unused)


def _rows_for(cols: Columns, y0: float, y1: float, nrows: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Dot rows (0 = top) of each column's max, min and last value; -1 where empty."""
    def to_row(v: np.ndarray) -> np.ndarray:
        r = np.full(len(v), -1, dtype=np.int64)
        ok = np.isfinite(v)
        r[ok] = np.clip(np.rint((y1 - v[ok]) / (y1 - y0) * (nrows - 1)), 0, nrows - 1)
        return r
    return to_row(cols.ymax), to_row(cols.ymin), to_row(cols.ylast), cols.count


def draw_dots(cols: Columns, y0: float, y1: float, nrows: int) -> np.ndarray:
    """A (nrows, columns) boolean dot grid of one series: each column from its min to its max,
    joined to the previous point (straight across columns that hold no point)."""
    top, bottom, last, count = _rows_for(cols, y0, y1, nrows)
    dots = np.zeros((nrows, len(count)), dtype=bool)
    cs = np.flatnonzero((count > 0) & (top >= 0))        # the columns that hold a point
    if not len(cs):
        return dots
    a, b = top[cs], bottom[cs]
    # joined to the previous column's last point, when it has one
    prev = np.full(len(cs), -1, dtype=np.int64)
    prev[1:] = last[cs[:-1]]
    joined = prev >= 0
    first = np.where(count[cs] > 1, (a + b) // 2, last[cs])
    gap = np.ones(len(cs), dtype=np.int64)
    gap[1:] = np.diff(cs)
    r_before = prev.copy()
    for j in np.flatnonzero(joined & (gap > 1)):   # columns without points in between:
        p, f, g, c0 = int(prev[j]), int(first[j]), int(gap[j]), int(cs[j - 1])
        rb = p                                        # a straight line across them
        for k in range(1, g):
            r = int(round(p + (f - p) * k / g))
            dots[min(r, rb):max(r, rb) + 1, c0 + k] = True
            rb = r
        r_before[j] = rb
    a = np.where(joined, np.minimum(a, r_before), a)
    b = np.where(joined, np.maximum(b, r_before), b)
    rows = np.arange(nrows)[:, None]
    dots[:, cs] |= (rows >= a[None, :]) & (rows <= b[None, :])
    return dots


def braille(dots: np.ndarray) -> np.ndarray:
    """(4h, 2w) dots -> (h, w) braille code offsets (0 = empty cell)."""
    h, w = dots.shape[0] // 4, dots.shape[1] // 2
    d = dots[:h * 4, :w * 2].reshape(h, 4, w, 2).astype(np.int64)
    return np.einsum("iajb,ab->ij", d, _WEIGHTS)


def y_range(*cols: Columns | None) -> tuple[float, float] | None:
    rs = [c.y_range() for c in cols if c is not None]
    rs = [r for r in rs if r is not None]
    if not rs:
        return None
    lo, hi = min(r[0] for r in rs), max(r[1] for r in rs)
    if hi - lo < 1e-12 * max(1.0, abs(hi)):
        pad = max(abs(hi) * 0.05, 1e-6)
        return lo - pad, hi + pad
    pad = (hi - lo) * 0.04
    return lo - pad, hi + pad


def x_label(v: float, mode: str) -> str:
    if mode == "step":
        return human_int(int(round(v)))
    if mode == "wall":
        import time as _time

        return _time.strftime("%H:%M", _time.localtime(v))
    s = int(round(v))
    if abs(s) >= 3600:
        return "%dh%02dm" % (s // 3600, (s % 3600) // 60)
    if abs(s) >= 60:
        return "%dm%02ds" % (s // 60, s % 60)
    return "%ds" % s


def _fit(codes: np.ndarray, rows: int, width: int) -> np.ndarray:
    """Codes cropped or padded to the plot area (data drawn for another size is kept)."""
    out = np.zeros((rows, width), dtype=np.int64)
    h, w = min(rows, codes.shape[0]), min(width, codes.shape[1])
    out[:h, :w] = codes[:h, :w]
    return out


def plot_title(data: PlotData | None) -> str:
    title = " " + (data.title if data else "")
    if data is None:
        return title
    if data.stats is not None:
        st = data.stats
        title += "  last %s  min %s  max %s" % (num(st.last, 9), num(st.min, 8),
                                                num(st.max, 8))
    elif data.latest is not None:
        title += "  " + num(data.latest, 10)
    if data.smoothing > 0:
        title += "  (ema %.2f)" % data.smoothing
    if data.markers:
        n = len(data.markers)
        title += "  ┴ %d save%s" % (n, "" if n == 1 else "s")
    if data.log_y:
        title += "  log y"
    return title


def render_plot(data: PlotData | None, width: int, height: int) -> list[Strip]:
    """The whole plot as strips (title, plot rows, x axis)."""
    blank = [Strip.blank(width) for _ in range(height)]
    if height < 3 or width < Y_AXIS + 4:
        return blank
    strips: list[Strip] = []
    title = plot_title(data)
    strips.append(Strip([Segment(title[:width].ljust(width), TITLE)]))
    rows = height - 2
    plot_w = width - Y_AXIS
    main = data.main if data else None
    raw = data.raw if data else None
    overlays = list(data.overlays) if data else []
    if data is not None and data.log_y:
        main = log_columns(main) if main is not None else None
        raw = log_columns(raw) if raw is not None else None
        overlays = [(log_columns(c), st) for c, st in overlays]
    if overlays and main is None:
        main = overlays[0][0]
    yr = y_range(main, raw, *(c for c, _ in overlays))
    if data is None or main is None or yr is None:
        note = (data.note if data and data.note else "no data yet")
        for j in range(rows):
            text = ("  " + note) if j == rows // 2 else ""
            strips.append(Strip([Segment(text[:width].ljust(width), Style(dim=True))]))
        strips.append(Strip([Segment(" " * width)]))
        return strips
    y0, y1 = yr
    nrows = rows * 4
    if overlays:
        layers = [(_fit(braille(draw_dots(c, y0, y1, nrows)), rows, plot_w), st)
                  for c, st in overlays if c.columns == main.columns]
        main_codes = np.zeros((rows, plot_w), dtype=np.int64)
        layer = np.full((rows, plot_w), -1, dtype=np.int64)   # the last run drawn in a cell
        for k, (codes, _) in enumerate(layers):
            main_codes |= codes
            layer[codes != 0] = k
        styles = [st or MAIN for _, st in layers] + [MAIN]       # layer -1: MAIN
        cell_style = [[styles[k] for k in row] for row in layer.tolist()]
        raw_codes = np.zeros_like(main_codes)
    else:
        main_codes = _fit(braille(draw_dots(main, y0, y1, nrows)), rows, plot_w)
        raw_codes = _fit(braille(draw_dots(raw, y0, y1, nrows)), rows, plot_w) \
            if raw is not None and raw.columns == main.columns else np.zeros_like(main_codes)
        cell_style = []
    lo, hi = main.lo, main.hi
    ncols = main.columns
    mark_cells: set[int] = set()
    mark_hit: set[tuple[int, int]] = set()
    _, _, last_rows, count = _rows_for(main, y0, y1, nrows)
    shown = [x for x in sorted(data.markers) if lo <= x <= hi]
    last_cell = -MARK_GAP
    for x in shown:
        c = min(ncols - 1, int((x - lo) / (hi - lo) * ncols)) if hi > lo else 0
        cell = c // 2
        # saves closer than MARK_GAP cells: one mark stands for them (the title counts all)
        if cell >= plot_w or (cell - last_cell < MARK_GAP and x != shown[-1]):
            continue
        last_cell = cell
        mark_cells.add(cell)
        # colour the curve at the save: the nearest column with data
        for cc in (c, c - 1, c + 1, c - 2, c + 2):
            if 0 <= cc < ncols and count[cc] > 0 and last_rows[cc] >= 0:
                mark_hit.add((int(last_rows[cc]) // 4, cell))
                break
    def ylab(v: float) -> str:
        return num(10 ** v if data.log_y else v, Y_AXIS - 2)
    labels = {0: ylab(y1), rows - 1: ylab(y0)}
    if rows >= 5:
        labels[rows // 2] = ylab((y0 + y1) / 2)
    for j in range(rows):
        lab = labels.get(j, "")
        segs = [Segment(lab.rjust(Y_AXIS - 2) + " ┤" if lab else " " * (Y_AXIS - 1) + "│",
                        AXIS)]
        run_text, run_style = [], None
        m_row, r_row = main_codes[j].tolist(), raw_codes[j].tolist()
        for i in range(plot_w):
            m, r = m_row[i], r_row[i]
            code = m | r
            ch = chr(0x2800 + code) if code else " "
            if (j, i) in mark_hit:
                style = MARK
            elif cell_style:
                style = cell_style[j][i]
            else:
                style = MAIN if m else RAW
            if style is not run_style and run_text:
                segs.append(Segment("".join(run_text), run_style))
                run_text = []
            run_style = style
            run_text.append(ch)
        if run_text:
            segs.append(Segment("".join(run_text), run_style))
        strips.append(Strip(segs).crop_extend(0, width, Style()))
    # x axis: ticks at checkpoint saves, the range at both ends
    axis = ["─"] * plot_w
    for cell in mark_cells:
        axis[cell] = "┴"
    left, right = x_label(lo, data.x_mode), x_label(hi, data.x_mode)
    if data.x_mode != "step":
        right += " (t)"
    segs = [Segment(left.rjust(Y_AXIS - 2)[:Y_AXIS - 2] + " └", AXIS)]
    body = "".join(axis)
    room = plot_w - len(right) - 1
    if room > 4:
        body = body[:room] + " " + right
    # colour the ticks
    cur, cur_style = [], None
    for i, ch in enumerate(body):
        st = MARK if ch == "┴" and i < room else AXIS
        if st is not cur_style and cur:
            segs.append(Segment("".join(cur), cur_style))
            cur = []
        cur_style = st
        cur.append(ch)
    if cur:
        segs.append(Segment("".join(cur), cur_style))
    strips.append(Strip(segs).crop_extend(0, width, Style()))
    return strips


class LinePlot(Widget):
    """Shows a :class:`PlotData`; the screen computes it from the metric store."""

    DEFAULT_CSS = """
    LinePlot { height: 1fr; min-height: 6; }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.data: PlotData | None = None
        self._strips: list[Strip] = []
        self._drawn = (0, 0)

    @property
    def dot_columns(self) -> int:
        """How many series columns the plot area shows (2 per cell)."""
        return max(2, (self.size.width - Y_AXIS) * 2)

    def set_data(self, data: PlotData | None) -> None:
        self.data = data
        self._strips = []
        self.refresh()

    def render_line(self, y: int) -> Strip:
        size = (self.size.width, self.size.height)
        if not self._strips or size != self._drawn:
            self._drawn = size
            self._strips = render_plot(self.data, *size)
        if 0 <= y < len(self._strips):
            return self._strips[y]
        return Strip.blank(self.size.width)
