"""A real, tiny rl_games PPO training on CPU (Pendulum-v1, in-process envs, no Ray).

Run as a script by the tests: ``python rl_games_train.py TRAIN_DIR EPOCHS``. It writes what an
rl_games training writes: ``TRAIN_DIR/pendulum/summaries/events.out.tfevents.*`` (tensorboardX)
and ``nn/``, and prints rl_games' per-epoch ``fps step: ...`` lines to stdout.
"""
from __future__ import annotations

import sys

import gymnasium as gym
import numpy as np


def main(train_dir: str, epochs: int) -> None:
    import torch
    from rl_games.common import env_configurations, vecenv
    from rl_games.common.ivecenv import IVecEnv
    from rl_games.torch_runner import Runner

    torch.set_num_threads(1)

    class InProcessVecEnv(IVecEnv):
        """rl_games' RayVecEnv without Ray: gymnasium envs stepped in this process."""

        def __init__(self, config_name: str, num_actors: int, **kwargs):
            self.envs = [gym.make("Pendulum-v1") for _ in range(num_actors)]
            for i, e in enumerate(self.envs):
                e.reset(seed=i)

        def step(self, actions):
            actions = np.asarray(actions, dtype=np.float32)
            obs, rews, dones, time_outs = [], [], [], []
            for env, a in zip(self.envs, actions):
                o, r, term, trunc, _ = env.step(a)
                if term or trunc:
                    o, _ = env.reset()
                obs.append(o)
                rews.append(r)
                dones.append(term or trunc)
                time_outs.append(trunc and not term)
            return (np.asarray(obs, np.float32), np.asarray(rews, np.float32),
                    np.asarray(dones, np.uint8), {"time_outs": np.asarray(time_outs)})

        def reset(self):
            return np.asarray([e.reset()[0] for e in self.envs], np.float32)

        def get_number_of_agents(self):
            return 1

        def get_env_info(self):
            e = self.envs[0]
            return {"action_space": e.action_space, "observation_space": e.observation_space,
                    "state_space": None, "use_global_observations": False, "agents": 1,
                    "value_size": 1}

    vecenv.register("PITWALL_INPROC", lambda name, n, **kw: InProcessVecEnv(name, n, **kw))
    env_configurations.register("pitwall_pendulum", {
        "vecenv_type": "PITWALL_INPROC", "env_creator": lambda **kw: gym.make("Pendulum-v1")})

    config = {"params": {
        "seed": 0,
        "algo": {"name": "a2c_continuous"},
        "model": {"name": "continuous_a2c_logstd"},
        "network": {
            "name": "actor_critic", "separate": False,
            "space": {"continuous": {
                "mu_activation": "None", "sigma_activation": "None",
                "mu_init": {"name": "default"},
                "sigma_init": {"name": "const_initializer", "val": 0}, "fixed_sigma": True}},
            "mlp": {"units": [32, 32], "activation": "elu",
                    "initializer": {"name": "default"}},
        },
        "config": {
            "name": "pendulum", "full_experiment_name": "pendulum", "train_dir": train_dir,
            "env_name": "pitwall_pendulum", "env_config": {},
            "device": "cpu", "ppo": True, "multi_gpu": False, "mixed_precision": False,
            "normalize_input": True, "normalize_value": True, "value_bootstrap": True,
            "reward_shaper": {"scale_value": 0.1}, "normalize_advantage": True,
            "gamma": 0.99, "tau": 0.95, "learning_rate": 3e-4, "lr_schedule": "adaptive",
            "kl_threshold": 0.008, "score_to_win": 100000, "max_epochs": epochs,
            "save_best_after": 1, "save_frequency": 2, "print_stats": True,
            "grad_norm": 1.0, "entropy_coef": 0.0, "truncate_grads": True, "e_clip": 0.2,
            "horizon_length": 64, "num_actors": 4, "minibatch_size": 128, "mini_epochs": 2,
            "critic_coef": 2, "clip_value": True, "bounds_loss_coef": 0.0001,
            "torch_compile": False,
        },
    }}
    runner = Runner()
    runner.load(config)
    runner.run({"train": True, "play": False, "checkpoint": None, "sigma": None})


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
