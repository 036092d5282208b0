"""The actor-critic network: a Gaussian policy with a state-independent log std and a value head.

Separate tanh MLPs for actor and critic, orthogonal init (small gain on the action mean), as in
the PPO implementation details study (Huang et al., 2022).
"""
from __future__ import annotations

import math
from typing import List, Sequence, Tuple

import torch
from torch import nn

LOG_2PI = math.log(2.0 * math.pi)


def _mlp(sizes: Sequence[int], out_gain: float, init: bool = True) -> nn.Sequential:
    layers = []  # type: List[nn.Module]
    for i in range(len(sizes) - 1):
        last = i == len(sizes) - 2
        if init:
            lin = nn.Linear(sizes[i], sizes[i + 1])
            nn.init.orthogonal_(lin.weight, out_gain if last else math.sqrt(2.0))
            nn.init.zeros_(lin.bias)
        else:  # weights come from a checkpoint: skip the (slow, for big layers) init
            lin = nn.utils.skip_init(nn.Linear, sizes[i], sizes[i + 1])
        layers.append(lin)
        if not last:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class ActorCritic(nn.Module):
    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int],
                 init_log_std: float = 0.0, init: bool = True):
        super().__init__()
        self.obs_dim = int(obs_dim)
        self.act_dim = int(act_dim)
        self.hidden = [int(h) for h in hidden]
        self.actor = _mlp([self.obs_dim] + self.hidden + [self.act_dim], 0.01, init)
        self.critic = _mlp([self.obs_dim] + self.hidden + [1], 1.0, init)
        self.log_std = nn.Parameter(torch.full((self.act_dim,), float(init_log_std)))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs).squeeze(-1)

    def mean_action(self, obs: torch.Tensor) -> torch.Tensor:
        return self.actor(obs)

    def log_prob(self, mean: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        z = (action - mean) * torch.exp(-self.log_std)
        return (-0.5 * z.pow(2) - self.log_std - 0.5 * LOG_2PI).sum(-1)

    def entropy(self) -> torch.Tensor:
        return (self.log_std + 0.5 * (1.0 + LOG_2PI)).sum()

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample an action; returns (action, log_prob, value)."""
        mean = self.actor(obs)
        action = mean + torch.randn_like(mean) * torch.exp(self.log_std)
        return action, self.log_prob(mean, action), self.value(obs)

    def evaluate(self, obs: torch.Tensor, action: torch.Tensor
                 ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(log_prob of ``action``, entropy per sample, value) with gradients."""
        mean = self.actor(obs)
        ent = self.entropy().expand(obs.shape[0])
        return self.log_prob(mean, action), ent, self.value(obs)
