"""Command line of the SERL runner::

    python -m runners.serl train --run-dir DIR --role learner [--resume CKPT]
    python -m runners.serl train --run-dir DIR --role actor [--learner-role learner]
    python -m runners.serl demos --run-dir DIR --checkpoint FILE --episodes N --out demos.pkl

``train`` runs the learner or the actor: ``--process`` says which (default: the role's name, so
the profile's roles ``learner`` and ``actor`` need nothing more). ``demos`` records episodes of a
checkpoint's policy as the seed's demo pickles, successes and failures in separate files.

Exit status: 0 on success and after SIGINT/SIGTERM (the learner saves ``final_model.pth``), 2 for
a bad run directory, parameter, checkpoint or demo file, or a learner that refuses the actor, 1
for anything unexpected.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from runners.runner_cli import EXIT_USAGE, runner_parser
from runners.stop_flag import StopFlag

PROCESSES = ("learner", "actor")


def _parser() -> argparse.ArgumentParser:
    p, sub, t, _v = runner_parser(
        "python -m runners.serl",
        "Pitwall's SERL-style runner: asynchronous SAC, a learner process and an actor process.",
        display_help="none: headless (preview frames); an X display: a window",
        resume_help="learner: restore networks, optimizers and counters from this checkpoint "
                    "(default: the newest in nn/, if any)")
    t.add_argument("--process", choices=PROCESSES, default=None,
                   help="learner or actor (default: the role's name)")
    t.add_argument("--learner-role", default="learner",
                   help="actor: the role whose endpoints file to read (default learner)")
    d = sub.add_parser("demos", help="record episodes of a checkpoint's policy as demo pickles")
    d.add_argument("--run-dir", required=True, type=Path)
    d.add_argument("--role", default=None, help=argparse.SUPPRESS)
    d.add_argument("--checkpoint", required=True,
                   help="checkpoint file (absolute or relative to the run dir)")
    d.add_argument("--episodes", type=int, default=10)
    d.add_argument("--out", required=True, type=Path,
                   help="demos.pkl -> demos_success.pkl and demos_failure.pkl")
    d.add_argument("--stochastic", action="store_true", help="sample actions (default: the "
                   "policy's mean)")
    return p


def _rel(raw: Path, run_dir: Path) -> Path:
    if raw.is_absolute() or raw.exists():
        return raw
    return run_dir / raw


def main(argv: Optional[List[str]] = None) -> int:
    stop = StopFlag().install()  # before the slow imports: an early stop still exits 0
    args = _parser().parse_args(argv)
    import faulthandler

    faulthandler.enable()
    try:
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        pass
    if args.mode == "play":
        print("error: the SERL runner's viewer is wired through the runner toolkit "
              "(runners.sdk), which this checkout does not have yet", file=sys.stderr)
        return EXIT_USAGE
    if args.mode == "demos":
        from runners.rendering.offscreen import ensure_offscreen_gl

        ensure_offscreen_gl()

    from runners.protocol import CheckpointLoadError, ProtocolError
    from runners.protocol.rundir import check_role_name

    from .actor import LearnerRefused
    from .config import load_config
    from .envs import check_env

    run_dir = args.run_dir.resolve()
    try:
        cfg = load_config(run_dir)
        check_env(cfg.env, run_dir / "run.json")
        for key in cfg.unknown:
            print("warning: run.json: field %r is not used by the serl runner" % key,
                  flush=True)
        if args.mode == "demos":
            return _demos(run_dir, cfg, args, stop)
        check_role_name(args.role)
        process = args.process or args.role
        if process not in PROCESSES:
            raise ValueError("role %r: pass --process learner or --process actor" % args.role)
        if process == "learner":
            from .learner import Learner

            resume = _rel(args.resume, run_dir) if args.resume else None
            return Learner(run_dir, cfg, role=args.role, stop=stop, resume=resume).run()
        from .actor import Actor

        return Actor(run_dir, cfg, role=args.role, stop=stop,
                     learner_role=check_role_name(args.learner_role)).run()
    except (ProtocolError, CheckpointLoadError, ValueError, LearnerRefused) as e:
        print("error: %s" % e, file=sys.stderr, flush=True)
        return EXIT_USAGE


def _demos(run_dir: Path, cfg, args: argparse.Namespace, stop: StopFlag) -> int:  # type: ignore
    if args.episodes < 1:
        raise ValueError("--episodes must be >= 1, found %d" % args.episodes)
    from .checkpoint import load_policy
    from .demos import record_demos
    from .env_spec import EnvSpec
    from .envs import make_env

    env = make_env(cfg.env, cfg.env_kwargs, max_traj_length=cfg.max_traj_length,
                   source=run_dir / "run.json")
    try:
        spec = EnvSpec.of_env(cfg.env, env)
        policy, step = load_policy(_rel(Path(args.checkpoint), run_dir), spec.layout,
                                   spec.act_dim)
        print("recording %d episodes of %s (update step %d)"
              % (args.episodes, args.checkpoint, step), flush=True)
        out = record_demos(env, policy, args.episodes, args.out,
                           deterministic=not args.stochastic, seed=cfg.seed,
                           should_stop=stop.is_set)
    finally:
        env.close()
    print("wrote %s (%d episodes, %d transitions) and %s (%d episodes, %d transitions)"
          % (out["success_file"], out["success_episodes"], out["success_transitions"],
             out["failure_file"], out["failure_episodes"], out["failure_transitions"]),
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
