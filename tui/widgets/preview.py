"""A frame in the terminal: half-block cells (two pixels per cell) and a caption line.

Render-only: the owner hands it a frame (``PreviewFrame`` from ``tui.core.preview.latest_frame``)
or a message; it never reads files. The frame is fitted to the widget's size, undistorted.
"""
from __future__ import annotations

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from runners.protocol import PreviewFrame
from tui.core.preview import HALF_BLOCK, caption, frame_array, half_block_pixels


class PreviewView(Widget):
    """Shows the newest frame of a headless viewer (or of a video being played)."""

    DEFAULT_CSS = """
    PreviewView { height: 1fr; min-height: 4; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._img: np.ndarray | None = None
        self._caption = ""
        self._message = "no preview yet"
        self._key: object = None
        self._cache: tuple[object, list[Strip]] | None = None

    # ------------------------------------------------------------------ data in
    def show_frame(self, frame: PreviewFrame | None, message: str | None = None,
                   label: str = "") -> None:
        """A decoded preview frame (``None``: show ``message`` instead)."""
        if frame is None:
            self.show_image(None, message=message or "no preview yet")
            return
        key = (frame.path, frame.mtime, frame.frame)
        if key == self._key:
            return
        self._key = key
        text = caption(frame)
        self.show_image(frame_array(frame), (label + "  " if label else "") + text)

    def show_image(self, img: np.ndarray | None, text: str = "",
                   message: str | None = None) -> None:
        """Any (H, W, 3) uint8 image with a caption (video playback uses this)."""
        self._img = img
        self._caption = text
        self._message = message or ""
        self._cache = None
        self.refresh()

    @property
    def caption_text(self) -> str:
        return self._caption if self._img is not None else self._message

    @property
    def has_image(self) -> bool:
        return self._img is not None

    # ------------------------------------------------------------------ rendering
    def _strips(self, width: int, height: int) -> list[Strip]:
        key = (id(self._img), width, height, self._caption, self._message)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        strips: list[Strip] = []
        rows = max(0, height - 1)
        if self._img is not None and rows > 0 and width > 0:
            px = half_block_pixels(self._img, width, rows)
            top, bottom = px[0::2], px[1::2]
            pad = (width - px.shape[1]) // 2
            for y in range(top.shape[0]):
                t, b = top[y].tolist(), bottom[y].tolist()
                segs = [Segment(" " * pad)] if pad else []
                segs += [Segment(HALF_BLOCK, Style(color="rgb(%d,%d,%d)" % tuple(t[x]),
                                                   bgcolor="rgb(%d,%d,%d)" % tuple(b[x])))
                         for x in range(len(t))]
                strips.append(Strip(segs))
        text = self.caption_text
        while len(strips) < rows:
            strips.append(Strip.blank(width))
        strips.append(Strip([Segment(text[:width], Style(dim=self._img is None))]))
        self._cache = (key, strips)
        return strips

    def render_line(self, y: int) -> Strip:
        strips = self._strips(self.size.width, self.size.height)
        if y < len(strips):
            return strips[y].crop_extend(0, self.size.width, None)
        return Strip.blank(self.size.width)
