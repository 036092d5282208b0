"""Command line of the IsaacGym runner::

    python -m runners.isaacgym train --run-dir DIR [--role train] [--resume CKPT_PATH]
    python -m runners.isaacgym play  --run-dir DIR --viewer-id ID [--display none|:0|...]

Multi-GPU training (``params.multi_gpu: true``) is started through torchrun, one process per GPU
(``configs/isaacgym/ant_multigpu.yaml``); rank 0 writes the checkpoints and metrics.

Exit status: 0 on success and after SIGINT/SIGTERM (training saves a final checkpoint first),
2 for a bad run directory, parameter, environment or checkpoint, 1 for anything unexpected.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from runners.runner_cli import EXIT_USAGE, runner_parser
from runners.stop_flag import StopFlag


def _parser() -> argparse.ArgumentParser:
    return runner_parser(
        "python -m runners.isaacgym",
        "Pitwall's IsaacGym runner: rl_games PPO on IsaacGymEnvs tasks, or gymnasium MuJoCo "
        "envs on a CPU box.",
        display_help="none (headless) or an X display for the viewer window (e.g. :0)")[0]


def main(argv: Optional[List[str]] = None) -> int:
    stop = StopFlag(interrupt_on_repeat=True).install()  # before the slow imports
    args = _parser().parse_args(argv)
    try:
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        pass

    # No torch yet: choose_backend imports isaacgym first when it is there.
    from runners.protocol import CheckpointLoadError, ProtocolError, RunPaths
    from runners.protocol.rundir import check_role_name

    from .config import load_config
    from .envs import choose_backend, make_backend

    run_dir = args.run_dir.resolve()
    source = RunPaths(run_dir).run_json
    try:
        cfg = load_config(run_dir)
        backend_name, note = choose_backend(cfg, source)
        print("environment: %s" % note, flush=True)
        for key in cfg.unknown:
            print("warning: run.json: field %r is not used by the isaacgym runner" % key,
                  flush=True)
        backend = make_backend(backend_name, cfg, source)
        if args.mode == "train":
            check_role_name(args.role)
            from .train import Trainer

            resume = None
            if args.resume is not None:
                resume = args.resume if args.resume.is_absolute() or args.resume.exists() \
                    else run_dir / args.resume
            runner = Trainer(run_dir, cfg, backend, role=args.role, stop=stop, resume=resume)
        else:
            check_role_name(args.viewer_id)
            if args.display not in ("none", "") and ":" not in args.display:
                raise ValueError("--display %r: this runner shows either nothing ('none') or a "
                                 "window on an X display (':0', 'localhost:10.0')"
                                 % args.display)
            from .play import Player

            runner = Player(run_dir, args.viewer_id, cfg, backend, display=args.display,
                            stop=stop)
    except (ProtocolError, CheckpointLoadError, ValueError) as e:
        print("error: %s" % e, file=sys.stderr, flush=True)
        return EXIT_USAGE
    try:
        return runner.run()
    except (ProtocolError, CheckpointLoadError) as e:
        print("error: %s" % e, file=sys.stderr, flush=True)
        return EXIT_USAGE
    except KeyboardInterrupt as e:  # a second stop signal
        print("interrupted: %s" % (e or "KeyboardInterrupt"), file=sys.stderr, flush=True)
        return 130


if __name__ == "__main__":
    sys.exit(main())
