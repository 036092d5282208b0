"""What a SERL learner checkpoint holds, and how it is read back (resume, viewers, demos).

Saved through ``runners.protocol.save_torch_checkpoint`` as ``nn/checkpoint_<update step>.pth``
(the seed's names; the step is the learner's update step) and ``nn/final_model.pth`` at the
end, ``nn/latest.pth`` following the newest; loaded with ``torch.load(weights_only=True)``::

    runner, env, mode, obs_layout, obs_dim, act_dim, act_low, act_high, hidden, step
    (= update_steps), update_steps, env_steps, actor_episodes, sac {actor, critic,
    target_critic, log_alpha, actor_opt, critic_opt, alpha_opt}, torch_rng
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

import torch

from runners.protocol import CheckpointLoadError, load_torch_checkpoint
from runners.sdk.torch_runtime import cpu_copy

from .env_spec import EnvSpec
from .obs_layout import ObsLayout
from .policy import ActorPolicy
from .sac import SAC, Actor

RUNNER = "serl"
STEM = "checkpoint"
FINAL_NAME = "final_model.pth"
REQUIRED = ("obs_layout", "obs_dim", "act_dim", "act_low", "act_high", "hidden", "sac",
            "update_steps")


def build_payload(agent: SAC, spec: EnvSpec, mode: str, update_steps: int,
                  env_steps: int, actor_episodes: int) -> Dict[str, Any]:
    return {
        "runner": RUNNER, "env": spec.env, "mode": mode,
        "obs_layout": spec.layout.to_json(), "obs_dim": spec.layout.dim,
        "act_dim": int(len(spec.act_low)),
        "act_low": [float(x) for x in spec.act_low],
        "act_high": [float(x) for x in spec.act_high],
        "hidden": list(agent.cfg.hidden), "step": int(update_steps),
        "update_steps": int(update_steps), "env_steps": int(env_steps),
        "actor_episodes": int(actor_episodes), "sac": cpu_copy(agent.state_dict()),
        "torch_rng": torch.get_rng_state(),
    }


def read_checkpoint(path: Union[str, Path]) -> Dict[str, Any]:
    """Load and check a payload; raises :class:`CheckpointLoadError` saying what is wrong."""
    data = load_torch_checkpoint(path, map_location="cpu")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise CheckpointLoadError(path, "not a SERL-runner checkpoint (missing %s)"
                                  % ", ".join(missing))
    if data.get("runner", RUNNER) != RUNNER:
        raise CheckpointLoadError(path, "written by runner %r, not %r"
                                  % (data.get("runner"), RUNNER))
    try:
        ObsLayout.from_json(data["obs_layout"])
    except ValueError as e:
        raise CheckpointLoadError(path, "bad obs_layout (%s)" % e)
    return data


def layout_of(data: Dict[str, Any]) -> ObsLayout:
    return ObsLayout.from_json(data["obs_layout"])


def spec_of(data: Dict[str, Any]) -> EnvSpec:
    return EnvSpec(str(data.get("env", "")), layout_of(data), data["act_low"], data["act_high"])


def actor_from_payload(data: Dict[str, Any], path: Union[str, Path]) -> Actor:
    try:
        actor = Actor(int(data["obs_dim"]), int(data["act_dim"]),
                      [int(h) for h in data["hidden"]])
        actor.load_state_dict(data["sac"]["actor"])
    except (RuntimeError, KeyError, TypeError, ValueError) as e:
        raise CheckpointLoadError(path, "actor weights do not fit the network (%s)"
                                  % str(e).strip().splitlines()[0][:200])
    for name, p in actor.state_dict().items():
        if not torch.isfinite(p).all():
            raise CheckpointLoadError(path, "weights hold NaN or inf (%s)" % name)
    return actor


def load_policy(path: Union[str, Path], layout: Optional[ObsLayout] = None,
                act_dim: Optional[int] = None) -> Tuple[ActorPolicy, int]:
    """(policy, update step) from a checkpoint; refuses one made for another env shape."""
    data = read_checkpoint(path)
    got = layout_of(data)
    if layout is not None and got != layout:
        raise CheckpointLoadError(path, "observation layout %r does not match the env's %r"
                                  % (got, layout))
    if act_dim is not None and int(data["act_dim"]) != act_dim:
        raise CheckpointLoadError(path, "action size %s does not match the env's %d"
                                  % (data["act_dim"], act_dim))
    step = int(data["update_steps"])
    return ActorPolicy(actor_from_payload(data, path), got, data["act_low"], data["act_high"],
                       step, str(path)), step
