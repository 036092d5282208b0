"""Observations as flat float32 vectors: the networks', the wire's and the replay buffer's form.

An env may observe a ``Box`` or a ``Dict`` of them (nested dicts too: dm_control's quadruped,
a GO2 env, the seed's demo files). :class:`ObsLayout` records the keys (sorted, nested keys
joined with ``/``) and shapes once; ``flatten`` then turns an observation, from the env or from
a demo file, into one vector, and says what is wrong with one that does not fit.
"""
from __future__ import annotations

from typing import Any, List, Mapping, Sequence, Tuple

import numpy as np

Entry = Tuple[str, Tuple[int, ...]]


class ObsMismatch(ValueError):
    pass


class ObsLayout(object):
    def __init__(self, entries: Sequence[Entry]):
        self.entries = [(str(k), tuple(int(n) for n in s)) for k, s in entries]
        self.sizes = [int(np.prod(s, dtype=np.int64)) for _, s in self.entries]
        self.dim = int(sum(self.sizes))

    @classmethod
    def from_space(cls, space: Any) -> "ObsLayout":
        import gymnasium as gym

        entries = []  # type: List[Entry]

        def walk(prefix: str, sp: Any) -> None:
            if isinstance(sp, gym.spaces.Dict):
                for k in sorted(sp.spaces):
                    walk("%s/%s" % (prefix, k) if prefix else str(k), sp.spaces[k])
            elif isinstance(sp, gym.spaces.Box):
                entries.append((prefix, tuple(sp.shape)))
            else:
                raise ValueError("observation space %s is not supported: use Box or Dict of "
                                 "Box" % (sp,))

        walk("", space)
        if not entries:
            raise ValueError("observation space %s is empty" % (space,))
        return cls(entries)

    @classmethod
    def from_json(cls, data: Any) -> "ObsLayout":
        if not isinstance(data, list) or not data:
            raise ValueError("observation layout must be a non-empty list")
        out = []
        for item in data:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)
                    and isinstance(item[1], list)
                    and all(isinstance(n, int) and n >= 0 for n in item[1])):
                raise ValueError("bad observation layout entry %r" % (item,))
            out.append((item[0], tuple(item[1])))
        return cls(out)

    def to_json(self) -> List[List[Any]]:
        return [[k, list(s)] for k, s in self.entries]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObsLayout) and self.entries == other.entries

    def __repr__(self) -> str:
        return "ObsLayout(%s)" % ", ".join("%s%s" % (k or "obs", list(s))
                                           for k, s in self.entries)

    def flatten(self, obs: Any) -> np.ndarray:
        """One observation -> a (dim,) float32 vector; :class:`ObsMismatch` if it does not fit."""
        if len(self.entries) == 1 and self.entries[0][0] == "":
            a = np.asarray(obs, dtype=np.float32)
            if a.size != self.dim:
                raise ObsMismatch("observation has %d values, the env's has %d"
                                  % (a.size, self.dim))
            return a.reshape(self.dim)
        if not isinstance(obs, Mapping):
            a = np.asarray(obs, dtype=np.float32)
            if a.size == self.dim:  # already flat (the wire's form)
                return a.reshape(self.dim)
            raise ObsMismatch("expected a dict observation with keys %s, found %s"
                              % ([k for k, _ in self.entries], type(obs).__name__))
        parts = []
        for (key, shape), size in zip(self.entries, self.sizes):
            v = obs  # type: Any
            for part in key.split("/"):
                if not isinstance(v, Mapping) or part not in v:
                    raise ObsMismatch("observation has no key %r" % key)
                v = v[part]
            a = np.asarray(v, dtype=np.float32)
            if a.size != size:
                raise ObsMismatch("observation key %r has shape %s, the env's is %s"
                                  % (key, list(a.shape), list(shape)))
            parts.append(a.reshape(size))
        return np.concatenate(parts)
