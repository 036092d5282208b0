"""``record`` and ``eval``: run one checkpoint, optionally into an mp4 in ``videos/``.

- ``record --episodes N``: N episodes (each cut at ``--max-steps``) rendered offscreen with an
  overlay; the mp4 is named and indexed (``videos/index.jsonl``) only when complete.
- ``eval --n-steps N [--deterministic] [--record]``: the seed's ``eval_amp_ppo_jax.py`` on our
  side: N env steps, resetting after each episode, episode returns printed; ``--record`` writes
  the whole run as one indexed mp4 (the last, unfinished episode marked ``capped``).

A stop signal ends early; what was recorded so far is kept if it holds a frame.
"""
from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path
from typing import IO, Any, List, Optional, Tuple

import numpy as np

from runners.protocol import CheckpointLoadError, latest_link_target, resolve_checkpoint_path
from runners.rendering.font import draw_text
from runners.stop_flag import StopFlag

from .config import AmpConfig
from .playback import LATEST, AmpPlayback


def checkpoint_arg(run_dir: Path, raw: Optional[str]) -> Path:
    ckpt = resolve_checkpoint_path(run_dir, str(raw or LATEST))
    if not ckpt.is_file():
        raise CheckpointLoadError(ckpt, "file does not exist")
    return latest_link_target(ckpt, "latest.pkl") or ckpt


def sizes(args: Any, cfg: AmpConfig) -> Tuple[int, int]:
    from runners.rendering.offscreen import parse_size

    if args.size:
        w, h = parse_size(args.size, "--size")
        if w % 2 or h % 2:
            raise ValueError("--size %s: mp4 needs even width and height" % args.size)
        return w, h
    return cfg.play.preview_width, cfg.play.preview_height


# imageio-ffmpeg starts ffmpeg with subprocess (fork + exec at once): JAX's warning about
# forking a multithreaded process does not apply
warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)


class Runner(object):
    """One checkpoint in one env, stepped with an optional recording."""

    def __init__(self, run_dir: Path, cfg: AmpConfig, ckpt: Path, deterministic: bool,
                 seed: int, record: bool, size: Tuple[int, int], fps: Optional[float],
                 stop: StopFlag, out: IO[str] = sys.stdout):
        self.run_dir, self.cfg, self.ckpt = run_dir, cfg, ckpt
        self.stop, self.out, self.seed = stop, out, seed
        self.pb = AmpPlayback(run_dir, cfg, deterministic=deterministic, seed=seed)
        self.env = self.pb.make_env()
        self.policy, self.step = self.pb.load(ckpt)
        self.size = size
        self.rec = None  # type: Any
        if record:
            from runners.rendering.video import Recording

            dt = self.pb.dt
            self.rec = Recording(run_dir, ckpt, self.step, size[0], size[1],
                                 float(fps or (1.0 / dt if dt else 30.0)), source="record",
                                 env_id=cfg.env_id)

    def say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def frame(self, episode: int, t: int, ret: float) -> None:
        if self.rec is None:
            return
        f = self.pb.frame(*self.size)
        draw_text(f, ["%s  step %s" % (self.ckpt.name, self.step),
                      "episode %d  t %d  return %.1f" % (episode, t, ret)])
        self.rec.write(f)

    def episode(self, index: int, max_steps: int, settle: int = 0) -> Tuple[float, int, bool]:
        """(return, length, ended by the env) of one episode from a reset."""
        obs, _ = self.env.reset(seed=self.seed + index)
        self.pb.episode_start(self.policy)
        zero = np.zeros(self.pb.act_dim, dtype=np.float32)
        for _ in range(settle):
            obs, _r, te, tr, _ = self.env.step(zero)
            if te or tr:
                obs, _ = self.env.reset()
                break
        ret, t, done = 0.0, 0, False
        self.frame(index + 1, t, ret)
        while not done and t < max_steps and not self.stop.is_set():
            obs, r, te, tr, _ = self.env.step(self.pb.act(self.policy, obs))
            ret += float(r)
            t += 1
            done = bool(te or tr)
            self.frame(index + 1, t, ret)
        if self.rec is not None:
            self.rec.episode_done(ret, t, capped=not done)
        return ret, t, done

    def finish(self, t0: float) -> int:
        try:
            if self.rec is not None:
                if self.rec.writer.frames == 0:
                    self.rec.abort()
                    self.say("nothing recorded (stopped by %s)" % self.stop.name)
                else:
                    e = self.rec.finish()
                    self.say("recorded videos/%s: %d frames at %.0f fps, %dx%d, returns %s "
                             "(%.1f s)" % (e.file, e.frames, e.fps, e.width, e.height,
                                           [round(r, 1) for r in e.returns],
                                           time.monotonic() - t0))
        finally:
            self.pb.close()
        return 0

    def abort(self) -> None:
        if self.rec is not None:
            self.rec.abort()
        self.pb.close()


def record_main(run_dir: Path, cfg: AmpConfig, args: Any, stop: StopFlag) -> int:
    if args.episodes < 1:
        raise ValueError("--episodes must be >= 1, found %d" % args.episodes)
    r = Runner(run_dir, cfg, checkpoint_arg(run_dir, args.checkpoint),
               deterministic=not args.stochastic, seed=args.seed, record=True,
               size=sizes(args, cfg), fps=args.fps, stop=stop)
    t0 = time.monotonic()
    try:
        for ep in range(args.episodes):
            if stop.is_set():
                break
            ret, t, done = r.episode(ep, args.max_steps, args.settle_steps)
            r.say("episode %d/%d: return %.1f, length %d%s"
                  % (ep + 1, args.episodes, ret, t, "" if done else " (cut)"))
    except BaseException:
        r.abort()
        raise
    return r.finish(t0)


def eval_main(run_dir: Path, cfg: AmpConfig, args: Any, stop: StopFlag) -> int:
    if args.n_steps < 1:
        raise ValueError("--n-steps must be >= 1, found %d" % args.n_steps)
    r = Runner(run_dir, cfg, checkpoint_arg(run_dir, args.checkpoint),
               deterministic=args.deterministic, seed=args.seed, record=args.record,
               size=sizes(args, cfg), fps=args.fps, stop=stop)
    t0 = time.monotonic()
    returns = []  # type: List[float]
    left, ep = args.n_steps, 0
    try:
        r.say("Evaluating %s (step %s) on %s for %d steps, %s"
              % (r.ckpt, r.step, cfg.env_id, args.n_steps,
                 "deterministic" if args.deterministic else "stochastic"))
        while left > 0 and not stop.is_set():
            ret, t, done = r.episode(ep, left)
            left -= t
            ep += 1
            if done:
                returns.append(ret)
                r.say("episode %d: return %.3f, length %d" % (ep, ret, t))
    except BaseException:
        r.abort()
        raise
    if returns:
        r.say("mean episode return %.3f over %d episodes" % (float(np.mean(returns)),
                                                            len(returns)))
    else:
        r.say("no episode ended within %d steps" % args.n_steps)
    return r.finish(t0)


__all__ = ["eval_main", "record_main"]
