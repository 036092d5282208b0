"""The AMP runner: AMP + PPO in JAX on MuJoCo walkers, declared on the runner toolkit::

    python -m runners.amp train  --run-dir DIR [--role train] [--resume CKPT.pkl]
    python -m runners.amp play   --run-dir DIR --viewer-id ID [--display none|:0|wayland-0]
    python -m runners.amp record --run-dir DIR [--checkpoint FILE] [--episodes N] ...
    python -m runners.amp eval   --run-dir DIR [--checkpoint FILE] [--n-steps 2000]
                                 [--deterministic] [--record] [--seed S]
    python -m runners.amp describe | check --params-json FILE
    python -m runners.amp.reference_motion --env-id Walker2d-v5 --out walker_gait.npz

Parameters come from ``DIR/run.json`` (``configs/locomujoco/*.yaml``). ``jax_cpu`` pins JAX to
the CPU and ``deterministic`` adds XLA's deterministic-ops flag (the seed's two flags); viewers,
recorders and ``eval`` never preallocate GPU memory (``XLA_PYTHON_CLIENT_PREALLOCATE=false``),
so they can share a GPU with the trainer. The command line, player loop, displays and recorder
are ``runners.sdk``'s; this package holds the trainer, the checkpoint layout and the playback.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Dict

from runners.sdk import Backend, PlayContext, PlaySettings, RunContext, Verb


def _config(params: Dict[str, Any], source: Path) -> Any:
    from .config import parse_params

    return parse_params(params, source)


def _prepare(mode: str, args: argparse.Namespace) -> None:
    """Before anything imports JAX or MuJoCo: the seed's flags from run.json, and the GL
    backend (offscreen for frames and videos, GLFW on the display for a window)."""
    jax_cpu, deterministic = True, False
    try:
        from runners.protocol import read_params

        params = read_params(args.run_dir.resolve())
        jax_cpu = params.get("jax_cpu", True) is not False
        deterministic = params.get("deterministic", False) is True
    except Exception:
        pass   # the config check that follows reports a bad run.json
    if jax_cpu:
        os.environ["JAX_PLATFORMS"] = "cpu"
    if deterministic:
        flags = os.environ.get("XLA_FLAGS", "")
        if "--xla_gpu_deterministic_ops" not in flags:
            os.environ["XLA_FLAGS"] = (flags + " --xla_gpu_deterministic_ops").strip()
    if mode != "train":   # two JAX processes on one GPU must not fight over its memory
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    if mode in ("play", "record", "eval"):
        from runners.sdk.displays import prepare_display

        display = getattr(args, "display", "none") if mode == "play" else "none"
        prepare_display(display)


def _train(ctx: RunContext) -> int:
    from .train import Trainer

    return Trainer(ctx.run_dir, ctx.config, role=ctx.role, stop=ctx.stop,
                   resume=ctx.resume).run()


def _playback(ctx: PlayContext) -> Any:
    from .playback import AmpPlayback

    return AmpPlayback(ctx)


def _settings(cfg: Any) -> PlaySettings:
    return PlaySettings(realtime=cfg.play.realtime, seed=cfg.seed,
                        preview_hz=cfg.play.preview_hz)


def _eval(ctx: RunContext) -> int:
    from .evaluate import eval_main

    return eval_main(ctx)


def _eval_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", default=None,
                   help="pickle (absolute or relative to the run dir; default: what auto mode "
                        "shows, nn/latest.pkl)")
    p.add_argument("--n-steps", type=int, default=2000, help="env steps (the seed's --n_steps)")
    p.add_argument("--deterministic", action="store_true", help="the policy's mean action")
    p.add_argument("--record", action="store_true",
                   help="write the run to videos/ as one mp4 (+ an index line)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", default=None, metavar="WxH", help="video frame size")
    p.add_argument("--fps", type=float, default=None, help="video rate (default the env's)")


BACKEND = Backend(
    name="amp",
    description="AMP + PPO in JAX (optax) on MuJoCo walkers: LocoMuJoCo 1.x envs when "
                "installed, gymnasium walkers (Walker2d-v5, Humanoid-v5) with a reference "
                "motion otherwise; SkeletonSteering's pickles, TensorBoard tags and stdout.",
    config=_config, train=_train, playback=_playback, settings=_settings,
    checkpoint_format="pickle", prepare=_prepare,
    verbs={"eval": Verb("run a checkpoint for N steps like the seed's eval_amp_ppo_jax.py "
                        "(--record: an mp4 in videos/)", _eval, _eval_arguments)},
    resume_help="restore the networks and normalizers of a pickle (the optimizer restarts)")


def main(argv: Any = None) -> int:
    return BACKEND.main(argv)


if __name__ == "__main__":
    sys.exit(main())
