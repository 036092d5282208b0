"""What a ManiSkill-runner checkpoint holds, and how it is read back (resume, play, videos).

A plain dict of tensors, numbers, strings, lists and dicts, saved through
``runners.protocol.save_torch_checkpoint`` and read through ``load_torch_checkpoint``
(``torch.load(weights_only=True)``)::

    runner, env_id, obs_mode, control_mode, agent (network config), step, update, episodes,
    total_steps, seed, model (state_dict), optimizer (state_dict), torch_rng, recent (episode
    metrics of the last episodes)

A training-time video snapshot holds the same minus optimizer and RNG.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np
import torch

from runners.protocol import CKPT_FORMAT, CheckpointLoadError, load_torch_checkpoint
from runners.sdk.torch_runtime import cpu_copy

from .agent import Agent
from .observations import Obs, ObsSpec

RUNNER = "maniskill"
REQUIRED = ("env_id", "obs_mode", "agent", "model", "step")
BASELINE_KEY = "actor_mean.0.weight"


def policy_payload(agent: Agent, env_id: str, obs_mode: str, control_mode: str, step: int,
                   episodes: int) -> Dict[str, Any]:
    """What playing the policy needs (a video snapshot is exactly this)."""
    return {"format": CKPT_FORMAT, "runner": RUNNER, "env_id": env_id, "obs_mode": obs_mode,
            "control_mode": control_mode, "agent": agent.config(), "step": int(step),
            "episodes": int(episodes), "model": cpu_copy(agent.state_dict())}


def read_checkpoint(path: Union[str, Path], env_id: Optional[str] = None,
                    obs_mode: Optional[str] = None, spec: Optional[ObsSpec] = None,
                    act_dim: Optional[int] = None) -> Dict[str, Any]:
    """Load and check a payload; raises :class:`CheckpointLoadError` saying what is wrong."""
    data = load_torch_checkpoint(path, map_location="cpu")
    if "runner" not in data and BASELINE_KEY in data:
        data = from_baseline_state_dict(data, path)
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise CheckpointLoadError(path, "not a maniskill-runner checkpoint (missing %s)"
                                  % ", ".join(missing))
    if data.get("runner", RUNNER) != RUNNER:
        raise CheckpointLoadError(path, "written by runner %r, not %r"
                                  % (data.get("runner"), RUNNER))
    if env_id is not None and data["env_id"] is not None and data["env_id"] != env_id:
        raise CheckpointLoadError(path, "trained on %s, this run uses %s"
                                  % (data["env_id"], env_id))
    if obs_mode is not None and data["obs_mode"] != obs_mode:
        raise CheckpointLoadError(path, "trained with obs_mode %r, this run uses %r"
                                  % (data["obs_mode"], obs_mode))
    try:
        theirs = ObsSpec.from_dict(data["agent"]["obs_spec"])
        their_act = int(data["agent"]["act_dim"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointLoadError(path, "bad network description (%s)" % e)
    if spec is not None and theirs != spec:
        raise CheckpointLoadError(path, "observation shape %s does not match the env's %s"
                                  % (theirs, spec))
    if act_dim is not None and their_act != act_dim:
        raise CheckpointLoadError(path, "action size %d does not match the env's %d"
                                  % (their_act, act_dim))
    return data


def from_baseline_state_dict(sd: Dict[str, Any], path: Union[str, Path]) -> Dict[str, Any]:
    """A checkpoint of ManiSkill's own PPO baseline (``ppo.py``: ``ckpt_<iteration>.pt``,
    ``final_ckpt.pt``, the state dict of its state-observation agent: tanh MLPs
    ``actor_mean`` and ``critic``, ``actor_logstd`` of shape [1, A]) as our payload. Same layer
    layout as our :class:`Agent`, so its actions are the baseline's. The env is not recorded
    in such a file (``env_id`` None); the step is the iteration in the file name."""
    from runners.protocol import step_from_name

    try:
        layers = sorted(int(k.split(".")[1]) for k in sd
                        if k.startswith("actor_mean.") and k.endswith(".weight"))
        weights = [sd["actor_mean.%d.weight" % i] for i in layers]
        obs_dim = int(weights[0].shape[1])
        hidden = [int(w.shape[0]) for w in weights[:-1]]
        act_dim = int(weights[-1].shape[0])
        model = dict(sd)
        model["actor_logstd"] = sd["actor_logstd"].reshape(-1)
    except (KeyError, IndexError, AttributeError, ValueError) as e:
        raise CheckpointLoadError(path, "looks like a ManiSkill PPO baseline checkpoint but its "
                                  "layers do not fit (%s)" % e)
    return {"runner": RUNNER, "env_id": None, "obs_mode": "state", "control_mode": None,
            "agent": {"obs_spec": ObsSpec(obs_dim).as_dict(), "act_dim": act_dim,
                      "hidden": hidden, "init_log_std": 0.0},
            "model": model, "step": step_from_name(Path(str(path)).name) or 0,
            "foreign": "maniskill-ppo-baseline"}


def agent_from_payload(data: Dict[str, Any], path: Union[str, Path]) -> Agent:
    try:
        agent = Agent.from_config(data["agent"])
        agent.load_state_dict(data["model"])
    except (RuntimeError, KeyError, TypeError, ValueError) as e:
        raise CheckpointLoadError(path, "weights do not fit the network (%s)"
                                  % str(e).strip().splitlines()[0][:200])
    for name, p in agent.state_dict().items():
        if not torch.isfinite(p).all():
            raise CheckpointLoadError(path, "weights hold NaN or inf (%s)" % name)
    return agent.eval()


class InferencePolicy(object):
    """A checkpoint's actor: one unbatched numpy observation in, a clipped numpy action out."""

    def __init__(self, agent: Agent, act_low: np.ndarray, act_high: np.ndarray, step: int,
                 path: str = ""):
        self.agent = agent
        self.act_low = act_low
        self.act_high = act_high
        self.step = step
        self.path = path

    @torch.no_grad()
    def act(self, obs: Any, deterministic: bool = True) -> np.ndarray:
        x = _batch_of_one(obs)
        mean = self.agent.mean_action(x)
        a = mean if deterministic else \
            mean + torch.randn_like(mean) * torch.exp(self.agent.actor_logstd)
        return np.clip(a[0].numpy(), self.act_low, self.act_high).astype(np.float32)


def _batch_of_one(obs: Any) -> Obs:
    if isinstance(obs, dict):
        return {k: torch.as_tensor(np.asarray(v)[None]) if k == "rgb"
                else torch.as_tensor(np.asarray(v, np.float32)[None])
                for k, v in obs.items() if k in ("rgb", "state")}
    return torch.as_tensor(np.asarray(obs, np.float32)[None])


def load_policy(path: Union[str, Path], env_id: str, obs_mode: str, spec: ObsSpec,
                act_low: np.ndarray, act_high: np.ndarray) -> Tuple[InferencePolicy, int]:
    """(policy, step) from a checkpoint or snapshot; raises on a bad file."""
    data = read_checkpoint(path, env_id, obs_mode, spec, len(act_low))
    agent = agent_from_payload(data, path)
    step = int(data["step"])
    return InferencePolicy(agent, act_low, act_high, step, str(path)), step
