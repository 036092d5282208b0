"""A frame in the terminal: half-block cells (two pixels per cell) and a caption line.

Render-only: the owner hands it a frame (``PreviewFrame`` from ``tui.core.preview.latest_frame``)
or a message; it never reads files. The frame is fitted to the widget's size, undistorted.

Only the lines that changed are redrawn: a pendulum swinging in front of a still background
rewrites the few rows it crosses, not the whole picture (terminal bytes stay low).
"""
from __future__ import annotations

import numpy as np
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from tui.core.preview import HALF_BLOCK, half_block_pixels

from .frame_view_state import FrameViewState

_STYLES: dict[tuple[int, ...], Style] = {}


def _cell_style(t: list[int], b: list[int]) -> Style:
    key = (*t, *b)
    st = _STYLES.get(key)
    if st is None:
        if len(_STYLES) > 50_000:
            _STYLES.clear()
        st = _STYLES[key] = Style(color=Color.from_rgb(*t), bgcolor=Color.from_rgb(*b))
    return st


class PreviewView(FrameViewState, Widget):
    """Shows the newest frame of a headless viewer (or of a video being played)."""

    DEFAULT_CSS = """
    PreviewView { height: 1fr; min-height: 4; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._init_frame_state()
        self._cache: tuple[object, list[Strip]] | None = None
        self.lines_redrawn = 0         # lines refreshed because they changed

    # ------------------------------------------------------------------ data in
    def show_image(self, img: np.ndarray | None, text: str = "",
                   message: str | None = None) -> None:
        """Any (H, W, 3) uint8 image with a caption (video playback uses this)."""
        old = self._cache
        self._take(img, text, message)
        self._cache = None
        width, height = self.size.width, self.size.height
        if old is None or not self.is_mounted or width <= 0 or height <= 0 or \
                len(old[1]) != height:
            self.refresh()
            return
        new = self._strips(width, height)
        changed = [y for y, (a, b) in enumerate(zip(old[1], new)) if a != b]
        self.lines_redrawn += len(changed)
        for y0, y1 in _runs(changed):
            self.refresh(Region(0, y0, width, y1 - y0))

    # ------------------------------------------------------------------ rendering
    def _strips(self, width: int, height: int) -> list[Strip]:
        key = (id(self._img), width, height, self._caption, self._message)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        strips: list[Strip] = []
        n_text = 2 if height >= 8 else 1     # fixed: the picture keeps its size
        text_lines = _wrap(self.caption_text, width, n_text)
        text_lines += [""] * (n_text - len(text_lines))
        rows = max(0, height - len(text_lines))
        if self._img is not None and rows > 0 and width > 0:
            px = half_block_pixels(self._img, width, rows)
            top, bottom = px[0::2], px[1::2]
            pad = (width - px.shape[1]) // 2
            for y in range(top.shape[0]):
                t, b = top[y].tolist(), bottom[y].tolist()
                segs = [Segment(" " * pad)] if pad else []
                segs += [Segment(HALF_BLOCK, _cell_style(t[x], b[x])) for x in range(len(t))]
                strips.append(Strip(segs).simplify())
        while len(strips) < rows:
            strips.append(Strip.blank(width))
        style = Style(dim=self._img is None)
        strips += [Strip([Segment(line, style)]) for line in text_lines]
        strips = [s.crop_extend(0, width, None) for s in strips]
        self._cache = (key, strips)
        return strips

    def render_line(self, y: int) -> Strip:
        strips = self._strips(self.size.width, self.size.height)
        if y < len(strips):
            return strips[y]
        return Strip.blank(self.size.width)


def _wrap(text: str, width: int, lines: int) -> list[str]:
    """The caption on at most ``lines`` lines of ``width``, broken between words (two spaces
    separate its parts); always at least one line."""
    if width <= 0:
        return [""]
    out: list[str] = []
    rest = text
    while rest and len(out) < lines:
        if len(rest) <= width:
            out.append(rest)
            break
        if len(out) == lines - 1:      # the last line: whole parts only
            cut = rest.rfind("  ", 0, width + 1)
            out.append(rest[:cut] if cut > 0 else rest[:width])
            break
        cut = rest.rfind("  ", 0, width + 1)
        if cut <= 0:
            cut = rest.rfind(" ", 0, width + 1)
        if cut <= 0:
            cut = width
        out.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return out or [""]


def _runs(ys: list[int]) -> list[tuple[int, int]]:
    """[2, 3, 4, 9] -> [(2, 5), (9, 10)]"""
    out: list[tuple[int, int]] = []
    for y in ys:
        if out and out[-1][1] == y:
            out[-1] = (out[-1][0], y + 1)
        else:
            out.append((y, y + 1))
    return out
