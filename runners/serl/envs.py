"""Environments of the SERL runner: one ``params.env`` string, three kinds.

- a gymnasium id: ``Ant-v5`` (the default quadruped), ``HalfCheetah-v5`` ...;
- ``dm_control/<domain>-<task>``: a dm_control suite task (``dm_control/quadruped-walk``)
  through :mod:`.dm_control_env` (needs the ``serl-dmc`` extra, in an environment of its own:
  dm_control 1.0.50 needs ``mujoco==3.17.0``);
- ``module:function``: the user's own env (a GO2 MJCF model ...); ``function(**env_kwargs)``
  returns a gymnasium ``Env`` with a ``Box`` action space and a ``Box`` or ``Dict``
  observation space. It receives ``render_mode="rgb_array"`` too when the viewer needs frames
  and the function accepts that argument.

``params.env_kwargs`` go to the constructor in every case. An env may report a human
intervention as ``info["intervene_action"]`` after a step (the action it really executed); the
actor records that action instead of the policy's (hybrid mode puts it in the demo buffer too).
"""
from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple, Union

import numpy as np

from runners.protocol import ProtocolError

DMC_PREFIX = "dm_control/"
_ENTRY_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def env_kind(env: str) -> str:
    if env.startswith(DMC_PREFIX):
        return "dm_control"
    if _ENTRY_RE.match(env):
        return "entry_point"
    return "gymnasium"


def _entry_point(env: str, source: Union[str, Path]) -> Callable[..., Any]:
    module, _, attr = env.partition(":")
    try:
        obj = importlib.import_module(module)  # type: Any
    except ImportError as e:
        raise ProtocolError(source, "params.env", "cannot import module %r of entry point %r "
                            "(%s); is it on PYTHONPATH (the profile's env / cwd)?"
                            % (module, env, e))
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ProtocolError(source, "params.env", "module %r has no %r (entry point %r)"
                                % (module, attr, env))
        obj = getattr(obj, part)
    if not callable(obj):
        raise ProtocolError(source, "params.env", "%r is not callable" % env)
    return obj


def _dmc_task(env: str, source: Union[str, Path]) -> Tuple[str, str]:
    rest = env[len(DMC_PREFIX):]
    domain, sep, task = rest.partition("-")
    if not sep or not domain or not task:
        raise ProtocolError(source, "params.env", "expected dm_control/<domain>-<task> "
                            "(e.g. dm_control/quadruped-walk), found %r" % env)
    return domain, task


def check_env(env: str, source: Union[str, Path]) -> None:
    """Fail early, naming run.json, for an env that cannot exist (without building it)."""
    kind = env_kind(env)
    if kind == "entry_point":
        _entry_point(env, source)
    elif kind == "dm_control":
        _dmc_task(env, source)
        from .dm_control_env import require_dm_control

        require_dm_control(source)
    else:
        import gymnasium as gym

        if env not in gym.envs.registry:
            import difflib

            close = difflib.get_close_matches(env, list(gym.envs.registry), n=3, cutoff=0.6)
            hint = (" (did you mean %s?)" % " or ".join(close)) if close else ""
            raise ProtocolError(source, "params.env", "%r is not a registered gymnasium "
                                "environment, a dm_control/<domain>-<task> or a "
                                "module:function entry point%s" % (env, hint))


def make_env(env: str, env_kwargs: Optional[Dict[str, Any]] = None,
             render_mode: Optional[str] = None, max_traj_length: int = 0,
             source: Union[str, Path] = "run.json", render_size: Tuple[int, int] = (256, 256)
             ) -> Any:
    kwargs = dict(env_kwargs or {})
    kind = env_kind(env)
    if kind == "entry_point":
        fn = _entry_point(env, source)
        if render_mode is not None and _accepts(fn, "render_mode"):
            kwargs["render_mode"] = render_mode
        e = fn(**kwargs)
    elif kind == "dm_control":
        from .dm_control_env import DmControlEnv

        domain, task = _dmc_task(env, source)
        e = DmControlEnv(domain, task, render_mode=render_mode, render_size=render_size,
                         **kwargs)
    else:
        import gymnasium as gym

        e = None
        if render_mode is not None and "width" not in kwargs:
            try:  # MuJoCo envs take the frame size; others refuse it
                e = gym.make(env, render_mode=render_mode, width=render_size[0],
                             height=render_size[1], **kwargs)
            except TypeError:
                e = None
        if e is None:
            e = gym.make(env, render_mode=render_mode, **kwargs)
    check_spaces(e, env)
    if max_traj_length > 0:
        import gymnasium as gym

        e = gym.wrappers.TimeLimit(e, max_episode_steps=max_traj_length)
    return e


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind == p.VAR_KEYWORD for p in params.values())


def check_spaces(e: Any, env: str) -> None:
    import gymnasium as gym

    sp = getattr(e, "action_space", None)
    if not isinstance(sp, gym.spaces.Box) or len(sp.shape) != 1:
        raise RuntimeError("env %s: SAC needs a 1-D continuous (Box) action space, found %s"
                           % (env, sp))
    if not (np.all(np.isfinite(sp.low)) and np.all(np.isfinite(sp.high))):
        raise RuntimeError("env %s: the action space must be bounded, found %s" % (env, sp))


def action_bounds(e: Any) -> Tuple[np.ndarray, np.ndarray]:
    sp = e.action_space
    return np.asarray(sp.low, dtype=np.float32), np.asarray(sp.high, dtype=np.float32)
