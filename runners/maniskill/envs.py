"""ManiSkill environments for training, recording and playback.

Two batched kinds behind one interface (:class:`VecEnv`: ``reset(seed) -> obs``,
``step(action) -> Step``, tensors on the trainer's device):

- **CPU simulation** (``physx_cpu``): ManiSkill allows one env per CPU sim instance, so N envs
  are N instances, each wrapped in ``CPUGymWrapper`` (numpy in/out, episode metrics), stepped by
  a gymnasium vector env with same-step autoreset. ``sync`` steps them in this process (the
  fastest on a small box); ``forkserver``/``spawn`` run each in a subprocess. The ``fork`` start
  method deadlocks with SAPIEN and is never used.
- **GPU simulation** (``physx_cuda``): one ManiSkill env with ``num_envs`` parallel scenes,
  wrapped in ``ManiSkillVectorEnv`` (torch tensors on the GPU, same-step autoreset).

A single CPU env (:func:`make_single_env`) serves the video recorder and the viewer.
"""
from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch

from .config import RunnerConfig
from .observations import Obs, ObsSpec, select, spec_of_space, stack_final, to_torch
from .tasks import EnvStartError, explain_env_error, import_maniskill

EPISODE_KEYS = ("return", "episode_len", "success_once", "success_at_end", "fail_once")


def env_kwargs(cfg: RunnerConfig, backend: str, render_mode: Optional[str] = None,
               camera: Optional[Tuple[int, int]] = None,
               window: Optional[Tuple[int, int]] = None) -> Dict[str, Any]:
    """``gym.make`` arguments. Envs that never draw (state observations, no render mode) get
    no render system; the others render on the GPU when this torch sees CUDA, else on the CPU
    (lavapipe) without ManiSkill's "CUDA device was not found" warning for every env."""
    from .tasks import cuda_available

    draws = bool(render_mode) or cfg.obs_mode != "state"
    kw = dict(obs_mode=cfg.obs_mode, control_mode=cfg.control_mode, sim_backend=backend,
              reconfiguration_freq=cfg.reconfiguration_freq,
              render_backend=("gpu" if cuda_available() else "cpu") if draws else "none"
              )  # type: Dict[str, Any]
    if render_mode:
        kw["render_mode"] = render_mode
    if camera:
        kw["human_render_camera_configs"] = dict(width=int(camera[0]), height=int(camera[1]))
    if window:
        kw["viewer_camera_configs"] = dict(width=int(window[0]), height=int(window[1]))
    return kw


def _wrap_maniskill(env: Any, obs_mode: str) -> Any:
    """Flatten a Dict action space, and rgb observations into ``{"rgb", "state"}``."""
    import gymnasium as gym
    from mani_skill.utils.wrappers.flatten import (FlattenActionSpaceWrapper,
                                                   FlattenRGBDObservationWrapper)

    if isinstance(env.action_space, gym.spaces.Dict):
        env = FlattenActionSpaceWrapper(env)
    if obs_mode == "rgb":
        env = FlattenRGBDObservationWrapper(env, rgb=True, depth=False, state=True)
    return env


def make_cpu_env(env_id: str, kwargs: Dict[str, Any], obs_mode: str,
                 ignore_terminations: bool = False,
                 max_episode_steps: Optional[int] = None) -> Any:
    """One CPU-simulated env with the standard gymnasium API (numpy, unbatched)."""
    import gymnasium as gym

    import_maniskill()
    from mani_skill.utils.wrappers.gymnasium import CPUGymWrapper

    extra = {"max_episode_steps": max_episode_steps} if max_episode_steps else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            env = gym.make(env_id, **dict(kwargs, **extra))
    except (Exception, EOFError) as e:  # SAPIEN raises bare RuntimeErrors for Vulkan trouble
        raise EnvStartError(explain_env_error(env_id, e))
    env = _wrap_maniskill(env, obs_mode)
    return CPUGymWrapper(env, ignore_terminations=ignore_terminations, record_metrics=True)


def make_single_env(cfg: RunnerConfig, render_mode: Optional[str] = "rgb_array",
                    camera: Optional[Tuple[int, int]] = None,
                    window: Optional[Tuple[int, int]] = None,
                    extra_steps: int = 0) -> Any:
    """A CPU env for recording or playback, its episodes ending as training's do.
    ``extra_steps`` lengthens its time limit (the settle steps a recorder takes before the
    policy acts)."""
    from .tasks import max_episode_steps

    limit = max_episode_steps(cfg.env_id)
    kw = env_kwargs(cfg, "physx_cpu", render_mode, camera, window)
    # an episode ends as in training: at success too, unless partial_reset is off
    return make_cpu_env(cfg.env_id, kw, cfg.obs_mode, ignore_terminations=not cfg.partial_reset,
                        max_episode_steps=(limit + extra_steps) if limit and extra_steps
                        else None)


@dataclass
class Step:
    obs: Obs                          # next observations (finished envs already reset)
    reward: torch.Tensor              # [N] float
    terminated: torch.Tensor          # [N] bool
    truncated: torch.Tensor           # [N] bool
    done_idx: torch.Tensor            # indices of the envs whose episode ended at this step
    final_obs: Optional[Obs]          # their last observations (None when none ended)
    episodes: Dict[str, torch.Tensor]  # their episode metrics (return, success_once, ...)


class VecEnv(object):
    num_envs = 0
    backend = ""
    spec = ObsSpec(0)
    act_dim = 0
    act_low = np.zeros(0, np.float32)
    act_high = np.zeros(0, np.float32)

    def reset(self, seed: int) -> Obs:
        raise NotImplementedError

    def step(self, action: torch.Tensor) -> Step:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


def _action_bounds(space: Any) -> Tuple[int, np.ndarray, np.ndarray]:
    import gymnasium as gym

    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise RuntimeError("the maniskill runner needs a continuous (Box) action space, "
                           "found %s" % (space,))
    return (int(space.shape[0]), np.asarray(space.low, np.float32),
            np.asarray(space.high, np.float32))


class CpuVecEnv(VecEnv):
    backend = "physx_cpu"

    def __init__(self, cfg: RunnerConfig, num_envs: int, device: torch.device):
        import gymnasium as gym
        from gymnasium.vector import AutoresetMode

        kw = env_kwargs(cfg, "physx_cpu")
        fns = [functools.partial(make_cpu_env, cfg.env_id, kw, cfg.obs_mode,
                                 not cfg.partial_reset) for _ in range(num_envs)]
        if cfg.cpu_vector == "sync":
            self.envs = gym.vector.SyncVectorEnv(fns, autoreset_mode=AutoresetMode.SAME_STEP)
        else:
            self.envs = gym.vector.AsyncVectorEnv(fns, context=cfg.cpu_vector,
                                                  autoreset_mode=AutoresetMode.SAME_STEP)
        self.num_envs = num_envs
        self.device = device
        self.spec = spec_of_space(self.envs.single_observation_space)
        self.act_dim, self.act_low, self.act_high = _action_bounds(self.envs.single_action_space)

    def reset(self, seed: int) -> Obs:
        obs, _ = self.envs.reset(seed=seed)
        return to_torch(obs, self.device)

    def step(self, action: torch.Tensor) -> Step:
        a = np.clip(action.detach().cpu().numpy(), self.act_low, self.act_high)
        obs, reward, term, trunc, info = self.envs.step(a)
        done = np.flatnonzero(np.logical_or(term, trunc))
        final_obs = None
        episodes = {}  # type: Dict[str, torch.Tensor]
        if len(done):
            final_obs = stack_final(info["final_obs"], done, self.device)
            finfo = info.get("final_info", {})
            ep = finfo.get("episode", {})
            for k in EPISODE_KEYS:
                if k in ep:
                    episodes[k] = torch.as_tensor(np.asarray(ep[k])[done], dtype=torch.float32)
            if "success_at_end" not in episodes and "success" in finfo:
                episodes["success_at_end"] = torch.as_tensor(
                    np.asarray(finfo["success"])[done], dtype=torch.float32)
        return Step(to_torch(obs, self.device),
                    torch.as_tensor(reward, dtype=torch.float32, device=self.device),
                    torch.as_tensor(term, device=self.device),
                    torch.as_tensor(trunc, device=self.device),
                    torch.as_tensor(done, dtype=torch.long, device=self.device),
                    final_obs, episodes)

    def close(self) -> None:
        self.envs.close()


class GpuVecEnv(VecEnv):
    """``physx_cuda``: hundreds of scenes in one env, tensors stay on the GPU.

    Written against ManiSkill 3.0.1's ``ManiSkillVectorEnv`` (as its PPO baseline uses it);
    not run on the development machines, which have no GPU.
    """
    backend = "physx_cuda"

    def __init__(self, cfg: RunnerConfig, num_envs: int, device: torch.device):
        import gymnasium as gym

        import_maniskill()
        from mani_skill.vector.wrappers.gymnasium import ManiSkillVectorEnv

        kw = env_kwargs(cfg, "physx_cuda")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                env = gym.make(cfg.env_id, num_envs=num_envs, **kw)
        except (Exception, EOFError) as e:
            raise EnvStartError(explain_env_error(cfg.env_id, e))
        env = _wrap_maniskill(env, cfg.obs_mode)
        self.envs = ManiSkillVectorEnv(env, num_envs, ignore_terminations=not cfg.partial_reset,
                                       record_metrics=True)
        self.num_envs = num_envs
        self.device = device
        self.spec = spec_of_space(self.envs.single_observation_space)
        self.act_dim, self.act_low, self.act_high = _action_bounds(self.envs.single_action_space)

    def reset(self, seed: int) -> Obs:
        obs, _ = self.envs.reset(seed=seed)
        return to_torch(obs, self.device)

    def step(self, action: torch.Tensor) -> Step:
        low = torch.as_tensor(self.act_low, device=action.device)
        high = torch.as_tensor(self.act_high, device=action.device)
        obs, reward, term, trunc, info = self.envs.step(torch.clamp(action, low, high))
        done_mask = torch.logical_or(term, trunc).reshape(-1)
        done = torch.nonzero(done_mask).reshape(-1)
        final_obs = None
        episodes = {}  # type: Dict[str, torch.Tensor]
        if len(done) and "final_info" in info:
            final_obs = select(to_torch(info["final_observation"], self.device), done)
            ep = info["final_info"].get("episode", {})
            for k in EPISODE_KEYS:
                if k in ep:
                    episodes[k] = torch.as_tensor(ep[k])[done].float().cpu()
        return Step(to_torch(obs, self.device), reward.reshape(-1).float(), term.reshape(-1),
                    trunc.reshape(-1), done, final_obs, episodes)

    def close(self) -> None:
        self.envs.close()


def make_training_envs(cfg: RunnerConfig, backend: str, num_envs: int,
                       device: torch.device) -> VecEnv:
    if backend == "physx_cuda":
        return GpuVecEnv(cfg, num_envs, device)
    return CpuVecEnv(cfg, num_envs, device)


def episode_means(episodes: List[Dict[str, torch.Tensor]]) -> Dict[str, float]:
    """Mean of each episode metric over the episodes finished in an update."""
    out = {}  # type: Dict[str, float]
    for key in EPISODE_KEYS:
        vals = [e[key] for e in episodes if key in e and len(e[key])]
        if vals:
            out[key] = float(torch.cat(vals).float().mean().item())
    return out
