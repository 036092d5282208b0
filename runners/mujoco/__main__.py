"""The embedded runner: PPO (torch) on gymnasium MuJoCo envs, declared on the toolkit::

    python -m runners.mujoco train  --run-dir DIR [--role train] [--resume CKPT_PATH]
    python -m runners.mujoco play   --run-dir DIR --viewer-id ID [--display none|:0|wayland-0]
    python -m runners.mujoco record --run-dir DIR [--checkpoint FILE] [--episodes N] ...
    python -m runners.mujoco describe | check --params-json FILE

The command line, the player loop, the displays and the recorder are ``runners.sdk``'s; this
package holds the trainer, the checkpoint format and the playback hooks.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict

from runners.sdk import Backend, PlayContext, RunContext


def _config(params: Dict[str, Any], source: Path) -> Any:
    from .config import parse_params

    return parse_params(params, source)


def _train(ctx: RunContext) -> int:
    from .envs import check_env_id
    from .train import Trainer

    check_env_id(ctx.config.env_id, ctx.run_dir / "run.json")
    return Trainer(ctx.run_dir, ctx.config, role=ctx.role, stop=ctx.stop,
                   resume=ctx.resume).run()


def _playback(ctx: PlayContext) -> Any:
    from .envs import check_env_id
    from .play import MujocoPlayback

    check_env_id(ctx.config.env_id, ctx.run_dir / "run.json")
    return MujocoPlayback(ctx)


def _settings(cfg: Any) -> Any:
    from .play import play_settings

    return play_settings(cfg)


BACKEND = Backend(
    name="mujoco",
    description="Pitwall's embedded runner: PPO (torch) on gymnasium MuJoCo envs.",
    config=_config, train=_train, playback=_playback, settings=_settings,
    checkpoint_format="torch",
    resume_help="restore weights, optimizer, obs stats and counters, then continue")


def main(argv: Any = None) -> int:
    return BACKEND.main(argv)


if __name__ == "__main__":
    sys.exit(main())
