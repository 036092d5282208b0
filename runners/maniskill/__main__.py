"""Command line of the ManiSkill runner::

    python -m runners.maniskill train  --run-dir DIR [--role train] [--resume CKPT_PATH]
    python -m runners.maniskill record --run-dir DIR [--checkpoint FILE] [--episodes N]
                                       [--size WxH] [--fps F] [--max-steps N] [--settle-steps N]
    python -m runners.maniskill recorder --run-dir DIR     (started by train: job lines on stdin)

``record`` writes ``videos/<name>.mp4`` (+ ``.traj.npz`` with ``save_trajectory``) and appends
``videos/index.jsonl``.

Exit status: 0 on success and after SIGINT/SIGTERM (training saves a final checkpoint first),
2 for a bad run directory, parameter, task, Vulkan driver or checkpoint, 1 for anything
unexpected.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from runners.runner_cli import EXIT_USAGE, runner_parser
from runners.stop_flag import StopFlag


def _parser() -> argparse.ArgumentParser:
    p, sub, _train, _play = runner_parser(
        "python -m runners.maniskill",
        "Pitwall's ManiSkill3 runner: PPO (torch) on ManiSkill tasks, CPU or GPU simulation.",
        display_help="none: headless, preview frames in preview/<viewer-id>.png; an X display "
                     "(:0, localhost:10.0): SAPIEN's viewer window")
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
                   help="frames per second (default params.video_fps, else the control rate)")
    r.add_argument("--max-steps", type=int, default=None,
                   help="cut an episode after this many steps (default params.max_video_steps)")
    r.add_argument("--settle-steps", type=int, default=None,
                   help="zero-action steps after each reset before recording "
                        "(default params.settle_steps)")
    c = sub.add_parser("recorder", help=argparse.SUPPRESS)
    c.add_argument("--run-dir", required=True, type=Path)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    stop = StopFlag().install()  # before the slow imports: an early stop still exits 0
    args = _parser().parse_args(argv)
    import faulthandler

    faulthandler.enable()  # a crash in native code (Vulkan, X) leaves a traceback in the log
    try:
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        pass

    from runners.protocol import CheckpointLoadError, ProtocolError, RunPaths
    from runners.protocol.rundir import check_role_name

    from .config import load_config
    from .tasks import EnvStartError, check_env_id

    run_dir = args.run_dir.resolve()
    try:
        cfg = load_config(run_dir)
        check_env_id(cfg.env_id, RunPaths(run_dir).run_json)
        if args.mode != "recorder":
            for key in cfg.unknown:
                print("warning: run.json: field %r is not used by the maniskill runner" % key,
                      flush=True)
        if args.mode == "train":
            check_role_name(args.role)
            from .train import Trainer

            resume = _resume_path(args.resume, run_dir) if args.resume else None
            runner = Trainer(run_dir, cfg, role=args.role, stop=stop, resume=resume)
            return runner.run()
        if args.mode == "recorder":
            from .recorder import run_recorder

            return run_recorder(run_dir, cfg, stop)
        if args.mode == "record":
            from .record import record_main

            return record_main(run_dir, cfg, args, stop)
        print("error: play is served by Pitwall's runner toolkit (not in this build yet)",
              file=sys.stderr, flush=True)
        return EXIT_USAGE
    except (ProtocolError, CheckpointLoadError, EnvStartError, ValueError) as e:
        print("error: %s" % e, file=sys.stderr, flush=True)
        return EXIT_USAGE


def _resume_path(raw: Path, run_dir: Path) -> Path:
    if raw.is_absolute() or raw.exists():
        return raw
    return run_dir / raw  # relative to the run directory


if __name__ == "__main__":
    sys.exit(main())
