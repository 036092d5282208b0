"""Gymnasium environments for the runner: the training vector env and the viewer's single env.

Training uses ``SyncVectorEnv`` (subprocess envs are slower on small boxes) with *same-step*
autoreset, so a finished episode's last observation arrives with its step (``final_obs``) and
can be used to bootstrap a truncated episode.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Union

import numpy as np

from runners.protocol import ProtocolError


def _gym() -> Any:
    import gymnasium as gym

    return gym


def check_env_id(env_id: str, source: Union[str, Path]) -> None:
    """Fail with a message naming run.json when ``env_id`` is not a registered env."""
    gym = _gym()
    if env_id not in gym.envs.registry:
        import difflib

        close = difflib.get_close_matches(env_id, list(gym.envs.registry), n=3, cutoff=0.6)
        hint = (" (did you mean %s?)" % " or ".join(close)) if close else ""
        raise ProtocolError(source, "params.env_id",
                            "%r is not a registered gymnasium environment%s" % (env_id, hint))


def make_env(env_id: str, render_mode: Optional[str] = None, **kwargs: Any) -> Any:
    return _gym().make(env_id, render_mode=render_mode, **kwargs)


def make_vector_env(env_id: str, num_envs: int) -> Any:
    gym = _gym()
    try:
        from gymnasium.vector import AutoresetMode
    except ImportError:  # gymnasium < 1.1 has no same-step mode on the 1.x vector API
        raise RuntimeError("the mujoco runner needs gymnasium >= 1.1 (found %s)"
                           % gym.__version__)
    fns = [(lambda: gym.make(env_id)) for _ in range(num_envs)]
    return gym.vector.SyncVectorEnv(fns, autoreset_mode=AutoresetMode.SAME_STEP)


def space_dims(env: Any, vector: bool) -> Dict[str, Any]:
    """obs_dim, act_dim and the action bounds of a Box/Box env (vector or single)."""
    obs_space = env.single_observation_space if vector else env.observation_space
    act_space = env.single_action_space if vector else env.action_space
    gym = _gym()
    if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
        raise RuntimeError("the mujoco runner needs a flat Box observation space, found %s"
                           % (obs_space,))
    if not isinstance(act_space, gym.spaces.Box) or len(act_space.shape) != 1:
        raise RuntimeError("the mujoco runner needs a continuous (Box) action space, found %s"
                           % (act_space,))
    return {"obs_dim": int(obs_space.shape[0]), "act_dim": int(act_space.shape[0]),
            "act_low": np.asarray(act_space.low, dtype=np.float32),
            "act_high": np.asarray(act_space.high, dtype=np.float32)}


def final_observations(info: Dict[str, Any], which: np.ndarray) -> np.ndarray:
    """The last observations of the envs flagged in ``which`` (same-step autoreset)."""
    final = info["final_obs"]
    rows = [np.asarray(final[i], dtype=np.float64) for i in np.flatnonzero(which)]
    return np.stack(rows)


def env_dt(env: Any) -> float:
    """The env's own control time step in seconds (0 when it has none)."""
    dt = getattr(env.unwrapped, "dt", None)
    try:
        return float(dt) if dt else 0.0
    except (TypeError, ValueError):
        return 0.0
