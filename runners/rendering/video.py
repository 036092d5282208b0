"""mp4 files of recorded episodes: written to a temp name, claimed, then indexed.

Uses the ``ffmpeg`` that ``imageio-ffmpeg`` ships (libx264, yuv420p): ~500 frames/s at 256x256.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, List, Optional, Union

import numpy as np

from runners.protocol import (VideoEntry, append_video_entry, claim_video_path,
                              temp_video_path, video_base_name)

PathLike = Union[str, Path]


class Mp4Writer(object):
    """Frames in, an H.264 mp4 out. ``width``/``height`` must be even."""

    def __init__(self, path: PathLike, width: int, height: int, fps: float,
                 quality: float = 7.0, preset: str = "veryfast"):
        import imageio_ffmpeg

        if width % 2 or height % 2:
            raise ValueError("video width and height must be even, found %dx%d"
                             % (width, height))
        self.path = Path(path)
        self.width, self.height, self.fps = int(width), int(height), float(fps)
        self.frames = 0
        self._gen = imageio_ffmpeg.write_frames(
            str(self.path), (self.width, self.height), fps=self.fps, codec="libx264",
            quality=quality, macro_block_size=2, ffmpeg_log_level="error",
            output_params=["-preset", preset])
        self._gen.send(None)

    def write(self, frame: np.ndarray) -> None:
        if frame.shape != (self.height, self.width, 3):
            raise ValueError("frame shape %s, expected %s"
                             % (frame.shape, (self.height, self.width, 3)))
        self._gen.send(np.ascontiguousarray(frame, dtype=np.uint8))
        self.frames += 1

    def close(self) -> None:
        if self._gen is not None:
            self._gen.close()
            self._gen = None

    def abort(self) -> None:
        try:
            self.close()
        except Exception:
            pass
        try:
            os.unlink(str(self.path))
        except OSError:
            pass


class Recording(object):
    """One mp4 in ``videos/`` being written; :meth:`finish` names it and appends the index."""

    def __init__(self, run_dir: PathLike, checkpoint: PathLike, step: Optional[int],
                 width: int, height: int, fps: float, source: str = "record",
                 env_id: str = "", train_episode: Optional[int] = None, settle_steps: int = 0,
                 name_hint: Optional[str] = None):
        self.run_dir = Path(run_dir)
        self.checkpoint = str(checkpoint)
        self.step = step
        self.source = source
        self.env_id = env_id
        self.train_episode = train_episode
        self.settle_steps = settle_steps
        self.base = video_base_name(source, name_hint or checkpoint, time.time(), train_episode)
        self.tmp = temp_video_path(self.run_dir, self.base)
        self.writer = Mp4Writer(self.tmp, width, height, fps)
        self.returns = []  # type: List[float]
        self.lengths = []  # type: List[int]
        self.capped = []  # type: List[bool]

    def write(self, frame: np.ndarray) -> None:
        self.writer.write(frame)

    def episode_done(self, episode_return: float, length: int, capped: bool) -> None:
        self.returns.append(float(episode_return))
        self.lengths.append(int(length))
        self.capped.append(bool(capped))

    def finish(self, before_index: Optional[Callable[[Path], None]] = None) -> VideoEntry:
        """Close, claim the final name, then append the index line. ``before_index(mp4)``
        runs in between (files that belong to the video, e.g. its trajectory)."""
        self.writer.close()
        final = claim_video_path(self.run_dir, self.tmp, self.base)
        if before_index is not None:
            before_index(final)
        w = self.writer
        entry = VideoEntry(file=final.name, checkpoint=self.checkpoint, step=self.step,
                           returns=self.returns, frames=w.frames, fps=w.fps, width=w.width,
                           height=w.height, size=final.stat().st_size, created=time.time(),
                           source=self.source, lengths=self.lengths, capped=self.capped,
                           env_id=self.env_id, train_episode=self.train_episode,
                           settle_steps=self.settle_steps)
        append_video_entry(self.run_dir, entry)
        return entry

    def abort(self) -> None:
        self.writer.abort()


def frame_of(obj: Any) -> np.ndarray:
    return np.asarray(obj, dtype=np.uint8)
