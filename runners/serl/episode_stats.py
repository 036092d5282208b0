"""The actor's episode metrics, named as the seed names them (``actor/*``)."""
from __future__ import annotations

import collections
from typing import Deque, Dict, Optional

import numpy as np

WINDOW = 10


class EpisodeStats(object):
    def __init__(self, count: int = 0):
        self.count = count
        self.returns = collections.deque(maxlen=WINDOW)  # type: Deque[float]
        self.lengths = collections.deque(maxlen=WINDOW)  # type: Deque[int]
        self.max_return = None  # type: Optional[float]
        self.min_return = None  # type: Optional[float]

    def end(self, ret: float, length: int, total_steps: int) -> Dict[str, float]:
        """Record one finished episode; the metrics to log for it."""
        self.count += 1
        self.returns.append(float(ret))
        self.lengths.append(int(length))
        self.max_return = ret if self.max_return is None else max(self.max_return, ret)
        self.min_return = ret if self.min_return is None else min(self.min_return, ret)
        return {
            "actor/episode_reward": float(ret),
            "actor/episode_length": float(length),
            "actor/episode_count": float(self.count),
            "actor/total_steps": float(total_steps),
            "actor/avg_episode_reward_10": float(np.mean(self.returns)),
            "actor/max_episode_reward": float(self.max_return),
            "actor/min_episode_reward": float(self.min_return),
            "actor/avg_episode_length_10": float(np.mean(self.lengths)),
        }

    def headline(self) -> Dict[str, float]:
        if not self.returns:
            return {}
        return {"actor/avg_episode_reward_10": float(np.mean(self.returns)),
                "actor/avg_episode_length_10": float(np.mean(self.lengths))}
