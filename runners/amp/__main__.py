"""Command line of the AMP runner (AMP + PPO in JAX on MuJoCo walkers)::

    python -m runners.amp train  --run-dir DIR [--role train] [--resume CKPT.pkl]
    python -m runners.amp play   --run-dir DIR --viewer-id ID [--display none|:0]
    python -m runners.amp record --run-dir DIR [--checkpoint FILE] [--episodes N] ...
    python -m runners.amp eval   --run-dir DIR --checkpoint FILE [--n-steps 2000]
                                 [--deterministic] [--record] [--seed S]
    python -m runners.amp reference --env-id Walker2d-v5 --out walker_gait.npz [--seconds 8]

Parameters come from ``DIR/run.json`` (``configs/locomujoco/*.yaml``). ``jax_cpu`` pins JAX to
the CPU, ``deterministic`` adds XLA's deterministic-ops flag (both as the seed's flags do); a
viewer, recorder or eval never preallocates GPU memory (``XLA_PYTHON_CLIENT_PREALLOCATE=false``)
so it can share a GPU with the trainer.

Exit status: 0 on success and after SIGINT/SIGTERM (a final checkpoint is saved), 2 for a bad
run directory, parameter, reference motion or checkpoint, 1 for anything unexpected.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import List, Optional

from runners.runner_cli import EXIT_USAGE, runner_parser
from runners.stop_flag import StopFlag


def _parser() -> argparse.ArgumentParser:
    p, sub, _train, v = runner_parser(
        "python -m runners.amp",
        "Pitwall's AMP + PPO runner (JAX): LocoMuJoCo envs when installed, gymnasium "
        "MuJoCo walkers with a reference motion otherwise.",
        display_help="none: headless, preview frames in preview/<viewer-id>.png; an X display "
                     "(:0) or Wayland socket: a window",
        resume_help="restore networks and normalizers from a pickle (the optimizer restarts)")
    v.add_argument("--preview-hz", type=float, default=None)
    v.add_argument("--preview-size", default=None, metavar="WxH")
    for name, what in (("record", "record N episodes of a checkpoint to videos/ (mp4)"),
                       ("eval", "run a checkpoint for N steps like the seed's eval script")):
        r = sub.add_parser(name, help=what)
        r.add_argument("--run-dir", required=True, type=Path)
        r.add_argument("--role", default=None)
        r.add_argument("--checkpoint", default=None,
                       help="pickle (absolute or relative to the run dir; default "
                            "nn/latest.pkl)")
        r.add_argument("--seed", type=int, default=0)
        r.add_argument("--size", default=None, metavar="WxH")
        r.add_argument("--fps", type=float, default=None)
        if name == "record":
            r.add_argument("--episodes", type=int, default=1)
            r.add_argument("--max-steps", type=int, default=1000)
            r.add_argument("--settle-steps", type=int, default=0)
            r.add_argument("--stochastic", action="store_true")
        else:
            r.add_argument("--n-steps", type=int, default=2000)
            r.add_argument("--deterministic", action="store_true")
            r.add_argument("--record", action="store_true",
                           help="write the run to videos/ (mp4 + index line)")
    g = sub.add_parser("reference", help="write a scripted-gait reference motion (.npz)")
    g.add_argument("--env-id", required=True, help="a gymnasium walker: Walker2d-v5, Humanoid-v5")
    g.add_argument("--out", required=True, type=Path)
    g.add_argument("--seconds", type=float, default=8.0, help="length of each of the 3 clips")
    return p


def prepare_jax(mode: str, jax_cpu: bool, deterministic: bool) -> None:
    """Environment JAX reads at import: set before anything imports it."""
    if jax_cpu:
        os.environ["JAX_PLATFORMS"] = "cpu"
    if deterministic:
        flags = os.environ.get("XLA_FLAGS", "")
        if "--xla_gpu_deterministic_ops" not in flags:
            os.environ["XLA_FLAGS"] = (flags + " --xla_gpu_deterministic_ops").strip()
    if mode != "train":   # two JAX processes on one GPU must not fight over its memory
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")


_X_DISPLAY = re.compile(r"^[A-Za-z0-9_.\-\[\]]*:\d+(\.\d+)?$")


def prepare_gl(mode: str, display: str) -> None:
    """Offscreen GL (EGL/OSMesa) for frames, or GLFW on an X display for a window; chosen
    before mujoco is imported."""
    if mode != "play" or display in ("none", ""):
        from runners.rendering.offscreen import ensure_offscreen_gl

        ensure_offscreen_gl()
        return
    if not _X_DISPLAY.match(display):
        raise ValueError("--display %r: use none (headless, preview frames) or an X display "
                         "such as :0 or localhost:10.0" % display)
    os.environ["DISPLAY"] = display
    os.environ.pop("WAYLAND_DISPLAY", None)
    os.environ.setdefault("PYGLFW_LIBRARY_VARIANT", "x11")
    if os.environ.get("MUJOCO_GL", "").lower() in ("egl", "osmesa"):
        del os.environ["MUJOCO_GL"]   # the window needs GLFW's own context


def main(argv: Optional[List[str]] = None) -> int:
    stop = StopFlag().install()  # before the slow imports: an early stop still exits 0
    args = _parser().parse_args(argv)
    import faulthandler

    faulthandler.enable()
    try:
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        pass
    if args.mode == "reference":
        from .reference_motion import main as reference_main

        try:
            return reference_main(args.env_id, args.out, args.seconds)
        except ValueError as e:
            print("error: %s" % e, file=sys.stderr, flush=True)
            return EXIT_USAGE

    from runners.protocol import CheckpointLoadError, ProtocolError
    from runners.protocol.rundir import check_role_name

    from .config import load_config

    run_dir = args.run_dir.resolve()
    try:
        cfg = load_config(run_dir)
        prepare_jax(args.mode, cfg.jax_cpu, cfg.deterministic)
        if args.mode in ("play", "record") or (args.mode == "eval" and args.record):
            prepare_gl(args.mode, getattr(args, "display", "none"))
        for key in cfg.unknown:
            print("warning: run.json: field %r is not used by the amp runner" % key, flush=True)
        if args.mode == "train":
            check_role_name(args.role)
            from .train import Trainer

            resume = args.resume
            if resume is not None and not resume.is_absolute() and not resume.exists():
                resume = run_dir / resume
            runner = Trainer(run_dir, cfg, role=args.role, stop=stop, resume=resume)
            return runner.run()
        if args.mode == "play":
            check_role_name(args.viewer_id)
            from .play import play_main

            return play_main(run_dir, cfg, args, stop)
        from .evaluate import eval_main, record_main

        if args.mode == "record":
            return record_main(run_dir, cfg, args, stop)
        return eval_main(run_dir, cfg, args, stop)
    except (ProtocolError, CheckpointLoadError, ValueError) as e:
        print("error: %s" % e, file=sys.stderr, flush=True)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
