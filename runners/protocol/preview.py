"""``preview/<viewer-id>.png``: the newest frame of a headless viewer, replaced atomically.

A viewer started with ``--display none`` renders offscreen a few times a second and writes the
frame here; the control center shows it in the terminal. The PNG carries its metadata in one
``tEXt`` chunk (keyword ``pitwall``, a JSON object), so frame and metadata can never disagree::

    {"format": "pitwall.preview/1", "viewer": "viewer-1", "checkpoint": "/abs/.../nn/x.pth",
     "checkpoint_step": 2048, "episode": 12, "episode_return": 953.1, "return_so_far": 12.0,
     "frame": 4711, "time": 1763719923.1, "env_id": "InvertedPendulum-v5"}

PNG encoding and decoding are stdlib (``zlib`` + ``struct``) so neither side needs an imaging
library. The encoder writes 8-bit RGB rows with filter 0 (fast to write and to read); the decoder
reads any non-interlaced 8-bit grey, grey+alpha, RGB or RGBA PNG (filters 0-4).
"""
from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from .atomic import atomic_write_bytes
from .errors import ProtocolError
from .json_parse import parse_json
from .rundir import RunPaths, check_role_name

PREVIEW_FORMAT = "pitwall.preview/1"
TEXT_KEY = "pitwall"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel

PathLike = Union[str, Path]


class PngError(ValueError):
    """Not a PNG this module can read; the message says why."""


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + \
        struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(rgb: bytes, width: int, height: int, text: Optional[Dict[str, str]] = None,
               level: int = 1) -> bytes:
    """An 8-bit RGB PNG of ``width`` x ``height`` from packed RGB bytes (row by row)."""
    width, height = int(width), int(height)
    stride = width * 3
    if width <= 0 or height <= 0 or len(rgb) != stride * height:
        raise ValueError("expected %d x %d x 3 = %d bytes, found %d"
                         % (width, height, stride * height, len(rgb)))
    view = memoryview(rgb)
    raw = b"".join(b"\x00" + view[y * stride:(y + 1) * stride].tobytes() for y in range(height))
    out = [PNG_SIGNATURE, _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))]
    for key, value in (text or {}).items():
        out.append(_chunk(b"tEXt", key.encode("latin-1") + b"\x00" + value.encode("latin-1")))
    out.append(_chunk(b"IDAT", zlib.compress(raw, level)))
    out.append(_chunk(b"IEND", b""))
    return b"".join(out)


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(raw: bytes, width: int, height: int, bpp: int) -> bytearray:
    stride = width * bpp
    if len(raw) < (stride + 1) * height:
        raise PngError("image data is short (%d of %d bytes)" % (len(raw), (stride + 1) * height))
    out = bytearray(stride * height)
    prev = bytearray(stride)
    pos = 0
    for y in range(height):
        ftype = raw[pos]
        line = bytearray(raw[pos + 1:pos + 1 + stride])
        pos += stride + 1
        if ftype == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif ftype == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev))
        elif ftype == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif ftype == 4:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                up_left = prev[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + _paeth(left, prev[i], up_left)) & 0xFF
        elif ftype != 0:
            raise PngError("unknown row filter %d in row %d" % (ftype, y))
        out[y * stride:(y + 1) * stride] = line
        prev = line
    return out


def _to_rgb(pixels: bytes, ctype: int, n: int) -> bytes:
    if ctype == 2:
        return bytes(pixels)
    out = bytearray(n * 3)
    if ctype == 6:
        out[0::3] = pixels[0::4]
        out[1::3] = pixels[1::4]
        out[2::3] = pixels[2::4]
    else:  # grey (0) or grey + alpha (4): the alpha is dropped
        grey = pixels[0::2] if ctype == 4 else pixels
        out[0::3] = grey
        out[1::3] = grey
        out[2::3] = grey
    return bytes(out)


def decode_png(data: bytes) -> Tuple[int, int, bytes, Dict[str, str]]:
    """``(width, height, rgb bytes, text chunks)``; raises :class:`PngError`."""
    if not data.startswith(PNG_SIGNATURE):
        raise PngError("not a PNG file (bad signature)")
    pos = len(PNG_SIGNATURE)
    header = None  # type: Optional[Tuple[int, int, int, int, int]]
    idat = []  # type: List[bytes]
    text = {}  # type: Dict[str, str]
    ended = False
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc = data[pos + 8 + length:pos + 12 + length]
        if len(body) != length or len(crc) != 4:
            raise PngError("truncated %s chunk" % kind.decode("latin-1", "replace"))
        if struct.unpack(">I", crc)[0] != zlib.crc32(kind + body) & 0xFFFFFFFF:
            raise PngError("bad CRC in %s chunk" % kind.decode("latin-1", "replace"))
        pos += 12 + length
        if kind == b"IHDR":
            w, h, depth, ctype, _comp, _filt, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype not in _CHANNELS:
                raise PngError("only 8-bit grey/RGB(A) PNGs are read (depth %d, colour type %d)"
                               % (depth, ctype))
            if interlace:
                raise PngError("interlaced PNGs are not read")
            header = (w, h, depth, ctype, interlace)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"tEXt":
            key, _, value = body.partition(b"\x00")
            text[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"IEND":
            ended = True
            break
    if header is None:
        raise PngError("no IHDR chunk")
    if not ended:
        raise PngError("truncated PNG (no IEND chunk)")
    w, h, _depth, ctype, _ = header
    try:
        raw = zlib.decompress(b"".join(idat))
    except zlib.error as e:
        raise PngError("image data does not inflate (%s)" % e)
    bpp = _CHANNELS[ctype]
    stride = w * bpp
    if len(raw) >= (stride + 1) * h and all(raw[y * (stride + 1)] == 0 for y in range(h)):
        view = memoryview(raw)
        pixels = b"".join(view[y * (stride + 1) + 1:(y + 1) * (stride + 1)] for y in range(h))
    else:
        pixels = bytes(_unfilter(raw, w, h, bpp))
    return w, h, _to_rgb(pixels, ctype, w * h), text


@dataclass
class PreviewFrame:
    """One decoded preview frame: packed RGB bytes plus what the viewer says about it."""
    width: int
    height: int
    rgb: bytes
    meta: Dict[str, Any] = field(default_factory=dict)
    path: str = ""
    mtime: float = 0.0

    @property
    def checkpoint(self) -> Optional[str]:
        v = self.meta.get("checkpoint")
        return v if isinstance(v, str) else None

    @property
    def step(self) -> Optional[int]:
        v = self.meta.get("checkpoint_step")
        return v if isinstance(v, int) and not isinstance(v, bool) else None

    @property
    def time(self) -> Optional[float]:
        v = self.meta.get("time")
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    @property
    def frame(self) -> Optional[int]:
        v = self.meta.get("frame")
        return v if isinstance(v, int) and not isinstance(v, bool) else None


def preview_png(rgb: bytes, width: int, height: int, meta: Dict[str, Any]) -> bytes:
    info = {"format": PREVIEW_FORMAT}
    info.update(meta)
    return encode_png(rgb, width, height,
                      {TEXT_KEY: json.dumps(info, allow_nan=False, ensure_ascii=True)})


def write_preview(run_dir: PathLike, viewer_id: str, rgb: bytes, width: int, height: int,
                  meta: Dict[str, Any]) -> Path:
    """Replace ``preview/<viewer_id>.png`` atomically (not fsync'ed: rewritten often)."""
    path = RunPaths(run_dir).preview_file(viewer_id)
    info = dict(meta)
    info.setdefault("viewer", viewer_id)
    atomic_write_bytes(path, preview_png(rgb, width, height, info), durable=False)
    return path


def parse_preview(data: bytes, path: PathLike = "<preview>") -> PreviewFrame:
    try:
        w, h, rgb, text = decode_png(data)
    except PngError as e:
        raise ProtocolError(path, None, str(e))
    meta = {}  # type: Dict[str, Any]
    raw = text.get(TEXT_KEY)
    if raw is not None:
        try:
            obj = parse_json(raw)
        except ValueError as e:
            raise ProtocolError(path, TEXT_KEY, "metadata is not valid JSON (%s)" % e)
        if not isinstance(obj, dict):
            raise ProtocolError(path, TEXT_KEY, "metadata is not a JSON object")
        meta = obj
    return PreviewFrame(w, h, rgb, meta, str(path))


def read_preview(run_dir: PathLike, viewer_id: str) -> Optional[PreviewFrame]:
    """The newest frame of a viewer, or None when it has written none."""
    path = RunPaths(run_dir).preview_file(viewer_id)
    try:
        with open(str(path), "rb") as f:
            st = os.fstat(f.fileno())
            data = f.read()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ProtocolError(path, None, "cannot read: %s" % e.strerror)
    frame = parse_preview(data, path)
    frame.mtime = st.st_mtime
    return frame


def list_previews(run_dir: PathLike) -> List[str]:
    """Viewer ids that have a preview frame, sorted."""
    d = RunPaths(run_dir).preview_dir
    try:
        names = os.listdir(str(d))
    except OSError:
        return []
    return sorted(n[:-4] for n in names if n.endswith(".png") and not n.startswith("."))


# ------------------------------------------------------------------ who is watching
# A control center showing a headless viewer's frames (the TUI's Preview tab, ``pitwall
# preview``) touches ``preview/<id>.watch`` every few seconds; a headless viewer that nobody has
# watched for its ``idle_exit`` seconds ends itself (docs/playback.md).
WATCH_SUFFIX = ".watch"


def preview_watch_file(run_dir: PathLike, viewer_id: str) -> Path:
    return RunPaths(run_dir).preview_dir / (check_role_name(viewer_id) + WATCH_SUFFIX)


def mark_preview_watched(run_dir: PathLike, viewer_id: str) -> None:
    """Say that somebody looks at this viewer's frames now (best effort)."""
    path = preview_watch_file(run_dir, viewer_id)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(str(path), "a"):
            pass
        os.utime(str(path), None)
    except OSError:
        pass


def preview_watched_at(run_dir: PathLike, viewer_id: str) -> Optional[float]:
    """When somebody last looked at this viewer's frames (Unix time), None if never."""
    try:
        return os.stat(str(preview_watch_file(run_dir, viewer_id))).st_mtime
    except OSError:
        return None
