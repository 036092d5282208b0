"""The ``eval`` verb: the seed's ``eval_amp_ppo_jax.py`` on Pitwall's side.

``eval --checkpoint FILE --n-steps N [--deterministic] [--record]`` runs one checkpoint for N
env steps, resetting after each episode, and prints each episode's return and the mean.
``--record`` writes the whole run as one mp4 in ``videos/`` with the overlay, named and indexed
(``videos/index.jsonl``) only when complete; the last, unfinished episode is marked ``capped``.
(``record --episodes N`` is the toolkit's recorder.) A stop signal ends early; what was recorded
so far is kept if it holds a frame.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, List, Optional

import numpy as np

from runners.protocol import CheckpointLoadError, resolve_checkpoint_path
from runners.rendering.font import draw_text
from runners.sdk import PlayContext, RunContext
from runners.sdk.recorder import recording_target

from .playback import AmpPlayback


def checkpoint_arg(run_dir: Path, raw: Optional[str]) -> Path:
    """The file asked for, or what auto mode shows (``nn/latest.pkl``), named by the numbered
    file it currently is."""
    if raw:
        ckpt = resolve_checkpoint_path(run_dir, str(raw))
    else:
        from runners.protocol.checkpoint_layout import checkpoint_layout

        target = checkpoint_layout(run_dir).auto_target()
        if target is None:
            raise CheckpointLoadError(run_dir, "no checkpoint to evaluate yet")
        ckpt = target
    if not ckpt.is_file():
        raise CheckpointLoadError(ckpt, "file does not exist")
    from runners.protocol.pickle_checkpoints import PICKLE_LATEST

    return recording_target(ckpt, PICKLE_LATEST)


def eval_main(ctx: RunContext) -> int:
    from runners.rendering.offscreen import parse_size

    args, run_dir = ctx.args, ctx.run_dir
    if args.n_steps < 1:
        raise ValueError("--n-steps must be >= 1, found %d" % args.n_steps)
    size = parse_size(args.size, "--size") if args.size else None
    if size is not None and (size[0] % 2 or size[1] % 2):
        raise ValueError("--size %s: mp4 needs even width and height" % args.size)
    ckpt = checkpoint_arg(run_dir, args.checkpoint)
    pb = AmpPlayback(PlayContext(run_dir, ctx.config, "record", "none", size, ctx.say),
                     deterministic=args.deterministic, seed=args.seed)
    rec = None  # type: Any
    try:
        policy, step = pb.load(ckpt)
        env = pb.make_env()
        if args.record:
            from runners.rendering.video import Recording

            f = pb.frame()
            rec = Recording(run_dir, ckpt, step, f.shape[1] - f.shape[1] % 2,
                            f.shape[0] - f.shape[0] % 2,
                            float(args.fps or (1.0 / pb.dt if pb.dt else 30.0)),
                            source="record", env_id=ctx.config.env_id)
        ctx.say("Evaluating %s (step %s) on %s for %d steps, %s"
                % (ckpt, step, ctx.config.env_id, args.n_steps,
                   "deterministic" if args.deterministic else "stochastic"))
        returns = []  # type: List[float]
        t0 = time.monotonic()
        left, ep = args.n_steps, 0
        while left > 0 and not ctx.stop.is_set():
            obs, _ = env.reset(seed=args.seed + ep)
            ret, t, done = 0.0, 0, False
            _frame(pb, rec, ckpt, step, ep, t, ret)
            while not done and t < left and not ctx.stop.is_set():
                obs, r, te, tr, _ = env.step(pb.act(policy, obs))
                ret += float(r)
                t += 1
                done = bool(te or tr)
                _frame(pb, rec, ckpt, step, ep, t, ret)
            left -= t
            ep += 1
            if rec is not None:
                rec.episode_done(ret, t, capped=not done)
            if done:
                returns.append(ret)
                ctx.say("episode %d: return %.3f, length %d" % (ep, ret, t))
        if returns:
            ctx.say("mean episode return %.3f over %d episodes"
                    % (float(np.mean(returns)), len(returns)))
        else:
            ctx.say("no episode ended within %d steps" % args.n_steps)
        if rec is not None:
            if rec.writer.frames == 0:
                rec.abort()
            else:
                e = rec.finish()
                ctx.say("recorded videos/%s: %d frames at %.0f fps, %dx%d (%.1f s)"
                        % (e.file, e.frames, e.fps, e.width, e.height, time.monotonic() - t0))
            rec = None
        return 0
    finally:
        if rec is not None:
            rec.abort()
        pb.close()


def _frame(pb: AmpPlayback, rec: Any, ckpt: Path, step: Optional[int], ep: int, t: int,
           ret: float) -> None:
    if rec is None:
        return
    f = np.array(pb.frame(), dtype=np.uint8, copy=True)
    f = np.ascontiguousarray(f[:rec.writer.height, :rec.writer.width])
    draw_text(f, ["%s  step %s" % (ckpt.name, step),
                  "episode %d  t %d  return %.1f" % (ep + 1, t, ret)])
    rec.write(f)


__all__ = ["checkpoint_arg", "eval_main"]
