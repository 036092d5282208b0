"""Running observation normalisation and return-based reward scaling (numpy, float64 stats).

Both keep their statistics as plain numbers and lists in ``state_dict()`` so a checkpoint that
holds them loads with ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

from typing import Any, Dict

import numpy as np


class RunningMeanStd(object):
    """Mean and variance of a stream of batches (Chan et al. parallel update)."""

    def __init__(self, shape: tuple = (), epsilon: float = 1e-4):
        self.mean = np.zeros(shape, dtype=np.float64)
        self.var = np.ones(shape, dtype=np.float64)
        self.count = float(epsilon)

    def update(self, batch: np.ndarray) -> None:
        batch = np.asarray(batch, dtype=np.float64)
        b_mean = batch.mean(axis=0)
        b_var = batch.var(axis=0)
        b_count = batch.shape[0]
        delta = b_mean - self.mean
        total = self.count + b_count
        self.mean = self.mean + delta * (b_count / total)
        m2 = self.var * self.count + b_var * b_count + delta ** 2 * (self.count * b_count / total)
        self.var = m2 / total
        self.count = total

    def state_dict(self) -> Dict[str, Any]:
        return {"mean": self.mean.tolist(), "var": self.var.tolist(), "count": float(self.count)}

    def load_state_dict(self, d: Dict[str, Any]) -> None:
        mean = np.asarray(d["mean"], dtype=np.float64)
        var = np.asarray(d["var"], dtype=np.float64)
        if mean.shape != self.mean.shape or var.shape != self.var.shape:
            raise ValueError("normaliser shape %s does not match %s"
                             % (mean.shape, self.mean.shape))
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(var)) and np.all(var >= 0)):
            raise ValueError("normaliser statistics are not finite")
        self.mean, self.var, self.count = mean, var, float(d["count"])


class ObsNormalizer(object):
    """``(obs - mean) / sqrt(var + eps)`` clipped to ``±clip``; a no-op when disabled."""

    def __init__(self, shape: tuple, enabled: bool = True, clip: float = 10.0,
                 eps: float = 1e-8):
        self.enabled = enabled
        self.clip = clip
        self.eps = eps
        self.rms = RunningMeanStd(shape)

    def __call__(self, obs: np.ndarray, update: bool = False) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float64)
        if not self.enabled:
            return obs.astype(np.float32)
        if update:
            self.rms.update(obs.reshape(-1, *self.rms.mean.shape))
        out = (obs - self.rms.mean) / np.sqrt(self.rms.var + self.eps)
        return np.clip(out, -self.clip, self.clip).astype(np.float32)

    def state_dict(self) -> Dict[str, Any]:
        d = self.rms.state_dict()
        d.update(enabled=self.enabled, clip=float(self.clip), eps=float(self.eps))
        return d

    def load_state_dict(self, d: Dict[str, Any]) -> None:
        self.rms.load_state_dict(d)
        self.enabled = bool(d.get("enabled", True))
        self.clip = float(d.get("clip", self.clip))
        self.eps = float(d.get("eps", self.eps))


class RewardScaler(object):
    """Divide rewards by the running std of the discounted return (as SB3's VecNormalize)."""

    def __init__(self, num_envs: int, gamma: float, enabled: bool = True, clip: float = 10.0,
                 eps: float = 1e-8):
        self.enabled = enabled
        self.gamma = gamma
        self.clip = clip
        self.eps = eps
        self.rms = RunningMeanStd(())
        self.returns = np.zeros(num_envs, dtype=np.float64)

    def __call__(self, reward: np.ndarray, done: np.ndarray) -> np.ndarray:
        reward = np.asarray(reward, dtype=np.float64)
        if not self.enabled:
            return reward.astype(np.float32)
        self.returns = self.returns * self.gamma + reward
        self.rms.update(self.returns)
        self.returns[np.asarray(done, dtype=bool)] = 0.0
        return self.scale(reward)

    def scale(self, value: np.ndarray) -> np.ndarray:
        """Scale a reward-like quantity without updating the statistics."""
        if not self.enabled:
            return np.asarray(value, dtype=np.float32)
        out = np.asarray(value, dtype=np.float64) / np.sqrt(self.rms.var + self.eps)
        return np.clip(out, -self.clip, self.clip).astype(np.float32)

    def state_dict(self) -> Dict[str, Any]:
        d = self.rms.state_dict()
        d.update(enabled=self.enabled, clip=float(self.clip))
        return d

    def load_state_dict(self, d: Dict[str, Any]) -> None:
        self.rms.load_state_dict(d)
        self.enabled = bool(d.get("enabled", True))
        self.clip = float(d.get("clip", self.clip))
