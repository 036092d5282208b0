"""What a viewer of a SERL run needs, in the shape the runner toolkit's player takes:
``make_env()``, ``load(path) -> (policy, step)``, ``act(policy, obs)``, ``frame()``.

The player loop itself (follow the checkpoint state, load off the env loop, swap between steps,
acks, pacing, preview frames, videos) belongs to the toolkit (``runners.sdk``); nothing here
assumes a particular loop. ``frame()`` renders the env offscreen (``render_mode="rgb_array"``:
gymnasium MuJoCo envs, dm_control tasks, and user envs whose entry point takes
``render_mode``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Tuple, Union

import numpy as np

from .checkpoint import load_policy
from .config import SerlConfig
from .env_spec import EnvSpec
from .envs import make_env
from .policy import ActorPolicy


class SerlPlayback(object):
    def __init__(self, cfg: SerlConfig, run_json: Union[str, Path] = "run.json",
                 size: Optional[Tuple[int, int]] = None):
        self.cfg = cfg
        self.run_json = run_json
        self.size = size or (cfg.play.preview_width, cfg.play.preview_height)
        self.env = None  # type: Any
        self.spec = None  # type: Optional[EnvSpec]

    def make_env(self) -> Any:
        self.env = make_env(self.cfg.env, self.cfg.env_kwargs, render_mode="rgb_array",
                            max_traj_length=self.cfg.max_traj_length, source=self.run_json,
                            render_size=self.size)
        self.spec = EnvSpec.of_env(self.cfg.env, self.env)
        return self.env

    def load(self, path: Union[str, Path]) -> Tuple[ActorPolicy, int]:
        """Raises ``CheckpointLoadError`` for a file this env cannot use (the old policy
        stays)."""
        if self.spec is None:
            raise RuntimeError("make_env() first: the checkpoint is checked against the env")
        return load_policy(path, self.spec.layout, self.spec.act_dim)

    def act(self, policy: ActorPolicy, obs: Any) -> np.ndarray:
        return policy.act(obs, deterministic=self.cfg.play.deterministic)

    def frame(self) -> np.ndarray:
        img = np.asarray(self.env.render())
        if img.ndim != 3 or img.shape[2] < 3:
            raise RuntimeError("env %s rendered %s, not an HxWx3 image"
                               % (self.cfg.env, list(img.shape)))
        return np.ascontiguousarray(img[:, :, :3], dtype=np.uint8)

    def close(self) -> None:
        if self.env is not None:
            self.env.close()
            self.env = None
