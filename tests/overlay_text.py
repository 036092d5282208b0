"""Read back the overlay text burnt into a frame by ``runners.rendering.font.draw_text``.

The font is known, the layout too (``x``, ``y``, scale, line height, advance), so each character
cell is compared with every glyph and the closest one wins. Tolerant of video compression:
a cell is thresholded on brightness and matched by the fewest differing pixels.
"""
from __future__ import annotations

import numpy as np

from runners.rendering.font import ADVANCE, GLYPH_H, GLYPH_W, _MASKS


def read_overlay_line(frame: np.ndarray, line: int, x: int = 4, y: int = 4, scale: int = 0,
                      max_chars: int = 60, threshold: int = 150) -> str:
    """The text of overlay line ``line`` (0-based), trailing blanks stripped."""
    h, w = frame.shape[:2]
    s = scale or max(1, min(h, w) // 240)
    lum = np.asarray(frame, np.float32)[..., :3].mean(axis=2)
    top = y + s + line * (GLYPH_H + 3) * s
    left = x + s
    out = []
    for i in range(max_chars):
        x0 = left + i * ADVANCE * s
        if x0 + GLYPH_W * s > w or top + GLYPH_H * s > h:
            break
        cell = lum[top:top + GLYPH_H * s, x0:x0 + GLYPH_W * s]
        if s > 1:
            cell = cell.reshape(GLYPH_H, s, GLYPH_W, s).mean(axis=(1, 3))
        bits = cell > threshold
        best, best_d = "?", None
        for ch, mask in _MASKS.items():
            d = int(np.count_nonzero(bits != mask))
            if best_d is None or d < best_d:
                best, best_d = ch, d
        out.append(best)
    return "".join(out).rstrip()
