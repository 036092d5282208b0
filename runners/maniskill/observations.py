"""Batched observations of either kind, as the trainer and the policy see them.

``state`` mode: one float tensor ``[N, D]``. ``rgb`` mode: a dict ``{"rgb": uint8 [N, H, W, C],
"state": float [N, D]}`` (ManiSkill's ``FlattenRGBDObservationWrapper`` layout; images stay
uint8 until the network scales them). These helpers treat both the same way.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch

Obs = Union[torch.Tensor, Dict[str, torch.Tensor]]


@dataclass(frozen=True)
class ObsSpec:
    """What the network needs to know about one observation."""
    state_dim: int
    rgb_shape: Optional[Tuple[int, int, int]] = None   # (H, W, C) in rgb mode

    def as_dict(self) -> Dict[str, Any]:
        return {"state_dim": self.state_dim,
                "rgb_shape": list(self.rgb_shape) if self.rgb_shape else None}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "ObsSpec":
        rgb = d.get("rgb_shape")
        return cls(int(d["state_dim"]), tuple(int(x) for x in rgb) if rgb else None)


def spec_of_space(space: Any) -> ObsSpec:
    """The :class:`ObsSpec` of a single env's observation space (Box, or Dict rgb + state)."""
    import gymnasium as gym

    if isinstance(space, gym.spaces.Box) and len(space.shape) == 1:
        return ObsSpec(int(space.shape[0]))
    if isinstance(space, gym.spaces.Dict) and "rgb" in space.spaces:
        rgb = space.spaces["rgb"].shape
        state = space.spaces["state"].shape if "state" in space.spaces else (0,)
        return ObsSpec(int(state[-1]), (int(rgb[-3]), int(rgb[-2]), int(rgb[-1])))
    raise RuntimeError("the maniskill runner needs a flat state vector or rgb + state "
                       "observations, found %s" % (space,))


def to_torch(obs: Any, device: torch.device) -> Obs:
    """numpy (CPU sim) or torch (GPU sim) observations as tensors on ``device``."""
    if isinstance(obs, dict):
        return {k: _tensor(v, device, k == "rgb") for k, v in obs.items() if k in ("rgb", "state")}
    return _tensor(obs, device, False)


def _tensor(x: Any, device: torch.device, image: bool) -> torch.Tensor:
    t = torch.as_tensor(x, device=device)
    if image:
        return t if t.dtype == torch.uint8 else t.to(torch.uint8)
    return t.float()


def select(obs: Obs, idx: Any) -> Obs:
    if isinstance(obs, dict):
        return {k: v[idx] for k, v in obs.items()}
    return obs[idx]


def stack_final(final: Sequence[Any], which: np.ndarray, device: torch.device) -> Obs:
    """The last observations of the envs in ``which`` from gymnasium's ``final_obs`` (an
    object array with one observation per env, None where an env did not finish)."""
    rows = [final[i] for i in which]
    if isinstance(rows[0], dict):
        return to_torch({k: np.stack([r[k] for r in rows]) for k in rows[0]}, device)
    return to_torch(np.stack(rows), device)


def batch_size(obs: Obs) -> int:
    return int(obs["state"].shape[0] if isinstance(obs, dict) else obs.shape[0])


class ObsBuffer(object):
    """``T x N`` observations stored for one rollout (images as uint8)."""

    def __init__(self, steps: int, num_envs: int, spec: ObsSpec, device: torch.device):
        self.spec = spec
        self.state = torch.zeros((steps, num_envs, spec.state_dim), device=device)
        self.rgb = (torch.zeros((steps, num_envs) + tuple(spec.rgb_shape), dtype=torch.uint8,
                                device=device) if spec.rgb_shape else None)

    def put(self, t: int, obs: Obs) -> None:
        if isinstance(obs, dict):
            self.state[t] = obs["state"]
            assert self.rgb is not None
            self.rgb[t] = obs["rgb"]
        else:
            self.state[t] = obs

    def flat(self) -> Obs:
        s = self.state.reshape(-1, self.state.shape[-1])
        if self.rgb is None:
            return s
        return {"state": s, "rgb": self.rgb.reshape((-1,) + tuple(self.rgb.shape[2:]))}
