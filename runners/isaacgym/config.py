"""The parameters of the IsaacGym runner, read from ``run.json`` and checked.

They are the ``params`` of a profile in ``configs/isaacgym/`` after ``key=value`` overrides. The
top-level names are the seed ``train_play.py``'s own options (``task``, ``num_envs``,
``experiment``, ``checkpoint_save_freq``, ``sim_device``, ``rl_device``, ``graphics_device_id``,
``seed``, ``max_iterations``, ``wandb_*``, ``multi_gpu``), so ``pitwall launch isaacgym/ant
num_envs=2048`` reads like the seed's command line. Every error names ``run.json`` and the dotted
field (``params.play.num_envs``) and says what was expected.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Union

from runners.sdk.params import ParamsReader
from runners.protocol import ProtocolError, RunPaths, read_params

ENV_BACKENDS = ("auto", "isaacgym", "gymnasium")

@dataclass
class PlayConfig:
    num_envs: int = 4            # the seed's play uses 4 envs
    deterministic: bool = True
    realtime: bool = True        # pace headless / gymnasium play at the env's time step
    follow_env: int = 0          # Isaac Gym viewer camera follows this env (-1: leave it)


@dataclass
class RunnerConfig:
    env: str = "auto"                 # auto | isaacgym | gymnasium
    task: str = "Ant"                 # IsaacGymEnvs task (isaacgym_task_map key)
    gym_env: str = ""                 # gymnasium env id (gymnasium backend)
    experiment: str = "Ant"           # rl_games config name: best file is nn/<experiment>.pth
    num_envs: int = 4096
    checkpoint_save_freq: int = 50    # epochs between nn/latest.pth saves (0: only at the end)
    keep_last: int = 0                # history files to keep (0 = all)
    seed: int = 42                    # -1: random
    torch_deterministic: bool = False
    max_iterations: int = 500         # rl_games max_epochs (-1: no limit)
    sim_device: str = "cuda:0"
    rl_device: str = "cuda:0"
    graphics_device_id: int = 0
    multi_gpu: bool = False           # start through torchrun (configs/isaacgym/*_multigpu.yaml)
    torch_threads: int = 0            # 0: rl_games' default
    hydra_overrides: List[str] = field(default_factory=list)  # extra IsaacGymEnvs overrides
    wandb_activate: bool = False
    wandb_project: str = "isaacgymenvs"
    wandb_entity: str = ""
    wandb_group: str = ""
    wandb_name: str = ""
    wandb_tags: List[str] = field(default_factory=list)
    rl_games: Dict[str, Any] = field(default_factory=dict)   # rl_games params (or overrides)
    play: PlayConfig = field(default_factory=PlayConfig)
    unknown: List[str] = field(default_factory=list)


class _Reader(ParamsReader):
    runner = "isaacgym"


def parse_params(params: Dict[str, Any], source: Union[str, Path] = "run.json") -> RunnerConfig:
    """Check ``params`` and build the config; raises :class:`ProtocolError`."""
    top = _Reader(source, params, "params")
    d = RunnerConfig()
    task = top.string("task", d.task)
    play_r = top.section("play")
    dp = PlayConfig()
    play = PlayConfig(
        num_envs=play_r.integer("num_envs", dp.num_envs, 1),
        deterministic=play_r.boolean("deterministic", dp.deterministic),
        realtime=play_r.boolean("realtime", dp.realtime),
        follow_env=play_r.integer("follow_env", dp.follow_env, 0, special=(-1,)),
    )
    cfg = RunnerConfig(
        env=top.string("env", d.env, choices=ENV_BACKENDS),
        task=task,
        gym_env=top.string("gym_env", d.gym_env, allow_empty=True),
        experiment=top.string("experiment", task),
        num_envs=top.integer("num_envs", d.num_envs, 1),
        checkpoint_save_freq=top.integer("checkpoint_save_freq", d.checkpoint_save_freq, 0),
        keep_last=top.integer("keep_last", d.keep_last, 0),
        seed=top.integer("seed", d.seed, 0, special=(-1,)),
        torch_deterministic=top.boolean("torch_deterministic", d.torch_deterministic),
        max_iterations=top.integer("max_iterations", d.max_iterations, 1, special=(-1,)),
        sim_device=top.string("sim_device", d.sim_device),
        rl_device=top.string("rl_device", d.rl_device),
        graphics_device_id=top.integer("graphics_device_id", d.graphics_device_id, -1),
        multi_gpu=top.boolean("multi_gpu", d.multi_gpu),
        torch_threads=top.integer("torch_threads", d.torch_threads, 0),
        hydra_overrides=top.string_list("hydra_overrides", []),
        wandb_activate=top.boolean("wandb_activate", d.wandb_activate),
        wandb_project=top.string("wandb_project", d.wandb_project, allow_empty=True),
        wandb_entity=top.string("wandb_entity", d.wandb_entity, allow_empty=True),
        wandb_group=top.string("wandb_group", d.wandb_group, allow_empty=True),
        wandb_name=top.string("wandb_name", d.wandb_name, allow_empty=True),
        wandb_tags=top.string_list("wandb_tags", []),
        rl_games=top.mapping("rl_games"),
        play=play,
    )
    # the seed's play/viewer knobs and Pitwall's own launch knobs live in the same params
    for key in ("python", "pitwall_root", "num_gpus"):
        top.used.add(key)
    cfg.unknown = top.unknown() + play_r.unknown()
    if cfg.env == "gymnasium" and not cfg.gym_env:
        raise ProtocolError(source, "params.gym_env",
                            "env is 'gymnasium' but no gymnasium env id is given "
                            "(e.g. gym_env: InvertedPendulum-v5)")
    return cfg


def load_config(run_dir: Union[str, Path]) -> RunnerConfig:
    """The runner's config from ``RUN_DIR/run.json``."""
    return parse_params(read_params(run_dir), RunPaths(run_dir).run_json)
