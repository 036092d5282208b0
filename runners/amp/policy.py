"""A policy loaded from a checkpoint, for viewers, recorders and ``eval`` (one env, batch of one).

:func:`load_policy` reads a pickle (ours or the seed's) off the play loop, checks it against
the env (observation and action sizes) and returns an :class:`AmpPolicy`; any bad file raises
``CheckpointLoadError`` and the caller keeps its current policy. ``act(obs)`` keeps the
observation history the network was trained with (``disc_obs.obs_history_len``; call
``reset()`` at an episode start). The jitted forward pass is shared by every policy of the same
architecture, so a swap does not recompile.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple, Union

import jax
import jax.numpy as jnp
import numpy as np

from .checkpoint import checkpoint_config, checkpoint_step, read_payload, restore_arrays
from .config import AmpConfig
from .networks import MLP, apply_norm

_FORWARD = {}  # type: Dict[Tuple[Any, ...], Callable]


def _forward(hidden: Tuple[int, ...], activation: str, act_dim: int) -> Callable:
    key = (hidden, activation, act_dim)
    if key not in _FORWARD:
        net = MLP(hidden, act_dim, activation)

        def fwd(params: Any, norm: Any, clip: float, x: jnp.ndarray) -> jnp.ndarray:
            return net.apply({"params": params}, apply_norm(norm, x, clip))

        _FORWARD[key] = jax.jit(fwd)
    return _FORWARD[key]


class AmpPolicy(object):
    def __init__(self, cfg: AmpConfig, arrays: Dict[str, Any], obs_dim: int, act_dim: int,
                 path: Union[str, Path], step: Optional[int], deterministic: bool = True,
                 seed: int = 0):
        self.path = Path(path)
        self.step = step
        self.obs_dim = obs_dim
        self.history_len = cfg.disc_obs.obs_history_len
        self.deterministic = deterministic
        self._fwd = _forward(tuple(cfg.model.actor_hidden_layers), cfg.model.activation, act_dim)
        self._params = jax.tree_util.tree_map(jnp.asarray, arrays["params"]["actor"])
        self._norm = arrays["obs_norm"]
        self._clip = float(arrays["obs_clip"])
        self._mean = arrays["action_mean"]
        self._std = arrays["action_std"]
        self._noise = float(cfg.model.action_std)
        self._rng = np.random.default_rng(seed)
        self._hist = None  # type: Optional[np.ndarray]

    def reset(self) -> None:
        self._hist = None

    def act(self, obs: np.ndarray) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float32).reshape(self.obs_dim)
        if self._hist is None:
            self._hist = np.tile(obs, (self.history_len, 1))
        else:
            self._hist = np.concatenate([self._hist[1:], obs[None]], axis=0)
        mean = np.asarray(self._fwd(self._params, self._norm, self._clip,
                                    jnp.asarray(self._hist.reshape(1, -1))))[0]
        if not self.deterministic:
            mean = mean + self._rng.standard_normal(mean.shape) * self._noise
        return (mean * self._std + self._mean).astype(np.float32)


def load_policy(path: Union[str, Path], run_cfg: AmpConfig, obs_dim: int, act_dim: int,
                deterministic: bool = True, seed: int = 0) -> Tuple[AmpPolicy, Optional[int]]:
    """Read, check and build; raises ``CheckpointLoadError`` naming the file and field."""
    d = read_payload(path)
    cfg = checkpoint_config(d, path, run_cfg)
    arrays = restore_arrays(d, path, cfg, obs_dim * cfg.disc_obs.obs_history_len, act_dim,
                            None)
    step = checkpoint_step(d, path)
    return AmpPolicy(cfg, arrays, obs_dim, act_dim, path, step, deterministic, seed), step


__all__ = ["AmpPolicy", "load_policy"]
