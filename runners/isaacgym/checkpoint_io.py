"""Reading and writing rl_games checkpoints without blind unpickling.

An rl_games checkpoint (``algo.get_full_state_weights()``: ``model``, ``epoch``, ``frame``,
``optimizer``, ``last_mean_rewards``, ``env_state``) holds one non-tensor object: the best mean
reward, a numpy ``float32`` scalar. rl_games itself loads with ``weights_only=False``; we never do.
Loading goes through :func:`runners.protocol.load_torch_checkpoint` with the explicit allow-list
below (numpy's scalar reconstructor under both its numpy 1 and numpy 2 names, ``numpy.dtype`` and
a few numeric dtype classes). On a torch too old for ``torch.serialization.safe_globals`` (< 2.5,
as in Isaac Gym's Python 3.8 environments) the protocol's loader enforces the same list with a
restricted unpickler.

Our own ``latest.pth``/history files store plain Python numbers instead of numpy scalars, so they
even load with a bare ``torch.load(weights_only=True)``; rl_games' own best/last files need the
allow-list.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from runners.protocol import CheckpointLoadError, load_torch_checkpoint

COMPILED_PREFIX = "_orig_mod."   # parameter names of a torch.compile'd model

_SCALAR_NAMES = ("numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar")
_DTYPE_NAMES = ("float16", "float32", "float64", "int32", "int64", "uint8", "bool")


def _numpy_scalar() -> Any:
    import numpy as np

    core = getattr(np, "_core", None)  # numpy >= 2
    mod = getattr(core, "multiarray", None) if core is not None else None
    if mod is None:
        mod = np.core.multiarray  # numpy 1.x
    return mod.scalar


def allowed_globals() -> Dict[str, Any]:
    """The allow-list: fully qualified pickle name → object."""
    import numpy as np

    scalar = _numpy_scalar()
    out = {name: scalar for name in _SCALAR_NAMES}  # type: Dict[str, Any]
    out["numpy.dtype"] = np.dtype
    for name in _DTYPE_NAMES:
        cls = type(np.dtype(name))
        if cls is not np.dtype:  # numpy >= 1.25 has one class per dtype (numpy.dtypes.*)
            out["%s.%s" % (cls.__module__, cls.__qualname__)] = cls
    return out


def allow_list() -> List[Any]:
    """The allow-list in the form ``torch.serialization.safe_globals`` takes."""
    return [(obj, name) for name, obj in allowed_globals().items()]


def load_rl_games_checkpoint(path: Union[str, Path], map_location: Any = "cpu"
                             ) -> Dict[str, Any]:
    """Load an rl_games (or our) checkpoint; raises :class:`CheckpointLoadError` on anything
    that is not a complete checkpoint made only of tensors, numbers and the allowed types."""
    state = load_torch_checkpoint(path, map_location=map_location, allow=allow_list())
    return normalize_state(state, path)


def normalize_state(state: Dict[str, Any], path: Union[str, Path]) -> Dict[str, Any]:
    """Check the rl_games layout; drop ``torch.compile``'s ``_orig_mod.`` name prefix."""
    model = state.get("model")
    if not isinstance(model, dict):
        raise CheckpointLoadError(path, "not an rl_games checkpoint (no 'model' state dict; "
                                        "keys: %s)" % ", ".join(sorted(map(str, state))[:8]))
    if any(str(k).startswith(COMPILED_PREFIX) for k in model):
        state = dict(state)
        state["model"] = type(model)((k[len(COMPILED_PREFIX):] if k.startswith(COMPILED_PREFIX)
                                      else k, v) for k, v in model.items())
    return state


def checkpoint_step(state: Dict[str, Any]) -> Optional[int]:
    """The env-frame counter a checkpoint was saved at (rl_games ``frame``), if any."""
    v = state.get("frame")
    try:
        return int(v) if v is not None and not isinstance(v, bool) else None
    except (TypeError, ValueError):
        return None


def plain_numbers(state: Dict[str, Any]) -> Dict[str, Any]:
    """``state`` with top-level numpy scalars turned into Python numbers (same values), so our
    files load with ``weights_only=True`` and still restore in rl_games unchanged."""
    out = dict(state)
    for k, v in state.items():
        item = getattr(v, "item", None)
        if type(v).__module__ == "numpy" and callable(item) and getattr(v, "ndim", 1) == 0:
            out[k] = item()
    return out


def check_compatible(model_state: Dict[str, Any], checkpoint_model: Dict[str, Any],
                     path: Union[str, Path]) -> None:
    """Refuse a checkpoint whose network does not match the one that runs (another task,
    other layer sizes) before anything is copied into the live model."""
    mine = set(model_state)
    theirs = set(checkpoint_model)
    missing = sorted(mine - theirs)
    extra = sorted(theirs - mine)
    shapes = []  # type: List[str]
    for k in sorted(mine & theirs):
        a = tuple(getattr(model_state[k], "shape", ()))
        b = tuple(getattr(checkpoint_model[k], "shape", ()))
        if a != b:
            shapes.append("%s %s != %s" % (k, list(b), list(a)))
    if missing or extra or shapes:
        parts = []
        if missing:
            parts.append("missing %s" % ", ".join(missing[:4]))
        if extra:
            parts.append("unexpected %s" % ", ".join(extra[:4]))
        if shapes:
            parts.append("shape mismatch %s" % "; ".join(shapes[:3]))
        raise CheckpointLoadError(path, "the network in this checkpoint does not match the one "
                                        "this viewer runs (%s)" % "; ".join(parts))


def describe_allow_list() -> Tuple[str, ...]:
    return tuple(sorted(allowed_globals()))
