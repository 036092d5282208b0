"""The environment factory: an IsaacGymEnvs task when it can be imported, gymnasium otherwise.

:func:`choose_backend` runs first in the process, before anything imports torch, because
``import isaacgym`` refuses to load after torch. ``params.env`` decides:

- ``isaacgym``: IsaacGymEnvs (``isaacgym_task_map[params.task]``); an import failure is an error.
- ``gymnasium``: ``gymnasium.make(params.gym_env)`` batched by :class:`GymnasiumVecEnv`.
- ``auto``: IsaacGymEnvs when ``isaacgym`` and ``isaacgymenvs`` import, else gymnasium
  ``params.gym_env`` (and a line in the log saying why).

A backend registers its env with rl_games (``env_configurations`` + ``vecenv``), supplies the
rl_games base params and any extra observers, and tells a viewer its time step.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, List, Mapping, Optional, Tuple, Union

from runners.protocol import ProtocolError

from .config import RunnerConfig

GYM_ENV_NAME = "pitwall_gymnasium"
GYM_VECENV = "PITWALL_GYMNASIUM"


class BackendError(RuntimeError):
    pass


def probe_isaacgym() -> Optional[str]:
    """None when Isaac Gym and IsaacGymEnvs import, else why not. Imports ``isaacgym`` first,
    as Isaac Gym requires (before torch)."""
    try:
        import isaacgym  # noqa: F401  (must come before torch)
    except Exception as e:  # ModuleNotFoundError here; ImportError if torch came first
        return "isaacgym: %s: %s" % (type(e).__name__, e)
    try:
        import isaacgymenvs  # noqa: F401
    except Exception as e:
        return "isaacgymenvs: %s: %s" % (type(e).__name__, e)
    return None


def choose_backend(cfg: RunnerConfig, source: Union[str, Path]) -> Tuple[str, str]:
    """``(backend, note)``; raises :class:`ProtocolError` when the chosen one cannot run."""
    if cfg.env == "gymnasium":
        return "gymnasium", "gymnasium %s (params.env = gymnasium)" % cfg.gym_env
    why = probe_isaacgym()
    if why is None:
        return "isaacgym", "Isaac Gym task %s (IsaacGymEnvs)" % cfg.task
    if cfg.env == "isaacgym":
        raise ProtocolError(source, "params.env",
                            "is 'isaacgym' but Isaac Gym cannot be used here (%s). Isaac Gym "
                            "needs NVIDIA's Isaac Gym Preview 4 and IsaacGymEnvs installed in "
                            "this Python (<= 3.8) and an NVIDIA GPU; for the same runner on "
                            "MuJoCo use a configs/isaacgym/cpu_* profile or env=gymnasium" % why)
    if not cfg.gym_env:
        raise ProtocolError(source, "params.gym_env",
                            "env is 'auto', Isaac Gym cannot be used here (%s), and there is no "
                            "gymnasium env to fall back to" % why)
    note = "gymnasium %s (Isaac Gym not usable: %s)" % (cfg.gym_env, why)
    if cfg.num_envs > 64:
        note += "; note: %d gymnasium envs are stepped one after another on the CPU" \
            % cfg.num_envs
    return "gymnasium", note


class Backend(object):
    """What the train and play code need from an environment backend."""

    name = ""

    def rl_games_base(self) -> Mapping[str, Any]:
        raise NotImplementedError

    def register(self, num_envs: int, headless: bool) -> str:
        """Register the env with rl_games; returns its ``env_name``."""
        raise NotImplementedError

    def effective_seed(self, rank: int = 0) -> int:
        return self.cfg.seed

    def prepare(self, say: Any = print) -> None:
        """Last checks once torch may be imported."""

    def observers(self) -> List[Any]:
        return []

    def setup_runner(self, runner: Any) -> None:
        pass

    def viewer_task(self, vec_env: Any) -> Any:
        """The object that owns a viewer window, for the env-0 camera (None: no window)."""
        return None

    def step_dt(self, vec_env: Any) -> float:
        return 0.0

    def __init__(self, cfg: RunnerConfig, source: Union[str, Path]):
        self.cfg = cfg
        self.source = source


class GymnasiumBackend(Backend):
    name = "gymnasium"

    def prepare(self, say: Any = print) -> None:
        import torch

        if self.cfg.rl_device.startswith("cuda") and not torch.cuda.is_available():
            say("rl_device is %s but this torch has no CUDA: using cpu" % self.cfg.rl_device)
            self.cfg.rl_device = "cpu"

    def rl_games_base(self) -> Mapping[str, Any]:
        """Built-in PPO defaults (IsaacGymEnvs-shaped) under the profile's ``rl_games:``."""
        from .rl_config import DEFAULT_RL_GAMES, deep_merge

        return deep_merge(DEFAULT_RL_GAMES, self.cfg.rl_games)

    def register(self, num_envs: int, headless: bool) -> str:
        from rl_games.common import env_configurations, vecenv

        from .gym_vecenv import GymnasiumVecEnv

        env_id = self.cfg.gym_env
        render = not headless

        def make_vec(config_name: str, num_actors: int, **kwargs: Any) -> GymnasiumVecEnv:
            return GymnasiumVecEnv(env_id, num_actors, seed=kwargs.get("seed"),
                                   render_env0=render)

        def make_single(**kwargs: Any) -> Any:
            return GymnasiumVecEnv(env_id, 1, seed=kwargs.get("seed"))

        env_configurations.register(GYM_ENV_NAME, {"vecenv_type": GYM_VECENV,
                                                   "env_creator": make_single})
        vecenv.register(GYM_VECENV, make_vec)
        return GYM_ENV_NAME

    def step_dt(self, vec_env: Any) -> float:
        return float(getattr(vec_env, "dt", 0.0) or 0.0)


def make_backend(name: str, cfg: RunnerConfig, source: Union[str, Path]) -> Backend:
    if name == "isaacgym":
        from .isaacgym_tasks import IsaacGymBackend

        return IsaacGymBackend(cfg, source)
    if name == "gymnasium":
        return GymnasiumBackend(cfg, source)
    raise BackendError("unknown env backend %r" % name)
