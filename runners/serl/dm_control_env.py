"""A dm_control suite task as a gymnasium env (``params.env: dm_control/quadruped-walk``).

dm_control is an optional extra (``serl-dmc``) for an environment of its own: dm_control 1.0.50
fails with mujoco 4.0 (``'MjModel' object has no attribute 'flex_vertedge'``) and works with
``mujoco==3.17.0``, while the rest of Pitwall's venv uses mujoco 4. Observations stay a ``Dict``
of ``Box`` (the runner flattens them, sorted by key); actions are the task's bounded spec.
``terminated`` is a last step with discount 0 (a failure); a last step with discount > 0 is the
time limit (``truncated``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np

from runners.protocol import ProtocolError

INSTALL_HINT = ("pip install 'pitwall[serl,serl-dmc]' in an environment of its own "
                "(dm-control 1.0.50 needs mujoco==3.17.0; Pitwall's main venv has mujoco 4)")


def require_dm_control(source: Union[str, Path] = "run.json") -> Any:
    os.environ.setdefault("MUJOCO_GL", "egl")
    try:
        from dm_control import suite
    except ImportError as e:
        raise ProtocolError(source, "params.env", "dm_control is not installed (%s): %s"
                            % (e, INSTALL_HINT))
    except AttributeError as e:  # mujoco 4 under dm_control 1.0.50
        raise ProtocolError(source, "params.env", "dm_control does not work with this mujoco "
                            "(%s): %s" % (e, INSTALL_HINT))
    return suite


def _box(spec: Any) -> Any:
    import gymnasium as gym

    shape = tuple(int(n) for n in spec.shape)
    return gym.spaces.Box(-np.inf, np.inf, shape=shape, dtype=np.float64)


class DmControlEnv(object):
    """Just enough of ``gymnasium.Env`` for the runner (reset, step, render, spaces, close)."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, domain: str, task: str, render_mode: Optional[str] = None,
                 render_size: Tuple[int, int] = (256, 256), camera_id: int = 0,
                 seed: Optional[int] = None, **task_kwargs: Any):
        import gymnasium as gym

        suite = require_dm_control()
        self.domain, self.task = domain, task
        self._task_kwargs = dict(task_kwargs)
        self._seed = seed
        self._env = suite.load(domain, task, task_kwargs=dict(task_kwargs, random=seed))
        aspec = self._env.action_spec()
        self.action_space = gym.spaces.Box(np.asarray(aspec.minimum, dtype=np.float32),
                                           np.asarray(aspec.maximum, dtype=np.float32),
                                           dtype=np.float32)
        self.observation_space = gym.spaces.Dict(
            {k: _box(v) for k, v in self._env.observation_spec().items()})
        self.render_mode = render_mode
        self.render_size = render_size
        self.camera_id = camera_id
        self.dt = float(self._env.control_timestep())
        self.unwrapped = self
        self.spec = None

    def _obs(self, ts: Any) -> Dict[str, np.ndarray]:
        return {k: np.asarray(v, dtype=np.float64).reshape(self.observation_space[k].shape)
                for k, v in ts.observation.items()}

    def reset(self, seed: Optional[int] = None, options: Any = None) -> Any:
        if seed is not None:
            from dm_control import suite

            self._env = suite.load(self.domain, self.task,
                                   task_kwargs=dict(self._task_kwargs, random=seed))
        ts = self._env.reset()
        return self._obs(ts), {}

    def step(self, action: Any) -> Any:
        ts = self._env.step(np.asarray(action, dtype=np.float64))
        last = ts.last()
        discount = 1.0 if ts.discount is None else float(ts.discount)
        terminated = bool(last and discount == 0.0)
        truncated = bool(last and not terminated)
        reward = 0.0 if ts.reward is None else float(ts.reward)
        return self._obs(ts), reward, terminated, truncated, {}

    def render(self) -> np.ndarray:
        w, h = self.render_size
        return self._env.physics.render(height=h, width=w, camera_id=self.camera_id)

    def close(self) -> None:
        try:
            self._env.close()
        except Exception:
            pass
