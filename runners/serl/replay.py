"""Replay buffers of flat transitions, and the hybrid mode's 50/50 demo + online batches.

Fields (the seed's names): ``observations``, ``actions`` (the env's own action scale),
``next_observations``, ``rewards``, ``masks`` (0 at a true terminal, 1 otherwise: a time limit
still bootstraps) and ``dones`` (the episode ended, for any reason).
"""
from __future__ import annotations

import threading
from typing import Dict, Mapping, Optional, Tuple

import numpy as np

FIELDS = ("observations", "actions", "next_observations", "rewards", "masks", "dones")


class ReplayBuffer(object):
    """A ring of ``capacity`` transitions; ``insert`` and ``sample`` may run on two threads."""

    def __init__(self, capacity: int, obs_dim: int, act_dim: int):
        self.capacity = int(capacity)
        self.obs_dim, self.act_dim = int(obs_dim), int(act_dim)
        self.data = {
            "observations": np.zeros((capacity, obs_dim), np.float32),
            "actions": np.zeros((capacity, act_dim), np.float32),
            "next_observations": np.zeros((capacity, obs_dim), np.float32),
            "rewards": np.zeros((capacity,), np.float32),
            "masks": np.zeros((capacity,), np.float32),
            "dones": np.zeros((capacity,), np.float32),
        }
        self.size = 0
        self.pos = 0
        self.inserted = 0
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return self.size

    def check(self, batch: Mapping[str, np.ndarray]) -> int:
        """The number of transitions in ``batch``; ValueError naming the field that does not
        fit this buffer."""
        if "observations" not in batch:
            raise ValueError("transitions lack 'observations'")
        n = int(np.shape(batch["observations"])[0])
        want = {"observations": (n, self.obs_dim), "actions": (n, self.act_dim),
                "next_observations": (n, self.obs_dim), "rewards": (n,), "masks": (n,),
                "dones": (n,)}
        for k, shape in want.items():
            if k not in batch:
                raise ValueError("transitions lack %r" % k)
            if tuple(np.shape(batch[k])) != shape:
                raise ValueError("transitions field %r has shape %s, expected %s"
                                 % (k, list(np.shape(batch[k])), list(shape)))
            if not np.all(np.isfinite(batch[k])):
                raise ValueError("transitions field %r holds NaN or inf" % k)
        return n

    def insert(self, batch: Mapping[str, np.ndarray]) -> int:
        n = self.check(batch)
        if n == 0:
            return 0
        with self.lock:
            if n >= self.capacity:  # only the newest fit
                batch = {k: np.asarray(batch[k])[n - self.capacity:] for k in FIELDS}
                n = self.capacity
            idx = (self.pos + np.arange(n)) % self.capacity
            for k in FIELDS:
                self.data[k][idx] = batch[k]
            self.pos = int((self.pos + n) % self.capacity)
            self.size = min(self.capacity, self.size + n)
            self.inserted += n
        return n

    def sample(self, n: int, rng: np.random.Generator) -> Dict[str, np.ndarray]:
        with self.lock:
            if self.size == 0:
                raise ValueError("cannot sample an empty buffer")
            idx = rng.integers(0, self.size, size=n)
            return {k: v[idx] for k, v in self.data.items()}


class MixedSampler(object):
    """Hybrid batches: half from the demo buffer, half from the online buffer.

    While the online buffer holds fewer than half a batch, the online share is what it holds
    and the demos fill the rest (``online_share`` reports what the last batch really had).
    Without demos every sample is online; without online data every sample is a demo.
    """

    def __init__(self, online: ReplayBuffer, demos: Optional[ReplayBuffer]):
        self.online = online
        self.demos = demos
        self.last_demo_count = 0

    def split(self, batch_size: int) -> Tuple[int, int]:
        """(online, demo) counts for one batch."""
        demo_n = len(self.demos) if self.demos is not None else 0
        if demo_n == 0:
            return batch_size, 0
        n_online = min(batch_size // 2, len(self.online))
        return n_online, batch_size - n_online

    def sample(self, batch_size: int, rng: np.random.Generator) -> Dict[str, np.ndarray]:
        n_online, n_demo = self.split(batch_size)
        parts = []
        if n_online:
            parts.append(self.online.sample(n_online, rng))
        if n_demo:
            assert self.demos is not None
            parts.append(self.demos.sample(n_demo, rng))
        self.last_demo_count = n_demo
        if len(parts) == 1:
            return parts[0]
        return {k: np.concatenate([p[k] for p in parts]) for k in FIELDS}
