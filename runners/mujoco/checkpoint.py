"""What a MuJoCo-runner checkpoint holds, and how it is read back (for resume and for play).

The payload is a plain dict of tensors, numbers, strings, lists and dicts, saved through
``runners.protocol.save_torch_checkpoint`` and read through ``load_torch_checkpoint``
(``torch.load(weights_only=True)``)::

    runner, env_id, obs_dim, act_dim, hidden, step, update, total_steps, seed, episodes,
    recent_returns, recent_lengths, model (state_dict), optimizer (state_dict), obs_norm,
    reward_norm, torch_rng
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from runners.protocol import CheckpointLoadError, load_torch_checkpoint
from runners.sdk.torch_runtime import cpu_copy

from .normalize import ObsNormalizer
from .policy import ActorCritic

RUNNER = "mujoco"
REQUIRED = ("env_id", "obs_dim", "act_dim", "hidden", "model", "obs_norm", "step")


def build_payload(model: ActorCritic, optimizer: torch.optim.Optimizer, obs_norm: ObsNormalizer,
                  reward_norm: Dict[str, Any], env_id: str, step: int, update: int,
                  total_steps: int, seed: int, episodes: int,
                  recent_returns: Sequence[float] = (),
                  recent_lengths: Sequence[float] = ()) -> Dict[str, Any]:
    return {
        "runner": RUNNER,
        "env_id": env_id,
        "obs_dim": model.obs_dim,
        "act_dim": model.act_dim,
        "hidden": list(model.hidden),
        "step": int(step),
        "update": int(update),
        "total_steps": int(total_steps),
        "seed": int(seed),
        "episodes": int(episodes),
        "recent_returns": [float(x) for x in recent_returns],
        "recent_lengths": [float(x) for x in recent_lengths],
        "model": cpu_copy(model.state_dict()),
        "optimizer": cpu_copy(optimizer.state_dict()),
        "obs_norm": obs_norm.state_dict(),
        "reward_norm": reward_norm,
        "torch_rng": torch.get_rng_state(),
    }


def read_checkpoint(path: Union[str, Path], env_id: Optional[str] = None,
                    obs_dim: Optional[int] = None,
                    act_dim: Optional[int] = None) -> Dict[str, Any]:
    """Load and check a payload; raises :class:`CheckpointLoadError` saying what is wrong."""
    data = load_torch_checkpoint(path, map_location="cpu")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise CheckpointLoadError(path, "not a mujoco-runner checkpoint (missing %s)"
                                  % ", ".join(missing))
    if data.get("runner", RUNNER) != RUNNER:
        raise CheckpointLoadError(path, "written by runner %r, not %r"
                                  % (data.get("runner"), RUNNER))
    if env_id is not None and data["env_id"] != env_id:
        raise CheckpointLoadError(path, "trained on %s, this run uses %s"
                                  % (data["env_id"], env_id))
    if obs_dim is not None and int(data["obs_dim"]) != obs_dim:
        raise CheckpointLoadError(path, "observation size %s does not match the env's %d"
                                  % (data["obs_dim"], obs_dim))
    if act_dim is not None and int(data["act_dim"]) != act_dim:
        raise CheckpointLoadError(path, "action size %s does not match the env's %d"
                                  % (data["act_dim"], act_dim))
    return data


def model_from_payload(data: Dict[str, Any], path: Union[str, Path]) -> ActorCritic:
    try:
        model = ActorCritic(int(data["obs_dim"]), int(data["act_dim"]),
                            [int(h) for h in data["hidden"]], init=False)
        model.load_state_dict(data["model"])
    except (RuntimeError, KeyError, TypeError, ValueError) as e:
        raise CheckpointLoadError(path, "weights do not fit the network (%s)"
                                  % str(e).strip().splitlines()[0][:200])
    for name, p in model.state_dict().items():
        if not torch.isfinite(p).all():
            raise CheckpointLoadError(path, "weights hold NaN or inf (%s)" % name)
    return model


def obs_norm_from_payload(data: Dict[str, Any], path: Union[str, Path]) -> ObsNormalizer:
    norm = ObsNormalizer((int(data["obs_dim"]),))
    try:
        norm.load_state_dict(data["obs_norm"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointLoadError(path, "bad observation statistics (%s)" % e)
    return norm


class InferencePolicy(object):
    """A checkpoint's actor with its frozen observation normaliser: obs in, env action out."""

    def __init__(self, model: ActorCritic, obs_norm: ObsNormalizer, act_low: np.ndarray,
                 act_high: np.ndarray, step: int, path: str = ""):
        self.model = model.eval()
        self.obs_norm = obs_norm
        self.act_low = act_low
        self.act_high = act_high
        self.step = step
        self.path = path

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        x = torch.as_tensor(self.obs_norm(obs[None]), dtype=torch.float32)
        mean = self.model.mean_action(x)
        if deterministic:
            a = mean
        else:
            a = mean + torch.randn_like(mean) * torch.exp(self.model.log_std)
        return np.clip(a[0].numpy(), self.act_low, self.act_high)


def load_policy(path: Union[str, Path], env_id: str, obs_dim: int, act_dim: int,
                act_low: np.ndarray, act_high: np.ndarray) -> Tuple[InferencePolicy, int]:
    """The ``load`` callable of the checkpoint follower: (policy, step); raises on a bad file."""
    data = read_checkpoint(path, env_id, obs_dim, act_dim)
    model = model_from_payload(data, path)
    norm = obs_norm_from_payload(data, path)
    step = int(data["step"])
    return InferencePolicy(model, norm, act_low, act_high, step, str(path)), step
