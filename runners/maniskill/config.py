"""The parameters of the ManiSkill runner, read from ``run.json`` and checked.

They are the ``params`` of the profile (``configs/maniskill/*.yaml``) after overrides. Every error
names ``run.json`` and the dotted field (``params.ppo.lr``) and says what was expected. The PPO
defaults are those of ManiSkill's own baseline (``examples/baselines/ppo/ppo.py``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Union

from runners.sdk.params import MISSING, ParamsReader
from runners.protocol import RunPaths, read_params

OBS_MODES = ("state", "rgb")
SIM_BACKENDS = ("auto", "physx_cpu", "physx_cuda")
DEVICES = ("auto", "cpu", "cuda")
CPU_VECTORS = ("sync", "forkserver", "spawn")   # never fork: SAPIEN deadlocks in a forked child
BOOTSTRAP = ("always", "truncated")
AUTO_ENVS_GPU = 512
AUTO_ENVS_CPU = 8


@dataclass
class PPOConfig:
    lr: float = 3e-4
    anneal_lr: bool = False
    gamma: float = 0.8
    gae_lambda: float = 0.9
    clip: float = 0.2
    epochs: int = 4
    minibatches: int = 32
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5      # 0 = no clipping
    target_kl: float = 0.1          # 0 = no early stop
    norm_adv: bool = True
    clip_vloss: bool = False
    hidden: List[int] = field(default_factory=lambda: [256, 256, 256])
    init_log_std: float = -0.5
    # "always": a finished episode's last state is bootstrapped with V(final obs) whether it
    # ended by success or by the time limit (ManiSkill's baseline: success is not a dead end);
    # "truncated": only time limits are bootstrapped (textbook PPO)
    bootstrap_at_done: str = "always"


@dataclass
class PlayConfig:
    deterministic: bool = True
    realtime: bool = True
    preview_hz: float = 4.0
    preview_width: int = 256
    preview_height: int = 256
    window_width: int = 640         # the SAPIEN viewer window
    window_height: int = 480


@dataclass
class VideoConfig:
    """The ManiSkill seed's flags (``--record_video`` ...), with their meaning done right."""
    record_video: bool = False
    video_record_interval: int = 50  # finished training EPISODES between videos (not steps)
    max_video_steps: int = 1000      # an episode is cut after this many recorded steps
    video_fps: float = 0.0           # 0 = the env's control rate
    video_width: int = 256
    video_height: int = 256
    settle_steps: int = 0            # zero-action steps after reset; recording starts after them
    save_trajectory: bool = False    # states, actions, rewards next to the mp4 (.traj.npz)
    video_episodes: int = 1          # episodes per training-time video


@dataclass
class RunnerConfig:
    env_id: str
    total_steps: int
    obs_mode: str = "state"
    control_mode: str = "pd_joint_delta_pos"
    sim_backend: str = "auto"
    device: str = "auto"
    seed: int = 1
    num_envs: int = 0               # 0 = auto (AUTO_ENVS_GPU on physx_cuda, AUTO_ENVS_CPU)
    rollout_steps: int = 50
    cpu_vector: str = "sync"
    partial_reset: bool = True      # an env that succeeds resets at once (else at the limit)
    reconfiguration_freq: int = 0   # resets between scene reconfigurations (0 = never)
    reward_scale: float = 1.0
    save_every: int = 10            # updates between checkpoints (0 = only at the end)
    keep_last: int = 0
    torch_threads: int = 0
    log_csv: bool = True            # training_log.csv with the seed's columns
    ppo: PPOConfig = field(default_factory=PPOConfig)
    play: PlayConfig = field(default_factory=PlayConfig)
    video: VideoConfig = field(default_factory=VideoConfig)
    unknown: List[str] = field(default_factory=list)

    def envs_for(self, backend: str) -> int:
        if self.num_envs:
            return self.num_envs
        return AUTO_ENVS_GPU if backend == "physx_cuda" else AUTO_ENVS_CPU


class _Reader(ParamsReader):
    runner = "maniskill"



def _ppo(r: _Reader) -> PPOConfig:
    d = PPOConfig()
    return PPOConfig(
        lr=r.number("lr", d.lr, (0.0, None), open_low=True),
        anneal_lr=r.boolean("anneal_lr", d.anneal_lr),
        gamma=r.number("gamma", d.gamma, (0.0, 1.0), open_low=True),
        gae_lambda=r.number("gae_lambda", d.gae_lambda, (0.0, 1.0)),
        clip=r.number("clip", d.clip, (0.0, None), open_low=True),
        epochs=r.integer("epochs", d.epochs, 1),
        minibatches=r.integer("minibatches", d.minibatches, 1),
        ent_coef=r.number("ent_coef", d.ent_coef, (0.0, None)),
        vf_coef=r.number("vf_coef", d.vf_coef, (0.0, None)),
        max_grad_norm=r.number("max_grad_norm", d.max_grad_norm, (0.0, None)),
        target_kl=r.number("target_kl", d.target_kl, (0.0, None)),
        norm_adv=r.boolean("norm_adv", d.norm_adv),
        clip_vloss=r.boolean("clip_vloss", d.clip_vloss),
        hidden=r.int_list("hidden", d.hidden),
        init_log_std=r.number("init_log_std", d.init_log_std, (-5.0, 2.0)),
        bootstrap_at_done=r.string("bootstrap_at_done", d.bootstrap_at_done, choices=BOOTSTRAP),
    )


def _play(r: _Reader) -> PlayConfig:
    d = PlayConfig()
    return PlayConfig(deterministic=r.boolean("deterministic", d.deterministic),
                      realtime=r.boolean("realtime", d.realtime),
                      preview_hz=r.number("preview_hz", d.preview_hz, (0.0, 60.0)),
                      preview_width=r.frame_size("preview_width", d.preview_width),
                      preview_height=r.frame_size("preview_height", d.preview_height),
                      window_width=r.frame_size("window_width", d.window_width),
                      window_height=r.frame_size("window_height", d.window_height))


def _video(r: _Reader) -> VideoConfig:
    d = VideoConfig()
    return VideoConfig(
        record_video=r.boolean("record_video", d.record_video),
        video_record_interval=r.integer("video_record_interval", d.video_record_interval, 1),
        max_video_steps=r.integer("max_video_steps", d.max_video_steps, 1),
        video_fps=r.number("video_fps", d.video_fps, (0.0, 240.0)),
        video_width=r.frame_size("video_width", d.video_width),
        video_height=r.frame_size("video_height", d.video_height),
        settle_steps=r.integer("settle_steps", d.settle_steps, 0),
        save_trajectory=r.boolean("save_trajectory", d.save_trajectory),
        video_episodes=r.integer("video_episodes", d.video_episodes, 1),
    )


def parse_params(params: Dict[str, Any], source: Union[str, Path] = "run.json") -> RunnerConfig:
    """Check ``params`` and build the config; raises :class:`ProtocolError`."""
    top = _Reader(source, params, "params")
    ppo_r = top.section("ppo")
    play_r = top.section("play")
    cfg = RunnerConfig(
        env_id=top.string("env_id"),
        total_steps=top.integer("total_steps", MISSING, 1),
        obs_mode=top.string("obs_mode", "state", choices=OBS_MODES),
        control_mode=top.string("control_mode", "pd_joint_delta_pos"),
        sim_backend=top.string("sim_backend", "auto", choices=SIM_BACKENDS),
        device=top.string("device", "auto", choices=DEVICES),
        seed=top.integer("seed", 1),
        num_envs=top.integer("num_envs", 0, 0),
        rollout_steps=top.integer("rollout_steps", 50, 1),
        cpu_vector=top.string("cpu_vector", "sync", choices=CPU_VECTORS),
        partial_reset=top.boolean("partial_reset", True),
        reconfiguration_freq=top.integer("reconfiguration_freq", 0, 0),
        reward_scale=top.number("reward_scale", 1.0, (0.0, None), open_low=True),
        save_every=top.integer("save_every", 10, 0),
        keep_last=top.integer("keep_last", 0, 0),
        torch_threads=top.integer("torch_threads", 0, 0),
        log_csv=top.boolean("log_csv", True),
        ppo=_ppo(ppo_r), play=_play(play_r), video=_video(top),
    )
    if cfg.sim_backend == "physx_cuda" and cfg.device == "cpu":
        raise top.fail("device", "is 'cpu' but sim_backend is 'physx_cuda' (GPU simulation "
                       "hands its tensors to the policy on the GPU): use 'auto' or 'cuda'")
    cfg.unknown = top.unknown() + ppo_r.unknown() + play_r.unknown()
    return cfg


def check_batch(cfg: RunnerConfig, num_envs: int, source: Union[str, Path]) -> None:
    """The minibatch split must fit the batch the chosen sim backend gives."""
    batch = num_envs * cfg.rollout_steps
    if cfg.ppo.minibatches > batch:
        raise ParamsReader(source, {}, "params.ppo").fail(
            "minibatches", "must be <= num_envs * rollout_steps = %d x %d = %d, found %d"
            % (num_envs, cfg.rollout_steps, batch, cfg.ppo.minibatches))


def load_config(run_dir: Union[str, Path]) -> RunnerConfig:
    """Read and check the params of ``run_dir/run.json``."""
    return parse_params(read_params(run_dir), RunPaths(run_dir).run_json)
