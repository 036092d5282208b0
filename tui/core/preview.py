"""Frames in the terminal: decode a preview PNG and turn it into half-block cells, kitty or sixel
escape sequences. Pure functions on numpy arrays; no Textual, no imaging library.

- half blocks: one cell shows two pixels (``▀``: foreground = upper, background = lower), so a
  ``cols`` x ``rows`` area shows ``cols`` x ``2*rows`` square-ish pixels. Works everywhere with
  24-bit colour (and falls back to the xterm 256-colour cube).
- kitty graphics protocol: the PNG itself, base64 in 4 KiB chunks, scaled by the terminal to a
  ``cols`` x ``rows`` cell area.
- sixel: the frame quantised to a 6x6x6 colour cube, six pixel rows per band.
"""
from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from runners.protocol import PreviewFrame, ProtocolError, encode_png, read_preview
from runners.protocol.preview import mark_preview_watched

HALF_BLOCK = "\u2580"  # ▀
ESC = "\x1b"


@dataclass(frozen=True)
class Cell:
    fg: tuple[int, int, int]   # upper pixel
    bg: tuple[int, int, int]   # lower pixel


def frame_array(frame: PreviewFrame) -> np.ndarray:
    """(H, W, 3) uint8 view of a decoded frame."""
    return np.frombuffer(frame.rgb, dtype=np.uint8).reshape(frame.height, frame.width, 3)


WATCH_EVERY_S = 5.0
_watched: dict[tuple[str, str], float] = {}


def latest_frame(run_dir: Path, viewer_id: str) -> tuple[PreviewFrame | None, str | None]:
    """The newest preview frame of a viewer and, when it is unreadable, why. Reading it tells
    the viewer somebody watches (a headless viewer nobody watches ends after its idle_exit)."""
    key, now = (str(run_dir), viewer_id), time.monotonic()
    if now - _watched.get(key, -WATCH_EVERY_S) >= WATCH_EVERY_S:
        _watched[key] = now
        mark_preview_watched(run_dir, viewer_id)
    try:
        return read_preview(run_dir, viewer_id), None
    except ProtocolError as e:
        return None, str(e)


def fit(width: int, height: int, cols: int, rows: int, cell_aspect: float = 2.0
        ) -> tuple[int, int]:
    """The largest (cols', rows') area, within ``cols`` x ``rows`` cells, that shows a
    ``width`` x ``height`` image undistorted (a cell is ``cell_aspect`` times taller than wide)."""
    if width <= 0 or height <= 0 or cols <= 0 or rows <= 0:
        return 0, 0
    img_aspect = height / width                  # rows of pixels per column of pixels
    c = cols
    r = c * img_aspect / cell_aspect
    if r > rows:
        r = rows
        c = r * cell_aspect / img_aspect
    return max(1, int(round(c))), max(1, int(round(r)))


def resize(img: np.ndarray, out_w: int, out_h: int) -> np.ndarray:
    """Box-filter (area average) resize of an (H, W, C) uint8 image; nearest when enlarging."""
    h, w = img.shape[:2]
    if (out_w, out_h) == (w, h):
        return img
    out = img.astype(np.float32)
    for axis, n_in, n_out in ((0, h, out_h), (1, w, out_w)):
        if n_out < n_in:
            edges = (np.arange(n_out + 1) * n_in / n_out).astype(np.int64)
            edges[-1] = n_in
            sums = np.add.reduceat(out, edges[:-1], axis=axis)
            counts = np.diff(edges).astype(np.float32)
            shape = [1, 1, 1]
            shape[axis] = n_out
            out = sums / counts.reshape(shape)
        elif n_out > n_in:
            idx = (np.arange(n_out) * n_in // n_out)
            out = np.take(out, idx, axis=axis)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def half_block_pixels(img: np.ndarray, cols: int, rows: int) -> np.ndarray:
    """The image resized to ``cols`` x ``2*rows`` pixels (fit, not stretched, then padded)."""
    h, w = img.shape[:2]
    c, r = fit(w, h, cols, rows)
    small = resize(img, c, 2 * r)
    return small


def half_block_cells(img: np.ndarray, cols: int, rows: int) -> list[list[Cell]]:
    """Rows of cells, each showing two vertically stacked pixels."""
    px = half_block_pixels(img, cols, rows)
    top, bottom = px[0::2], px[1::2]
    return [[Cell(tuple(int(v) for v in top[y, x]), tuple(int(v) for v in bottom[y, x]))
             for x in range(px.shape[1])] for y in range(top.shape[0])]


def _cube(v: np.ndarray) -> np.ndarray:
    """0..255 → 0..5 index on the xterm 256-colour cube axis."""
    return np.where(v < 48, 0, np.where(v < 115, 1, (v.astype(np.int32) - 35) // 40))


def xterm256(rgb: np.ndarray) -> np.ndarray:
    """Nearest xterm 256-colour cube index (16 + 36 r + 6 g + b) per pixel."""
    q = _cube(rgb.astype(np.int32))
    return 16 + 36 * q[..., 0] + 6 * q[..., 1] + q[..., 2]


def half_block_ansi(img: np.ndarray, cols: int, rows: int, truecolor: bool = True) -> list[str]:
    """Lines of text with SGR colour escapes (one per cell row), each ending in a reset."""
    px = half_block_pixels(img, cols, rows)
    top, bottom = px[0::2], px[1::2]
    lines = []
    if truecolor:
        for y in range(top.shape[0]):
            t, b = top[y].tolist(), bottom[y].tolist()
            parts = ["%s[38;2;%d;%d;%d;48;2;%d;%d;%dm%s" % (ESC, *t[x], *b[x], HALF_BLOCK)
                     for x in range(len(t))]
            lines.append("".join(parts) + ESC + "[0m")
    else:
        ti, bi = xterm256(top), xterm256(bottom)
        for y in range(ti.shape[0]):
            parts = ["%s[38;5;%d;48;5;%dm%s" % (ESC, ti[y, x], bi[y, x], HALF_BLOCK)
                     for x in range(ti.shape[1])]
            lines.append("".join(parts) + ESC + "[0m")
    return lines


def png_bytes(img: np.ndarray) -> bytes:
    h, w = img.shape[:2]
    return encode_png(np.ascontiguousarray(img[..., :3]).tobytes(), w, h)


def kitty_escape(png: bytes, cols: int, rows: int, image_id: int | None = None,
                 chunk: int = 4096) -> str:
    """Kitty graphics protocol: transmit and display a PNG scaled to ``cols`` x ``rows`` cells
    at the cursor (the cursor does not move: ``C=1``). Quiet (``q=2``): no replies to read."""
    data = base64.standard_b64encode(png).decode("ascii")
    head = "a=T,f=100,t=d,q=2,C=1,c=%d,r=%d" % (cols, rows)
    if image_id is not None:
        head += ",i=%d" % image_id
    pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)] or [""]
    out = []
    for i, piece in enumerate(pieces):
        more = 1 if i < len(pieces) - 1 else 0
        ctrl = ("%s,m=%d" % (head, more)) if i == 0 else "m=%d" % more
        out.append("%s_G%s;%s%s\\" % (ESC, ctrl, piece, ESC))
    return "".join(out)


def kitty_delete(image_id: int | None = None) -> str:
    """Delete one image (or all visible ones) placed with :func:`kitty_escape`."""
    if image_id is None:
        return "%s_Ga=d,d=A,q=2%s\\" % (ESC, ESC)
    return "%s_Ga=d,d=I,i=%d,q=2%s\\" % (ESC, image_id, ESC)


def sixel_escape(img: np.ndarray) -> str:
    """A DCS sixel image of ``img`` (quantised to the 6x6x6 cube: 216 colours)."""
    h, w = img.shape[:2]
    q = _cube(img.astype(np.int32))
    idx = 36 * q[..., 0] + 6 * q[..., 1] + q[..., 2]          # 0..215
    levels = [0, 95, 135, 175, 215, 255]
    used = np.unique(idx)
    out = [ESC + 'Pq"1;1;%d;%d' % (w, h)]
    for c in used.tolist():
        r, g, b = levels[c // 36], levels[(c // 6) % 6], levels[c % 6]
        out.append("#%d;2;%d;%d;%d" % (c, r * 100 // 255, g * 100 // 255, b * 100 // 255))
    weights = (1 << np.arange(6)).reshape(6, 1)
    for band in range(0, h, 6):
        rows = idx[band:band + 6]
        n = rows.shape[0]
        first = True
        for c in np.unique(rows).tolist():
            bits = ((rows == c) * weights[:n]).sum(axis=0)          # (w,) 0..63
            chars = (bits + 63).astype(np.uint8).tobytes().decode("ascii")
            out.append(("" if first else "$") + "#%d" % c + _rle(chars))
            first = False
        out.append("-")
    out.append(ESC + "\\")
    return "".join(out)


def terminal_image(img: np.ndarray, kind: str, cols: int, rows: int, truecolor: bool = True,
                   image_id: int | None = None) -> str:
    """``img`` as the escape sequences of a terminal's graphics ``kind``: kitty, sixel, or
    (anything else) half-block characters in ``cols`` x ``rows`` cells."""
    if kind == "kitty":
        return kitty_escape(png_bytes(img), cols, rows, image_id=image_id)
    if kind == "sixel":
        return sixel_escape(img)
    return "\n".join(half_block_ansi(img, cols, rows, truecolor))


def _rle(s: str) -> str:
    """Sixel run-length encoding (``!<n><char>`` for runs longer than 3)."""
    out = []
    i, n = 0, len(s)
    while i < n:
        j = i
        while j < n and s[j] == s[i]:
            j += 1
        run = j - i
        out.append("!%d%s" % (run, s[i]) if run > 3 else s[i] * run)
        i = j
    return "".join(out)


def caption(frame: PreviewFrame) -> str:
    """One line about a frame: checkpoint, step, episode, returns, age."""
    import time

    m = frame.meta
    parts = []
    if frame.checkpoint:
        parts.append(Path(frame.checkpoint).name)
    if frame.step is not None:
        parts.append("step %d" % frame.step)
    if isinstance(m.get("episode"), int):
        parts.append("episode %d" % (m["episode"] + 1))
    ret = m.get("return_so_far")
    if isinstance(ret, (int, float)):
        parts.append("return %.1f" % ret)
    last = m.get("episode_return")
    if isinstance(last, (int, float)):
        parts.append("last %.1f" % last)
    if frame.time is not None:
        parts.append("%.1f s ago" % max(0.0, time.time() - frame.time))
    return "  ".join(parts)
