"""Deterministic evaluation of a checkpoint: mean return over N full episodes, no pacing.

``python -m runners.mujoco.evaluate CKPT [--episodes N] [--seed S] [--stochastic]``
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional, Union

import numpy as np

from .checkpoint import InferencePolicy, load_policy, read_checkpoint
from .envs import make_env, space_dims


def evaluate_policy(policy: InferencePolicy, env_id: str, episodes: int = 10, seed: int = 10_000,
                    deterministic: bool = True) -> List[float]:
    """Returns of ``episodes`` complete episodes (seeds ``seed``, ``seed + 1`` ...)."""
    env = make_env(env_id)
    returns = []
    try:
        for i in range(episodes):
            obs, _ = env.reset(seed=seed + i)
            total, done = 0.0, False
            while not done:
                obs, reward, terminated, truncated, _ = env.step(policy.act(obs, deterministic))
                total += float(reward)
                done = bool(terminated or truncated)
            returns.append(total)
    finally:
        env.close()
    return returns


def evaluate_checkpoint(path: Union[str, Path], episodes: int = 10, seed: int = 10_000,
                        deterministic: bool = True) -> List[float]:
    env_id = str(read_checkpoint(path)["env_id"])
    env = make_env(env_id)
    dims = space_dims(env, vector=False)
    env.close()
    policy, _ = load_policy(path, env_id, dims["obs_dim"], dims["act_dim"], dims["act_low"],
                            dims["act_high"])
    return evaluate_policy(policy, env_id, episodes, seed, deterministic)


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m runners.mujoco.evaluate")
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--seed", type=int, default=10_000)
    p.add_argument("--stochastic", action="store_true")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    rets = evaluate_checkpoint(args.checkpoint, args.episodes, args.seed, not args.stochastic)
    print("episodes %d  mean return %.1f  std %.1f  min %.1f  max %.1f"
          % (len(rets), np.mean(rets), np.std(rets), np.min(rets), np.max(rets)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
