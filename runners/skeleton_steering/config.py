"""Parameters of the SkeletonSteering viewer, from the adapter profile's ``run.json``.

The profile (``configs/locomujoco/seed_skeleton_walk.yaml``) starts the seed's own scripts; the
viewer reads only ``skeleton_steering_dir``, ``seed`` and ``play.*``: where the user's code is
and which of its functions build the env and the policy network.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Union

from runners.sdk.params import ParamsReader

# the profile's own parameters: used in its argv/env, not by this runner
PROFILE_ONLY = ("python", "script", "config", "env_id", "experiment", "jax_platforms",
                "xla_flags")


@dataclass
class SeedViewerConfig:
    skeleton_steering_dir: str
    seed: int = 0
    code_dir: str = "training"                    # relative to skeleton_steering_dir
    env_function: str = "eval_amp_ppo_jax:_make_env"   # (config, record, mjx) -> env
    network: str = "amp_ppo_jax:MLP"                   # (hidden, out_dim, activation=, ...)
    conf_file: str = "amp_ppo_jax_conf.yaml"      # the seed writes it in its results_dir
    mjx: bool = False
    deterministic: bool = True
    realtime: bool = True
    preview_hz: float = 4.0
    preview_width: int = 256
    preview_height: int = 256
    unknown: List[str] = field(default_factory=list)

    @property
    def code_path(self) -> Path:
        p = Path(self.code_dir).expanduser()
        return p if p.is_absolute() else Path(self.skeleton_steering_dir).expanduser() / p


class _Reader(ParamsReader):
    runner = "skeleton_steering"


def _function(r: _Reader, key: str, default: str) -> str:
    v = r.string(key, default)
    if v.count(":") != 1 or not all(v.split(":")):
        raise r.fail(key, "expected 'module:function' (e.g. %r), found %r" % (default, v))
    return v


def parse_params(params: Dict[str, Any], source: Union[str, Path] = "run.json"
                 ) -> SeedViewerConfig:
    top = _Reader(source, params, "params")
    play = top.section("play")
    d = SeedViewerConfig(skeleton_steering_dir="")
    cfg = SeedViewerConfig(
        skeleton_steering_dir=top.string("skeleton_steering_dir"),
        seed=top.integer("seed", 0),
        code_dir=play.string("code_dir", d.code_dir),
        env_function=_function(play, "env_function", d.env_function),
        network=_function(play, "network", d.network),
        conf_file=play.string("conf_file", d.conf_file),
        mjx=play.boolean("mjx", d.mjx),
        deterministic=play.boolean("deterministic", d.deterministic),
        realtime=play.boolean("realtime", d.realtime),
        preview_hz=play.number("preview_hz", d.preview_hz, (0.0, 60.0)),
        preview_width=play.integer("preview_width", d.preview_width, 16),
        preview_height=play.integer("preview_height", d.preview_height, 16))
    for key in PROFILE_ONLY:
        top.used.add(key)
    cfg.unknown = top.unknown() + play.unknown()
    return cfg


__all__ = ["SeedViewerConfig", "parse_params"]
