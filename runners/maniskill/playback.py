"""What the toolkit's player and recorder need from the ManiSkill runner: one CPU-simulated env,
the checkpoint loader, the policy's action, offscreen frames and SAPIEN's viewer window.

``python -m runners.maniskill play --display none`` writes preview frames; ``--display :0``
opens SAPIEN's viewer there; ``record`` writes mp4s. The loop, the follower, the pacing and the
displays are the toolkit's (``runners.sdk``). A viewer simulates one env on the CPU whatever
the training used (a ``physx_cuda`` checkpoint plays the same). Training-time videos are made
by the long-lived ``recorder`` instead (``recorder.py``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Tuple

import numpy as np

from runners.sdk import Playback, PlayContext, PlaySettings

from .checkpoint import InferencePolicy, load_policy
from .config import RunnerConfig
from .envs import make_single_env
from .observations import spec_of_space
from .sapien_window import SapienWindow


class ManiSkillPlayback(Playback):
    def __init__(self, ctx: PlayContext):
        import torch

        torch.set_num_threads(1)  # one env, batch of one: threads only add latency
        cfg = ctx.config  # type: RunnerConfig
        self.cfg = cfg
        self.env_label = cfg.env_id
        self.seed = cfg.seed
        if ctx.frame_size is not None:
            size = ctx.frame_size
        elif ctx.mode == "record":
            size = (cfg.video.video_width, cfg.video.video_height)
        else:
            size = (cfg.play.preview_width, cfg.play.preview_height)
        self.window_size = (cfg.play.window_width, cfg.play.window_height)
        # a recording settles first: lengthen the time limit so the policy gets its episode
        extra = cfg.video.settle_steps if ctx.mode == "record" else 0
        self.env = make_single_env(cfg, "rgb_array", camera=size, window=self.window_size,
                                   extra_steps=extra)
        self.spec = spec_of_space(self.env.observation_space)
        space = self.env.action_space
        self.act_dim = int(space.shape[0])
        self.act_low = np.asarray(space.low, np.float32)
        self.act_high = np.asarray(space.high, np.float32)
        freq = float(getattr(self.env.unwrapped, "control_freq", 0) or 0)
        self.dt = 1.0 / freq if freq else 0.0
        self.ack_extra = {"backend": "maniskill", "sim_backend": "physx_cpu",
                          "obs_mode": cfg.obs_mode, "control_mode": cfg.control_mode}

    def make_env(self) -> Any:
        return self.env

    def load(self, path: Path) -> Tuple[InferencePolicy, Optional[int]]:
        return load_policy(path, self.cfg.env_id, self.cfg.obs_mode, self.spec, self.act_low,
                           self.act_high)

    def act(self, policy: InferencePolicy, obs: Any) -> np.ndarray:
        return policy.act(obs, self.cfg.play.deterministic)

    def zero_action(self) -> np.ndarray:
        return np.zeros(self.act_dim, dtype=np.float32)

    def frame(self) -> np.ndarray:
        frame = np.asarray(self.env.render())
        if frame.ndim == 4:
            frame = frame[0]
        return np.ascontiguousarray(frame[..., :3], dtype=np.uint8)

    def open_window(self, display: str) -> SapienWindow:
        return SapienWindow(self.env, self.window_size)

    def close(self) -> None:
        self.env.close()


def play_settings(cfg: RunnerConfig) -> PlaySettings:
    return PlaySettings(realtime=cfg.play.realtime, seed=cfg.seed,
                        preview_hz=cfg.play.preview_hz, video_fps=cfg.video.video_fps,
                        max_video_steps=cfg.video.max_video_steps,
                        settle_steps=cfg.video.settle_steps)
