"""``python -m runners.mujoco play``: one env, driven by whatever checkpoint the run's state file
asks for, hot-swapped between env steps (no reset on a swap).

:class:`Player` owns the loop; a :class:`Display` receives every step and episode end. Only the
headless ``none`` display exists so far; a window, a video writer or a terminal preview is
another :class:`Display` (it names the gymnasium ``render_mode`` it needs and gets ``show``
after each step).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import IO, Any, Dict, Optional, Tuple, Type, Union

import numpy as np

from runners.checkpoint_follower import CheckpointFollower, Loaded

from .checkpoint import InferencePolicy, load_policy
from .config import RunnerConfig
from .envs import env_dt, make_env, space_dims
from .stop_signal import StopFlag

FELL_BEHIND_S = 0.25   # realtime pacing gives up catching up beyond this lag
EPISODE_LINE_S = 1.0   # at most one episode line per second in the log


class Display(object):
    """Where a viewer's frames go. Subclasses set ``name`` and ``render_mode``."""

    name = "none"
    render_mode = None  # type: Optional[str]

    def open(self, env: Any) -> None:
        pass

    def show(self, env: Any, step_info: Dict[str, Any]) -> None:
        """Called after every env step."""

    def episode_end(self, episode: int, episode_return: float, length: int) -> None:
        pass

    def close(self) -> None:
        pass


class NullDisplay(Display):
    """Headless: nothing is rendered (the viewer still reports episodes in its ack)."""


DISPLAYS = {"none": NullDisplay}  # type: Dict[str, Type[Display]]


def make_display(name: str) -> Display:
    try:
        return DISPLAYS[name]()
    except KeyError:
        raise ValueError("--display %r is not available yet (known: %s)"
                         % (name, ", ".join(sorted(DISPLAYS))))


class Player(object):
    def __init__(self, run_dir: Union[str, Path], viewer_id: str, cfg: RunnerConfig,
                 display: Optional[Display] = None, stop: Optional[StopFlag] = None,
                 out: IO[str] = sys.stdout):
        import torch

        torch.set_num_threads(1)  # one env, batch of one: threads only add latency
        self.cfg = cfg
        self.stop = stop if stop is not None else StopFlag()
        self.out = out
        self.display = display or NullDisplay()
        self.env = make_env(cfg.env_id, render_mode=self.display.render_mode)
        dims = space_dims(self.env, vector=False)
        self.obs_dim, self.act_dim = dims["obs_dim"], dims["act_dim"]
        self.act_low, self.act_high = dims["act_low"], dims["act_high"]
        self.dt = env_dt(self.env) if cfg.play.realtime else 0.0
        self.follower = CheckpointFollower(run_dir, viewer_id, load=self._load,
                                           display=self.display.name)
        self.policy = None  # type: Optional[InferencePolicy]
        self.obs = None  # type: Optional[np.ndarray]
        self.episode = 0
        self.episode_return = 0.0
        self.episode_length = 0
        self.env_steps = 0
        self._next_tick = 0.0
        self._last_error = None  # type: Optional[str]
        self._last_episode_line = 0.0
        self._started = time.monotonic()

    def _load(self, path: Path) -> Tuple[InferencePolicy, Optional[int]]:
        return load_policy(path, self.cfg.env_id, self.obs_dim, self.act_dim, self.act_low,
                           self.act_high)

    def say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    # ------------------------------------------------------------------ loop
    def run(self) -> int:
        try:
            self.say("Viewer %s started: %s, display %s, %s, waiting for a checkpoint (%s)"
                     % (self.follower.viewer_id, self.cfg.env_id, self.display.name,
                        "real time" if self.dt else "as fast as possible",
                        self.follower.latest_relpath))
            first = self.follower.wait_for_first(should_stop=self.stop)
            self._report_error()
            if first is None:
                self.say("stopped by %s before any checkpoint was loaded" % self.stop.name)
                return 0
            self._swap(first)
            self.display.open(self.env)
            self.obs, _ = self.env.reset(seed=self.cfg.seed)
            self._next_tick = time.monotonic()
            while not self.stop.is_set():
                self.step()
            self.say("stopped by %s after %d episodes" % (self.stop.name, self.episode))
            return 0
        finally:
            self.follower.set_extra(env_steps=self.env_steps)
            self.follower.close()
            self.display.close()
            self.env.close()

    def step(self) -> None:
        """One env step with the current policy, then the display hook and the pacing."""
        self.poll()
        assert self.policy is not None and self.obs is not None
        action = self.policy.act(self.obs, self.cfg.play.deterministic)
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.env_steps += 1
        self.follower.set_extra(env_steps=self.env_steps)  # goes out with the next ack
        self.episode_length += 1
        self.episode_return += float(reward)
        self.display.show(self.env, info)
        if terminated or truncated:
            self._end_episode()
            obs, _ = self.env.reset()
        self.obs = obs
        self._pace()

    def poll(self) -> None:
        """Ask the follower for a new policy; swap it in place (the env is not reset)."""
        loaded = self.follower.poll()
        if loaded is not None:
            self._swap(loaded)
        self._report_error()

    def _swap(self, loaded: "Loaded[InferencePolicy]") -> None:
        self.policy = loaded.policy
        self.say("loaded %s (step %s)" % (loaded.path, loaded.step))

    def _report_error(self) -> None:
        err = self.follower.status.error
        if err and err != self._last_error:
            self.say("checkpoint refused, keeping the current policy: %s" % err)
        self._last_error = err

    def _end_episode(self) -> None:
        self.episode += 1
        self.follower.note_episode(self.episode_return)
        elapsed = max(time.monotonic() - self._started, 1e-9)
        self.follower.set_extra(episode_length=self.episode_length,
                                steps_per_s=round(self.env_steps / elapsed, 1))
        self.display.episode_end(self.episode, self.episode_return, self.episode_length)
        now = time.monotonic()
        if now - self._last_episode_line >= EPISODE_LINE_S:
            self._last_episode_line = now
            self.say("episode %d: return %.1f, length %d (step %s)"
                     % (self.episode, self.episode_return, self.episode_length,
                        self.policy.step if self.policy is not None else "?"))
        self.episode_return = 0.0
        self.episode_length = 0

    def _pace(self) -> None:
        """Real time: wait out the env's dt, still polling so a switch lands quickly."""
        if not self.dt:
            return
        self._next_tick += self.dt
        while not self.stop.is_set():
            remaining = self._next_tick - time.monotonic()
            if remaining <= 0:
                break
            time.sleep(min(remaining, self.follower.poll_interval))
            self.poll()
        lag = time.monotonic() - self._next_tick
        if lag > FELL_BEHIND_S:
            self._next_tick = time.monotonic()  # slower than real time: do not sprint after
