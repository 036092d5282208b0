"""The rl_games ``params`` a training or a viewer runs with.

The base comes from the environment backend: IsaacGymEnvs' ``cfg/train/<Task>PPO.yaml`` (composed
by Hydra exactly as ``train.py`` does) for Isaac Gym tasks, the profile's ``rl_games:`` mapping for
gymnasium envs. The profile's ``rl_games:`` mapping is merged on top in both cases. Then the runner
sets what the run directory and the seed's options decide: where files go (rl_games writes
``nn/`` and ``summaries/`` straight into the Pitwall run directory), the experiment name, the
number of envs, the devices, the epoch limit.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict, Mapping

from runners.protocol import ProtocolError

from .config import RunnerConfig

REQUIRED_SECTIONS = ("algo", "model", "network", "config")
DEFAULT_MINIBATCHES = 4

# The base for gymnasium envs when a profile gives no (or partial) ``rl_games:`` params: shaped
# like IsaacGymEnvs' ``cfg/config.yaml`` + ``cfg/train/AntPPO.yaml`` (continuous PPO, an MLP with
# ELU, input/value normalization, adaptive learning rate), sized for a handful of CPU envs.
DEFAULT_RL_GAMES = {
    "algo": {"name": "a2c_continuous"},
    "model": {"name": "continuous_a2c_logstd"},
    "network": {
        "name": "actor_critic", "separate": False,
        "space": {"continuous": {"mu_activation": "None", "sigma_activation": "None",
                                 "mu_init": {"name": "default"},
                                 "sigma_init": {"name": "const_initializer", "val": 0},
                                 "fixed_sigma": True}},
        "mlp": {"units": [256, 128, 64], "activation": "elu", "d2rl": False,
                "initializer": {"name": "default"}, "regularizer": {"name": "None"}},
    },
    "config": {
        "ppo": True, "mixed_precision": False, "normalize_input": True,
        "normalize_value": True, "value_bootstrap": True, "reward_shaper": {"scale_value": 0.01},
        "normalize_advantage": True, "gamma": 0.99, "tau": 0.95, "learning_rate": 3e-4,
        "lr_schedule": "adaptive", "schedule_type": "legacy", "kl_threshold": 0.008,
        "score_to_win": 20000, "save_best_after": 100, "save_frequency": 0, "grad_norm": 1.0,
        "entropy_coef": 0.0, "truncate_grads": False, "e_clip": 0.2, "horizon_length": 32,
        "mini_epochs": 4, "critic_coef": 2, "clip_value": True, "seq_length": 4,
        "bounds_loss_coef": 0.0001, "torch_compile": False,
    },
}


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> Dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def check_sections(params: Mapping[str, Any], source: Any) -> None:
    missing = [s for s in REQUIRED_SECTIONS if not isinstance(params.get(s), Mapping)]
    if missing:
        raise ProtocolError(source, "params.rl_games",
                            "rl_games params need the sections %s (missing: %s)"
                            % (", ".join(REQUIRED_SECTIONS), ", ".join(missing)))


def _common(cfg: RunnerConfig, base: Mapping[str, Any], env_name: str, num_envs: int,
            source: Any) -> Dict[str, Any]:
    params = deep_merge(base, {} if base is cfg.rl_games else cfg.rl_games)
    check_sections(params, source)
    c = params["config"]
    c["name"] = cfg.experiment
    c["env_name"] = env_name
    c["num_actors"] = int(num_envs)
    c["device"] = cfg.rl_device
    c["device_name"] = cfg.rl_device
    c.setdefault("reward_shaper", {})
    c.setdefault("env_config", {})
    if "minibatch_size" not in c and "minibatch_size_per_env" not in c:
        c["minibatch_size"] = max(1, int(num_envs) * int(c.get("horizon_length", 32))
                                  // DEFAULT_MINIBATCHES)
    c["population_based_training"] = False   # as IsaacGymEnvs' train.py without PBT
    c["pbt_idx"] = None
    params["seed"] = cfg.seed
    if cfg.torch_threads > 0:
        params["torch_threads"] = cfg.torch_threads
    return params


def train_params(cfg: RunnerConfig, base: Mapping[str, Any], run_dir: Path, env_name: str,
                 source: Any = "run.json") -> Dict[str, Any]:
    """``{'params': ...}`` for ``rl_games.torch_runner.Runner.load`` (training)."""
    params = _common(cfg, base, env_name, cfg.num_envs, source)
    c = params["config"]
    run_dir = Path(run_dir).absolute()
    # rl_games' experiment dir is <train_dir>/<full_experiment_name>: the run directory itself
    c["train_dir"] = str(run_dir.parent)
    c["full_experiment_name"] = run_dir.name
    c["max_epochs"] = cfg.max_iterations
    c["multi_gpu"] = cfg.multi_gpu
    c["torch_compile"] = bool(c.get("torch_compile", False))
    return {"params": params}


def play_params(cfg: RunnerConfig, base: Mapping[str, Any], env_name: str,
                source: Any = "run.json") -> Dict[str, Any]:
    """``{'params': ...}`` for a viewer: ``play.num_envs`` envs behind a vec env."""
    params = _common(cfg, base, env_name, cfg.play.num_envs, source)
    c = params["config"]
    c["multi_gpu"] = False
    player = dict(c.get("player") or {})
    player.update({"use_vecenv": True, "deterministic": cfg.play.deterministic,
                   "render": False, "print_stats": False, "evaluation": False})
    c["player"] = player
    return {"params": params}
