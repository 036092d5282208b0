"""The ``record`` verb: N episodes of one checkpoint to an mp4 in ``videos/``, for any backend
whose :class:`~runners.sdk.player.Playback` has ``frame()``.

One frame per env step, with the overlay (checkpoint, step, episode, return), at the env's own
rate unless asked otherwise. The file is named and indexed (``videos/index.jsonl``) only when
complete; a stop signal (SIGINT / SIGTERM) ends the recording early, and the part recorded so
far is kept if it holds a frame. ``settle_steps`` zero-action steps after each reset let the
scene come to rest before the first recorded frame.

Training-time videos use the same verb: the trainer writes a snapshot of its live policy and
starts ``record --source training --delete-checkpoint``.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Optional

import numpy as np

from runners.protocol import CheckpointLoadError, VideoEntry, latest_link_target
from runners.rendering.font import draw_text
from runners.rendering.video import Recording

from .player import Playback
from .stop_flag import StopFlag

DEFAULT_FPS = 30.0


@dataclass
class RecordOptions:
    checkpoint: Path
    episodes: int = 1
    fps: float = 0.0                # 0 = the env's own rate (1 / dt), else DEFAULT_FPS
    max_steps: int = 1000           # an episode is cut after this many steps
    settle_steps: int = 0
    source: str = "record"          # record | training
    train_episode: Optional[int] = None
    seed: int = 20000
    delete_checkpoint: bool = False  # a training snapshot: remove it afterwards


class EpisodeRecorder(object):
    def __init__(self, run_dir: Path, playback: Playback, options: RecordOptions,
                 stop: Optional[StopFlag] = None, out: IO[str] = sys.stdout):
        if not hasattr(playback, "frame"):
            raise ValueError("this backend cannot render frames, so it cannot record videos")
        self.run_dir = Path(run_dir)
        self.playback = playback
        self.o = options
        self.stop = stop if stop is not None else StopFlag()
        self.out = out
        if not self.o.checkpoint.is_file() and not self.o.checkpoint.is_dir():
            raise CheckpointLoadError(self.o.checkpoint, "file does not exist")
        self.policy, step = playback.load(self.o.checkpoint)
        self.step = step

    def say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def _label(self) -> str:
        if self.o.source == "training":
            return "training ep %s" % self.o.train_episode
        return self.o.checkpoint.name

    def _settle(self, env: Any, obs: Any) -> Any:
        """Zero-action steps so the scene comes to rest; a reset if it ended meanwhile."""
        if self.o.settle_steps <= 0:
            return obs
        zero = self.playback.zero_action()
        for _ in range(self.o.settle_steps):
            obs, _r, term, trunc, _ = env.step(zero)
            if _first(term) or _first(trunc):
                self.say("settling ended the episode; recording from a fresh reset instead")
                obs, _ = env.reset()
                break
        return obs

    def run(self) -> int:
        pb = self.playback
        env = pb.make_env()
        pb.env = env
        rec = None  # type: Optional[Recording]
        t0 = time.monotonic()
        entry = None  # type: Optional[VideoEntry]
        try:
            for ep in range(self.o.episodes):
                if self.stop.is_set():
                    break
                obs, _ = env.reset(seed=self.o.seed + ep)
                obs = self._settle(env, obs)
                total, length, done = 0.0, 0, False
                frame = self._frame(ep, total, length)
                if rec is None:
                    rec = self._open(frame)
                rec.write(frame)
                while not done and length < self.o.max_steps and not self.stop.is_set():
                    obs, reward, term, trunc, _ = env.step(pb.act(self.policy, obs))
                    total += _first(reward)       # a batch: the frames show env 0
                    length += 1
                    done = bool(_first(term) or _first(trunc))
                    rec.write(self._frame(ep, total, length))
                rec.episode_done(total, length, capped=not done)
                self.say("episode %d/%d: return %.1f, length %d%s"
                         % (ep + 1, self.o.episodes, total, length,
                            "" if done else " (cut at max_video_steps)"
                            if length >= self.o.max_steps else " (stopped)"))
            if rec is None or rec.writer.frames == 0:
                if rec is not None:
                    rec.abort()
                self.say("nothing recorded (stopped by %s)" % self.stop.name)
                return 0
            entry = rec.finish()
        except BaseException:
            if rec is not None:
                rec.abort()
            raise
        finally:
            pb.close()
            if self.o.delete_checkpoint:
                try:
                    self.o.checkpoint.unlink()
                except OSError:
                    pass
        secs = max(time.monotonic() - t0, 1e-9)
        self.say("recorded videos/%s: %d episodes, %d frames at %.0f fps, %dx%d, returns %s "
                 "(%.0f frames/s)" % (entry.file, entry.episodes, entry.frames, entry.fps,
                                      entry.width, entry.height,
                                      [round(r, 1) for r in entry.returns], entry.frames / secs))
        return 0

    def _open(self, first: np.ndarray) -> Recording:
        h, w = first.shape[:2]
        dt = float(self.playback.dt or 0.0)
        fps = float(self.o.fps or (1.0 / dt if dt else DEFAULT_FPS))
        training = self.o.source == "training"
        return Recording(self.run_dir, "" if training else self.o.checkpoint, self.step,
                         w - w % 2, h - h % 2, fps, source=self.o.source,
                         env_id=self.playback.env_label, train_episode=self.o.train_episode,
                         settle_steps=self.o.settle_steps,
                         name_hint="step%09d" % (self.step or 0) if training else None)

    def _frame(self, ep: int, total: float, length: int) -> np.ndarray:
        frame = np.array(self.playback.frame(), dtype=np.uint8, copy=True)
        h, w = frame.shape[:2]
        frame = np.ascontiguousarray(frame[:h - h % 2, :w - w % 2])   # mp4 needs even sizes
        draw_text(frame, ["%s  step %s" % (self._label(), self.step),
                          "episode %d/%d  t %d  return %.1f" % (ep + 1, self.o.episodes, length,
                                                                total)])
        return frame


def _first(x: Any) -> float:
    """A scalar, or env 0's value of a batch."""
    return float(np.asarray(x, dtype=np.float64).reshape(-1)[0])


def recording_target(checkpoint: Path, latest_name: str = "latest.pth") -> Path:
    """Name the numbered file the run's latest file is now (a recording of latest names it)."""
    return latest_link_target(checkpoint, latest_name) or checkpoint
