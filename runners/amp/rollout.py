"""Collecting one iteration of experience: ``steps_per_iter`` steps of ``num_envs`` envs.

The policy runs jitted on the whole batch; the envs step in Python (``envs.EnvBatch``). Two
histories are kept per env: the policy's observation history (``obs_history_len``) and the
discriminator's window of kinematic frames (``history_len``), both refilled with the first
state after a reset. The window stored for step ``t`` ends at the state the action reached
(before any reset), so the discriminator judges every transition, falls included.
"""
from __future__ import annotations

from typing import Callable, List, NamedTuple, Optional

import numpy as np

from .disc_features import KinematicsProbe
from .envs import EnvBatch
from .learner import Learner


class Rollout(NamedTuple):
    obs: np.ndarray          # (T, N, D) normalized policy inputs
    raw_obs: np.ndarray      # (T, N, D) raw (for the normalizer)
    act: np.ndarray          # (T, N, A) normalized actions
    logp: np.ndarray         # (T, N)
    value: np.ndarray        # (T, N)
    task: np.ndarray         # (T, N) env reward
    done: np.ndarray         # (T, N) episode ended (fell or time limit)
    bootstrap: np.ndarray    # (T, N) gamma * V(final obs) at time-limit ends, else 0
    windows: np.ndarray      # (T, N, H, F) discriminator frames ending at the reached state
    last_obs: np.ndarray     # (N, D) raw policy input after the last step
    ep_task_returns: List[float]
    ep_lengths: List[int]


class Collector(object):
    def __init__(self, envs: EnvBatch, learner: Learner, probe: KinematicsProbe,
                 obs_history: int, disc_history: int, gamma: float, seed: int):
        self.envs = envs
        self.learner = learner
        self.probe = probe
        self.gamma = gamma
        self.n = envs.num_envs
        obs, qpos, qvel = envs.reset(seed)
        self.obs_hist = np.repeat(obs[:, None, :], obs_history, axis=1).astype(np.float32)
        frames = probe.frames(qpos, qvel)
        self.disc_hist = np.repeat(frames[:, None, :], disc_history, axis=1)
        self.ep_task = np.zeros(self.n)
        self.ep_total = np.zeros(self.n)
        self.ep_len = np.zeros(self.n, dtype=np.int64)
        self.env_steps = 0

    def flat_obs(self, hist: Optional[np.ndarray] = None) -> np.ndarray:
        h = self.obs_hist if hist is None else hist
        return h.reshape(h.shape[0], -1)

    def collect(self, steps: int, should_stop: Callable[[], bool]) -> Optional[Rollout]:
        """One iteration; None when stopped before it was complete (it is then dropped)."""
        n, envs, learner = self.n, self.envs, self.learner
        d_obs = self.obs_hist.shape[1] * self.obs_hist.shape[2]
        h, f = self.disc_hist.shape[1], self.disc_hist.shape[2]
        obs_n = np.zeros((steps, n, d_obs), np.float32)
        raw = np.zeros_like(obs_n)
        act = np.zeros((steps, n, envs.act_dim), np.float32)
        logp = np.zeros((steps, n), np.float32)
        value = np.zeros((steps, n), np.float32)
        task = np.zeros((steps, n), np.float32)
        done = np.zeros((steps, n), bool)
        boot = np.zeros((steps, n), np.float32)
        windows = np.zeros((steps, n, h, f), np.float32)
        returns, lengths = [], []  # type: List[float], List[int]
        for t in range(steps):
            x = self.flat_obs()
            env_a, a_n, lp, v, xn = learner.act(x)
            sb = envs.step(env_a)
            raw[t], obs_n[t], act[t], logp[t], value[t] = x, xn, a_n, lp, v
            task[t] = sb.reward
            ended = sb.terminated | sb.truncated
            done[t] = ended
            frames = self.probe.frames(sb.qpos, sb.qvel)
            self.disc_hist = np.concatenate([self.disc_hist[:, 1:], frames[:, None]], axis=1)
            windows[t] = self.disc_hist
            cut = sb.truncated & ~sb.terminated
            if cut.any():   # a time limit is not a fall: bootstrap with the final state's value
                final_hist = np.concatenate([self.obs_hist[:, 1:], sb.final_obs[:, None]], 1)
                boot[t, cut] = self.gamma * learner.value(self.flat_obs(final_hist)[cut])
            self.obs_hist = np.concatenate([self.obs_hist[:, 1:], sb.obs[:, None]], axis=1)
            self.ep_task += sb.reward
            self.ep_len += 1
            self.env_steps += n
            if ended.any():
                idx = np.flatnonzero(ended)
                reset_frames = self.probe.frames(sb.reset_qpos[idx], sb.reset_qvel[idx])
                self.disc_hist[idx] = reset_frames[:, None, :]
                self.obs_hist[idx] = sb.obs[idx][:, None, :]
                returns += [float(r) for r in self.ep_task[idx]]
                lengths += [int(k) for k in self.ep_len[idx]]
                self.ep_task[idx] = 0.0
                self.ep_len[idx] = 0
            if should_stop():
                return None
        return Rollout(obs_n, raw, act, logp, value, task, done, boot, windows,
                       self.flat_obs().copy(), returns, lengths)

    def total_returns(self, total: np.ndarray, done: np.ndarray) -> List[float]:
        """Returns of the combined (task + discriminator) reward of the episodes that ended in
        this iteration; the running sums carry over to the next one."""
        out = []  # type: List[float]
        for t in range(total.shape[0]):
            self.ep_total += total[t]
            idx = np.flatnonzero(done[t])
            out += [float(r) for r in self.ep_total[idx]]
            self.ep_total[idx] = 0.0
        return out


__all__ = ["Collector", "Rollout"]
