"""``python -m runners.mujoco record``: N episodes of one checkpoint to an mp4 in ``videos/``.

Rendered offscreen (shadows and multisampling off), with an overlay (checkpoint, step, episode,
return), one frame per env step, at the env's own rate unless ``video_fps`` says otherwise. The
file is named and indexed (``videos/index.jsonl``) only when complete; a stop signal (SIGINT /
SIGTERM) ends the recording early, and the part recorded so far is kept if it holds a frame.

Also used by training (``record_video: true``): the trainer writes a snapshot of its live policy
to ``videos/.snapshots/`` and starts this with ``--source training --delete-checkpoint``.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import IO, Any, Optional, Union

import numpy as np

from runners.protocol import CheckpointLoadError, VideoEntry, latest_link_target
from runners.rendering.font import draw_text
from runners.rendering.offscreen import FrameRenderer, env_camera_config
from runners.rendering.video import Recording

from .checkpoint import load_policy, read_checkpoint
from .config import RunnerConfig
from .envs import env_dt, make_env, space_dims
from runners.stop_flag import StopFlag

DEFAULT_FPS = 30.0


class EpisodeRecorder(object):
    def __init__(self, run_dir: Union[str, Path], cfg: RunnerConfig, checkpoint: Path,
                 episodes: int = 1, width: Optional[int] = None, height: Optional[int] = None,
                 fps: Optional[float] = None, max_steps: Optional[int] = None,
                 settle_steps: Optional[int] = None, source: str = "record",
                 train_episode: Optional[int] = None, seed: Optional[int] = None,
                 stop: Optional[StopFlag] = None, out: IO[str] = sys.stdout):
        import torch

        torch.set_num_threads(1)
        v = cfg.video
        self.run_dir = Path(run_dir)
        self.cfg = cfg
        self.checkpoint = Path(checkpoint)
        self.episodes = int(episodes)
        self.width = int(width or v.video_width)
        self.height = int(height or v.video_height)
        self.max_steps = int(max_steps or v.max_video_steps)
        self.settle_steps = int(v.settle_steps if settle_steps is None else settle_steps)
        self.source = source
        self.train_episode = train_episode
        self.seed = cfg.seed + 20000 if seed is None else seed
        self.stop = stop if stop is not None else StopFlag()
        self.out = out
        self.env = make_env(cfg.env_id)
        dt = env_dt(self.env)
        self.fps = float(fps or v.video_fps or (1.0 / dt if dt else DEFAULT_FPS))
        dims = space_dims(self.env, vector=False)
        self.act_dim = dims["act_dim"]
        data = read_checkpoint(self.checkpoint, cfg.env_id, dims["obs_dim"], dims["act_dim"])
        self.step = int(data["step"])
        self.policy, _ = load_policy(self.checkpoint, cfg.env_id, dims["obs_dim"],
                                     dims["act_dim"], dims["act_low"], dims["act_high"])

    def say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def _label(self) -> str:
        if self.source == "training":
            return "training ep %s" % self.train_episode
        return self.checkpoint.name

    def _settle(self, obs: np.ndarray) -> Any:
        """Zero-action steps so the scene comes to rest; a reset if it ended meanwhile."""
        zero = np.zeros(self.act_dim, dtype=np.float32)
        for _ in range(self.settle_steps):
            obs, _r, term, trunc, _ = self.env.step(zero)
            if term or trunc:
                self.say("settling ended the episode; recording from a fresh reset instead")
                obs, _ = self.env.reset()
                break
        return obs

    def run(self) -> int:
        u = self.env.unwrapped
        renderer = FrameRenderer(u.model, self.width, self.height,
                                 camera=env_camera_config(self.env))
        rec = Recording(self.run_dir, "" if self.source == "training" else self.checkpoint,
                        self.step, self.width, self.height, self.fps, source=self.source,
                        env_id=self.cfg.env_id, train_episode=self.train_episode,
                        settle_steps=self.settle_steps,
                        name_hint="step%09d" % self.step if self.source == "training" else None)
        t0 = time.monotonic()
        entry = None  # type: Optional[VideoEntry]
        try:
            for ep in range(self.episodes):
                if self.stop.is_set():
                    break
                obs, _ = self.env.reset(seed=self.seed + ep)
                obs = self._settle(obs)
                total, length, done = 0.0, 0, False
                rec.write(self._frame(renderer, ep, total, length))
                while not done and length < self.max_steps and not self.stop.is_set():
                    action = self.policy.act(obs, self.cfg.play.deterministic)
                    obs, reward, term, trunc, _ = self.env.step(action)
                    total += float(reward)
                    length += 1
                    done = bool(term or trunc)
                    rec.write(self._frame(renderer, ep, total, length))
                rec.episode_done(total, length, capped=not done)
                self.say("episode %d/%d: return %.1f, length %d%s"
                         % (ep + 1, self.episodes, total, length,
                            "" if done else " (cut at max_video_steps)" if length >= self.max_steps
                            else " (stopped)"))
            if rec.writer.frames == 0:
                rec.abort()
                self.say("nothing recorded (stopped by %s)" % self.stop.name)
                return 0
            entry = rec.finish()
        except BaseException:
            rec.abort()
            raise
        finally:
            renderer.close()
            self.env.close()
        dt = max(time.monotonic() - t0, 1e-9)
        self.say("recorded videos/%s: %d episodes, %d frames at %.0f fps, %dx%d, returns %s "
                 "(%.0f frames/s)" % (entry.file, entry.episodes, entry.frames, entry.fps,
                                      entry.width, entry.height,
                                      [round(r, 1) for r in entry.returns], entry.frames / dt))
        return 0

    def _frame(self, renderer: FrameRenderer, ep: int, total: float, length: int) -> np.ndarray:
        frame = renderer.render(self.env.unwrapped.data)
        draw_text(frame, ["%s  step %d" % (self._label(), self.step),
                          "episode %d/%d  t %d  return %.1f" % (ep + 1, self.episodes, length,
                                                                total)])
        return frame


def record_main(run_dir: Path, cfg: RunnerConfig, args: Any, stop: StopFlag) -> int:
    from runners.protocol import resolve_checkpoint_path

    ckpt = resolve_checkpoint_path(run_dir, str(args.checkpoint or "nn/latest.pth"))
    if not ckpt.is_file():
        raise CheckpointLoadError(ckpt, "file does not exist")
    ckpt = latest_link_target(ckpt) or ckpt  # name the numbered file latest.pth is now
    rec = EpisodeRecorder(run_dir, cfg, ckpt, episodes=args.episodes, width=args.width,
                          height=args.height, fps=args.fps, max_steps=args.max_steps,
                          settle_steps=args.settle_steps, source=args.source,
                          train_episode=args.train_episode, stop=stop)
    try:
        return rec.run()
    finally:
        if args.delete_checkpoint:
            try:
                ckpt.unlink()
            except OSError:
                pass

