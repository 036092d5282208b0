"""Which reference motion a run imitates, and its discriminator observations (cached).

In order: ``env.custom_traj_path`` (relative to the run directory); else the results
directory's ``expert_traj.npz`` from an earlier run (the seed's cache); else, for gymnasium
walkers, a scripted gait made on the spot (``reference_motion``); for LocoMuJoCo, the env's own
trajectory (which ``custom_traj_path`` replaces inside LocoMuJoCo). The reference used is
written to ``expert_traj.npz`` and its discriminator observations to ``expert_disc_obs.npz``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, NamedTuple, Union

import numpy as np

from .config import AmpConfig
from .disc_features import FeatureSpec, KinematicsProbe, clip_windows
from .envs import EnvBatch
from .reference import EXPERT_TRAJ, Reference, expert_disc_obs, load_reference, write_npz

CACHE_VERSION = 1


class ExpertData(NamedTuple):
    reference: Reference
    disc_obs: np.ndarray     # (E, D)


def custom_path(cfg: AmpConfig, run_dir: Union[str, Path]) -> Path:
    p = Path(cfg.env.custom_traj_path).expanduser()
    return p if p.is_absolute() else Path(run_dir) / p


def choose_reference(cfg: AmpConfig, backend: str, envs: EnvBatch, run_dir: Path,
                     results: Path, say: Callable[[str], None]) -> Reference:
    m = envs.model
    names = envs.joint_names()
    if backend == "locomujoco":
        from .locomujoco_envs import reference_from_env

        ref = reference_from_env(getattr(envs, "first", None) or getattr(envs, "env"))
        say("reference motion: %s (%d frames)" % (ref.source, ref.frames))
        return ref
    if cfg.env.custom_traj_path:
        ref = load_reference(custom_path(cfg, run_dir), m.nq, m.nv, names, cfg.env_id)
        say("reference motion: %s (%d frames, %d clips)" % (ref.source, ref.frames,
                                                            len(ref.clip_starts)))
        return ref
    cache = results / EXPERT_TRAJ
    if cache.exists():
        ref = load_reference(cache, m.nq, m.nv, names, cfg.env_id)
        say("reference motion: %s (from an earlier run in this results_dir, %d frames)"
            % (cache, ref.frames))
        return ref
    from .reference_motion import make_reference

    write_npz(cache, make_reference(cfg.env_id))
    ref = load_reference(cache, m.nq, m.nv, names, cfg.env_id)
    say("reference motion: scripted gait for %s written to %s (%d frames; set "
        "env.custom_traj_path to use your own)" % (cfg.env_id, cache, ref.frames))
    return ref


def prepare_expert(cfg: AmpConfig, backend: str, envs: EnvBatch, run_dir: Path, results: Path,
                   spec: FeatureSpec, probe: KinematicsProbe, disc_fn: Any,
                   say: Callable[[str], None]) -> ExpertData:
    results.mkdir(parents=True, exist_ok=True)
    ref = choose_reference(cfg, backend, envs, run_dir, results, say)
    if abs(ref.frequency * envs.dt - 1.0) > 0.01:
        say("warning: the reference is sampled at %.1f Hz and the env steps at %.1f Hz: the "
            "discriminator compares windows of different durations"
            % (ref.frequency, 1.0 / envs.dt))
    cache = results / EXPERT_TRAJ
    cached = None
    if cache.exists() and str(cache) != ref.source:
        try:
            cached = load_reference(cache, spec.nq, spec.nv).digest
        except Exception:
            cached = None
    if str(cache) != ref.source and cached != ref.digest:
        write_npz(cache, ref.arrays())
    h = cfg.disc_obs.history_len
    signature = {"version": CACHE_VERSION, "reference": ref.digest, "env_id": cfg.env_id,
                 "joints": list(spec.joint_names), "key_bodies": spec.key_bodies.tolist(),
                 "key_sites": spec.key_sites.tolist(), "history_len": h,
                 "global_obs": cfg.disc_obs.global_obs,
                 "root_height_obs": cfg.disc_obs.root_height_obs,
                 "frame_dim": spec.frame_dim}

    def compute() -> np.ndarray:
        frames = probe.frames(ref.qpos, ref.qvel)
        return np.asarray(disc_fn(clip_windows(frames, ref.clip_starts, h)))

    obs = expert_disc_obs(results, json.loads(json.dumps(signature)), compute, say)
    return ExpertData(ref, obs)


__all__ = ["ExpertData", "choose_reference", "custom_path", "prepare_expert"]
