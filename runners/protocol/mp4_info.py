"""Frame count, rate and size of an mp4, from its ``moov`` box (stdlib only, nothing decoded).

For videos Pitwall did not index itself (a foreign trainer's ``videos/0.mp4``): the listing
shows their length and size like ours. An mp4 whose ``moov`` box is missing (still being
written: ffmpeg writes it last) or torn gives None, so a half-written file is never listed
as a video.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Tuple, Union

MAX_MOOV = 64 << 20


@dataclass(frozen=True)
class Mp4Info:
    width: int
    height: int
    frames: int
    fps: float


def _boxes(data: bytes, start: int = 0, end: Optional[int] = None
           ) -> Iterator[Tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the boxes in ``data[start:end]``."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        header = 8
        if size == 1:
            if pos + 16 > end:
                return
            size = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind, pos + header, pos + size
        pos += size


def _child(data: bytes, start: int, end: int, kind: bytes) -> Optional[Tuple[int, int]]:
    for k, s, e in _boxes(data, start, end):
        if k == kind:
            return s, e
    return None


def _moov(path: Path) -> Optional[bytes]:
    with open(str(path), "rb") as f:
        total = os.fstat(f.fileno()).st_size
        pos = 0
        while pos + 8 <= total:
            f.seek(pos)
            head = f.read(16)
            if len(head) < 8:
                return None
            size, kind = struct.unpack(">I4s", head[:8])
            if size == 1 and len(head) == 16:
                size = struct.unpack(">Q", head[8:16])[0]
            elif size == 0:
                size = total - pos
            if size < 8 or pos + size > total:
                return None          # a box cut short: the file is still being written
            if kind == b"moov":
                if size > MAX_MOOV:
                    return None
                f.seek(pos)
                return f.read(size)
            pos += size
    return None


def mp4_info(path: Union[str, Path]) -> Optional[Mp4Info]:
    """The first video track's size, frame count and rate; None for anything else."""
    try:
        moov = _moov(Path(path))
    except OSError:
        return None
    if moov is None:
        return None
    try:
        for kind, s, e in _boxes(moov, 8):
            if kind != b"trak":
                continue
            info = _video_track(moov, s, e)
            if info is not None:
                return info
    except (struct.error, ValueError, ZeroDivisionError):
        return None
    return None


def _video_track(d: bytes, s: int, e: int) -> Optional[Mp4Info]:
    mdia = _child(d, s, e, b"mdia")
    tkhd = _child(d, s, e, b"tkhd")
    if mdia is None or tkhd is None:
        return None
    hdlr = _child(d, mdia[0], mdia[1], b"hdlr")
    if hdlr is None or d[hdlr[0] + 8:hdlr[0] + 12] != b"vide":
        return None
    mdhd = _child(d, mdia[0], mdia[1], b"mdhd")
    minf = _child(d, mdia[0], mdia[1], b"minf")
    stbl = _child(d, minf[0], minf[1], b"stbl") if minf else None
    stsz = _child(d, stbl[0], stbl[1], b"stsz") if stbl else None
    if mdhd is None or stsz is None:
        return None
    m = mdhd[0]
    if d[m] == 1:
        timescale, duration = struct.unpack(">IQ", d[m + 20:m + 32])
    else:
        timescale, duration = struct.unpack(">II", d[m + 12:m + 20])
    frames = struct.unpack(">I", d[stsz[0] + 8:stsz[0] + 12])[0]
    t = tkhd[0]
    off = 88 if d[t] == 1 else 76
    width, height = struct.unpack(">II", d[t + off:t + off + 8])
    seconds = duration / float(timescale) if timescale else 0.0
    fps = frames / seconds if seconds > 0 else 0.0
    return Mp4Info(width=width >> 16, height=height >> 16, frames=int(frames),
                   fps=round(fps, 3))
