"""What the learner must know of the actor's env: the observation layout and action bounds.

The actor builds the env and sends this in its ``hello``; the learner builds its networks from
it (a learner never builds the env itself: the env may be a real robot) and refuses an actor
whose env does not match its checkpoint.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

from .envs import action_bounds
from .obs_layout import ObsLayout


class EnvSpec(object):
    def __init__(self, env: str, layout: ObsLayout, act_low: Any, act_high: Any):
        self.env = env
        self.layout = layout
        self.act_low = np.asarray(act_low, dtype=np.float32).reshape(-1)
        self.act_high = np.asarray(act_high, dtype=np.float32).reshape(-1)
        if self.act_low.shape != self.act_high.shape:
            raise ValueError("action bounds differ in size: %d and %d"
                             % (self.act_low.size, self.act_high.size))

    @property
    def obs_dim(self) -> int:
        return self.layout.dim

    @property
    def act_dim(self) -> int:
        return int(self.act_low.size)

    @classmethod
    def of_env(cls, name: str, env: Any) -> "EnvSpec":
        low, high = action_bounds(env)
        return cls(name, ObsLayout.from_space(env.observation_space), low, high)

    def to_meta(self) -> Dict[str, Any]:
        return {"env": self.env, "obs_layout": self.layout.to_json(),
                "act_low": [float(x) for x in self.act_low],
                "act_high": [float(x) for x in self.act_high]}

    @classmethod
    def from_meta(cls, meta: Dict[str, Any]) -> "EnvSpec":
        try:
            return cls(str(meta["env"]), ObsLayout.from_json(meta["obs_layout"]),
                       [float(x) for x in meta["act_low"]], [float(x) for x in meta["act_high"]])
        except (KeyError, TypeError) as e:
            raise ValueError("bad env description (%s)" % e)

    def mismatch(self, other: "EnvSpec") -> Optional[str]:
        """Why ``other`` cannot share networks with this one (None: it can)."""
        if other.layout != self.layout:
            return "observations %r differ from %r" % (other.layout, self.layout)
        if other.act_dim != self.act_dim:
            return "action size %d differs from %d" % (other.act_dim, self.act_dim)
        if not (np.allclose(other.act_low, self.act_low)
                and np.allclose(other.act_high, self.act_high)):
            return "action bounds differ"
        return None
