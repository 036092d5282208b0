"""What a player needs of this backend: an env, a checkpoint loader, actions, frames.

Shaped for the runner toolkit's player (``make_env``/``load``/``act``/``frame``), which owns the
follow -> load -> swap -> ack loop; ``load`` runs off the env loop and raises for a bad file (the
current policy stays). Pickles are read with the protocol's allow-list unpickler and checked
against the env before anything is swapped in.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Tuple, Union

import numpy as np

from runners.protocol import RunPaths

from .config import AmpConfig
from .envs import make_play_env, resolve_backend
from .policy import AmpPolicy, load_policy

LATEST = "nn/latest.pkl"


class AmpPlayback(object):
    def __init__(self, run_dir: Union[str, Path], cfg: AmpConfig,
                 deterministic: Optional[bool] = None, seed: Optional[int] = None):
        self.run_dir = Path(run_dir)
        self.cfg = cfg
        self.deterministic = cfg.play.deterministic if deterministic is None else deterministic
        self.seed = cfg.seed if seed is None else seed
        self.backend = resolve_backend(cfg, RunPaths(run_dir).run_json)
        self.env = None  # type: Any
        self.obs_dim = 0
        self.act_dim = 0
        self._renderer = None  # type: Any

    def make_env(self) -> Any:
        env = make_play_env(self.cfg, self.backend)
        if self.backend == "gymnasium":
            self.obs_dim = int(np.prod(env.observation_space.shape))
            self.act_dim = int(np.prod(env.action_space.shape))
        else:
            info = env.env.info
            self.obs_dim = int(np.prod(info.observation_space.shape))
            self.act_dim = int(np.prod(info.action_space.shape))
        self.env = env
        return env

    @property
    def dt(self) -> float:
        return float(getattr(self.env.unwrapped, "dt", 0.0) or 0.0)

    def load(self, path: Union[str, Path]) -> Tuple[AmpPolicy, Optional[int]]:
        return load_policy(path, self.cfg, self.obs_dim, self.act_dim, self.deterministic,
                           self.seed)

    def act(self, policy: AmpPolicy, obs: np.ndarray) -> np.ndarray:
        return policy.act(obs)

    def episode_start(self, policy: AmpPolicy) -> None:
        policy.reset()

    def frame(self, width: int = 256, height: int = 256) -> np.ndarray:
        """The current state rendered offscreen (HxWx3 uint8)."""
        from runners.rendering.offscreen import FrameRenderer, env_camera_config

        r = self._renderer
        if r is None or (r.width, r.height) != (width, height):
            if r is not None:
                r.close()
            cam = env_camera_config(self.env) if self.backend == "gymnasium" else None
            self._renderer = r = FrameRenderer(self.env.unwrapped.model, width, height,
                                               camera=cam)
        return r.render(self.env.unwrapped.data)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        if self.env is not None:
            self.env.close()
            self.env = None


__all__ = ["AmpPlayback", "LATEST"]
