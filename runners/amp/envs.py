"""Batches of walker envs as the AMP trainer steps them, and single envs for playback.

Every backend gives the trainer the same :class:`EnvBatch` surface: ``reset(seed)`` and
``step(actions)`` over ``num_envs`` envs, returning the next observations (after a reset for the
envs whose episode ended), rewards, ``terminated``/``truncated`` (a time limit is not a failure:
the trainer bootstraps it), the last observation of an ended episode, and ``qpos``/``qvel`` of
the state each action reached *before* any reset (what the discriminator judges), plus the
reset states. ``model`` is the MuJoCo model the discriminator features come from.

- ``gymnasium``: gymnasium MuJoCo walkers (``Walker2d-v5``, ``Humanoid-v5`` ...), one process,
  stepped in turn (``GymWalkers``); tested here.
- ``locomujoco``: LocoMuJoCo 1.x envs (``runners/amp/locomujoco_envs.py``); not run here.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, List, NamedTuple, Optional, Union

import numpy as np

from runners.protocol import ProtocolError

from .config import AmpConfig


class StepBatch(NamedTuple):
    obs: np.ndarray            # (N, obs_dim) the next observation (reset one where done)
    reward: np.ndarray         # (N,)
    terminated: np.ndarray     # (N,) bool: a terminal state (fell)
    truncated: np.ndarray      # (N,) bool: cut by the time limit
    final_obs: np.ndarray      # (N, obs_dim) last observation of the episode where done
    qpos: np.ndarray           # (N, nq) state the action reached, before any reset
    qvel: np.ndarray           # (N, nv)
    reset_qpos: np.ndarray     # (N, nq) state after the reset where done, else = qpos
    reset_qvel: np.ndarray


class EnvBatch(object):
    """What the trainer needs of a backend (see the module doc)."""
    num_envs = 0
    obs_dim = 0
    act_dim = 0
    act_low = np.zeros(0)
    act_high = np.zeros(0)
    dt = 0.0
    model = None  # type: Any
    label = ""

    def reset(self, seed: int) -> Any:   # -> (obs (N, D), qpos (N, nq), qvel (N, nv))
        raise NotImplementedError

    def step(self, actions: np.ndarray) -> StepBatch:
        raise NotImplementedError

    def joint_names(self) -> List[str]:
        m = self.model
        return [m.joint(j).name for j in range(m.njnt)]

    def close(self) -> None:
        pass


def is_gymnasium_id(env_id: str) -> bool:
    import gymnasium

    return env_id in gymnasium.envs.registry


def resolve_backend(cfg: AmpConfig, source: Union[str, Path] = "run.json") -> str:
    """``gymnasium`` or ``locomujoco``; ``auto`` picks gymnasium for a registered id."""
    if cfg.env.backend != "auto":
        backend = cfg.env.backend
    else:
        backend = "gymnasium" if is_gymnasium_id(cfg.env_id) else "locomujoco"
    if backend == "gymnasium" and not is_gymnasium_id(cfg.env_id):
        raise ProtocolError(source, "params.env_id", "%r is not a gymnasium env id (e.g. "
                            "Walker2d-v5, Humanoid-v5); LocoMuJoCo ids look like "
                            "SkeletonTorque.walk.mocap" % cfg.env_id)
    if backend == "locomujoco":
        from .locomujoco_envs import require_locomujoco

        require_locomujoco(cfg.env_id, source)
    return backend


class GymWalkers(EnvBatch):
    """``num_envs`` gymnasium MuJoCo envs stepped in turn in this process."""

    def __init__(self, env_id: str, num_envs: int):
        import gymnasium

        self.envs = [gymnasium.make(env_id) for _ in range(num_envs)]
        first = self.envs[0]
        u = first.unwrapped
        self.env_id = env_id
        self.label = env_id
        self.num_envs = num_envs
        self.model = u.model
        self.dt = float(u.dt)
        self.obs_dim = int(np.prod(first.observation_space.shape))
        self.act_dim = int(np.prod(first.action_space.shape))
        self.act_low = np.asarray(first.action_space.low, dtype=np.float32)
        self.act_high = np.asarray(first.action_space.high, dtype=np.float32)

    def _state(self, i: int) -> Any:
        d = self.envs[i].unwrapped.data
        return d.qpos.copy(), d.qvel.copy()

    def reset(self, seed: int) -> Any:
        obs = np.zeros((self.num_envs, self.obs_dim), dtype=np.float32)
        qpos = np.zeros((self.num_envs, self.model.nq))
        qvel = np.zeros((self.num_envs, self.model.nv))
        for i, e in enumerate(self.envs):
            o, _ = e.reset(seed=seed + i)
            e.action_space.seed(seed + i)
            obs[i] = o
            qpos[i], qvel[i] = self._state(i)
        return obs, qpos, qvel

    def step(self, actions: np.ndarray) -> StepBatch:
        n = self.num_envs
        actions = np.clip(np.asarray(actions, dtype=np.float64), self.act_low, self.act_high)
        obs = np.zeros((n, self.obs_dim), dtype=np.float32)
        final = np.zeros_like(obs)
        rew = np.zeros(n, dtype=np.float32)
        term = np.zeros(n, dtype=bool)
        trunc = np.zeros(n, dtype=bool)
        qpos = np.zeros((n, self.model.nq))
        qvel = np.zeros((n, self.model.nv))
        for i, e in enumerate(self.envs):
            o, r, te, tr, _ = e.step(actions[i])
            rew[i], term[i], trunc[i] = r, te, tr
            qpos[i], qvel[i] = self._state(i)
            final[i] = o
            if te or tr:
                o, _ = e.reset()
            obs[i] = o
        done = term | trunc
        rq, rv = qpos.copy(), qvel.copy()
        for i in np.flatnonzero(done):
            rq[i], rv[i] = self._state(i)
        return StepBatch(obs, rew, term, trunc, final, qpos, qvel, rq, rv)

    def close(self) -> None:
        for e in self.envs:
            e.close()


def make_env_batch(cfg: AmpConfig, num_envs: int, backend: str,
                   source: Union[str, Path] = "run.json") -> EnvBatch:
    if backend == "gymnasium":
        return GymWalkers(cfg.env_id, num_envs)
    from .locomujoco_envs import make_locomujoco_batch

    return make_locomujoco_batch(cfg, num_envs, source)


def make_play_env(cfg: AmpConfig, backend: str, render_mode: Optional[str] = None) -> Any:
    """One env with gymnasium's API (``reset(seed=)``/5-tuple ``step``) for viewers."""
    if backend == "gymnasium":
        import gymnasium

        return gymnasium.make(cfg.env_id, render_mode=render_mode)
    from .locomujoco_envs import LocoGymEnv

    return LocoGymEnv(cfg)


__all__ = ["EnvBatch", "GymWalkers", "StepBatch", "is_gymnasium_id", "make_env_batch",
           "make_play_env", "resolve_backend"]
