"""The parameters of the MuJoCo runner, read from ``run.json`` and checked.

They are the ``params`` of the profile (``configs/mujoco/*.yaml``) after overrides. Every error
names ``run.json`` and the dotted field (``params.ppo.lr``) and says what was expected.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Union

from runners.sdk.params import MISSING, ParamsReader
from runners.protocol import RunPaths, read_params

DEVICES = ("auto", "cpu", "cuda")

@dataclass
class PPOConfig:
    lr: float = 3e-4
    anneal_lr: bool = True
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip: float = 0.2
    epochs: int = 10
    minibatches: int = 4
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5      # 0 = no clipping
    target_kl: float = 0.0          # 0 = no early stop
    hidden: List[int] = field(default_factory=lambda: [64, 64])
    init_log_std: float = 0.0       # initial log std of the Gaussian policy
    norm_obs: bool = True
    norm_reward: bool = True


@dataclass
class PlayConfig:
    deterministic: bool = True
    realtime: bool = True
    preview_hz: float = 4.0         # headless viewer: preview frames per second (0 = none)
    preview_width: int = 256
    preview_height: int = 256


@dataclass
class VideoConfig:
    """Video knobs, named as the ManiSkill seed's flags (``--record_video`` ...)."""
    record_video: bool = False      # record during training (a separate process, a snapshot)
    video_record_interval: int = 50  # training EPISODES between recordings (not steps)
    max_video_steps: int = 1000     # an episode is cut after this many steps in a video
    video_fps: float = 0.0          # 0 = the env's own rate (1 / dt)
    video_width: int = 256
    video_height: int = 256
    settle_steps: int = 0           # zero-action steps after reset, before recording starts
    video_episodes: int = 1         # episodes per training-time video


@dataclass
class RunnerConfig:
    env_id: str
    total_steps: int
    seed: int = 0
    device: str = "auto"
    num_envs: int = 8
    rollout_steps: int = 128
    save_every: int = 10            # updates between checkpoints (0 = only at the end)
    keep_last: int = 0              # history files to keep (0 = all)
    torch_threads: int = 0          # 0 = auto (min(2, cores) here)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    play: PlayConfig = field(default_factory=PlayConfig)
    video: VideoConfig = field(default_factory=VideoConfig)
    unknown: List[str] = field(default_factory=list)  # params this runner does not use

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.rollout_steps

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.ppo.minibatches


class _Reader(ParamsReader):
    runner = "mujoco"



def parse_params(params: Dict[str, Any], source: Union[str, Path] = "run.json") -> RunnerConfig:
    """Check ``params`` and build the config; raises :class:`ProtocolError`."""
    top = _Reader(source, params, "params")
    ppo_r = top.section("ppo")
    play_r = top.section("play")
    d = PPOConfig()
    ppo = PPOConfig(
        lr=ppo_r.number("lr", d.lr, (0.0, None), open_low=True),
        anneal_lr=ppo_r.boolean("anneal_lr", d.anneal_lr),
        gamma=ppo_r.number("gamma", d.gamma, (0.0, 1.0), open_low=True),
        gae_lambda=ppo_r.number("gae_lambda", d.gae_lambda, (0.0, 1.0)),
        clip=ppo_r.number("clip", d.clip, (0.0, None), open_low=True),
        epochs=ppo_r.integer("epochs", d.epochs, 1),
        minibatches=ppo_r.integer("minibatches", d.minibatches, 1),
        ent_coef=ppo_r.number("ent_coef", d.ent_coef, (0.0, None)),
        vf_coef=ppo_r.number("vf_coef", d.vf_coef, (0.0, None)),
        max_grad_norm=ppo_r.number("max_grad_norm", d.max_grad_norm, (0.0, None)),
        target_kl=ppo_r.number("target_kl", d.target_kl, (0.0, None)),
        hidden=ppo_r.int_list("hidden", d.hidden),
        init_log_std=ppo_r.number("init_log_std", d.init_log_std, (-5.0, 2.0)),
        norm_obs=ppo_r.boolean("norm_obs", d.norm_obs),
        norm_reward=ppo_r.boolean("norm_reward", d.norm_reward),
    )
    dp = PlayConfig()
    play = PlayConfig(deterministic=play_r.boolean("deterministic", dp.deterministic),
                      realtime=play_r.boolean("realtime", dp.realtime),
                      preview_hz=play_r.number("preview_hz", dp.preview_hz, (0.0, 60.0)),
                      preview_width=play_r.frame_size("preview_width", dp.preview_width),
                      preview_height=play_r.frame_size("preview_height", dp.preview_height))
    dv = VideoConfig()
    video = VideoConfig(
        record_video=top.boolean("record_video", dv.record_video),
        video_record_interval=top.integer("video_record_interval", dv.video_record_interval, 1),
        max_video_steps=top.integer("max_video_steps", dv.max_video_steps, 1),
        video_fps=top.number("video_fps", dv.video_fps, (0.0, 240.0)),
        video_width=top.frame_size("video_width", dv.video_width),
        video_height=top.frame_size("video_height", dv.video_height),
        settle_steps=top.integer("settle_steps", dv.settle_steps, 0),
        video_episodes=top.integer("video_episodes", dv.video_episodes, 1),
    )
    cfg = RunnerConfig(
        env_id=top.string("env_id"),
        total_steps=top.integer("total_steps", MISSING, 1),
        seed=top.integer("seed", 0),
        device=top.string("device", "auto", choices=DEVICES),
        num_envs=top.integer("num_envs", 8, 1),
        rollout_steps=top.integer("rollout_steps", 128, 1),
        save_every=top.integer("save_every", 10, 0),
        keep_last=top.integer("keep_last", 0, 0),
        torch_threads=top.integer("torch_threads", 0, 0),
        ppo=ppo, play=play, video=video,
    )
    if ppo.minibatches > cfg.batch_size:
        raise ppo_r.fail("minibatches", "must be <= num_envs * rollout_steps = %d, found %d"
                         % (cfg.batch_size, ppo.minibatches))
    cfg.unknown = top.unknown() + ppo_r.unknown() + play_r.unknown()
    return cfg


def load_config(run_dir: Union[str, Path]) -> RunnerConfig:
    """Read and check the params of ``run_dir/run.json``."""
    return parse_params(read_params(run_dir), RunPaths(run_dir).run_json)
