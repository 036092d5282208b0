"""Demonstration files: the seed's pickled transition lists, read safely, and recorded.

A demo file is a pickled ``list`` of transition dicts with ``observations``, ``actions``,
``next_observations``, ``rewards``, ``masks`` and ``dones`` (observations may be dicts of
arrays). Demo files come from elsewhere, so they are read through
``runners.protocol.safe_pickle`` (numpy arrays and plain values only: a pickle that names
anything else is refused before anything in it runs), then checked against the env: every
error names the file, the transition and the field.

``python -m runners.serl demos`` records episodes of a checkpoint's policy in that format
(the seed's ``--create_data``): successes and failures go to separate files.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Tuple, Union

import numpy as np

from runners.protocol import ProtocolError
from runners.protocol.safe_pickle import load_pickle, write_pickle

from .env_spec import EnvSpec
from .obs_layout import ObsMismatch
from .replay import FIELDS


def demo_arrays(path: Union[str, Path], spec: EnvSpec) -> Dict[str, np.ndarray]:
    """The transitions of one demo file as flat arrays (the replay buffer's form)."""
    path = Path(path)
    data = load_pickle(path)
    if not isinstance(data, list):
        raise ProtocolError(path, None, "expected a list of transition dicts, found %s"
                            % type(data).__name__)
    cols = {k: [] for k in FIELDS}  # type: Dict[str, List[Any]]
    for i, t in enumerate(data):
        where = "transition %d" % i
        if not isinstance(t, dict):
            raise ProtocolError(path, where, "expected a dict, found %s" % type(t).__name__)
        missing = [k for k in FIELDS if k not in t]
        if missing:
            raise ProtocolError(path, where, "missing %s" % ", ".join(missing))
        try:
            obs = spec.layout.flatten(t["observations"])
            nxt = spec.layout.flatten(t["next_observations"])
        except (ObsMismatch, TypeError, ValueError) as e:
            raise ProtocolError(path, where + ": observations", str(e))
        act = np.asarray(t["actions"], dtype=np.float32).reshape(-1)
        if act.size != spec.act_dim:
            raise ProtocolError(path, where + ": actions", "has %d values, the env's action "
                                "has %d" % (act.size, spec.act_dim))
        row = {"observations": obs, "next_observations": nxt, "actions": act}
        for k in ("rewards", "masks", "dones"):
            try:
                v = np.asarray(t[k], dtype=np.float32)
            except (TypeError, ValueError) as e:
                raise ProtocolError(path, "%s: %s" % (where, k), "not a number (%s)" % e)
            if v.size != 1:
                raise ProtocolError(path, "%s: %s" % (where, k), "expected one number, "
                                    "found shape %s" % list(v.shape))
            row[k] = v.reshape(())
        for k, v in row.items():
            if not np.all(np.isfinite(v)):
                raise ProtocolError(path, "%s: %s" % (where, k), "holds NaN or inf")
            cols[k].append(v)
    if not data:
        raise ProtocolError(path, None, "holds no transitions")
    return {k: np.stack(v).astype(np.float32) for k, v in cols.items()}


def out_paths(out: Union[str, Path]) -> Tuple[Path, Path]:
    """``demos.pkl`` -> (``demos_success.pkl``, ``demos_failure.pkl``)."""
    out = Path(out)
    stem = out.stem if out.suffix == ".pkl" else out.name
    return out.with_name(stem + "_success.pkl"), out.with_name(stem + "_failure.pkl")


def episode_succeeded(info: Dict[str, Any], terminated: bool) -> bool:
    """The env's own ``success`` / ``is_success`` flag at the last step when it has one; else a
    locomotion task's: the episode ran to its time limit without a terminal failure."""
    for key in ("success", "is_success"):
        if key in info:
            return bool(np.asarray(info[key]).any())
    return not terminated


def record_demos(env: Any, policy: Any, episodes: int, out: Union[str, Path],
                 deterministic: bool = True, seed: int = 0,
                 say: Any = print, should_stop: Any = lambda: False) -> Dict[str, Any]:
    """Run ``episodes`` episodes and write their transitions, successes and failures apart."""
    good, bad = [], []  # type: List[Dict[str, Any]], List[Dict[str, Any]]
    returns = []
    outcomes = []  # type: List[bool]
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed + ep)
        trans = []
        ret, done, terminated, info = 0.0, False, False, {}  # type: Any
        while not done and not should_stop():
            a = policy.act(obs, deterministic=deterministic)
            nxt, r, terminated, truncated, info = env.step(a)
            if "intervene_action" in info:
                a = np.asarray(info["intervene_action"], dtype=np.float32)
            trans.append({"observations": obs, "actions": np.asarray(a, np.float32),
                          "next_observations": nxt, "rewards": float(r),
                          "masks": 1.0 - float(terminated), "dones": bool(terminated)})
            ret += float(r)
            obs = nxt
            done = bool(terminated or truncated)
        if not done:
            break  # stopped mid-episode: not a demo
        ok = episode_succeeded(info, bool(terminated))
        (good if ok else bad).extend(trans)
        returns.append(ret)
        outcomes.append(ok)
        say("episode %d/%d: return %.1f, %d steps, %s"
            % (ep + 1, episodes, ret, len(trans), "success" if ok else "failure"))
    ok_path, bad_path = out_paths(out)
    write_pickle(ok_path, good)
    write_pickle(bad_path, bad)
    return {"success_file": str(ok_path), "failure_file": str(bad_path),
            "success_episodes": sum(outcomes), "failure_episodes": len(outcomes) - sum(outcomes),
            "success_transitions": len(good), "failure_transitions": len(bad),
            "returns": returns}
