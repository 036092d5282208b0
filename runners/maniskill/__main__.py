"""The ManiSkill3 runner, declared on the toolkit::

    python -m runners.maniskill train    --run-dir DIR [--role train] [--resume CKPT_PATH]
    python -m runners.maniskill play     --run-dir DIR --viewer-id ID [--display none|:0]
    python -m runners.maniskill record   --run-dir DIR [--checkpoint FILE] [--episodes N] ...
    python -m runners.maniskill recorder --run-dir DIR   (started by train; jobs on stdin)
    python -m runners.maniskill describe | check --params-json FILE

The command line, the player loop, the displays and ``record`` are ``runners.sdk``'s; this
package holds the trainer, its envs and networks, the checkpoint format, the playback hooks
(SAPIEN's viewer window) and the long-lived training-video recorder.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict

from runners.sdk import Backend, PlayContext, RunContext, Verb


def _config(params: Dict[str, Any], source: Path) -> Any:
    from .config import parse_params

    return parse_params(params, source)


def _checked(ctx: Any) -> None:
    """The task exists and its assets are here (before SAPIEN starts)."""
    from .tasks import check_env_id

    check_env_id(ctx.config.env_id, ctx.run_dir / "run.json")


def _train(ctx: RunContext) -> int:
    from .tasks import EnvStartError
    from .train import Trainer

    _checked(ctx)
    try:
        trainer = Trainer(ctx.run_dir, ctx.config, role=ctx.role, stop=ctx.stop,
                          resume=ctx.resume)
    except EnvStartError as e:
        raise ValueError(str(e))  # exit 2 with the reason: nothing was done
    return trainer.run()


def _recorder(ctx: RunContext) -> int:
    from .recorder import run_recorder

    _checked(ctx)
    return run_recorder(ctx.run_dir, ctx.config, ctx.stop)


def _playback(ctx: PlayContext) -> Any:
    from .playback import ManiSkillPlayback
    from .tasks import EnvStartError

    _checked(ctx)
    try:
        return ManiSkillPlayback(ctx)
    except EnvStartError as e:
        raise ValueError(str(e))


def _settings(cfg: Any) -> Any:
    from .playback import play_settings

    return play_settings(cfg)


BACKEND = Backend(
    name="maniskill",
    description="Pitwall's ManiSkill3 runner: PPO (torch) on ManiSkill tasks, CPU or GPU "
                "simulation, videos during training.",
    config=_config, train=_train, playback=_playback, settings=_settings,
    checkpoint_format="torch",
    verbs={"recorder": Verb(help="the long-lived training-video recorder (train starts it; "
                                 "job lines on stdin)", run=_recorder)},
    resume_help="restore weights, optimizer and counters, then continue",
    display_help="none: headless, preview frames in preview/<viewer-id>.png; an X display "
                 "(:0, localhost:10.0): SAPIEN's viewer window")


def main(argv: Any = None) -> int:
    return BACKEND.main(argv)


if __name__ == "__main__":
    sys.exit(main())
