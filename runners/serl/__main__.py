"""The SERL runner, declared on the runner toolkit::

    python -m runners.serl train  --run-dir DIR --role learner [--resume CKPT]
    python -m runners.serl train  --run-dir DIR --role actor
    python -m runners.serl play   --run-dir DIR --viewer-id ID [--display none|:0]
    python -m runners.serl record --run-dir DIR [--checkpoint FILE] [--episodes N] ...
    python -m runners.serl demos  --run-dir DIR --checkpoint FILE --episodes N --out demos.pkl
    python -m runners.serl describe | check --params-json FILE

``train`` runs the learner for a role named ``learner…`` and the actor for a role named
``actor…`` (several actors may serve one learner). ``demos`` records episodes of a checkpoint's
policy as the seed's demo pickles, successes and failures in separate files. The command line,
the player, the displays and the recorder are ``runners.sdk``'s.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict

from runners.protocol.capabilities import DISPLAY_WINDOW, Capabilities
from runners.sdk import Backend, PlayContext, PlaySettings, RunContext, Verb

LEARNER_ROLE = "learner"   # the actor reads endpoints/<this>.json
NO_WINDOW = ("a live window needs a gymnasium MuJoCo env; this run's env renders offscreen "
             "frames only (preview, videos)")


def _config(params: Dict[str, Any], source: Path) -> Any:
    from .config import parse_params

    return parse_params(params, source, Path(source).parent)


def _train(ctx: RunContext) -> int:
    from .envs import check_env

    check_env(ctx.config.env, ctx.run_dir / "run.json")
    if ctx.role.startswith("learner"):
        from .learner import Learner

        return Learner(ctx.run_dir, ctx.config, role=ctx.role, stop=ctx.stop,
                       resume=ctx.resume).run()
    if ctx.role.startswith("actor"):
        from .actor import Actor, LearnerRefused

        try:
            return Actor(ctx.run_dir, ctx.config, role=ctx.role, stop=ctx.stop,
                         learner_role=LEARNER_ROLE).run()
        except LearnerRefused as e:
            raise ValueError(str(e))  # exit 2: a configuration error, with the reason
    raise ValueError("role %r: the serl runner runs roles named learner... or actor..."
                     % ctx.role)


def _playback(ctx: PlayContext) -> Any:
    from .envs import check_env
    from .playback import SerlPlayback

    check_env(ctx.config.env, ctx.run_dir / "run.json")
    return SerlPlayback(ctx)


def _settings(cfg: Any) -> PlaySettings:
    return PlaySettings(realtime=cfg.play.realtime, seed=cfg.seed,
                        preview_hz=cfg.play.preview_hz)


def _capabilities(cfg: Any, caps: Capabilities) -> Capabilities:
    from .envs import env_kind

    if env_kind(cfg.env) != "gymnasium":
        caps.displays = [d for d in caps.displays if d != DISPLAY_WINDOW]
        caps.why_not[DISPLAY_WINDOW] = NO_WINDOW
    return caps


def _add_demos_arguments(p: Any) -> None:
    p.add_argument("--checkpoint", required=True,
                   help="checkpoint file (absolute or relative to the run dir)")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--out", required=True, type=Path,
                   help="demos.pkl -> demos_success.pkl and demos_failure.pkl")
    p.add_argument("--stochastic", action="store_true",
                   help="sample actions (default: the policy's mean)")


def _demos(ctx: RunContext) -> int:
    from runners.protocol import runner_args as ra

    from .checkpoint import load_policy
    from .demos import record_demos
    from .env_spec import EnvSpec
    from .envs import check_env, make_env

    args, cfg = ctx.args, ctx.config
    if args.episodes < 1:
        raise ValueError("--episodes must be >= 1, found %d" % args.episodes)
    check_env(cfg.env, ctx.run_dir / "run.json")
    env = make_env(cfg.env, cfg.env_kwargs, max_traj_length=cfg.max_traj_length,
                   source=ctx.run_dir / "run.json")
    try:
        spec = EnvSpec.of_env(cfg.env, env)
        ckpt = ra.resolve_run_path(Path(args.checkpoint), ctx.run_dir)
        policy, step = load_policy(ckpt, spec.layout, spec.act_dim)
        ctx.say("recording %d episodes of %s (update step %d)" % (args.episodes, ckpt, step))
        out = record_demos(env, policy, args.episodes, args.out,
                           deterministic=not args.stochastic, seed=cfg.seed, say=ctx.say,
                           should_stop=ctx.stop.is_set)
    finally:
        env.close()
    ctx.say("wrote %s (%d episodes, %d transitions) and %s (%d episodes, %d transitions)"
            % (out["success_file"], out["success_episodes"], out["success_transitions"],
               out["failure_file"], out["failure_episodes"], out["failure_transitions"]))
    return 0


BACKEND = Backend(
    name="serl",
    description="Pitwall's SERL-style runner: asynchronous SAC, a learner process and an actor "
                "process over ZeroMQ.",
    config=_config, train=_train, playback=_playback, settings=_settings,
    capabilities_for=_capabilities, checkpoint_format="torch",
    verbs={"demos": Verb(help="record episodes of a checkpoint's policy as demo pickles "
                              "(successes and failures apart)",
                         run=_demos, add_arguments=_add_demos_arguments)},
    resume_help="learner: restore networks, optimizers and counters from this checkpoint "
                "(default: the newest in nn/, if any); the actor takes none")


def main(argv: Any = None) -> int:
    return BACKEND.main(argv)


if __name__ == "__main__":
    sys.exit(main())
