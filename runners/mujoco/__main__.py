"""Command line of the MuJoCo runner::

    python -m runners.mujoco train --run-dir DIR [--role train] [--resume CKPT_PATH]
    python -m runners.mujoco play  --run-dir DIR --viewer-id ID [--display none]

Exit status: 0 on success and after SIGINT/SIGTERM (a final checkpoint is saved), 2 for a bad
run directory, parameter or resume checkpoint, 1 for anything unexpected.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from .stop_signal import StopFlag

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m runners.mujoco",
                                description="Pitwall's embedded runner: PPO (torch) on "
                                            "gymnasium MuJoCo envs.")
    sub = p.add_subparsers(dest="mode")
    sub.required = True
    t = sub.add_parser("train", help="train headless; params come from RUN_DIR/run.json")
    t.add_argument("--run-dir", required=True, type=Path)
    t.add_argument("--role", default="train", help="role name in metrics.jsonl (default train)")
    t.add_argument("--resume", type=Path, default=None, metavar="CKPT_PATH",
                   help="restore weights, optimizer, obs stats and counters, then continue")
    v = sub.add_parser("play", help="run the policy the run's checkpoint state asks for")
    v.add_argument("--run-dir", required=True, type=Path)
    v.add_argument("--viewer-id", required=True)
    v.add_argument("--role", default=None,
                   help="the viewer's role (Pitwall's viewer start passes it; = the viewer id)")
    v.add_argument("--display", default="none", help="none (window/video/preview: later)")
    return p


def _resume_path(raw: Path, run_dir: Path) -> Path:
    if raw.is_absolute() or raw.exists():
        return raw
    return run_dir / raw  # relative to the run directory


def main(argv: Optional[List[str]] = None) -> int:
    stop = StopFlag().install()  # before the slow imports: an early stop still exits 0
    args = _parser().parse_args(argv)
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
        else:
            check_role_name(args.viewer_id)
            from .play import Player, make_display

            runner = Player(run_dir, args.viewer_id, cfg, display=make_display(args.display),
                            stop=stop)
    except (ProtocolError, CheckpointLoadError, ValueError) as e:
        print("error: %s" % e, file=sys.stderr, flush=True)
        return EXIT_USAGE
    return runner.run()


if __name__ == "__main__":
    sys.exit(main())
