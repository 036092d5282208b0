"""The actor, critic and discriminator MLPs (plain JAX), and running normalizers (pytrees).

The parameter trees have flax's ``nn.Dense`` layout, which is the seed's (``Dense_0`` ...
``Dense_n``, each ``kernel`` (in, out) and ``bias``), so ``params{actor, critic, disc}`` of a
SkeletonSteering pickle and of ours load into the same networks, and the seed's flax ``MLP``
applies to ours. Plain JAX rather than flax: flax imports rich at import time, and nothing under
``runners/`` may (``tests/test_architecture.py``). The policy is a Gaussian with a FIXED
standard deviation (``model.action_std``, in normalized action units), as in the seed: actions
are ``(mean + noise * std) * action_std + action_mean`` with ``action_mean``/``action_std`` the
centre and half-range of the env's action box.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, NamedTuple, Sequence, Tuple, Union

import jax
import jax.numpy as jnp
import numpy as np

from runners.protocol import CheckpointLoadError

from .config import ModelConfig

ACTIVATIONS = {"relu": jax.nn.relu, "tanh": jnp.tanh, "swish": jax.nn.swish}


class MLP(object):
    """Dense layers with an activation between them; ``init``/``apply`` as flax's (a
    ``{"params": ...}`` dict in and out). Hidden kernels start LeCun-normal (flax's default),
    the output kernel uniform in ``[-out_init_scale, out_init_scale]``, biases at zero."""

    def __init__(self, hidden_dims: Sequence[int], out_dim: int, activation: str = "relu",
                 out_init_scale: float = 1.0):
        self.hidden_dims = tuple(int(h) for h in hidden_dims)
        self.out_dim = int(out_dim)
        self.activation = activation
        self.out_init_scale = float(out_init_scale)

    def init(self, key: Any, x: jnp.ndarray) -> Dict[str, Any]:
        dims = [int(x.shape[-1])] + list(self.hidden_dims) + [self.out_dim]
        keys = jax.random.split(key, len(dims) - 1)
        params = {}
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            if i < len(dims) - 2:
                kernel = jax.nn.initializers.lecun_normal()(keys[i], (a, b), jnp.float32)
            else:
                s = self.out_init_scale
                kernel = jax.random.uniform(keys[i], (a, b), jnp.float32, -s, s)
            params["Dense_%d" % i] = {"kernel": kernel, "bias": jnp.zeros((b,), jnp.float32)}
        return {"params": params}

    def apply(self, variables: Dict[str, Any], x: jnp.ndarray) -> jnp.ndarray:
        p = variables["params"]
        act = ACTIVATIONS[self.activation]
        n = len(self.hidden_dims) + 1
        for i in range(n):
            layer = p["Dense_%d" % i]
            x = x @ layer["kernel"] + layer["bias"]
            if i < n - 1:
                x = act(x)
        return x


class Models(NamedTuple):
    actor: MLP
    critic: MLP
    disc: MLP


def build_models(model: ModelConfig, act_dim: int) -> Models:
    return Models(
        actor=MLP(tuple(model.actor_hidden_layers), act_dim, model.activation,
                  model.actor_init_scale),
        critic=MLP(tuple(model.critic_hidden_layers), 1, model.activation, 1.0),
        disc=MLP(tuple(model.disc_hidden_layers), 1, model.activation, model.disc_init_scale))


def init_params(key: Any, models: Models, obs_dim: int, disc_dim: int) -> Dict[str, Any]:
    ka, kc, kd = jax.random.split(key, 3)
    return {"actor": models.actor.init(ka, jnp.zeros((1, obs_dim)))["params"],
            "critic": models.critic.init(kc, jnp.zeros((1, obs_dim)))["params"],
            "disc": models.disc.init(kd, jnp.zeros((1, disc_dim)))["params"]}


def expected_shapes(hidden: Sequence[int], in_dim: int, out_dim: int) -> Dict[str, Any]:
    dims = [in_dim] + [int(h) for h in hidden] + [out_dim]
    return {"Dense_%d" % i: {"kernel": (dims[i], dims[i + 1]), "bias": (dims[i + 1],)}
            for i in range(len(dims) - 1)}


def check_params(tree: Any, expected: Dict[str, Any], path: Union[str, Path],
                 where: str) -> Dict[str, Any]:
    """``tree`` as float32 numpy arrays, or :class:`CheckpointLoadError` naming the array."""
    if not isinstance(tree, dict):
        raise CheckpointLoadError(path, "%s: expected a dict of layers, found %s"
                                  % (where, type(tree).__name__))
    if sorted(tree) != sorted(expected):
        raise CheckpointLoadError(path, "%s: layers %s, expected %s (other hidden sizes?)"
                                  % (where, sorted(tree), sorted(expected)))
    out = {}  # type: Dict[str, Any]
    for name, sub in expected.items():
        if isinstance(sub, dict):
            out[name] = check_params(tree[name], sub, path, "%s.%s" % (where, name))
            continue
        arr = np.asarray(tree[name])
        if arr.shape != tuple(sub) or not np.issubdtype(arr.dtype, np.floating):
            raise CheckpointLoadError(path, "%s.%s has shape %s %s, expected %s floats"
                                      % (where, name, arr.shape, arr.dtype, tuple(sub)))
        if not np.all(np.isfinite(arr)):
            raise CheckpointLoadError(path, "%s.%s holds NaN or infinite values"
                                      % (where, name))
        out[name] = arr.astype(np.float32)
    return out


# --------------------------------------------------------------------------- normalizers

class Norm(NamedTuple):
    """Running mean/std (the seed's ``NormalizerState`` minus its static clip/min_std)."""
    mean: jnp.ndarray
    mean_sq: jnp.ndarray
    std: jnp.ndarray
    count: jnp.ndarray


def init_norm(dim: int) -> Norm:
    return Norm(jnp.zeros(dim), jnp.zeros(dim), jnp.ones(dim), jnp.zeros(()))


def update_norm(n: Norm, batch: jnp.ndarray, min_std: float) -> Norm:
    flat = batch.reshape((-1, batch.shape[-1]))
    k = flat.shape[0]
    total = n.count + k
    w_old, w_new = n.count / total, k / total
    mean = w_old * n.mean + w_new * jnp.mean(flat, axis=0)
    mean_sq = w_old * n.mean_sq + w_new * jnp.mean(jnp.square(flat), axis=0)
    var = jnp.maximum(mean_sq - jnp.square(mean), min_std * min_std)
    return Norm(mean, mean_sq, jnp.sqrt(var), total)


def apply_norm(n: Norm, x: jnp.ndarray, clip: float) -> jnp.ndarray:
    return jnp.clip((x - n.mean) / n.std, -clip, clip)


def norm_to_dict(n: Norm, clip: float, min_std: float) -> Dict[str, Any]:
    """The seed's pickle layout of a normalizer."""
    return {"mean": np.asarray(n.mean, np.float32), "mean_sq": np.asarray(n.mean_sq, np.float32),
            "std": np.asarray(n.std, np.float32), "count": float(n.count), "clip": float(clip),
            "min_std": float(min_std)}


def norm_from_dict(d: Any, dim: int, path: Union[str, Path], where: str) -> Tuple[Norm, float]:
    """(normalizer, clip) from a pickle's dict; errors name the field."""
    if not isinstance(d, dict):
        raise CheckpointLoadError(path, "%s: expected a dict, found %s" % (where, type(d).__name__))
    arrays = {}
    for key in ("mean", "std"):
        a = np.asarray(d.get(key), dtype=np.float64) if key in d else None
        if a is None or a.shape != (dim,) or not np.all(np.isfinite(a)):
            raise CheckpointLoadError(path, "%s.%s: expected %d finite numbers, found %s"
                                      % (where, key, dim, None if a is None else a.shape))
        arrays[key] = a
    if np.any(arrays["std"] <= 0):
        raise CheckpointLoadError(path, "%s.std: must be positive" % where)
    mean_sq = np.asarray(d.get("mean_sq", arrays["std"] ** 2 + arrays["mean"] ** 2))
    if mean_sq.shape != (dim,):
        mean_sq = arrays["std"] ** 2 + arrays["mean"] ** 2
    try:
        clip = float(d.get("clip", 10.0))
        count = float(d.get("count", 0.0))
    except (TypeError, ValueError):
        raise CheckpointLoadError(path, "%s: clip and count must be numbers" % where)
    if not clip > 0 or not math.isfinite(clip):
        raise CheckpointLoadError(path, "%s.clip: must be a positive number" % where)
    return Norm(jnp.asarray(arrays["mean"], jnp.float32), jnp.asarray(mean_sq, jnp.float32),
                jnp.asarray(arrays["std"], jnp.float32), jnp.asarray(count, jnp.float32)), clip


def gaussian_logp(mean: jnp.ndarray, log_std: jnp.ndarray, x: jnp.ndarray) -> jnp.ndarray:
    z = (x - mean) * jnp.exp(-log_std)
    return -0.5 * jnp.sum(jnp.square(z) + 2.0 * log_std + jnp.log(2.0 * jnp.pi), axis=-1)


__all__ = ["ACTIVATIONS", "MLP", "Models", "Norm", "apply_norm", "build_models",
           "check_params", "expected_shapes", "gaussian_logp", "init_norm", "init_params",
           "norm_from_dict", "norm_to_dict", "update_norm"]
