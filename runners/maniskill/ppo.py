"""PPO's learning half: the rollout (torch, on the trainer's device), GAE, the clipped update.

Bootstrapping follows the ``bootstrap_at_done`` parameter: with ``always`` (ManiSkill's
baseline) every finished episode's last state is valued with V(final observation), because
a ManiSkill success ends the episode without being a dead end; with ``truncated`` only
time-limit ends are bootstrapped. The update reports ManiSkill's baseline names
(``losses/value_loss``, ``losses/policy_loss``, ...).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict

import numpy as np
import torch
from torch import nn

from .agent import Agent
from .config import PPOConfig
from .observations import Obs, ObsBuffer, ObsSpec, select


class Rollout(object):
    def __init__(self, steps: int, num_envs: int, spec: ObsSpec, act_dim: int,
                 device: torch.device):
        t, n = steps, num_envs
        self.obs = ObsBuffer(t, n, spec, device)
        self.actions = torch.zeros((t, n, act_dim), device=device)
        self.log_probs = torch.zeros((t, n), device=device)
        self.values = torch.zeros((t, n), device=device)
        self.rewards = torch.zeros((t, n), device=device)
        self.dones = torch.zeros((t, n), device=device)          # the episode ended after t
        self.final_values = torch.zeros((t, n), device=device)   # V(last obs) where bootstrapped
        self.advantages = torch.zeros((t, n), device=device)
        self.returns = torch.zeros((t, n), device=device)
        self.size = t
        self.pos = 0

    @property
    def full(self) -> bool:
        return self.pos >= self.size

    def add(self, obs: Obs, action: torch.Tensor, log_prob: torch.Tensor, value: torch.Tensor,
            reward: torch.Tensor, done: torch.Tensor) -> int:
        i = self.pos
        self.obs.put(i, obs)
        self.actions[i] = action
        self.log_probs[i] = log_prob
        self.values[i] = value
        self.rewards[i] = reward
        self.dones[i] = done.float()
        self.final_values[i] = 0.0
        self.pos += 1
        return i

    def bootstrap(self, t: int, env_idx: torch.Tensor, final_values: torch.Tensor) -> None:
        self.final_values[t, env_idx] = final_values

    def compute_gae(self, last_value: torch.Tensor, gamma: float, lam: float) -> None:
        adv = torch.zeros_like(last_value)
        for t in reversed(range(self.size)):
            not_done = 1.0 - self.dones[t]
            next_value = last_value if t == self.size - 1 else self.values[t + 1]
            real_next = not_done * next_value + self.final_values[t]
            delta = self.rewards[t] + gamma * real_next - self.values[t]
            adv = delta + gamma * lam * not_done * adv
            self.advantages[t] = adv
        self.returns = self.advantages + self.values

    def reset(self) -> None:
        self.pos = 0


@dataclass
class UpdateStats:
    policy_loss: float
    value_loss: float
    entropy: float
    old_approx_kl: float
    approx_kl: float
    clipfrac: float
    explained_variance: float
    epochs_done: int

    def as_metrics(self) -> Dict[str, float]:
        return {"losses/policy_loss": self.policy_loss, "losses/value_loss": self.value_loss,
                "losses/entropy": self.entropy, "losses/old_approx_kl": self.old_approx_kl,
                "losses/approx_kl": self.approx_kl, "losses/clipfrac": self.clipfrac,
                "losses/explained_variance": self.explained_variance,
                "losses/epochs": float(self.epochs_done)}


def ppo_update(agent: Agent, optimizer: torch.optim.Optimizer, ro: Rollout, cfg: PPOConfig,
               generator: torch.Generator) -> UpdateStats:
    """``cfg.epochs`` passes over the rollout in ``cfg.minibatches`` shuffled minibatches; an
    epoch ends early once the approximate KL passes ``target_kl`` (as the baseline does)."""
    obs = ro.obs.flat()
    actions = ro.actions.reshape(-1, ro.actions.shape[-1])
    old_logp = ro.log_probs.reshape(-1)
    advantages = ro.advantages.reshape(-1)
    returns = ro.returns.reshape(-1)
    old_values = ro.values.reshape(-1)
    n = actions.shape[0]
    mb = max(1, n // cfg.minibatches)
    sums = {"pg": 0.0, "v": 0.0, "ent": 0.0, "okl": 0.0, "kl": 0.0, "cf": 0.0}
    count = 0
    epochs_done = 0
    stop = False
    for _ in range(cfg.epochs):
        perm = torch.randperm(n, generator=generator).to(actions.device)
        for start in range(0, n - mb + 1, mb):
            idx = perm[start:start + mb]
            logp, ent, value = agent.evaluate(select(obs, idx), actions[idx])
            log_ratio = logp - old_logp[idx]
            ratio = log_ratio.exp()
            with torch.no_grad():
                old_kl = (-log_ratio).mean().item()
                approx_kl = ((ratio - 1.0) - log_ratio).mean().item()
                clipfrac = ((ratio - 1.0).abs() > cfg.clip).float().mean().item()
            if cfg.target_kl > 0 and approx_kl > cfg.target_kl:
                stop = True
                break
            adv = advantages[idx]
            if cfg.norm_adv and adv.numel() > 1:
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            pg_loss = torch.max(-adv * ratio,
                                -adv * torch.clamp(ratio, 1.0 - cfg.clip, 1.0 + cfg.clip)).mean()
            if cfg.clip_vloss:
                v_clipped = old_values[idx] + torch.clamp(value - old_values[idx], -cfg.clip,
                                                          cfg.clip)
                v_loss = 0.5 * torch.max((value - returns[idx]).pow(2),
                                         (v_clipped - returns[idx]).pow(2)).mean()
            else:
                v_loss = 0.5 * (value - returns[idx]).pow(2).mean()
            ent_mean = ent.mean()
            loss = pg_loss - cfg.ent_coef * ent_mean + cfg.vf_coef * v_loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.max_grad_norm > 0:
                nn.utils.clip_grad_norm_(agent.parameters(), cfg.max_grad_norm)
            optimizer.step()
            sums["pg"] += pg_loss.item()
            sums["v"] += v_loss.item()
            sums["ent"] += ent_mean.item()
            sums["okl"] += old_kl
            sums["kl"] += approx_kl
            sums["cf"] += clipfrac
            count += 1
        if stop:
            break
        epochs_done += 1
    y_pred = old_values.detach().cpu().numpy()
    y_true = returns.detach().cpu().numpy()
    var_y = float(np.var(y_true))
    ev = float("nan") if var_y == 0 else 1.0 - float(np.var(y_true - y_pred)) / var_y
    c = max(count, 1)
    return UpdateStats(sums["pg"] / c, sums["v"] / c, sums["ent"] / c, sums["okl"] / c,
                       sums["kl"] / c, sums["cf"] / c, ev, epochs_done)
