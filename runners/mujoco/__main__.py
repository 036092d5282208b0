"""Command line of the MuJoCo runner::

    python -m runners.mujoco train --run-dir DIR [--role train] [--resume CKPT_PATH]
    python -m runners.mujoco play  --run-dir DIR --viewer-id ID [--display none|:0|wayland-0]
                                   [--preview-hz 4] [--preview-size 256x256]
    python -m runners.mujoco record --run-dir DIR [--checkpoint FILE] [--episodes N]
                                    [--size 256x256] [--fps F] [--max-steps N] [--settle-steps N]

``play --display none`` renders offscreen and writes ``preview/<viewer-id>.png``; an X display or
Wayland socket opens MuJoCo's passive viewer there. ``record`` writes ``videos/<name>.mp4`` and
appends ``videos/index.jsonl``.

Exit status: 0 on success and after SIGINT/SIGTERM (a final checkpoint is saved), 2 for a bad
run directory, parameter or resume checkpoint, 1 for anything unexpected.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from runners.runner_cli import EXIT_USAGE, runner_parser
from runners.stop_flag import StopFlag


def _parser() -> argparse.ArgumentParser:
    p, sub, _train, v = runner_parser(
        "python -m runners.mujoco",
        "Pitwall's embedded runner: PPO (torch) on gymnasium MuJoCo envs.",
        display_help="none: headless, preview frames in preview/<viewer-id>.png; an X display "
                     "(:0, localhost:10.0) or Wayland socket (wayland-0): a window",
        resume_help="restore weights, optimizer, obs stats and counters, then continue")
    v.add_argument("--preview-hz", type=float, default=None,
                   help="headless preview frames per second (default params.play.preview_hz; "
                        "0 = none)")
    v.add_argument("--preview-size", default=None, metavar="WxH",
                   help="preview frame size (default params.play.preview_width x height)")
    r = sub.add_parser("record", help="record N episodes of a checkpoint to videos/ (mp4)")
    r.add_argument("--run-dir", required=True, type=Path)
    r.add_argument("--role", default=None, help="the recorder's role (Pitwall passes it)")
    r.add_argument("--checkpoint", default=None,
                   help="checkpoint file (absolute or relative to the run dir; default "
                        "nn/latest.pth)")
    r.add_argument("--episodes", type=int, default=1)
    r.add_argument("--size", default=None, metavar="WxH",
                   help="frame size (default params video_width x video_height)")
    r.add_argument("--fps", type=float, default=None,
                   help="frames per second (default params.video_fps, else the env's rate)")
    r.add_argument("--max-steps", type=int, default=None,
                   help="cut an episode after this many steps (default params.max_video_steps)")
    r.add_argument("--settle-steps", type=int, default=None,
                   help="zero-action steps after each reset before recording "
                        "(default params.settle_steps)")
    r.add_argument("--source", default="record", choices=("record", "training"))
    r.add_argument("--train-episode", type=int, default=None, help=argparse.SUPPRESS)
    r.add_argument("--delete-checkpoint", action="store_true", help=argparse.SUPPRESS)
    return p


def prepare_gl(mode: str, display: str) -> None:
    """Choose the GL backend before mujoco is imported (it is chosen at import time)."""
    import os

    if mode == "record" or (mode == "play" and display in ("none", "")):
        from runners.rendering.offscreen import ensure_offscreen_gl

        ensure_offscreen_gl()
    elif mode == "play":
        from .play import is_wayland_display, is_x_display

        if is_x_display(display):
            os.environ["DISPLAY"] = display
            os.environ.pop("WAYLAND_DISPLAY", None)
            os.environ.setdefault("PYGLFW_LIBRARY_VARIANT", "x11")
        elif is_wayland_display(display):
            os.environ["WAYLAND_DISPLAY"] = display
            os.environ.setdefault("PYGLFW_LIBRARY_VARIANT", "wayland")
        if os.environ.get("MUJOCO_GL", "").lower() in ("egl", "osmesa"):
            del os.environ["MUJOCO_GL"]  # the window needs GLFW's own context


def _resume_path(raw: Path, run_dir: Path) -> Path:
    if raw.is_absolute() or raw.exists():
        return raw
    return run_dir / raw  # relative to the run directory


def main(argv: Optional[List[str]] = None) -> int:
    stop = StopFlag().install()  # before the slow imports: an early stop still exits 0
    args = _parser().parse_args(argv)
    import faulthandler

    faulthandler.enable()  # a crash in native code (GL, X) leaves a traceback in the log
    prepare_gl(args.mode, getattr(args, "display", "none"))
    try:
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        pass

    from runners.protocol import CheckpointLoadError, ProtocolError
    from runners.protocol.rundir import check_role_name

    from .config import load_config
    from .envs import check_env_id

    run_dir = args.run_dir.resolve()
    try:
        cfg = load_config(run_dir)
        check_env_id(cfg.env_id, run_dir / "run.json")
        for key in cfg.unknown:
            print("warning: run.json: field %r is not used by the mujoco runner" % key,
                  flush=True)
        if args.mode == "train":
            check_role_name(args.role)
            from .train import Trainer

            resume = _resume_path(args.resume, run_dir) if args.resume else None
            runner = Trainer(run_dir, cfg, role=args.role, stop=stop, resume=resume)
        elif args.mode == "record":
            if args.episodes < 1:
                raise ValueError("--episodes must be >= 1, found %d" % args.episodes)
            from runners.rendering.offscreen import parse_size

            from .record import record_main

            if args.size:
                args.width, args.height = parse_size(args.size, "--size")
                if args.width % 2 or args.height % 2:
                    raise ValueError("--size %s: mp4 needs even width and height" % args.size)
            else:
                args.width = args.height = None
            return record_main(run_dir, cfg, args, stop)
        else:
            check_role_name(args.viewer_id)
            from runners.rendering.offscreen import parse_size

            from .play import Player, make_display

            size = parse_size(args.preview_size, "--preview-size") if args.preview_size else \
                (cfg.play.preview_width, cfg.play.preview_height)
            hz = cfg.play.preview_hz if args.preview_hz is None else args.preview_hz
            holder = []  # type: List[Player]

            def on_lost(message: str) -> None:
                if holder:
                    holder[0].fail(message)

            display = make_display(args.display, run_dir, args.viewer_id, hz, size,
                                   say=lambda line: print(line, flush=True), on_lost=on_lost)
            runner = Player(run_dir, args.viewer_id, cfg, display=display, stop=stop)
            holder.append(runner)
    except (ProtocolError, CheckpointLoadError, ValueError) as e:
        print("error: %s" % e, file=sys.stderr, flush=True)
        return EXIT_USAGE
    return runner.run()


if __name__ == "__main__":
    sys.exit(main())
