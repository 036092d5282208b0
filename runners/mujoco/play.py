"""What the toolkit's player and recorder need from the MuJoCo runner: one gymnasium env, the
checkpoint loader, the policy's action, offscreen frames and MuJoCo's passive-viewer window.

``python -m runners.mujoco play --display none`` writes preview frames; ``--display :0`` (or a
Wayland socket) opens the window; ``record`` writes mp4s. The loop, the follower and the
displays are the toolkit's (``runners.sdk``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Tuple

import numpy as np

from runners.rendering.mujoco_scene import MujocoFrames, MujocoWindow
from runners.sdk import Playback, PlayContext, PlaySettings

from .checkpoint import InferencePolicy, load_policy
from .config import RunnerConfig
from .envs import env_dt, make_env, space_dims


class MujocoPlayback(Playback):
    def __init__(self, ctx: PlayContext):
        import torch

        torch.set_num_threads(1)  # one env, batch of one: threads only add latency
        cfg = ctx.config  # type: RunnerConfig
        self.cfg = cfg
        self.env_label = cfg.env_id
        self.seed = cfg.seed
        self.env = make_env(cfg.env_id)
        dims = space_dims(self.env, vector=False)
        self.obs_dim, self.act_dim = dims["obs_dim"], dims["act_dim"]
        self.act_low, self.act_high = dims["act_low"], dims["act_high"]
        self.dt = env_dt(self.env)
        if ctx.frame_size is not None:
            size = ctx.frame_size
        elif ctx.mode == "record":
            size = (cfg.video.video_width, cfg.video.video_height)
        else:
            size = (cfg.play.preview_width, cfg.play.preview_height)
        self.frames = MujocoFrames(size)

    def make_env(self) -> Any:
        return self.env

    def load(self, path: Path) -> Tuple[InferencePolicy, Optional[int]]:
        return load_policy(path, self.cfg.env_id, self.obs_dim, self.act_dim, self.act_low,
                           self.act_high)

    def act(self, policy: InferencePolicy, obs: np.ndarray) -> np.ndarray:
        return policy.act(obs, self.cfg.play.deterministic)

    def zero_action(self) -> np.ndarray:
        return np.zeros(self.act_dim, dtype=np.float32)

    def frame(self) -> np.ndarray:
        return self.frames.frame(self.env)

    def open_window(self, display: str) -> MujocoWindow:
        return MujocoWindow(self.env, display)

    def close(self) -> None:
        self.frames.close()
        self.env.close()


def play_settings(cfg: RunnerConfig) -> PlaySettings:
    return PlaySettings(realtime=cfg.play.realtime, seed=cfg.seed,
                        preview_hz=cfg.play.preview_hz, video_fps=cfg.video.video_fps,
                        max_video_steps=cfg.video.max_video_steps,
                        settle_steps=cfg.video.settle_steps)
