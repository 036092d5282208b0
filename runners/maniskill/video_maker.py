"""Episodes of a policy to an mp4 in ``videos/`` (+ its trajectory), in one CPU env that lives as
long as its owner: the long-lived training-video recorder and ``record``.

Per episode: reset, ``settle_steps`` zero-action steps so the objects come to rest (the env's
time limit is lengthened by as many steps, so the policy still gets its full episode), then the
policy acts until the episode ends or ``max_video_steps``. One frame after the reset (settled)
and one per step, each with an overlay: checkpoint or training episode and step, the step's
reward, the cumulative return, the action's magnitude and the success flag. ManiSkill's own
``info_on_video`` is not used (it crashes with numpy >= 2.4).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import IO, Any, Dict, List, Optional, Tuple, Union

import numpy as np

from runners.protocol import VideoEntry
from runners.protocol.trajectories import trajectory_path, write_trajectory
from runners.rendering.font import draw_text
from runners.rendering.video import Recording
from runners.sdk.stop_flag import StopFlag

from .checkpoint import InferencePolicy
from .config import RunnerConfig
from .envs import make_single_env
from .observations import spec_of_space

DEFAULT_FPS = 30.0


def overlay_lines(label: str, step: Optional[int], t: int, reward: Optional[float],
                  total: float, action_norm: Optional[float], success: bool) -> List[str]:
    """The three overlay lines (short enough for a 256-pixel frame at scale 1)."""
    return ["%s  STEP %s" % (label, "-" if step is None else step),
            "T %d  R %s  RETURN %.2f" % (t, "-" if reward is None else "%+.3f" % reward, total),
            "ACTION %s  SUCCESS %s" % ("-" if action_norm is None else "%.2f" % action_norm,
                                       "YES" if success else "NO")]


class _Trajectory(object):
    """Arrays of the episodes of one video, filled step by step."""

    def __init__(self) -> None:
        self.rows = {"actions": [], "rewards": [], "terminated": [], "truncated": [],
                     "success": [], "episode": [], "elapsed": [], "obs": [], "env_states": []
                     }  # type: Dict[str, List[Any]]

    def start(self, obs: Any, state: np.ndarray) -> None:
        self.rows["obs"].append(_state_part(obs))
        self.rows["env_states"].append(state)

    def step(self, episode: int, action: np.ndarray, reward: float, term: bool, trunc: bool,
             success: bool, elapsed: int, obs: Any, state: np.ndarray) -> None:
        r = self.rows
        r["actions"].append(np.asarray(action, np.float32))
        r["rewards"].append(float(reward))
        r["terminated"].append(bool(term))
        r["truncated"].append(bool(trunc))
        r["success"].append(bool(success))
        r["episode"].append(int(episode))
        r["elapsed"].append(int(elapsed))
        self.start(obs, state)

    def arrays(self, act_dim: int) -> Dict[str, np.ndarray]:
        r = self.rows
        return {"actions": np.asarray(r["actions"], np.float32).reshape(-1, act_dim),
                "rewards": np.asarray(r["rewards"], np.float32),
                "terminated": np.asarray(r["terminated"], bool),
                "truncated": np.asarray(r["truncated"], bool),
                "success": np.asarray(r["success"], bool),
                "episode": np.asarray(r["episode"], np.int32),
                "elapsed": np.asarray(r["elapsed"], np.int32),
                "obs": np.asarray(r["obs"], np.float32),
                "env_states": np.asarray(r["env_states"], np.float32)}


def _elapsed(info: Dict[str, Any], fallback: int) -> int:
    """The env's own step counter (ManiSkill's ``elapsed_steps``), which counts settle steps."""
    v = info.get("elapsed_steps")
    try:
        return int(np.asarray(v).reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        return fallback


def _state_part(obs: Any) -> np.ndarray:
    if isinstance(obs, dict):
        return np.asarray(obs["state"], np.float32)
    return np.asarray(obs, np.float32)


class VideoMaker(object):
    def __init__(self, run_dir: Union[str, Path], cfg: RunnerConfig,
                 width: Optional[int] = None, height: Optional[int] = None,
                 fps: Optional[float] = None, max_steps: Optional[int] = None,
                 settle_steps: Optional[int] = None, save_trajectory: Optional[bool] = None,
                 stop: Optional[StopFlag] = None, out: IO[str] = sys.stdout):
        v = cfg.video
        self.run_dir = Path(run_dir)
        self.cfg = cfg
        self.width = int(width or v.video_width)
        self.height = int(height or v.video_height)
        self.max_steps = int(max_steps or v.max_video_steps)
        self.settle_steps = int(v.settle_steps if settle_steps is None else settle_steps)
        self.save_trajectory = v.save_trajectory if save_trajectory is None else save_trajectory
        self.stop = stop if stop is not None else StopFlag()
        self.out = out
        self.env = make_single_env(cfg, "rgb_array", camera=(self.width, self.height),
                                   extra_steps=self.settle_steps)
        u = self.env.unwrapped
        self.fps = float(fps or v.video_fps or getattr(u, "control_freq", 0) or DEFAULT_FPS)
        self.spec = spec_of_space(self.env.observation_space)
        space = self.env.action_space
        self.act_dim = int(space.shape[0])
        self.act_low = np.asarray(space.low, np.float32)
        self.act_high = np.asarray(space.high, np.float32)
        self.warm = False

    def say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def warm_up(self) -> float:
        """Render once: the first render of a process costs seconds (SAPIEN's renderer)."""
        t0 = time.monotonic()
        self.env.reset(seed=self.cfg.seed)
        self._render()
        self.warm = True
        return time.monotonic() - t0

    def _render(self) -> np.ndarray:
        frame = np.asarray(self.env.render())
        if frame.ndim == 4:
            frame = frame[0]
        return np.ascontiguousarray(frame[..., :3], dtype=np.uint8)

    def _state(self) -> np.ndarray:
        s = self.env.unwrapped.get_state()
        return np.asarray(s.cpu().numpy() if hasattr(s, "cpu") else s, np.float32).reshape(-1)

    def _settle(self, obs: Any) -> Tuple[Any, Dict[str, Any]]:
        zero = np.zeros(self.act_dim, dtype=np.float32)
        info = {}  # type: Dict[str, Any]
        for _ in range(self.settle_steps):
            obs, _r, term, trunc, info = self.env.step(zero)
            if term or trunc:  # the task ended while settling: start from a fresh reset
                self.say("settling ended the episode; recording from a fresh reset instead")
                obs, info = self.env.reset()
                break
        return obs, info

    def record(self, policy: InferencePolicy, label: str, checkpoint: str, step: Optional[int],
               episodes: int = 1, source: str = "record", train_episode: Optional[int] = None,
               seed: int = 0) -> Optional[VideoEntry]:
        """Record ``episodes`` episodes to one indexed mp4; None when stopped before a frame."""
        rec = Recording(self.run_dir, checkpoint, step, self.width, self.height, self.fps,
                        source=source, env_id=self.cfg.env_id, train_episode=train_episode,
                        settle_steps=self.settle_steps,
                        name_hint="step%09d" % (step or 0) if source == "training" else None)
        traj = _Trajectory() if self.save_trajectory else None
        try:
            for ep in range(episodes):
                if self.stop.is_set():
                    break
                self._episode(rec, traj, policy, label, step, ep, seed + ep)
            if rec.writer.frames == 0:
                rec.abort()
                return None
            meta = {"env_id": self.cfg.env_id, "obs_mode": self.cfg.obs_mode,
                    "control_mode": self.cfg.control_mode, "checkpoint": checkpoint,
                    "step": step, "settle_steps": self.settle_steps,
                    "episodes": len(rec.returns), "source": source}

            def save_traj(mp4: Path) -> None:
                if traj is not None:
                    write_trajectory(trajectory_path(mp4), traj.arrays(self.act_dim),
                                     dict(meta, video=mp4.name))

            return rec.finish(before_index=save_traj)
        except BaseException:
            rec.abort()
            raise

    def _episode(self, rec: Recording, traj: Optional[_Trajectory], policy: InferencePolicy,
                 label: str, step: Optional[int], ep: int, seed: int) -> None:
        obs, _ = self.env.reset(seed=seed)
        obs, info = self._settle(obs)
        total, length, done, success = 0.0, 0, False, False
        if traj is not None:
            traj.start(obs, self._state())
        rec.write(self._frame(label, step, 0, None, total, None, False))
        while not done and length < self.max_steps and not self.stop.is_set():
            action = policy.act(obs, self.cfg.play.deterministic)
            obs, reward, term, trunc, info = self.env.step(action)
            total += float(reward)
            length += 1
            done = bool(term or trunc)
            success = bool(np.asarray(info.get("success", False)).any())
            if traj is not None:
                traj.step(ep, action, float(reward), bool(term), bool(trunc), success,
                          _elapsed(info, length), obs, self._state())
            rec.write(self._frame(label, step, length, float(reward), total,
                                  float(np.linalg.norm(action)), success))
        rec.episode_done(total, length, capped=not done)
        self.say("video episode %d: return %.2f, length %d%s%s"
                 % (ep + 1, total, length, ", success" if success else "",
                    "" if done else " (cut at max_video_steps)" if length >= self.max_steps
                    else " (stopped)"))

    def _frame(self, label: str, step: Optional[int], t: int, reward: Optional[float],
               total: float, action_norm: Optional[float], success: bool) -> np.ndarray:
        frame = self._render()
        if frame.shape[:2] != (self.height, self.width):
            raise RuntimeError("the env rendered %s frames, expected %dx%d"
                               % (frame.shape, self.width, self.height))
        draw_text(frame, overlay_lines(label, step, t, reward, total, action_norm, success))
        return frame

    def close(self) -> None:
        self.env.close()
