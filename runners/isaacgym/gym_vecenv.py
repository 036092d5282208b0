"""A batch of gymnasium envs behind rl_games' ``IVecEnv``: the CPU stand-in for an Isaac Gym task.

rl_games' own gym configurations go through Ray; this one steps its envs in-process, one after
the other (the fastest way on a small CPU box), and speaks what rl_games' PPO expects of an Isaac
Gym ``VecTask``: a batch of observations, rewards and dones as numpy arrays, finished envs reset
on the same step, and ``infos['time_outs']`` (a numpy bool array) telling truncation from
termination so the value can be bootstrapped.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import numpy as np
from rl_games.common.ivecenv import IVecEnv


class GymnasiumVecEnv(IVecEnv):
    def __init__(self, env_id: str, num_envs: int, seed: Optional[int] = None,
                 render_env0: bool = False, **make_kwargs: Any):
        import gymnasium

        self.env_id = env_id
        self.num_envs = int(num_envs)
        self.envs = []  # type: List[Any]
        for i in range(self.num_envs):
            kw = dict(make_kwargs)
            if render_env0 and i == 0:
                kw["render_mode"] = "human"
            self.envs.append(gymnasium.make(env_id, **kw))
        self._seed = seed
        self._seeded = False
        first = self.envs[0]
        self.observation_space = first.observation_space
        self.action_space = first.action_space

    # ------------------------------------------------------------------ IVecEnv
    def reset(self) -> np.ndarray:
        obs = []
        for i, env in enumerate(self.envs):
            seed = None
            if not self._seeded and self._seed is not None and self._seed >= 0:
                seed = self._seed + i
            o, _ = env.reset(seed=seed)
            obs.append(o)
        self._seeded = True
        return self._batch(obs)

    def step(self, actions: Any) -> Any:
        actions = np.asarray(actions)
        obs = []
        rewards = np.zeros(self.num_envs, dtype=np.float32)
        dones = np.zeros(self.num_envs, dtype=np.uint8)
        time_outs = np.zeros(self.num_envs, dtype=bool)
        for i, env in enumerate(self.envs):
            o, r, terminated, truncated, _ = env.step(actions[i])
            rewards[i] = float(r)
            if terminated or truncated:
                dones[i] = 1
                time_outs[i] = bool(truncated and not terminated)
                o, _ = env.reset()
            obs.append(o)
        return self._batch(obs), rewards, dones, {"time_outs": time_outs}

    def get_number_of_agents(self) -> int:
        return 1

    def get_env_info(self) -> Dict[str, Any]:
        return {"action_space": self.action_space, "observation_space": self.observation_space,
                "state_space": None, "use_global_observations": False, "agents": 1,
                "value_size": 1}

    def seed(self, seed: int) -> None:
        self._seed = seed
        self._seeded = False

    def close(self) -> None:
        for env in self.envs:
            env.close()

    # ------------------------------------------------------------------ extras
    @property
    def dt(self) -> float:
        """Seconds of simulated time per step (0 when the env does not say)."""
        try:
            return float(getattr(self.envs[0].unwrapped, "dt"))
        except Exception:
            fps = (getattr(self.envs[0], "metadata", None) or {}).get("render_fps")
            return 1.0 / float(fps) if fps else 0.0

    @staticmethod
    def _batch(obs: List[Any]) -> np.ndarray:
        arr = np.stack([np.asarray(o) for o in obs])
        return arr.astype(np.float32) if arr.dtype == np.float64 else arr
