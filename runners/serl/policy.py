"""The policy the actor process and the viewers run: a SAC :class:`Actor` plus what it needs to
talk to the env (observation layout, action bounds).

Weights travel as plain arrays (``weights_arrays`` / ``load_weights_arrays``), never pickled.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Sequence

import numpy as np
import torch

from .obs_layout import ObsLayout
from .sac import Actor


def weights_arrays(actor: Actor) -> Dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy() for k, v in actor.state_dict().items()}


def load_weights_arrays(actor: Actor, arrays: Mapping[str, np.ndarray]) -> None:
    """Copy received arrays into ``actor``; ValueError when names or shapes do not fit."""
    own = actor.state_dict()
    if set(own) != set(arrays):
        raise ValueError("weights hold %s, this actor network has %s"
                         % (sorted(arrays), sorted(own)))
    new = {}
    for k, t in own.items():
        a = np.asarray(arrays[k])
        if tuple(a.shape) != tuple(t.shape):
            raise ValueError("weights %r have shape %s, the network's is %s"
                             % (k, list(a.shape), list(t.shape)))
        if not np.all(np.isfinite(a)):
            raise ValueError("weights %r hold NaN or inf" % k)
        new[k] = torch.as_tensor(np.array(a, dtype=np.float32), dtype=t.dtype)
    actor.load_state_dict(new)


def to_env_action(a: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """[-1, 1] -> the env's bounds."""
    return (low + (np.clip(a, -1.0, 1.0) + 1.0) * 0.5 * (high - low)).astype(np.float32)


def to_unit_action(a: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The env's bounds -> [-1, 1] (what the networks see)."""
    span = np.where(high > low, high - low, 1.0)
    return np.clip(2.0 * (np.asarray(a, np.float32) - low) / span - 1.0, -1.0, 1.0)


class ActorPolicy(object):
    def __init__(self, actor: Actor, layout: ObsLayout, low: Sequence[float],
                 high: Sequence[float], step: int = 0, path: str = ""):
        self.actor = actor.eval()
        self.layout = layout
        self.low = np.asarray(low, dtype=np.float32)
        self.high = np.asarray(high, dtype=np.float32)
        self.step = step
        self.path = path

    def act(self, obs: Any, deterministic: bool = False) -> np.ndarray:
        x = torch.as_tensor(self.layout.flatten(obs)[None])
        a = self.actor.act(x, deterministic)[0].numpy()
        return to_env_action(a, self.low, self.high)
