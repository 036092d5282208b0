"""Checkpoints in SkeletonSteering's pickle layout, and policies loaded back from them.

A checkpoint is a pickled dict::

    {"config": {...the seed's sections...},
     "params": {"actor": {Dense_0: {kernel, bias}, ...}, "critic": {...}, "disc": {...}},
     "obs_norm": {mean, mean_sq, std, count, clip, min_std},
     "disc_norm": {mean, mean_sq, std, count, clip, min_std},
     "action_mean": array, "action_std": array,
     # Pitwall's additions (the seed's eval script reads only the keys above):
     "format": "pitwall.amp/1", "step": samples, "iteration": it, "env_id": ...,
     "obs_dim": ..., "act_dim": ..., "disc_dim": ...}

All arrays are numpy (the seed pickles raw ``jax.Array`` leaves; ours are converted first, so
they load without jax). Loading goes through ``runners.protocol.pickle_checkpoints`` (an
allow-list unpickler that also reads the seed's jax arrays, as numpy) and checks every array's
shape against the env before anything is swapped in.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np

from runners.protocol import CheckpointLoadError, ProtocolError
from runners.protocol.pickle_checkpoints import load_pickle_checkpoint

from .config import AmpConfig, from_checkpoint_config
from .networks import check_params, expected_shapes, norm_from_dict, norm_to_dict

FORMAT = "pitwall.amp/1"
STEM = "amp_ppo_jax"                       # interval files: nn/amp_ppo_jax_<samples>.pkl
BEST_NAME = STEM + "_best.pkl"             # the seed's best file


def to_numpy_tree(tree: Any) -> Any:
    if isinstance(tree, dict):
        return {k: to_numpy_tree(v) for k, v in tree.items()}
    return np.asarray(tree)


def build_payload(cfg: AmpConfig, state: Any, action_mean: Any, action_std: Any,
                  step: int, iteration: int, dims: Tuple[int, int, int]) -> Dict[str, Any]:
    n = cfg.normalizer
    return {"config": cfg.to_seed_dict(), "params": to_numpy_tree(state.params),
            "obs_norm": norm_to_dict(state.obs_norm, n.obs_clip, n.min_std),
            "disc_norm": norm_to_dict(state.disc_norm, n.disc_clip, n.min_std),
            "action_mean": np.asarray(action_mean, np.float32),
            "action_std": np.asarray(action_std, np.float32),
            "format": FORMAT, "step": int(step), "iteration": int(iteration),
            "env_id": cfg.env_id, "obs_dim": dims[0], "act_dim": dims[1], "disc_dim": dims[2]}


def read_payload(path: Union[str, Path]) -> Dict[str, Any]:
    d = load_pickle_checkpoint(path)
    for key in ("params", "obs_norm", "action_mean", "action_std"):
        if key not in d:
            raise CheckpointLoadError(path, "no %r: not an AMP+PPO checkpoint (keys: %s)"
                                      % (key, ", ".join(sorted(map(str, d))[:12])))
    if not isinstance(d["params"], dict) or "actor" not in d["params"]:
        raise CheckpointLoadError(path, "params: no 'actor' network")
    return d


def checkpoint_config(d: Dict[str, Any], path: Union[str, Path],
                      fallback: AmpConfig) -> AmpConfig:
    """The config the file was trained with (its network sizes), else the run's."""
    try:
        cfg = from_checkpoint_config(d.get("config"), "%s: config" % path)
    except ProtocolError as e:
        raise CheckpointLoadError(path, "its config is not usable: %s" % e.message)
    return cfg if cfg is not None else fallback


def checkpoint_step(d: Dict[str, Any], path: Union[str, Path]) -> Optional[int]:
    step = d.get("step")
    if isinstance(step, (int, np.integer)) and not isinstance(step, bool):
        return int(step)
    from runners.protocol import read_index

    entry = read_index(Path(path).parent)[0].get(Path(path).name)
    return entry.step if entry is not None else None


def restore_arrays(d: Dict[str, Any], path: Union[str, Path], cfg: AmpConfig, obs_dim: int,
                   act_dim: int, disc_dim: Optional[int]) -> Dict[str, Any]:
    """Checked numpy arrays: params (actor, critic, disc if ``disc_dim``), normalizers,
    action scale. ``obs_dim`` is the policy input (obs x obs_history_len)."""
    m = cfg.model
    params = {"actor": check_params(d["params"]["actor"],
                                    expected_shapes(m.actor_hidden_layers, obs_dim, act_dim),
                                    path, "params.actor")}
    if "critic" in d["params"]:
        params["critic"] = check_params(d["params"]["critic"], expected_shapes(
            m.critic_hidden_layers, obs_dim, 1), path, "params.critic")
    if disc_dim is not None:
        if "disc" not in d["params"] or "disc_norm" not in d:
            raise CheckpointLoadError(path, "no discriminator (params.disc, disc_norm)")
        params["disc"] = check_params(d["params"]["disc"], expected_shapes(
            m.disc_hidden_layers, disc_dim, 1), path, "params.disc")
    out = {"params": params}  # type: Dict[str, Any]
    out["obs_norm"], out["obs_clip"] = norm_from_dict(d["obs_norm"], obs_dim, path, "obs_norm")
    if disc_dim is not None:
        out["disc_norm"], out["disc_clip"] = norm_from_dict(d["disc_norm"], disc_dim, path,
                                                            "disc_norm")
    for key in ("action_mean", "action_std"):
        a = np.asarray(d[key], dtype=np.float32).reshape(-1)
        if a.shape != (act_dim,) or not np.all(np.isfinite(a)):
            raise CheckpointLoadError(path, "%s: expected %d finite numbers, found shape %s"
                                      % (key, act_dim, a.shape))
        out[key] = a
    return out


__all__ = ["BEST_NAME", "FORMAT", "STEM", "build_payload", "checkpoint_config",
           "checkpoint_step", "read_payload", "restore_arrays", "to_numpy_tree"]
