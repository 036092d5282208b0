"""What the toolkit's player, recorder and our ``eval`` need from the AMP runner: one env, the
pickle loader, the policy's action, offscreen frames and MuJoCo's passive-viewer window.

``load`` runs on the toolkit's loader thread and raises for any bad file (the current policy
stays): pickles are read with the protocol's allow-list unpickler and every array is checked
against the env (``policy.load_policy``). The env is wrapped so that each reset restarts the
current policy's observation history (``disc_obs.obs_history_len`` > 1).
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Optional, Tuple

import numpy as np

from runners.protocol import RunPaths
from runners.rendering.mujoco_scene import MujocoFrames, MujocoWindow
from runners.sdk import Playback, PlayContext

from .config import AmpConfig
from .envs import make_play_env, resolve_backend
from .policy import AmpPolicy, load_policy

# videos: imageio-ffmpeg starts ffmpeg with subprocess (fork and exec at once), so JAX's warning
# about forking a multithreaded process does not apply
warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)


class HistoryResetEnv(object):
    """The env, with ``reset`` also restarting the active policy's observation history."""

    def __init__(self, env: Any, owner: "AmpPlayback"):
        self._env = env
        self._owner = owner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._env, name)

    @property
    def unwrapped(self) -> Any:
        return self._env.unwrapped

    def reset(self, **kw: Any) -> Any:
        out = self._env.reset(**kw)
        if self._owner.active is not None:
            self._owner.active.reset()
        return out

    def step(self, action: Any) -> Any:
        return self._env.step(action)

    def close(self) -> None:
        self._env.close()


class AmpPlayback(Playback):
    def __init__(self, ctx: PlayContext, deterministic: Optional[bool] = None,
                 seed: Optional[int] = None):
        cfg = ctx.config  # type: AmpConfig
        self.cfg = cfg
        self.run_dir = Path(ctx.run_dir)
        self.deterministic = cfg.play.deterministic if deterministic is None else deterministic
        self.seed = cfg.seed if seed is None else seed
        self.backend = resolve_backend(cfg, RunPaths(ctx.run_dir).run_json)
        self.env_label = cfg.env_id
        self.ack_extra = {"backend": "amp/%s" % self.backend}
        raw = make_play_env(cfg, self.backend)
        u = raw.unwrapped
        self.dt = float(getattr(u, "dt", 0.0) or 0.0)
        if self.backend == "gymnasium":
            obs_space, act_space = raw.observation_space, raw.action_space
        else:
            obs_space, act_space = raw.env.info.observation_space, raw.env.info.action_space
        self.obs_dim = int(np.prod(obs_space.shape))
        self.act_dim = int(np.prod(act_space.shape))
        self.active = None  # type: Optional[AmpPolicy]
        self.env = HistoryResetEnv(raw, self)
        size = ctx.frame_size or (cfg.play.preview_width, cfg.play.preview_height)
        self.frames = MujocoFrames(size)

    def make_env(self) -> Any:
        return self.env

    def load(self, path: Path) -> Tuple[AmpPolicy, Optional[int]]:
        return load_policy(path, self.cfg, self.obs_dim, self.act_dim, self.deterministic,
                           self.seed)

    def activate(self, policy: AmpPolicy) -> None:
        self.active = policy

    def act(self, policy: AmpPolicy, obs: np.ndarray) -> np.ndarray:
        if policy is not self.active:   # the recorder and eval never call activate()
            self.active = policy
        return policy.act(obs)

    def zero_action(self) -> np.ndarray:
        return np.zeros(self.act_dim, dtype=np.float32)

    def frame(self) -> np.ndarray:
        return self.frames.frame(self.env._env)

    def open_window(self, display: str) -> MujocoWindow:
        return MujocoWindow(self.env._env, display)

    def close(self) -> None:
        self.frames.close()
        self.env.close()


__all__ = ["AmpPlayback", "HistoryResetEnv"]
