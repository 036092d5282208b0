"""Soft actor-critic in torch: a tanh-Gaussian actor, twin critics with a target copy, and a
learned temperature. Actions live in [-1, 1] here; the env's bounds are applied outside.

One learner *update step* = ``cta_ratio`` critic updates (each on its own batch) followed by one
actor and temperature update on the last batch, like SERL's high update-to-data step.
"""
from __future__ import annotations

import math
from typing import Dict, List, Sequence

import torch
from torch import nn

from .config import SacConfig

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


def mlp(sizes: Sequence[int], out_act: bool = False) -> nn.Sequential:
    layers = []  # type: List[nn.Module]
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or out_act:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Actor(nn.Module):
    """obs -> tanh(Normal(mean, std)); the part the actor process runs (and viewers)."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int]):
        super(Actor, self).__init__()
        self.obs_dim, self.act_dim, self.hidden = int(obs_dim), int(act_dim), list(hidden)
        self.body = mlp([self.obs_dim] + self.hidden, out_act=True)
        self.mean = nn.Linear(self.hidden[-1], self.act_dim)
        self.log_std = nn.Linear(self.hidden[-1], self.act_dim)

    def dist_params(self, obs: torch.Tensor):  # type: ignore[no-untyped-def]
        h = self.body(obs)
        log_std = torch.clamp(self.log_std(h), LOG_STD_MIN, LOG_STD_MAX)
        return self.mean(h), log_std

    def sample(self, obs: torch.Tensor):  # type: ignore[no-untyped-def]
        """(action in [-1, 1], log pi(action)) with the reparameterisation trick."""
        mean, log_std = self.dist_params(obs)
        std = log_std.exp()
        u = mean + std * torch.randn_like(mean)
        a = torch.tanh(u)
        logp = (-0.5 * ((u - mean) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        # log|det d tanh(u)/du|, in the numerically stable form
        logp = logp - (2 * (math.log(2) - u - nn.functional.softplus(-2 * u))).sum(-1)
        return a, logp

    @torch.no_grad()
    def act(self, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        if deterministic:
            return torch.tanh(self.dist_params(obs)[0])
        return self.sample(obs)[0]


class Critics(nn.Module):
    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int], n: int = 2):
        super(Critics, self).__init__()
        self.qs = nn.ModuleList([mlp([obs_dim + act_dim] + list(hidden) + [1])
                                 for _ in range(n)])

    def forward(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        x = torch.cat([obs, act], -1)
        return torch.stack([q(x).squeeze(-1) for q in self.qs])  # (n, batch)


class SAC(object):
    def __init__(self, obs_dim: int, act_dim: int, cfg: SacConfig, device: torch.device):
        self.cfg = cfg
        self.device = device
        self.obs_dim, self.act_dim = int(obs_dim), int(act_dim)
        self.actor = Actor(obs_dim, act_dim, cfg.hidden).to(device)
        self.critic = Critics(obs_dim, act_dim, cfg.hidden).to(device)
        self.target = Critics(obs_dim, act_dim, cfg.hidden).to(device)
        self.target.load_state_dict(self.critic.state_dict())
        for p in self.target.parameters():
            p.requires_grad_(False)
        self.log_alpha = torch.tensor(math.log(cfg.init_temperature), device=device,
                                      requires_grad=True)
        self.target_entropy = (cfg.target_entropy if cfg.target_entropy is not None
                               else -act_dim / 2.0)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.lr)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.lr)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=cfg.lr)

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.exp()

    def critic_step(self, b: Dict[str, torch.Tensor]) -> float:
        with torch.no_grad():
            next_a, next_logp = self.actor.sample(b["next_observations"])
            q_next = self.target(b["next_observations"], next_a).min(0).values
            if self.cfg.backup_entropy:
                q_next = q_next - self.alpha * next_logp
            target = b["rewards"] + self.cfg.discount * b["masks"] * q_next
        q = self.critic(b["observations"], b["actions"])
        loss = ((q - target.unsqueeze(0)) ** 2).mean(-1).sum()
        self.critic_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.critic_opt.step()
        with torch.no_grad():
            tau = self.cfg.tau
            for p, tp in zip(self.critic.parameters(), self.target.parameters()):
                tp.mul_(1 - tau).add_(p, alpha=tau)
        return float(loss.item())

    def actor_step(self, b: Dict[str, torch.Tensor]) -> Dict[str, float]:
        a, logp = self.actor.sample(b["observations"])
        q = self.critic(b["observations"], a).mean(0)
        alpha = self.alpha.detach()
        actor_loss = (alpha * logp - q).mean()
        self.actor_opt.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_opt.step()
        entropy = -logp.detach().mean()
        temp_loss = (self.alpha * (entropy - self.target_entropy)).mean()
        self.alpha_opt.zero_grad(set_to_none=True)
        temp_loss.backward()
        self.alpha_opt.step()
        return {"sac/actor_loss": float(actor_loss.item()), "sac/entropy": float(entropy.item()),
                "sac/temperature": float(self.alpha.item()),
                "sac/temperature_loss": float(temp_loss.item())}

    def update(self, batches: Sequence[Dict[str, torch.Tensor]]) -> Dict[str, float]:
        """One update step: a critic update per batch, then the actor on the last batch."""
        losses = [self.critic_step(b) for b in batches]
        out = self.actor_step(batches[-1])
        out["sac/critic_loss"] = sum(losses) / len(losses)
        return out

    # ------------------------------------------------------------------ state
    def state_dict(self) -> Dict[str, object]:
        return {"actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
                "target_critic": self.target.state_dict(),
                "log_alpha": self.log_alpha.detach().clone(),
                "actor_opt": self.actor_opt.state_dict(),
                "critic_opt": self.critic_opt.state_dict(),
                "alpha_opt": self.alpha_opt.state_dict()}

    def load_state_dict(self, d: Dict[str, object]) -> None:
        self.actor.load_state_dict(d["actor"])  # type: ignore[arg-type]
        self.critic.load_state_dict(d["critic"])  # type: ignore[arg-type]
        self.target.load_state_dict(d["target_critic"])  # type: ignore[arg-type]
        with torch.no_grad():
            self.log_alpha.copy_(d["log_alpha"])  # type: ignore[arg-type]
        for opt, key in ((self.actor_opt, "actor_opt"), (self.critic_opt, "critic_opt"),
                         (self.alpha_opt, "alpha_opt")):
            if key in d:
                opt.load_state_dict(d[key])  # type: ignore[arg-type]
