"""LocoMuJoCo 1.x envs behind the trainer's :class:`EnvBatch` surface. NOT RUN HERE.

PyPI's ``loco-mujoco`` 1.0.0 is broken (no model files, missing modules); users install it from
a source checkout in its own environment (it pins ``mujoco==3.2.7`` and ``numpy<2``) and point
the profile's ``python=`` at that interpreter. This module is written against LocoMuJoCo 1.x's
public API as SkeletonSteering uses it and is imported only when the backend is chosen:

- ``env_id`` as the seed parses it: ``EnvName.task.dataset_type`` (``SkeletonTorque.walk.mocap``);
  the seed's config sections ``env.task_factory`` (``name`` + ``params``) and ``env.env_params``
  are passed to ``TaskFactory.get_factory_cls(name).make(**env_params, **params)``;
  ``custom_traj_path`` is loaded with ``Trajectory.load`` (no dataset download);
- ``env_params.env_name`` starting with ``Mjx``: one MJX model, ``mjx_reset``/``mjx_step``
  vmapped over the envs and jitted (auto-reset inside LocoMuJoCo; its terminal state is not
  kept, so the discriminator sees the reset state there, as in the seed); otherwise
  ``num_envs`` CPU envs (``reset(key)``, ``obs, reward, absorbing, done, info = step(a)``);
- the reference motion is the env's own trajectory (``env.th.traj``);
- key sites default to the env's ``sites_for_mimic`` (the seed's choice).
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict, List, Tuple, Union

import numpy as np

from runners.protocol import ProtocolError

from .config import AmpConfig
from .envs import EnvBatch, StepBatch
from .reference import Reference

INSTALL_HINT = ("install LocoMuJoCo 1.x from a source checkout in its own environment "
                "(git clone https://github.com/robfiras/loco-mujoco && pip install -e "
                "loco-mujoco; it pins mujoco==3.2.7 and numpy<2) and launch with "
                "python=/path/to/that/env/bin/python")


def parse_env_id(env_id: str) -> Tuple[str, str, str]:
    """The seed's ``EnvName.task.dataset_type`` (defaults: walk, mocap)."""
    parts = env_id.split(".")
    return (parts[0], parts[1] if len(parts) > 1 else "walk",
            parts[2] if len(parts) > 2 else "mocap")


def require_locomujoco(env_id: str, source: Union[str, Path] = "run.json") -> None:
    try:
        import loco_mujoco.task_factories  # noqa: F401
    except Exception as e:   # loco_mujoco's own __init__ swallows and prints ImportErrors
        raise ProtocolError(source, "params.env_id", "%r needs LocoMuJoCo, which this Python "
                            "cannot import (%s: %s); %s" % (env_id, type(e).__name__, e,
                                                            INSTALL_HINT))


def env_settings(cfg: AmpConfig) -> Tuple[str, Dict[str, Any], Dict[str, Any]]:
    """(factory name, factory params, env params) with the seed's ``--env_id`` overrides."""
    tf = copy.deepcopy(cfg.env.task_factory or {})
    name = str(tf.get("name") or "ImitationFactory")
    params = dict(tf.get("params") or {})
    env_params = copy.deepcopy(cfg.env.env_params or {})
    env_name, task, dataset_type = parse_env_id(cfg.env_id)
    mjx = str(env_params.get("env_name", "")).startswith("Mjx")
    env_params["env_name"] = ("Mjx" + env_name) if mjx and not env_name.startswith("Mjx") \
        else env_name
    ds = dict(params.get("default_dataset_conf") or {})
    ds.update(task=task, dataset_type=dataset_type)
    params["default_dataset_conf"] = ds
    rp = dict(env_params.get("reward_params") or {})
    rp.setdefault("target_velocity", 2.5 if task == "run" else 1.25)
    env_params["reward_params"] = rp
    traj = cfg.env.custom_traj_path or params.pop("custom_traj_path", None) \
        or params.pop("custom_dataset_path", None)
    params.pop("custom_traj_path", None)
    if traj:
        from loco_mujoco.trajectory import Trajectory

        params["custom_dataset_conf"] = {"traj": Trajectory.load(str(traj))}
        for key in ("default_dataset_conf", "amass_dataset_conf", "lafan1_dataset_conf"):
            params[key] = None
    return name, params, env_params


def make_env(cfg: AmpConfig, mjx: bool = False) -> Any:
    from loco_mujoco.task_factories import TaskFactory

    name, params, env_params = env_settings(cfg)
    base = env_params["env_name"]
    if not mjx and base.startswith("Mjx"):
        env_params["env_name"] = base[3:]
    env_params.setdefault("headless", True)
    return TaskFactory.get_factory_cls(name).make(**env_params, **params)


def reference_from_env(env: Any) -> Reference:
    traj = env.th.traj
    qpos = np.asarray(traj.data.qpos, dtype=np.float32)
    qvel = np.asarray(traj.data.qvel, dtype=np.float32)
    splits = np.asarray(traj.data.split_points, dtype=np.int64).ravel()
    if splits.size == 0:
        splits = np.asarray([0, len(qpos)])
    import hashlib

    digest = hashlib.sha256(qpos.tobytes() + qvel.tobytes() + splits.tobytes()).hexdigest()
    return Reference(qpos=qpos, qvel=qvel, split_points=splits,
                     frequency=float(traj.info.frequency),
                     joint_names=list(traj.info.joint_names), digest=digest,
                     source="LocoMuJoCo trajectory of %s" % type(env).__name__)


def default_key_sites(env: Any) -> List[str]:
    return list(getattr(env, "sites_for_mimic", []) or [])


class _LocoInfo(EnvBatch):
    def _describe(self, env: Any, cfg: AmpConfig) -> None:
        self.env_id = cfg.env_id
        self.label = "LocoMuJoCo %s" % cfg.env_id
        self.model = env._model
        self.dt = float(env.dt)
        self.obs_dim = int(np.prod(env.info.observation_space.shape))
        self.act_dim = int(np.prod(env.info.action_space.shape))
        self.act_low = np.asarray(env.info.action_space.low, dtype=np.float32)
        self.act_high = np.asarray(env.info.action_space.high, dtype=np.float32)


class LocoCpuBatch(_LocoInfo):
    """``num_envs`` LocoMuJoCo CPU envs stepped in turn."""

    def __init__(self, cfg: AmpConfig, num_envs: int):
        self.envs = [make_env(cfg, mjx=False) for _ in range(num_envs)]
        self.first = self.envs[0]
        self.num_envs = num_envs
        self._describe(self.first, cfg)
        self._rng = np.random.default_rng(0)

    def _key(self, i: int) -> Any:
        import jax

        return jax.random.PRNGKey(int(self._rng.integers(2 ** 31)))

    def reset(self, seed: int) -> Any:
        self._rng = np.random.default_rng(seed)
        obs = np.stack([np.asarray(e.reset(self._key(i))) for i, e in enumerate(self.envs)])
        return (obs.astype(np.float32), np.stack([e._data.qpos.copy() for e in self.envs]),
                np.stack([e._data.qvel.copy() for e in self.envs]))

    def step(self, actions: np.ndarray) -> StepBatch:
        n = self.num_envs
        actions = np.clip(np.asarray(actions), self.act_low, self.act_high)
        obs = np.zeros((n, self.obs_dim), dtype=np.float32)
        final = np.zeros_like(obs)
        rew = np.zeros(n, dtype=np.float32)
        term = np.zeros(n, dtype=bool)
        trunc = np.zeros(n, dtype=bool)
        qpos = np.zeros((n, self.model.nq))
        qvel = np.zeros((n, self.model.nv))
        rq, rv = np.zeros_like(qpos), np.zeros_like(qvel)
        for i, e in enumerate(self.envs):
            o, r, absorbing, done, _ = e.step(actions[i])
            rew[i], term[i] = float(r), bool(absorbing)
            trunc[i] = bool(done) and not bool(absorbing)
            qpos[i], qvel[i] = e._data.qpos, e._data.qvel
            final[i] = o
            if done:
                o = e.reset(self._key(i))
            obs[i] = o
            rq[i], rv[i] = e._data.qpos, e._data.qvel
        return StepBatch(obs, rew, term, trunc, final, qpos, qvel, rq, rv)


class LocoMjxBatch(_LocoInfo):
    """One MJX env, ``mjx_reset``/``mjx_step`` vmapped over ``num_envs`` and jitted."""

    def __init__(self, cfg: AmpConfig, num_envs: int):
        import jax

        self.env = make_env(cfg, mjx=True)
        self.num_envs = num_envs
        self._describe(self.env, cfg)
        self._reset = jax.jit(jax.vmap(self.env.mjx_reset))
        self._step = jax.jit(jax.vmap(self.env.mjx_step))
        self.state = None  # type: Any

    def reset(self, seed: int) -> Any:
        import jax

        self.state = self._reset(jax.random.split(jax.random.PRNGKey(seed), self.num_envs))
        s = self.state
        return (np.asarray(s.observation, dtype=np.float32), np.asarray(s.data.qpos),
                np.asarray(s.data.qvel))

    def step(self, actions: np.ndarray) -> StepBatch:
        import jax.numpy as jnp

        actions = np.clip(np.asarray(actions), self.act_low, self.act_high)
        s = self._step(self.state, jnp.asarray(actions))
        self.state = s
        done = np.asarray(s.done, dtype=bool)
        term = np.asarray(s.absorbing, dtype=bool)
        obs = np.asarray(s.observation, dtype=np.float32)
        final = np.where(done[:, None],
                         np.asarray(s.additional_carry.final_observation, dtype=np.float32), obs)
        qpos, qvel = np.asarray(s.data.qpos), np.asarray(s.data.qvel)
        return StepBatch(obs, np.asarray(s.reward, dtype=np.float32), term, done & ~term, final,
                         qpos, qvel, qpos, qvel)


def make_locomujoco_batch(cfg: AmpConfig, num_envs: int,
                          source: Union[str, Path] = "run.json") -> EnvBatch:
    require_locomujoco(cfg.env_id, source)
    mjx = str((cfg.env.env_params or {}).get("env_name", "")).startswith("Mjx")
    return LocoMjxBatch(cfg, num_envs) if mjx else LocoCpuBatch(cfg, num_envs)


class LocoGymEnv(object):
    """A LocoMuJoCo CPU env with gymnasium's API, for viewers (``unwrapped.model/data``)."""

    def __init__(self, cfg: AmpConfig):
        import jax

        self.env = make_env(cfg, mjx=False)
        self.unwrapped = self
        self.dt = float(self.env.dt)
        self._key = jax.random.PRNGKey(cfg.seed)

    @property
    def model(self) -> Any:
        return self.env._model

    @property
    def data(self) -> Any:
        return self.env._data

    def reset(self, seed: Any = None) -> Any:
        import jax

        if seed is not None:
            self._key = jax.random.PRNGKey(seed)
        self._key, sub = jax.random.split(self._key)
        return np.asarray(self.env.reset(sub), dtype=np.float32), {}

    def step(self, action: Any) -> Any:
        obs, r, absorbing, done, info = self.env.step(np.asarray(action))
        return (np.asarray(obs, dtype=np.float32), float(r), bool(absorbing),
                bool(done) and not bool(absorbing), info)

    def close(self) -> None:
        try:
            self.env.stop()
        except Exception:
            pass


__all__ = ["INSTALL_HINT", "LocoCpuBatch", "LocoGymEnv", "LocoMjxBatch", "default_key_sites",
           "env_settings", "make_env", "make_locomujoco_batch", "parse_env_id",
           "reference_from_env", "require_locomujoco"]
