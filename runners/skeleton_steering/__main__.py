"""SkeletonSteering's own checkout, played by Pitwall (the viewer of ``locomujoco/seed_*``)::

    python -m runners.skeleton_steering play   --run-dir DIR --viewer-id ID [--display none|:0]
    python -m runners.skeleton_steering record --run-dir DIR [--checkpoint FILE] [--episodes N]
    python -m runners.skeleton_steering describe | check --params-json FILE

The seed trains with its own, unmodified scripts (the profile starts them); this runner has no
``train``. It plays the seed's pickles, hot-swapped, with the env and network functions of the
user's checkout (``params.play.env_function`` / ``params.play.network``), in the user's Python
(the profile's ``python``: an environment with LocoMuJoCo, JAX and Pitwall's ``runners`` on
``PYTHONPATH``). GPU memory is never preallocated (``XLA_PYTHON_CLIENT_PREALLOCATE=false``): the
viewer shares the GPU with the seed's trainer.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Dict

from runners.sdk import Backend, PlayContext, PlaySettings


def _config(params: Dict[str, Any], source: Path) -> Any:
    from .config import parse_params

    return parse_params(params, source)


def _prepare(mode: str, args: argparse.Namespace) -> None:
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    from runners.sdk.displays import prepare_display

    prepare_display(getattr(args, "display", "none") if mode == "play" else "none")


def _playback(ctx: PlayContext) -> Any:
    from .playback import SeedPlayback

    return SeedPlayback(ctx)


def _settings(cfg: Any) -> PlaySettings:
    return PlaySettings(realtime=cfg.realtime, seed=cfg.seed, preview_hz=cfg.preview_hz)


BACKEND = Backend(
    name="skeleton_steering",
    description="SkeletonSteering's own checkout: its AMP+PPO pickles played and hot-swapped "
                "with the env and network functions of the user's code (no train: the seed's "
                "scripts train, unmodified).",
    config=_config, playback=_playback, settings=_settings, checkpoint_format="pickle",
    prepare=_prepare,
    why_not={"train": "the seed's own train_amp_ppo_jax.py trains (the profile starts it)"})


def main(argv: Any = None) -> int:
    return BACKEND.main(argv)


if __name__ == "__main__":
    sys.exit(main())
