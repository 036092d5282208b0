"""Keep the Isaac Gym viewer's camera on one env's robot (env 0 by default).

The camera follows the first actor of that env from its root state (the actor root state tensor,
as IsaacGymEnvs' AMP tasks do for env 0); the offset the user sets with the mouse is kept, only
the target moves with the robot. Isaac Gym APIs only; a task without a viewer gets no camera.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

DEFAULT_OFFSET_Z_UP = (-3.0, -3.0, 2.0)
DEFAULT_OFFSET_Y_UP = (-3.0, 2.0, -3.0)


class EnvCamera(object):
    def __init__(self, task: Any, env_index: int = 0, say: Any = print):
        from isaacgym import gymapi, gymtorch

        self.gymapi = gymapi
        self.task = task
        self.gym = task.gym
        self.sim = task.sim
        self.viewer = task.viewer
        self.say = say
        self.enabled = self.viewer is not None
        self.prev = None  # type: Optional[np.ndarray]
        if not self.enabled:
            return
        root = gymtorch.wrap_tensor(self.gym.acquire_actor_root_state_tensor(self.sim))
        num_envs = int(getattr(task, "num_envs", 1)) or 1
        per_env = max(1, root.shape[0] // num_envs)
        self.root = root
        self.index = min(env_index, num_envs - 1) * per_env
        up_z = self.gym.get_sim_params(self.sim).up_axis == gymapi.UP_AXIS_Z
        self.offset = np.array(DEFAULT_OFFSET_Z_UP if up_z else DEFAULT_OFFSET_Y_UP)
        target = self._target()
        self._look(target + self.offset, target)
        self.prev = target

    def _target(self) -> np.ndarray:
        self.gym.refresh_actor_root_state_tensor(self.sim)
        return self.root[self.index, 0:3].detach().cpu().numpy().astype(np.float64)

    def _look(self, pos: np.ndarray, target: np.ndarray) -> None:
        v = self.gymapi.Vec3
        self.gym.viewer_camera_look_at(self.viewer, None, v(*map(float, pos)),
                                       v(*map(float, target)))

    def update(self) -> None:
        if not self.enabled or self.prev is None:
            return
        try:
            target = self._target()
            cam = self.gym.get_viewer_camera_transform(self.viewer, None)
            cam_pos = np.array([cam.p.x, cam.p.y, cam.p.z])
            self._look(cam_pos + (target - self.prev), target)
            self.prev = target
        except Exception as e:  # never let the camera stop the viewer
            self.enabled = False
            self.say("camera follow disabled: %s: %s" % (type(e).__name__, e))
