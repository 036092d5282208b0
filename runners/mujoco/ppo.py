"""PPO's learning half: the rollout buffer, GAE, and the clipped-objective update."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict

import numpy as np
import torch
from torch import nn

from .config import PPOConfig
from .policy import ActorCritic


class RolloutBuffer(object):
    """``rollout_steps`` x ``num_envs`` transitions, filled step by step (numpy, CPU)."""

    def __init__(self, rollout_steps: int, num_envs: int, obs_dim: int, act_dim: int):
        t, n = rollout_steps, num_envs
        self.obs = np.zeros((t, n, obs_dim), dtype=np.float32)
        self.actions = np.zeros((t, n, act_dim), dtype=np.float32)
        self.log_probs = np.zeros((t, n), dtype=np.float32)
        self.values = np.zeros((t, n), dtype=np.float32)
        self.rewards = np.zeros((t, n), dtype=np.float32)   # scaled, truncation bootstrapped
        self.dones = np.zeros((t, n), dtype=np.float32)     # the episode ended after this step
        self.advantages = np.zeros((t, n), dtype=np.float32)
        self.returns = np.zeros((t, n), dtype=np.float32)
        self.size = t
        self.pos = 0

    @property
    def full(self) -> bool:
        return self.pos >= self.size

    def add(self, obs: np.ndarray, action: np.ndarray, log_prob: np.ndarray, value: np.ndarray,
            reward: np.ndarray, done: np.ndarray) -> None:
        i = self.pos
        self.obs[i] = obs
        self.actions[i] = action
        self.log_probs[i] = log_prob
        self.values[i] = value
        self.rewards[i] = reward
        self.dones[i] = done
        self.pos += 1

    def compute_gae(self, last_value: np.ndarray, gamma: float, lam: float) -> None:
        """Generalised advantage estimation. A truncated episode's bootstrap value is already
        folded into its last reward, so every ``done`` cuts the recursion here."""
        adv = 0.0
        for t in reversed(range(self.size)):
            nonterminal = 1.0 - self.dones[t]
            next_value = last_value if t == self.size - 1 else self.values[t + 1]
            delta = self.rewards[t] + gamma * next_value * nonterminal - self.values[t]
            adv = delta + gamma * lam * nonterminal * adv
            self.advantages[t] = adv
        self.returns[:] = self.advantages + self.values

    def reset(self) -> None:
        self.pos = 0


@dataclass
class UpdateStats:
    policy_loss: float
    value_loss: float
    entropy: float
    approx_kl: float
    clip_frac: float
    explained_variance: float
    epochs_done: int

    def as_metrics(self) -> Dict[str, float]:
        return {"loss/policy": self.policy_loss, "loss/value": self.value_loss,
                "loss/entropy": self.entropy, "train/approx_kl": self.approx_kl,
                "train/clip_frac": self.clip_frac,
                "train/explained_variance": self.explained_variance,
                "train/epochs": float(self.epochs_done)}


def ppo_update(model: ActorCritic, optimizer: torch.optim.Optimizer, buf: RolloutBuffer,
               cfg: PPOConfig, device: torch.device, generator: torch.Generator) -> UpdateStats:
    """``cfg.epochs`` passes over the rollout in ``cfg.minibatches`` shuffled minibatches."""
    obs = torch.as_tensor(buf.obs.reshape(-1, buf.obs.shape[-1]), device=device)
    actions = torch.as_tensor(buf.actions.reshape(-1, buf.actions.shape[-1]), device=device)
    old_logp = torch.as_tensor(buf.log_probs.reshape(-1), device=device)
    advantages = torch.as_tensor(buf.advantages.reshape(-1), device=device)
    returns = torch.as_tensor(buf.returns.reshape(-1), device=device)
    n = obs.shape[0]
    mb = n // cfg.minibatches
    pg_sum = v_sum = ent_sum = kl_sum = cf_sum = 0.0
    count = 0
    epochs_done = 0
    stop = False
    for _ in range(cfg.epochs):
        perm = torch.randperm(n, generator=generator).to(device)
        for k in range(cfg.minibatches):
            idx = perm[k * mb:(k + 1) * mb]
            logp, ent, value = model.evaluate(obs[idx], actions[idx])
            log_ratio = logp - old_logp[idx]
            ratio = log_ratio.exp()
            adv = advantages[idx]
            if adv.numel() > 1:
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            pg_loss = torch.max(-adv * ratio,
                                -adv * torch.clamp(ratio, 1.0 - cfg.clip, 1.0 + cfg.clip)).mean()
            v_loss = 0.5 * (value - returns[idx]).pow(2).mean()
            ent_mean = ent.mean()
            loss = pg_loss + cfg.vf_coef * v_loss - cfg.ent_coef * ent_mean
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.max_grad_norm > 0:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            optimizer.step()
            with torch.no_grad():
                approx_kl = ((ratio - 1.0) - log_ratio).mean().item()
                clip_frac = ((ratio - 1.0).abs() > cfg.clip).float().mean().item()
            pg_sum += pg_loss.item()
            v_sum += v_loss.item()
            ent_sum += ent_mean.item()
            kl_sum += approx_kl
            cf_sum += clip_frac
            count += 1
            if cfg.target_kl > 0 and approx_kl > 1.5 * cfg.target_kl:
                stop = True
                break
        epochs_done += 1
        if stop:
            break
    values = buf.values.reshape(-1)
    rets = buf.returns.reshape(-1)
    var_ret = float(np.var(rets))
    ev = float("nan") if var_ret == 0 else 1.0 - float(np.var(rets - values)) / var_ret
    c = max(count, 1)
    return UpdateStats(pg_sum / c, v_sum / c, ent_sum / c, kl_sum / c, cf_sum / c, ev,
                       epochs_done)
