"""The actor-critic: a Gaussian policy with a state-independent log std, and a value head.

State observations: separate tanh MLPs for actor and critic (ManiSkill's PPO baseline: three
layers of 256, orthogonal init, log std starting at -0.5). rgb observations: a small
convolutional encoder (shared by actor and critic) over the uint8 image, its features
concatenated with the state vector, then the same MLP heads.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Sequence, Tuple

import torch
from torch import nn

from .observations import Obs, ObsSpec

LOG_2PI = math.log(2.0 * math.pi)
RGB_FEATURES = 256


def _linear(n_in: int, n_out: int, gain: float) -> nn.Linear:
    lin = nn.Linear(n_in, n_out)
    nn.init.orthogonal_(lin.weight, gain)
    nn.init.zeros_(lin.bias)
    return lin


def _mlp(sizes: Sequence[int], out_gain: float) -> nn.Sequential:
    layers = []  # type: List[nn.Module]
    for i in range(len(sizes) - 1):
        last = i == len(sizes) - 2
        layers.append(_linear(sizes[i], sizes[i + 1], out_gain if last else math.sqrt(2.0)))
        if not last:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class RgbEncoder(nn.Module):
    """Nature-CNN style: three convolutions, then a linear layer to ``RGB_FEATURES``."""

    def __init__(self, shape: Tuple[int, int, int]):
        super().__init__()
        h, w, c = shape
        self.conv = nn.Sequential(
            nn.Conv2d(c, 32, 8, stride=4), nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2), nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=1), nn.ReLU(), nn.Flatten())
        with torch.no_grad():
            n = self.conv(torch.zeros(1, c, h, w)).shape[1]
        self.fc = nn.Sequential(nn.Linear(n, RGB_FEATURES), nn.ReLU())

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        x = rgb.permute(0, 3, 1, 2).float() / 255.0
        return self.fc(self.conv(x))


class Agent(nn.Module):
    def __init__(self, spec: ObsSpec, act_dim: int, hidden: Sequence[int],
                 init_log_std: float = -0.5):
        super().__init__()
        self.spec = spec
        self.act_dim = int(act_dim)
        self.hidden = [int(h) for h in hidden]
        self.init_log_std = float(init_log_std)
        self.encoder = RgbEncoder(spec.rgb_shape) if spec.rgb_shape else None
        n_in = spec.state_dim + (RGB_FEATURES if self.encoder is not None else 0)
        self.actor_mean = _mlp([n_in] + self.hidden + [self.act_dim], 0.01 * math.sqrt(2.0))
        self.critic = _mlp([n_in] + self.hidden + [1], 1.0)
        self.actor_logstd = nn.Parameter(torch.full((self.act_dim,), float(init_log_std)))

    def config(self) -> Dict[str, Any]:
        """What :meth:`from_config` needs to rebuild this network (stored in checkpoints)."""
        return {"obs_spec": self.spec.as_dict(), "act_dim": self.act_dim,
                "hidden": list(self.hidden), "init_log_std": self.init_log_std}

    @classmethod
    def from_config(cls, d: Dict[str, Any]) -> "Agent":
        return cls(ObsSpec.from_dict(d["obs_spec"]), int(d["act_dim"]),
                   [int(h) for h in d["hidden"]], float(d.get("init_log_std", -0.5)))

    def features(self, obs: Obs) -> torch.Tensor:
        if self.encoder is None:
            return obs if not isinstance(obs, dict) else obs["state"]
        assert isinstance(obs, dict)
        parts = [self.encoder(obs["rgb"])]
        if self.spec.state_dim:
            parts.append(obs["state"])
        return torch.cat(parts, dim=-1)

    def value(self, obs: Obs) -> torch.Tensor:
        return self.critic(self.features(obs)).squeeze(-1)

    def mean_action(self, obs: Obs) -> torch.Tensor:
        return self.actor_mean(self.features(obs))

    def log_prob(self, mean: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        z = (action - mean) * torch.exp(-self.actor_logstd)
        return (-0.5 * z.pow(2) - self.actor_logstd - 0.5 * LOG_2PI).sum(-1)

    def entropy(self) -> torch.Tensor:
        return (self.actor_logstd + 0.5 * (1.0 + LOG_2PI)).sum()

    @torch.no_grad()
    def act(self, obs: Obs) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample an action: (action, log_prob, value)."""
        x = self.features(obs)
        mean = self.actor_mean(x)
        action = mean + torch.randn_like(mean) * torch.exp(self.actor_logstd)
        return action, self.log_prob(mean, action), self.critic(x).squeeze(-1)

    def evaluate(self, obs: Obs, action: torch.Tensor
                 ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(log_prob of ``action``, entropy, value) with gradients."""
        x = self.features(obs)
        mean = self.actor_mean(x)
        ent = self.entropy().expand(mean.shape[0])
        return self.log_prob(mean, action), ent, self.critic(x).squeeze(-1)
