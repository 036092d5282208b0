"""The IsaacGym runner: rl_games PPO on IsaacGymEnvs tasks, or gymnasium MuJoCo envs on a CPU
box, declared on the toolkit::

    python -m runners.isaacgym train  --run-dir DIR [--role train] [--resume CKPT_PATH]
    python -m runners.isaacgym play   --run-dir DIR --viewer-id ID [--display none|:0|...]
    python -m runners.isaacgym record --run-dir DIR [--checkpoint FILE] [--episodes N]
                                      (gymnasium envs only: Isaac Gym renders only its window)

Multi-GPU training (``params.multi_gpu: true``) is started through torchrun, one process per GPU
(``configs/isaacgym/ant_multigpu.yaml``); rank 0 writes the checkpoints and metrics. Nothing
here imports torch before ``choose_backend``: ``import isaacgym`` refuses to load after torch.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict

from runners.protocol import RunPaths
from runners.protocol.capabilities import DISPLAY_PREVIEW, Capabilities
from runners.sdk import Backend, PlayContext, RunContext

NO_FRAMES = ("Isaac Gym renders only in its viewer window (an X display): no preview frames "
             "or videos; the gymnasium stand-in (params.env: gymnasium) has both")


def _config(params: Dict[str, Any], source: Path) -> Any:
    from .config import parse_params

    return parse_params(params, source)


def _train(ctx: RunContext) -> int:
    from .envs import choose_backend, make_backend

    source = RunPaths(ctx.run_dir).run_json
    name, note = choose_backend(ctx.config, source)
    ctx.say("environment: %s" % note)
    backend = make_backend(name, ctx.config, source)
    from .train import Trainer

    return Trainer(ctx.run_dir, ctx.config, backend, role=ctx.role, stop=ctx.stop,
                   resume=ctx.resume, say=ctx.say).run()


def _playback(ctx: PlayContext) -> Any:
    from .play import RlGamesPlayback

    return RlGamesPlayback(ctx)


def _settings(cfg: Any) -> Any:
    from .play import play_settings

    return play_settings(cfg)


def _capabilities(cfg: Any, caps: Capabilities) -> Capabilities:
    """Frames (preview, record) only where the env is gymnasium's MuJoCo."""
    if cfg.env == "gymnasium":
        return caps
    caps.verbs = [v for v in caps.verbs if v != "record"]
    caps.displays = [d for d in caps.displays if d != DISPLAY_PREVIEW]
    caps.why_not.update({"record": NO_FRAMES, DISPLAY_PREVIEW: NO_FRAMES})
    return caps


BACKEND = Backend(
    name="isaacgym",
    description="Pitwall's IsaacGym runner: rl_games PPO on IsaacGymEnvs tasks, or gymnasium "
                "MuJoCo envs on a CPU box.",
    config=_config, train=_train, playback=_playback, settings=_settings,
    capabilities_for=_capabilities, checkpoint_format="torch", interrupt_on_repeat=True,
    display_help="none (headless) or an X display for the viewer window (e.g. :0)")


def main(argv: Any = None) -> int:
    return BACKEND.main(argv)


if __name__ == "__main__":
    sys.exit(main())
