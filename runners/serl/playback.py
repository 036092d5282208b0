"""What the toolkit's player and recorder need from the SERL runner: one env, the checkpoint
loader (the learner's actor network), the policy's action, offscreen frames, and MuJoCo's
passive-viewer window for gymnasium MuJoCo envs.

``python -m runners.serl play --display none`` writes preview frames; ``--display :0`` opens
the window (``Ant-v5`` and other gymnasium MuJoCo envs); ``record`` writes mp4s. Frames come
from ``runners.rendering.mujoco_scene`` for gymnasium MuJoCo envs, else from the env's own
``render()`` (dm_control tasks, user envs that take ``render_mode="rgb_array"``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Tuple

import numpy as np

from runners.sdk import Playback, PlayContext

from .checkpoint import load_policy
from .config import SerlConfig
from .env_spec import EnvSpec
from .envs import env_kind, make_env
from .policy import ActorPolicy


class SerlPlayback(Playback):
    def __init__(self, ctx: PlayContext):
        import torch

        torch.set_num_threads(1)  # one env, a batch of one
        cfg = ctx.config  # type: SerlConfig
        self.cfg = cfg
        self.env_label = cfg.env
        self.seed = cfg.seed
        self.size = ctx.frame_size or (cfg.play.preview_width, cfg.play.preview_height)
        self.mujoco = env_kind(cfg.env) == "gymnasium"
        self.env = make_env(cfg.env, cfg.env_kwargs,
                            render_mode=None if self.mujoco else "rgb_array",
                            max_traj_length=cfg.max_traj_length,
                            source=Path(ctx.run_dir) / "run.json", render_size=self.size)
        self.spec = EnvSpec.of_env(cfg.env, self.env)
        self.mujoco = self.mujoco and hasattr(self.env.unwrapped, "model")
        dt = getattr(self.env.unwrapped, "dt", 0.0)
        self.dt = float(dt) if isinstance(dt, (int, float)) else 0.0
        self._frames = None  # type: Any

    def make_env(self) -> Any:
        return self.env

    def load(self, path: Path) -> Tuple[ActorPolicy, Optional[int]]:
        """Raises ``CheckpointLoadError`` for a file this env cannot use (the old policy
        stays)."""
        return load_policy(path, self.spec.layout, self.spec.act_dim)

    def act(self, policy: ActorPolicy, obs: Any) -> np.ndarray:
        return policy.act(obs, deterministic=self.cfg.play.deterministic)

    def zero_action(self) -> np.ndarray:
        return np.zeros(self.spec.act_dim, dtype=np.float32)

    def frame(self) -> np.ndarray:
        if self.mujoco:
            if self._frames is None:
                from runners.rendering.mujoco_scene import MujocoFrames

                self._frames = MujocoFrames(self.size)
            return self._frames.frame(self.env)
        img = np.asarray(self.env.render())
        if img.ndim != 3 or img.shape[2] < 3:
            raise RuntimeError("env %s rendered %s, not an HxWx3 image (does it take "
                               "render_mode='rgb_array'?)" % (self.cfg.env, list(img.shape)))
        return np.ascontiguousarray(img[:, :, :3], dtype=np.uint8)

    def open_window(self, display: str) -> Any:
        if not self.mujoco:
            raise ValueError("env %s: no live window (offscreen frames only)" % self.cfg.env)
        from runners.rendering.mujoco_scene import MujocoWindow

        return MujocoWindow(self.env, display)

    def close(self) -> None:
        if self._frames is not None:
            self._frames.close()
        self.env.close()
