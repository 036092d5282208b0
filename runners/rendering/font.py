"""A tiny 5x7 bitmap font to burn overlay text into frames (no imaging library needed).

Upper-case letters, digits and common punctuation; lower case is drawn in upper case and any
other character as ``?``.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

GLYPH_W, GLYPH_H = 5, 7
ADVANCE = GLYPH_W + 1

_GLYPHS = {
    "A": "01110 10001 10001 11111 10001 10001 10001",
    "B": "11110 10001 10001 11110 10001 10001 11110",
    "C": "01110 10001 10000 10000 10000 10001 01110",
    "D": "11110 10001 10001 10001 10001 10001 11110",
    "E": "11111 10000 10000 11110 10000 10000 11111",
    "F": "11111 10000 10000 11110 10000 10000 10000",
    "G": "01110 10001 10000 10111 10001 10001 01111",
    "H": "10001 10001 10001 11111 10001 10001 10001",
    "I": "01110 00100 00100 00100 00100 00100 01110",
    "J": "00111 00010 00010 00010 00010 10010 01100",
    "K": "10001 10010 10100 11000 10100 10010 10001",
    "L": "10000 10000 10000 10000 10000 10000 11111",
    "M": "10001 11011 10101 10101 10001 10001 10001",
    "N": "10001 10001 11001 10101 10011 10001 10001",
    "O": "01110 10001 10001 10001 10001 10001 01110",
    "P": "11110 10001 10001 11110 10000 10000 10000",
    "Q": "01110 10001 10001 10001 10101 10010 01101",
    "R": "11110 10001 10001 11110 10100 10010 10001",
    "S": "01111 10000 10000 01110 00001 00001 11110",
    "T": "11111 00100 00100 00100 00100 00100 00100",
    "U": "10001 10001 10001 10001 10001 10001 01110",
    "V": "10001 10001 10001 10001 10001 01010 00100",
    "W": "10001 10001 10001 10101 10101 10101 01010",
    "X": "10001 10001 01010 00100 01010 10001 10001",
    "Y": "10001 10001 10001 01010 00100 00100 00100",
    "Z": "11111 00001 00010 00100 01000 10000 11111",
    "0": "01110 10001 10011 10101 11001 10001 01110",
    "1": "00100 01100 00100 00100 00100 00100 01110",
    "2": "01110 10001 00001 00010 00100 01000 11111",
    "3": "11111 00010 00100 00010 00001 10001 01110",
    "4": "00010 00110 01010 10010 11111 00010 00010",
    "5": "11111 10000 11110 00001 00001 10001 01110",
    "6": "00110 01000 10000 11110 10001 10001 01110",
    "7": "11111 00001 00010 00100 01000 01000 01000",
    "8": "01110 10001 10001 01110 10001 10001 01110",
    "9": "01110 10001 10001 01111 00001 00010 01100",
    " ": "00000 00000 00000 00000 00000 00000 00000",
    ".": "00000 00000 00000 00000 00000 01100 01100",
    ",": "00000 00000 00000 00000 01100 00100 01000",
    ":": "00000 01100 01100 00000 01100 01100 00000",
    "_": "00000 00000 00000 00000 00000 00000 11111",
    "-": "00000 00000 00000 11111 00000 00000 00000",
    "+": "00000 00100 00100 11111 00100 00100 00000",
    "/": "00000 00001 00010 00100 01000 10000 00000",
    "(": "00010 00100 01000 01000 01000 00100 00010",
    ")": "01000 00100 00010 00010 00010 00100 01000",
    "=": "00000 00000 11111 00000 11111 00000 00000",
    "%": "11000 11001 00010 00100 01000 10011 00011",
    "#": "01010 01010 11111 01010 11111 01010 01010",
    "[": "01110 01000 01000 01000 01000 01000 01110",
    "]": "01110 00010 00010 00010 00010 00010 01110",
    "'": "00100 00100 01000 00000 00000 00000 00000",
    "!": "00100 00100 00100 00100 00100 00000 00100",
    "?": "01110 10001 00001 00010 00100 00000 00100",
    "*": "00000 00100 10101 01110 10101 00100 00000",
}


def _bitmap(rows: str) -> np.ndarray:
    return np.array([[c == "1" for c in row] for row in rows.split()], dtype=bool)


_MASKS = {ch: _bitmap(rows) for ch, rows in _GLYPHS.items()}  # type: Dict[str, np.ndarray]


def text_mask(text: str) -> np.ndarray:
    """A boolean mask (7, 6 * len(text)) with the text drawn at scale 1."""
    out = np.zeros((GLYPH_H, ADVANCE * max(len(text), 1)), dtype=bool)
    for i, ch in enumerate(text):
        m = _MASKS.get(ch.upper(), _MASKS["?"])
        out[:, i * ADVANCE:i * ADVANCE + GLYPH_W] = m
    return out


def wrap_lines(lines: Sequence[str], max_chars: int) -> List[str]:
    """Lines longer than ``max_chars`` are broken at their double spaces (then cut)."""
    out = []  # type: List[str]
    for line in lines:
        if len(line) <= max_chars:
            out.append(line)
            continue
        cur = ""
        for part in line.split("  "):
            if cur and len(cur) + 2 + len(part) > max_chars:
                out.append(cur[:max_chars])
                cur = part
            else:
                cur = (cur + "  " + part) if cur else part
        if cur:
            out.append(cur[:max_chars])
    return out


def draw_text(frame: np.ndarray, lines: Sequence[str], x: int = 4, y: int = 4,
              scale: Optional[int] = None, fg: Tuple[int, int, int] = (255, 255, 255),
              box: Optional[Tuple[int, int, int]] = (0, 0, 0), box_alpha: float = 0.6) -> None:
    """Burn ``lines`` into an (H, W, 3) uint8 frame in place, on a translucent box."""
    h, w = frame.shape[:2]
    s = scale or max(1, min(h, w) // 240)
    lines = wrap_lines([line for line in lines if line], max(1, (w - x - 2 * s) // (ADVANCE * s)))
    if not lines:
        return
    line_h = (GLYPH_H + 3) * s
    width = max(len(line) for line in lines) * ADVANCE * s + 2 * s
    height = len(lines) * line_h + s
    x1, y1 = min(w, x + width), min(h, y + height)
    if x1 <= x or y1 <= y:
        return
    if box is not None:
        region = frame[y:y1, x:x1].astype(np.float32)
        region = region * (1.0 - box_alpha) + np.asarray(box, np.float32) * box_alpha
        frame[y:y1, x:x1] = region.astype(np.uint8)
    colour = np.asarray(fg, dtype=np.uint8)
    for i, line in enumerate(lines):
        mask = text_mask(line)
        if s > 1:
            mask = np.kron(mask, np.ones((s, s), dtype=bool)).astype(bool)
        top, left = y + s + i * line_h, x + s
        mh = max(0, min(mask.shape[0], h - top))
        mw = max(0, min(mask.shape[1], w - left))
        if mh and mw:
            frame[top:top + mh, left:left + mw][mask[:mh, :mw]] = colour
